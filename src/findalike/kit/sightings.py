"""What the "find known things in a video" apps share (objects, people): known things
registered by photos named after them, the frames of a query (one image, or a video
sampled in one bounded pass), and the settings that bound that sampling.

Each app adds its own detector and matching; this module holds no model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

from findalike.core.app import AppRuntime, ReadFailure, Record, content_id
from findalike.core.contract import Base64Media, Hit
from findalike.errors import FindalikeError
from findalike.formats.imaging import decode_image, thumbnail_jpeg
from findalike.formats.video import SampledFrame, Sampling, probe, sample_frames

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})
MAX_PHOTO_SIDE_PX = 1024
_TRAILING_NUMBER = re.compile(r"[ _.-]*\d+$")


class FrameScanSettings(BaseSettings):
    """How a query video is sampled: the base of an app's settings class (which sets
    its own ``env_prefix``)."""

    interval_s: float = Field(
        0.5,
        gt=0,
        description="A video frame is checked every this many seconds "
        "(plus the first frame after each cut).",
    )
    max_frames: int = Field(
        240,
        ge=1,
        description="Most frames checked in one video (the interval and the gap "
        "between cuts grow past it, in one decoding pass).",
    )
    max_duration_s: float = Field(
        600.0,
        gt=0,
        description="Longest video checked (413 above it); every sampled frame goes "
        "through the detector, so this bounds the work of one request.",
    )
    frame_side_px: int = Field(
        640, ge=64, description="Frames are shrunk to this longer side before detection."
    )

    def sampling(self) -> Sampling:
        return Sampling(
            interval_s=self.interval_s,
            max_frames=self.max_frames,
            max_side_px=self.frame_side_px,
            max_duration_s=self.max_duration_s,
        )


def name_from_label(label: str) -> str:
    """A known thing's name from its file: the folder it is in inside a zip or loaded
    folder (``people.zip/ada/1.jpg`` -> ``ada``), else the file name without a
    trailing number (``red_mug_2.jpg`` -> ``red_mug``)."""
    path = PurePosixPath(label)
    parents = [p for p in path.parent.parts if p not in ("", ".", "/")]
    if len(parents) >= 2:  # "<zip or folder>/<name>/<file>"
        return parents[-1][:200]
    stem = _TRAILING_NUMBER.sub("", path.stem) or path.stem
    return stem[:200]


def read_photo(name: str, data: bytes, rt: AppRuntime) -> Iterable[Record | ReadFailure]:
    """A registered photo as a record named after its file (``name_from_label``), its
    payload ``(decoded image shrunk to MAX_PHOTO_SIDE_PX, original bytes)``."""
    try:
        image = decode_image(data, max_pixels=rt.settings.image_max_pixels)
    except FindalikeError as exc:
        return [ReadFailure(name, exc.detail)]
    image.thumbnail((MAX_PHOTO_SIDE_PX, MAX_PHOTO_SIDE_PX))
    fields = {"name": name_from_label(name), "width": image.size[0], "height": image.size[1]}
    return [Record(item_id=content_id(data), payload=(image, data), fields=fields, label=name)]


def query_frames(
    name: str, data: bytes, settings: FrameScanSettings, *, max_pixels: int
) -> tuple[list[SampledFrame], float, float]:
    """The frames of a query to check, its duration in seconds, and the factor from the
    sampled frames' pixels to the original's (boxes are reported in the original's
    pixels). ``name``'s suffix says whether ``data`` is a still image or a video.

    Raises ``InvalidInput`` for an image that does not decode, ``TooLarge`` for one over
    ``max_pixels`` or a video over ``max_duration_s``, ``Unprocessable`` for a video
    that does not decode."""
    if PurePosixPath(name).suffix.lower() in PHOTO_EXTENSIONS - {".gif"}:
        image = decode_image(data, max_pixels=max_pixels)
        return [SampledFrame(0, 0, 0.0, image, False)], 0.0, 1.0
    info = probe(data, max_duration_s=settings.max_duration_s)  # refused before decoding
    frames = sample_frames(data, settings.sampling())
    return frames, info.duration_s, info.width / frames[0].image.size[0]


def scale_box(box: tuple[int, int, int, int], factor: float) -> tuple[int, int, int, int]:
    """A box in a sampled frame's pixels, in the original's."""
    return (
        int(box[0] * factor),
        int(box[1] * factor),
        int(box[2] * factor),
        int(box[3] * factor),
    )


def store_photo(rt: AppRuntime, record: Record) -> None:
    """Keep a registered photo and its thumbnail (the ones the UI shows); the record's
    payload is ``(decoded image, original bytes)``."""
    if rt.media is None:
        return
    image, data = record.payload
    suffix = PurePosixPath(record.label).suffix.lower() or ".bin"
    rt.media.put(rt.name, record.item_id, data, suffix)
    rt.media.put(rt.name, record.item_id, thumbnail_jpeg(image), ".jpg", variant="thumb")


class MediaQuery(BaseModel):
    """The media fields of a JSON search: mixed into an app's request model beside its
    options (``class DetectRequest(DetectOptions, MediaQuery)``)."""

    media_base64: Base64Media = Field(
        description="The video (mp4, webm, mkv, gif, ...) or image, base64-encoded.",
    )
    filename: str = Field(
        "query.mp4",
        max_length=255,
        description="Its name; the suffix says whether it is an image or a video.",
    )


class Sighting(BaseModel):
    """One sighting of a known thing in one sampled frame."""

    time_s: float = Field(description="Offset of the frame in the video, seconds.")
    frame_number: int
    box: tuple[int, int, int, int] = Field(
        description="(x0, y0, x1, y1) in pixels of the original frame."
    )
    score: float = Field(description="Cosine similarity to the known thing's picture.")


class SeenHit(Hit):
    """A known thing seen in the query: when, where (its sightings), and how surely."""

    item_id: str = Field(description="The registered picture that matched best.")
    score: float = Field(
        description="The best sighting's cosine similarity, -1..1 (higher is surer)."
    )
    name: str
    first_s: float
    last_s: float
    thumbnail_url: str
    sightings: list[Any]


SeenHitT = TypeVar("SeenHitT", bound=SeenHit)


def add_sighting(
    rt: AppRuntime,
    known: dict[str, SeenHitT],
    hit_type: type[SeenHitT],
    *,
    name: str,
    item_id: str,
    sighting: Sighting,
) -> None:
    """Count ``sighting`` of the registered picture ``item_id`` (of ``name``) in
    ``known``: the first one makes the hit, later ones widen its time span and raise
    its score (and picture) to the best."""
    thumbnail = rt.item_url(item_id, "/thumbnail")
    entry = known.get(name)
    if entry is None:
        known[name] = hit_type(
            item_id=item_id,
            name=name,
            first_s=sighting.time_s,
            last_s=sighting.time_s,
            score=sighting.score,
            thumbnail_url=thumbnail,
            sightings=[sighting],
        )
        return
    entry.sightings.append(sighting)
    entry.first_s = min(entry.first_s, sighting.time_s)
    entry.last_s = max(entry.last_s, sighting.time_s)
    if sighting.score > entry.score:
        entry.score, entry.item_id, entry.thumbnail_url = sighting.score, item_id, thumbnail
