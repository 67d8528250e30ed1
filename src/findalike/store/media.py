"""Stored originals (images, videos, audio clips), content-addressed.

Files are written under ``<data_dir>/media/<app>/<aa>/<hash><suffix>`` and served by
their opaque id only; a client never names a path.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from findalike.errors import InvalidInput, NotFound

_ID = re.compile(r"^[0-9a-f]{8,64}$")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
_VARIANT = re.compile(r"^[a-z0-9_]{1,32}$")
_STORED_NAME = re.compile(
    r"^(?P<dir>[0-9a-f]{2})/(?P<id>[0-9a-f]{8,64})(?:\.(?P<variant>[a-z0-9_]{1,32}))?"
    r"(?P<suffix>\.[a-z0-9]{1,8})$"
)

COPY_BLOCK_BYTES = 1024**2
"""A stream is copied into the store in blocks of this size."""


class ByteStream(Protocol):
    """What ``put`` copies from: anything with a binary ``read``."""

    def read(self, size: int = -1, /) -> bytes: ...


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def of_collection(self, name: str) -> MediaStore:
        """The stored files of a named collection: a store of their own, under
        ``collections/<name>/`` of this one."""
        return MediaStore(self.root / "collections" / name)

    def _dir(self, app: str, media_id: str) -> Path:
        if not _ID.match(media_id):
            raise NotFound(f"No stored file with id {media_id!r}.")
        return self.root / app / media_id[:2]

    def put(
        self, app: str, media_id: str, data: bytes | ByteStream, suffix: str, *, variant: str = ""
    ) -> Path:
        """Store ``data`` (bytes, or a binary stream copied block by block) as
        ``media_id`` (or its ``variant``, e.g. ``"thumb"`` or ``"f12"``); idempotent: the
        same id is written once. ``suffix`` like ``".jpg"``."""
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
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, COPY_BLOCK_BYTES)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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

    def stored_files(self, app: str) -> Iterator[tuple[str, Path]]:
        """Every file stored for ``app`` as (its name under the app's folder, like
        ``ab/ab12....thumb.jpg``, and its path), in name order. Temporary files of
        an unfinished write and anything not written by ``put`` are left out."""
        folder = self.root / app
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*/*")):
            name = f"{path.parent.name}/{path.name}"
            if path.is_file() and not path.is_symlink() and _STORED_NAME.match(name):
                yield name, path

    def put_stored(self, app: str, name: str, data: bytes | ByteStream) -> Path:
        """Store ``data`` under a name ``stored_files`` gave (restoring a backup);
        idempotent like ``put``. ``InvalidInput`` for any other name."""
        found = _STORED_NAME.match(name)
        if found is None or found["dir"] != found["id"][:2]:
            raise InvalidInput(f"{name!r} is not the name of a stored file.")
        return self.put(app, found["id"], data, found["suffix"], variant=found["variant"] or "")
