"""Every error leaves as one JSON shape, mapped here once:

``{"status": 404, "title": "Not found", "detail": "No job with id 'x'.", "errors": [...]}``

``errors`` lists field-level problems (``{"field": "body.top_k", "message": ...}``)
for validation failures. No traceback ever reaches a client; unexpected errors are
logged with theirs and answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from findalike.errors import FindalikeError

log = logging.getLogger(__name__)

_TITLES = {
    400: "Invalid input",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    500: "Internal error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="Where: `body.top_k`, `query.k`, `files`.")
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    status: int
    title: str
    detail: str
    errors: list[FieldError] = Field(default_factory=list)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": _TITLES[code]}
    for code in (400, 401, 403, 404, 409, 413, 415, 422, 503)
}
"""The error answers any API route may give (401/403: API keys and the Origin check,
403 also a folder outside the allowed roots), documented on every route."""


def error_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        status=status,
        title=title or _TITLES.get(status, "Error"),
        detail=detail,
        errors=errors or [],
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def _findalike_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FindalikeError)
    if exc.status >= 500:
        log.error("%s: %s", exc.title, exc.detail)
    errors = [FieldError(field=exc.field, message=exc.detail)] if exc.field else []
    return error_response(exc.status, exc.detail, title=exc.title, errors=errors)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(field=".".join(str(p) for p in e.get("loc", ())), message=str(e.get("msg")))
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return error_response(422, f"The request is not valid: {summary}", errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "An unexpected error occurred; it has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FindalikeError, _findalike_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
