"""findalike: one similarity search server for unstructured data, on Milvus.

The library works without the HTTP server: build ``AppRuntime`` objects from
``findalike.apps.discover()``, a ``Settings`` and a ``VectorStore``, and call them.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

MOVED: dict[str, str] = {
    "findalike.imaging": "findalike.formats.imaging",
    "findalike.textio": "findalike.formats.textio",
    "findalike.video": "findalike.formats.video",
    "findalike.ann": "findalike.store.ann",
    "findalike.lite3": "findalike.store.lite3",
    "findalike.liteserver": "findalike.store.liteserver",
    "findalike.media": "findalike.store.media",
    "findalike.sqlitedb": "findalike.store.sqlitedb",
    "findalike.app": "findalike.core.app",
    "findalike.batching": "findalike.core.batching",
    "findalike.contract": "findalike.core.contract",
    "findalike.ingest": "findalike.core.ingest",
    "findalike.request_types": "findalike.core.request_types",
    "findalike.sources": "findalike.core.sources",
    "findalike.hybrid": "findalike.kit.hybrid",
    "findalike.sightings": "findalike.kit.sightings",
    "findalike.uploads": "findalike.api.uploads",
}
"""Modules that moved into the layer folders (0.2), by their old names: ``import
findalike.app`` still gives ``findalike.core.app`` itself, for one release."""


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old module name with the moved module (the same object, so patching
    either name patches both)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing: the moved module ran when it was imported by its new name."""


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())

from findalike.config import Settings  # noqa: E402
from findalike.core.app import AppRuntime, AppSpec, Record  # noqa: E402
from findalike.errors import (  # noqa: E402
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
from findalike.store import VectorStore  # noqa: E402

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
