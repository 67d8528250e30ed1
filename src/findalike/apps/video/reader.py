"""Reading videos into records and records into one row per sampled frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from findalike.apps.video.settings import VideoSettings
from findalike.core.app import AppRuntime, EncodedItem, ReadFailure, Record, content_id
from findalike.errors import FindalikeError
from findalike.formats.video import SampledFrame, jpeg_bytes, probe, sample_frames

if TYPE_CHECKING:
    from PIL import Image

FRAME_THUMB_SIDE_PX = 240
THUMB_SIDE_PX = 320


def read_video(name: str, data: bytes, rt: AppRuntime) -> Iterable[Record | ReadFailure]:
    """One record per video file. Validation is a probe (container, a video stream,
    the first frame decodes); the frames are sampled when the record is encoded."""
    try:
        info = probe(data, max_duration_s=rt.config(VideoSettings).max_duration_s)
    except FindalikeError as exc:
        return [ReadFailure(name, exc.detail)]
    fields = {
        "name": PurePosixPath(name).name[:500],
        "duration_s": info.duration_s,
        "width": info.width,
        "height": info.height,
    }
    return [Record(item_id=content_id(data), payload=data, fields=fields, label=name)]


def video_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """Each video's sampled frames encoded into rows (part = sample ordinal, with the
    frame's ``offset_s``); the original, a thumbnail and one small JPEG per sampled
    frame (variant ``f<part>``) go to the media store. A video that cannot be sampled
    becomes an item error; its neighbours are unaffected."""
    return [_one_video(rt, r) for r in records]


def _one_video(rt: AppRuntime, record: Record) -> EncodedItem:
    try:
        frames = sample_frames(record.payload, rt.config(VideoSettings).sampling())
        vectors = rt.encoder.encode([f.image for f in frames])
    except FindalikeError as exc:
        return EncodedItem(record=record, error=exc.detail)
    rows = [
        rt.row(
            record,
            f.index,
            v,
            offset_s=f.time_s,
            frame_number=f.frame_number,
            scene_change=f.scene_change,
        )
        for f, v in zip(frames, vectors, strict=True)
    ]
    _store_media(rt, record, frames)
    return EncodedItem(record=record, rows=rows)


def _store_media(rt: AppRuntime, record: Record, frames: list[SampledFrame]) -> None:
    if rt.media is None:
        return
    app, item_id = rt.name, record.item_id
    suffix = PurePosixPath(record.label).suffix.lower() or ".bin"
    rt.media.put(app, item_id, record.payload, suffix)
    rt.media.put(
        app,
        item_id,
        jpeg_bytes(_poster(frames), max_side_px=THUMB_SIDE_PX),
        ".jpg",
        variant="thumb",
    )
    for f in frames:
        rt.media.put(
            app,
            item_id,
            jpeg_bytes(f.image, max_side_px=FRAME_THUMB_SIDE_PX),
            ".jpg",
            variant=f"f{f.index}",
        )


def _poster(frames: list[SampledFrame]) -> Image.Image:
    """The frame shown for the whole video: one a tenth of the way in (the very
    first frame is often black or a title)."""
    return frames[len(frames) // 10].image
