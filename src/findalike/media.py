"""Stored originals (images, videos, audio clips), content-addressed.

Files are written under ``<data_dir>/media/<app>/<aa>/<hash><suffix>`` and served by
their opaque id only; a client never names a path.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from findalike.errors import NotFound

_ID = re.compile(r"^[0-9a-f]{8,64}$")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
_VARIANT = re.compile(r"^[a-z0-9_]{1,32}$")


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, app: str, media_id: str) -> Path:
        if not _ID.match(media_id):
            raise NotFound(f"No stored file with id {media_id!r}.")
        return self.root / app / media_id[:2]

    def put(self, app: str, media_id: str, data: bytes, suffix: str, *, variant: str = "") -> Path:
        """Store ``data`` as ``media_id`` (or its ``variant``, e.g. ``"thumb"`` or
        ``"f12"``); idempotent: the same id is written once. ``suffix`` like ``".jpg"``."""
        suffix = suffix.lower()
        if not _SUFFIX.match(suffix):
            suffix = ".bin"
        if variant and not _VARIANT.match(variant):
            raise ValueError(f"bad media variant {variant!r}")
        folder = self._dir(app, media_id)
        stem = f"{media_id}.{variant}" if variant else media_id
        path = folder / f"{stem}{suffix}"
        if path.exists():
            return path
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
        return path

    def find(self, app: str, media_id: str, *, variant: str = "") -> Path:
        """The stored file for ``media_id`` (``variant`` e.g. ``"thumb"``)."""
        folder = self._dir(app, media_id)
        stem = f"{media_id}.{variant}" if variant else media_id
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.startswith(stem + ".") and p.name.count(".") == stem.count(".") + 1:
                    return p
        raise NotFound(f"No stored file with id {media_id!r}.")

    def delete(self, app: str, media_id: str) -> None:
        folder = self._dir(app, media_id)
        if folder.is_dir():
            for p in folder.glob(f"{media_id}.*"):
                p.unlink(missing_ok=True)
