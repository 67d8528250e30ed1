"""Query uploads (an image, a clip) read for a search, with the size limit."""

from __future__ import annotations

from typing import Protocol

from findalike.errors import InvalidInput, TooLarge


class Upload(Protocol):
    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


async def read_query_upload(
    file: Upload, max_bytes: int, *, what: str = "query file"
) -> tuple[str, bytes]:
    """The uploaded file's base name and bytes. ``TooLarge`` past ``max_bytes``
    (FINDALIKE_MAX_QUERY_BYTES) without reading further; ``InvalidInput`` if empty."""
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(
            f"the {what} is over the {max_bytes}-byte limit (FINDALIKE_MAX_QUERY_BYTES)",
            field="file",
        )
    if not data:
        raise InvalidInput(f"the {what} is empty (0 bytes)", field="file")
    name = (file.filename or "query").replace("\\", "/").rsplit("/", 1)[-1]
    return name, data
