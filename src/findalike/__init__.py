"""findalike: one similarity search server for unstructured data, on Milvus.

The library works without the HTTP server: build ``AppRuntime`` objects from
``findalike.apps.discover()``, a ``Settings`` and a ``VectorStore``, and call them.
"""

from findalike.app import AppRuntime, AppSpec, Record
from findalike.config import Settings
from findalike.errors import (
    Conflict,
    FindalikeError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
    Unprocessable,
    UnsupportedMedia,
)
from findalike.store import VectorStore

__version__ = "0.1.0"

__all__ = [
    "AppRuntime",
    "AppSpec",
    "Conflict",
    "FindalikeError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Record",
    "Settings",
    "TooLarge",
    "Unavailable",
    "Unprocessable",
    "UnsupportedMedia",
    "VectorStore",
]
