"""Registering known objects: each image becomes two rows, the whole picture (part 0)
and the crop of its main detected object (part 1, when the detector finds one), so
that a crop from a video frame can match either."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from findalike.apps.objects.settings import ObjectsSettings
from findalike.core.app import AppRuntime, EncodedItem, Record
from findalike.encoders.detector import Detection, SsdMobileNetDetector
from findalike.jobs import checkpoint
from findalike.kit.sightings import PHOTO_EXTENSIONS, name_from_label, read_photo, store_photo

if TYPE_CHECKING:
    from PIL import Image

IMAGE_EXTENSIONS = PHOTO_EXTENSIONS
MIN_MAIN_OBJECT_AREA = 0.05  # of the picture, for the registration crop
CROP_PADDING = 0.08  # of the box's sides, added around each crop


def detector_of(rt: AppRuntime) -> SsdMobileNetDetector:
    """The app's detector, loaded on first use."""
    return rt.cached("detector", lambda: SsdMobileNetDetector(threads=rt.settings.torch_threads))


object_name = name_from_label
"""A known object's name from its file (see ``findalike.kit.sightings.name_from_label``)."""


read_object = read_photo


def object_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    detector = detector_of(rt)
    min_score = rt.config(ObjectsSettings).min_detector_score
    images = [r.payload[0] for r in records]
    mains = [
        _main_object(img, found)
        for img, found in zip(images, detector.detect(images, min_score=min_score), strict=True)
    ]
    pictures = images + [crop_box(img, d.box) for img, d in zip(images, mains, strict=True) if d]
    vectors = rt.encoder.encode(pictures)
    out, next_crop = [], len(images)
    for i, (record, main) in enumerate(zip(records, mains, strict=True)):
        checkpoint()
        rows = [rt.row(record, 0, vectors[i], kind="image", detector_label="")]
        if main is not None:
            rows.append(
                rt.row(record, 1, vectors[next_crop], kind="crop", detector_label=main.label)
            )
            next_crop += 1
        store_photo(rt, record)
        out.append(EncodedItem(record=record, rows=rows))
    return out


def _main_object(image: Image.Image, found: list[Detection]) -> Detection | None:
    area = image.size[0] * image.size[1]
    big = [d for d in found if d.area_px >= MIN_MAIN_OBJECT_AREA * area]
    return max(big, key=lambda d: d.score) if big else None


def crop_box(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The box with a little padding, clipped to the picture."""
    x0, y0, x1, y1 = box
    pad_x, pad_y = (x1 - x0) * CROP_PADDING, (y1 - y0) * CROP_PADDING
    w, h = image.size
    return image.crop(
        (
            max(0, int(x0 - pad_x)),
            max(0, int(y0 - pad_y)),
            min(w, int(x1 + pad_x)),
            min(h, int(y1 + pad_y)),
        )
    )
