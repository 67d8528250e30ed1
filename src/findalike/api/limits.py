"""Request body limits per route, as plain ASGI middleware.

Each route's limit is written into its OpenAPI operation as ``x-max-body-bytes``
(so the schema states it) by ``annotate_body_limits`` when the app is built: loads
take ``FINDALIKE_MAX_UPLOAD_BYTES``, query uploads ``FINDALIKE_MAX_QUERY_BYTES``,
JSON routes ``FINDALIKE_MAX_JSON_BYTES`` or, where a field carries base64 media,
that field's ``max_length``. A declared ``Content-Length`` over the limit is refused
before anything is read; a chunked body (no ``Content-Length``) is counted as it
streams and refused with the same 413 as soon as it passes the limit. A 150 MiB JSON
search is never buffered.

A body must also arrive in time, as Apache's ``mod_reqtimeout`` has it: within
``FINDALIKE_BODY_TIMEOUT_S`` seconds, plus one second for every
``FINDALIKE_BODY_MIN_RATE_BYTES`` bytes received. A client that trickles a byte every
few seconds (slowloris) gets a 408 and its connection closed, instead of holding a
worker's slot for as long as it likes; a 1 GiB upload at 10 MB/s is never cut.
"""

from __future__ import annotations

import re
import time
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from findalike.api.errors import error_response
from findalike.config import Settings
from findalike.core.request_types import BODY_LIMIT_KEY, MULTIPART_SLACK_BYTES, body_limit

__all__ = ["BODY_LIMIT_KEY", "MULTIPART_SLACK_BYTES", "body_limit"]  # and the middleware
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyRefused(Exception):
    """Raised into the app from ``receive`` when a body is over its limit or late; the
    middleware answers for it, even where the app caught it (FastAPI turns any error
    while reading a JSON body into a 400)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def annotate_body_limits(app: FastAPI, settings: Settings) -> None:
    """Write every operation's body limit into the app's OpenAPI document (where the
    middleware reads it), unless a route set one itself with ``body_limit``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path, item in schema.get("paths", {}).items():
                for method, operation in item.items():
                    if method.upper() in _BODY_METHODS:
                        operation.setdefault(
                            BODY_LIMIT_KEY, _limit_for(path, operation, schema, settings)
                        )
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _limit_for(
    path: str, operation: dict[str, Any], schema: dict[str, Any], settings: Settings
) -> int:
    if path.endswith("/load"):
        return settings.max_upload_bytes
    content = (operation.get("requestBody") or {}).get("content") or {}
    if "multipart/form-data" in content or "application/x-www-form-urlencoded" in content:
        return settings.max_query_bytes + MULTIPART_SLACK_BYTES
    body = (content.get("application/json") or {}).get("schema") or {}
    longest = _longest_string(_resolve(body, schema), schema)
    return max(settings.max_json_bytes, longest + MULTIPART_SLACK_BYTES)


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        found = schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1])
        return found if isinstance(found, dict) else {}
    return node


def _longest_string(model: dict[str, Any], schema: dict[str, Any]) -> int:
    """The largest ``maxLength`` among a JSON body's top-level string properties."""
    longest = 0
    for prop in (model.get("properties") or {}).values():
        for option in [prop, *prop.get("anyOf", [])]:
            option = _resolve(option, schema)
            longest = max(longest, int(option.get("maxLength", 0) or 0))
    return longest


def _path_pattern(template: str) -> re.Pattern[str]:
    """A regex for an OpenAPI path template (``/api/x/items/{item_id}``)."""
    out = []
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            out.append(".+" if piece.endswith(":path}") else "[^/]+")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out) + "$")


class BodySizeLimit:
    """Refuses bodies over their route's ``x-max-body-bytes`` (``default_bytes`` for a
    path no route matches) with a 413, before or while they are read, and bodies that
    arrive too slowly (see the module docstring) with a 408. The table of limits is
    read from the app's OpenAPI document at the first request."""

    def __init__(
        self,
        app: ASGIApp,
        default_bytes: int,
        timeout_s: float = 20.0,
        min_rate_bytes: int = 500,
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.timeout_s = timeout_s
        self.min_rate_bytes = min_rate_bytes
        self._table: list[tuple[re.Pattern[str], dict[str, int]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit(scope)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await _refuse(413, _too_large(max_bytes), scope, receive, send)
            return
        seen = 0
        started = time.monotonic()
        refused: BodyRefused | None = None
        response_started = False

        async def checked_receive() -> Message:
            nonlocal seen, refused
            if refused is not None:
                raise refused
            allowed_s = self.timeout_s + seen / self.min_rate_bytes
            left_s = started + allowed_s - time.monotonic()
            with anyio.move_on_after(max(left_s, 0.0)) as waited:
                message = await receive()
            if waited.cancelled_caught:
                refused = BodyRefused(408, _too_slow(self.timeout_s, self.min_rate_bytes))
                raise refused
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    refused = BodyRefused(413, _too_large(max_bytes))
                    raise refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused is not None and not response_started:
                return  # the app's answer to the error it caught: ours goes instead
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, checked_receive, guarded_send)
        except BodyRefused:
            pass
        if refused is not None and not response_started:
            await _refuse(refused.status, refused.detail, scope, receive, send)

    def _limit(self, scope: Scope) -> int:
        if self._table is None:
            app = scope.get("app")
            if not isinstance(app, FastAPI):
                return self.default_bytes
            self._table = _limits_table(app.openapi())
        method, path = str(scope.get("method", "")).lower(), str(scope.get("path", ""))
        for pattern, methods in self._table:
            if pattern.match(path) and method in methods:
                return methods[method]
        return self.default_bytes


def _limits_table(schema: dict[str, Any]) -> list[tuple[re.Pattern[str], dict[str, int]]]:
    """(path regex, {method: limit}) from the OpenAPI document; literal paths first so
    that ``/items/{id}`` never shadows a fixed route beside it."""
    rows = []
    for template, item in schema.get("paths", {}).items():
        limits = {
            m: int(op[BODY_LIMIT_KEY])
            for m, op in item.items()
            if isinstance(op, dict) and BODY_LIMIT_KEY in op
        }
        if limits:
            rows.append((template.count("{"), _path_pattern(template), limits))
    rows.sort(key=lambda r: r[0])
    return [(pattern, limits) for _, pattern, limits in rows]


def _too_large(max_bytes: int) -> str:
    return f"The request body is over this route's {max_bytes}-byte limit."


def _too_slow(timeout_s: float, min_rate_bytes: int) -> str:
    return (
        f"The request body arrived too slowly: it must come within {timeout_s:g} s plus "
        f"1 s per {min_rate_bytes} bytes (FINDALIKE_BODY_TIMEOUT_S, "
        "FINDALIKE_BODY_MIN_RATE_BYTES)."
    )


async def _refuse(status: int, detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(status, detail, headers={"Connection": "close"})
    await response(scope, receive, send)
