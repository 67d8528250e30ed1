"""The answer for a request under ``/api/`` that no route takes.

A path some route serves with other methods gets a 405 whose ``Allow`` header lists
them (``PUT /api/text/count``: ``Allow: GET``); any other path a 404 that says what
exists (``Unknown app 'txt'; enabled apps: text, qa, ...``). Both in the JSON error
shape. Registered last, after every API route, so it only sees what they did not take.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope

from findalike.errors import NotFound

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
FALLBACK_PATH = "/api/{rest:path}"


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """The methods some route other than this fallback takes on ``scope``'s path,
    found by asking each route whether it would take the request with that method
    (empty: no route has the path)."""
    candidates = [
        r for r in routes if not isinstance(r, Mount) and getattr(r, "path", None) != FALLBACK_PATH
    ]
    allowed = []
    for method in ANY_METHOD:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in candidates):
            allowed.append(method)
    return allowed


def install_fallback_route(app: FastAPI, app_names: Iterable[str]) -> None:
    """Add the catch-all ``/api/{rest}`` route (every method, not in the schema)."""
    known = ", ".join(app_names)

    @app.api_route(FALLBACK_PATH, methods=ANY_METHOD, include_in_schema=False)
    async def no_such_route(request: Request, rest: str) -> None:
        allow = allowed_methods(app.router.routes, request.scope)
        if allow:
            raise HTTPException(
                405,
                f"{request.method} is not allowed on {request.url.path}; "
                f"it takes {', '.join(allow)}.",
                headers={"Allow": ", ".join(allow)},
            )
        first = rest.split("/", 1)[0]
        if not first or first in _api_prefixes(app):
            raise NotFound(f"No route {request.url.path}.")
        raise NotFound(f"Unknown app {first!r}; enabled apps: {known}.")


def _api_prefixes(app: FastAPI) -> set[str]:
    """First segments under /api/ that documented routes serve: the apps, ``jobs``..."""
    return {path.split("/")[2] for path in app.openapi()["paths"] if path.startswith("/api/")}
