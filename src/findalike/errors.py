"""The exception hierarchy. Core and app code raise these by meaning; the API maps
each to one HTTP status in one place (``findalike.api.errors``)."""

from __future__ import annotations


class FindalikeError(Exception):
    """Base of every error findalike raises on purpose."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(FindalikeError):
    """The request or an item is malformed (400)."""

    status = 400
    title = "Invalid input"


class Unprocessable(FindalikeError):
    """Well-formed but not usable, e.g. a SMILES RDKit cannot parse (422)."""

    status = 422
    title = "Unprocessable input"


class Forbidden(FindalikeError):
    """A path outside the allowed roots (403)."""

    status = 403
    title = "Forbidden"


class NotFound(FindalikeError):
    """Unknown app, item, job or collection (404)."""

    status = 404
    title = "Not found"


class Conflict(FindalikeError):
    """A collection built by another encoder or dimension, a job already ended (409)."""

    status = 409
    title = "Conflict"


class TooLarge(FindalikeError):
    """A body, file or image over its limit (413)."""

    status = 413
    title = "Payload too large"


class UnsupportedMedia(FindalikeError):
    """A file type the app does not read (415)."""

    status = 415
    title = "Unsupported media type"


class Unavailable(FindalikeError):
    """Milvus (or another backend) cannot be reached (503)."""

    status = 503
    title = "Service unavailable"
