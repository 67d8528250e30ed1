"""Reading image files into records, and records into rows (with stored originals)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from findalike.app import AppRuntime, EncodedItem, ReadFailure, Record, content_id
from findalike.apps.image.settings import ImageSettings
from findalike.imaging import decode_image, image_size, thumbnail_jpeg

if TYPE_CHECKING:
    from PIL import Image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})
ENCODE_SIDE_PX = 512
"""Images are kept in memory at most this large between reading and encoding (the
encoders look at 224-280 px); originals are stored untouched."""


@dataclass
class ImagePayload:
    """What the encoder needs (a reduced RGB picture) and what the media store keeps
    (the original bytes)."""

    image: Image.Image
    original: bytes
    suffix: str


def app_settings(rt: AppRuntime) -> ImageSettings:
    """The image settings, read from the environment once per runtime."""
    found = rt.state.get("image_settings")
    if not isinstance(found, ImageSettings):
        found = ImageSettings()
        rt.state["image_settings"] = found
    return found


def decode_query(rt: AppRuntime, data: bytes) -> Image.Image:
    """A query image decoded with the same limits as a loaded one (``TooLarge``,
    ``Unprocessable``)."""
    return decode_image(
        data, max_pixels=app_settings(rt).image_max_pixels, max_side_px=ENCODE_SIDE_PX
    )


def read_image(name: str, data: bytes, rt: AppRuntime) -> Iterator[Record | ReadFailure]:
    """One image file -> one record. A file that is not a complete, readable image
    of at most ``image_max_pixels`` raises (the load records it and goes on)."""
    width, height = image_size(data)
    picture = decode_query(rt, data)
    suffix = PurePosixPath(name).suffix.lower() or ".bin"
    if suffix == ".jpeg":
        suffix = ".jpg"
    yield Record(
        item_id=content_id(data),
        payload=ImagePayload(image=picture, original=data, suffix=suffix),
        fields={"name": _fit(name), "width": width, "height": height},
        label=name,
    )


def image_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """Encode a batch, then store each original and its thumbnail by content hash.
    Media are written only for items that encoded, so a failed item leaves nothing."""
    payloads: list[ImagePayload] = [r.payload for r in records]
    vectors = rt.encoder.encode([p.image for p in payloads])
    items = []
    for record, payload, vector in zip(records, payloads, vectors, strict=True):
        if rt.media is not None:
            rt.media.put(rt.name, record.item_id, payload.original, payload.suffix)
            rt.media.put(rt.name, record.item_id, thumbnail_jpeg(payload.image), ".jpg",
                         variant="thumb")
        items.append(EncodedItem(record=record, rows=[rt.row(record, 0, vector)]))
    return items


def _fit(name: str, max_bytes: int = 500) -> str:
    """The end of ``name`` (the file name part) within the field's byte limit."""
    return name.encode()[-max_bytes:].decode(errors="ignore")
