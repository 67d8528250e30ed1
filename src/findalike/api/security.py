"""Who may call what: API keys with scopes, a Host check and an Origin check.

One plain ASGI middleware, in front of everything else, so a refused request costs
no body read and reaches no endpoint:

- **Host** (DNS rebinding): the ``Host`` header must be one of
  ``FINDALIKE_TRUSTED_HOSTS`` (loopback names by default; ``*`` allows any). A page
  on ``attacker.example`` that rebinds its name to 127.0.0.1 is refused (400).
- **Origin** (cross-site requests): a state-changing request (POST, PUT, PATCH,
  DELETE) that carries an ``Origin`` other than the server's own (or one listed in
  ``FINDALIKE_ALLOWED_ORIGINS``) is refused (403); so is one a browser marks
  ``Sec-Fetch-Site: cross-site``. Any web page can make the user's browser *send*
  a form POST to 127.0.0.1; this is what stops it from acting.
- **API keys** (``FINDALIKE_API_KEYS``, optional on loopback, required by
  ``findalike serve`` on any other address): ``read`` keys may search and read,
  ``write`` keys may also load, delete, drop, train, evaluate and cancel. A key comes in
  ``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or, for the web UI (images,
  event streams), the ``findalike_key`` cookie that the UI sets with
  ``SameSite=Strict``. Keys are compared as SHA-256 digests in constant time and
  never logged. Missing or wrong key: 401; a read key on a write route: 403.

The static web UI, the API docs and ``/api/health`` need no key: they hold no data,
and the UI is where a user types the key (health names the Milvus URI, a server path on
Milvus Lite, only to a write key). ``/metrics`` needs a read key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Literal
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from findalike.api.errors import error_response

KeyScope = Literal["read", "write"]
SCOPES: tuple[KeyScope, ...] = ("read", "write")
KEY_COOKIE = "findalike_key"
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POST routes that only read: they compute an answer and change nothing stored. Not
# `evaluate`: an evaluation may train a model or re-encode a whole collection per request
_READ_ONLY_POST = re.compile(
    r"/(search|search/upload|detect|detect/upload|answer|classify|fold-in|for-users)$"
)
_PUBLIC_API = frozenset({"/api/health"})
_WEB_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
KEY_SCOPE_STATE = "key_scope"
"""``request.state.key_scope``: the scope of the key the request carried (``write`` for
everyone when no keys are configured; None without a valid key). Public routes read it
to show server paths only to a write key."""


class KeyFormatError(ValueError):
    """``FINDALIKE_API_KEYS`` could not be read."""


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys as SHA-256 digests with their scope."""

    digests: tuple[tuple[bytes, KeyScope], ...] = ()

    @classmethod
    def parse(cls, text: str) -> ApiKeys:
        """Read ``scope:key,scope:key`` (``read`` or ``write``; keys of 16+ characters).
        Raises ``KeyFormatError`` naming the entry's position, never the key."""
        entries: list[tuple[bytes, KeyScope]] = []
        for n, raw in enumerate(p.strip() for p in text.split(",")):
            if not raw:
                continue
            scope, sep, key = raw.partition(":")
            scope = scope.strip().lower()
            if not sep or scope not in SCOPES:
                raise KeyFormatError(
                    f"FINDALIKE_API_KEYS entry #{n + 1} must be 'read:<key>' or 'write:<key>'"
                )
            if len(key) < 16:
                raise KeyFormatError(
                    f"FINDALIKE_API_KEYS entry #{n + 1}: keys must have at least 16 characters"
                )
            entries.append((_digest(key), scope))  # type: ignore[arg-type]
        return cls(tuple(entries))

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def scope_of(self, key: str) -> KeyScope | None:
        """The scope of ``key``, or None. Every configured key is compared (no early
        exit), each in constant time."""
        probe = _digest(key)
        found: KeyScope | None = None
        for digest, scope in self.digests:
            if hmac.compare_digest(probe, digest):
                found = scope
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, as given to ``serve --host``) is a
    loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def required_scope(method: str, path: str) -> KeyScope | None:
    """The scope a request needs; None for what is public (UI, docs, health)."""
    if path == "/metrics":
        return "read"
    if not path.startswith("/api/") or path in _PUBLIC_API:
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if method == "POST" and _READ_ONLY_POST.search(path):
        return "read"
    return "write"


class AccessGuard:
    """The Host, Origin and API-key checks (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ApiKeys,
        trusted_hosts: Iterable[str],
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.keys = keys
        hosts = {h.strip().lower() for h in trusted_hosts if h.strip()}
        self.any_host = "*" in hosts
        self.hosts = frozenset(h.strip("[]") for h in hosts)
        self.origins = frozenset(o.strip().rstrip("/").lower() for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        host = headers.get("host", "")
        problem = self._check(scope, headers, host)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, detail, extra = problem
        response = error_response(status, detail, headers=extra)
        await response(scope, receive, send)

    def _check(
        self, scope: Scope, headers: dict[str, str], host: str
    ) -> tuple[int, str, dict[str, str] | None] | None:
        if not self._host_ok(host):
            return (
                400,
                "The Host header is not one this server answers to (FINDALIKE_TRUSTED_HOSTS).",
                None,
            )
        method = str(scope.get("method", "GET")).upper()
        scheme = _WEB_SCHEMES.get(str(scope.get("scheme", "http")), "http")
        if method in _UNSAFE_METHODS and not self._origin_ok(headers, host, scheme):
            return (
                403,
                "Cross-site request refused: its Origin is not this server's "
                "(FINDALIKE_ALLOWED_ORIGINS).",
                None,
            )
        needed = required_scope(method, str(scope.get("path", "")))
        state = scope.setdefault("state", {})
        if not self.keys.enabled:
            state[KEY_SCOPE_STATE] = "write"
            return None
        key = _presented_key(headers)
        scope_found = self.keys.scope_of(key) if key else None
        state[KEY_SCOPE_STATE] = scope_found
        if needed is None:
            return None
        if not key:
            return (
                401,
                "An API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                {"WWW-Authenticate": "Bearer"},
            )
        if scope_found is None:
            return 401, "The API key is not valid.", {"WWW-Authenticate": "Bearer"}
        if needed == "write" and scope_found != "write":
            return (
                403,
                "This API key may only read; loading, deleting and training need a write key.",
                None,
            )
        return None

    def _host_ok(self, host: str) -> bool:
        if self.any_host:
            return True
        name = _host_name(host)
        return bool(name) and name in self.hosts

    def _origin_ok(self, headers: dict[str, str], host: str, scheme: str) -> bool:
        origin = headers.get("origin")
        if origin is None:
            # a browser that sends no Origin still says where the request came from
            return headers.get("sec-fetch-site", "same-origin") != "cross-site"
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        # the same host and port under another scheme is another origin
        return (
            bool(parts.netloc) and parts.netloc == host.strip().lower() and parts.scheme == scheme
        )


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or []:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}; {value}" if name == "cookie" and name in out else value
    return out


def _host_name(host: str) -> str:
    """The name part of a Host header (no port), lower-case; IPv6 without brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _presented_key(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip()
    cookie_header = headers.get("cookie")
    if cookie_header:
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except CookieError:  # a malformed Cookie header is simply no key
            return ""
        morsel = cookies.get(KEY_COOKIE)
        if morsel is not None:
            return unquote(morsel.value).strip()
    return ""
