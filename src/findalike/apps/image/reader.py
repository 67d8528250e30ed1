"""Reading image files into records, and records into rows (with stored originals)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from findalike.apps.image.labels import label_rows
from findalike.apps.image.settings import ImageSettings
from findalike.core.app import AppRuntime, EncodedItem, ReadFailure, Record, content_id
from findalike.formats.imaging import decode_image, image_size, thumbnail_jpeg

if TYPE_CHECKING:
    from PIL import Image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})
ENCODE_SIDE_PX = 512
"""Images are kept in memory at most this large between reading and encoding (the
encoders look at 224-280 px); originals are stored untouched."""


def decode_query(rt: AppRuntime, data: bytes) -> Image.Image:
    """A query image decoded with the same limits as a loaded one (``TooLarge``,
    ``Unprocessable``)."""
    return decode_image(data, max_pixels=rt.settings.image_max_pixels, max_side_px=ENCODE_SIDE_PX)


def read_image(name: str, data: bytes, rt: AppRuntime) -> Iterator[Record | ReadFailure]:
    """One image file -> one record whose payload is the decoded picture (at most
    ``ENCODE_SIDE_PX``). A file that is not a complete, readable image of at most
    ``image_max_pixels`` raises (the load records it and goes on).

    The original and its thumbnail are stored here, by content hash, so that a batch
    waiting to be encoded holds small pictures, not the files' bytes (a file that
    then fails to encode leaves an unreferenced, unlisted file behind)."""
    width, height = image_size(data)
    picture = decode_query(rt, data)
    item_id = content_id(data)
    if rt.media is not None:
        suffix = PurePosixPath(name).suffix.lower().replace(".jpeg", ".jpg") or ".bin"
        rt.media.put(rt.name, item_id, data, suffix)
        rt.media.put(rt.name, item_id, thumbnail_jpeg(picture), ".jpg", variant="thumb")
    yield Record(
        item_id=item_id,
        payload=picture,
        fields={"name": _fit(name), "width": width, "height": height},
        label=name,
    )


REGION = (0.2, 0.2, 0.8, 0.8)
"""The centre 60% of each side (left, top, right, bottom, as fractions): the region an
image's second vector (part 1) is made of. Chosen by measurement among grids, corners,
scales and a grey copy (``benchmarks/bench_image_crops.py``): the one that finds crops
at the lowest cost (one more model pass; it is its own mirror image, so one pass is
enough for flip-invariant queries)."""
REGION_PART = 1


def region_of(picture: Image.Image) -> Image.Image:
    """The picture's ``REGION``."""
    w, h = picture.size
    left, top, right, bottom = REGION
    return picture.crop((round(w * left), round(h * top), round(w * right), round(h * bottom)))


def region_box(part: int, width: int, height: int) -> tuple[int, int, int, int] | None:
    """What the vector of ``part`` saw, in the original's pixels: ``None`` for the whole
    image (part 0), else the centred square of ``REGION`` that the model reads."""
    if part != REGION_PART:
        return None
    left, top, right, bottom = REGION
    x0, y0, x1, y1 = width * left, height * top, width * right, height * bottom
    side = min(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))


def image_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """One vector per image (part 0), and, with ``image_regions``, one of its centre
    region (part 1); its top ImageNet classes go to the labels collection (text-to-image
    search, see ``findalike.apps.image.labels``)."""
    pictures = [r.payload for r in records]
    # the labels' classes come from the encoder's own pass where it can give them
    # (EfficientNet-Lite3, the labels' model): a third of a load's model time saved
    classify = getattr(rt.encoder, "encode_and_classify", None)
    vectors, probabilities = classify(pictures) if classify else (rt.encoder.encode(pictures), None)
    encode_regions = getattr(rt.encoder, "encode_regions", None)
    regions = (
        encode_regions([region_of(p) for p in pictures])
        if encode_regions is not None and rt.config(ImageSettings).image_regions
        else None
    )
    label_rows(rt, [r.item_id for r in records], pictures, probabilities)
    return [
        EncodedItem(
            record=r,
            rows=[rt.row(r, 0, v)]
            + ([rt.row(r, REGION_PART, regions[i])] if regions is not None else []),
        )
        for i, (r, v) in enumerate(zip(records, vectors, strict=True))
    ]


def _fit(name: str, max_bytes: int = 500) -> str:
    """The end of ``name`` (the file name part) within the field's byte limit."""
    return name.encode()[-max_bytes:].decode(errors="ignore")
