"""Video decoding and frame sampling (PyAV), shared by the video and objects apps.

A video is sampled at a regular interval (one frame every ``interval_s`` seconds,
always including the first frame) plus the first frame of every scene change (a cut),
detected as a large mean difference between consecutive tiny greyscale frames.
Sampled frames are returned as RGB ``PIL.Image`` objects no larger than
``max_side_px`` on their longer side, with their time offset in seconds.

Every function here raises ``findalike.errors.Unprocessable`` for content that is
not a usable video (no video stream, corrupt container, undecodable frames) and
``TooLarge`` for a video over its limits; nothing else escapes for bad input.
PyAV is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from findalike.errors import TooLarge, Unprocessable

if TYPE_CHECKING:
    from PIL import Image

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif"})
_SCENE_PROBE_PX = (32, 18)  # tiny greyscale frames compared for cut detection


@dataclass(frozen=True)
class Sampling:
    """How frames are picked from a video.

    ``interval_s``: one frame per this many seconds (the first frame always).
    ``scene_threshold``: mean absolute difference (0..1) between consecutive tiny
    greyscale frames above which a frame starts a new scene and is sampled too;
    0 disables scene sampling. ``min_scene_gap_s``: scene samples closer than this to
    the previous sample are skipped (flashes, fades). ``max_frames``: at most this many
    frames; past it the interval is doubled and the video sampled again.
    ``max_side_px``: sampled frames are shrunk to this longer side.
    """

    interval_s: float = 1.0
    scene_threshold: float = 0.12
    min_scene_gap_s: float = 0.1
    max_frames: int = 600
    max_side_px: int = 480


@dataclass(frozen=True)
class VideoInfo:
    """What a cheap probe of a video reveals. ``duration_s`` may be 0 if unknown."""

    duration_s: float
    width: int
    height: int
    fps: float
    codec: str


@dataclass
class SampledFrame:
    """One sampled frame: ``index`` is its ordinal among the samples (0 first),
    ``frame_number`` its position among all decoded frames, ``time_s`` its offset."""

    index: int
    frame_number: int
    time_s: float
    image: Image.Image
    scene_change: bool


def _open(data: bytes) -> Any:
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise Unprocessable(f"not a readable video container ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return str(text)[:200]


def _video_stream(container: Any) -> Any:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise Unprocessable(
            f"the file has no video stream (streams found: {', '.join(kinds)})"
        )
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        raise Unprocessable("the video stream's codec is not supported")
    return stream


def probe(data: bytes, *, max_duration_s: float = 4 * 3600.0) -> VideoInfo:
    """Container-level facts of a video, without decoding it all; raises
    ``Unprocessable`` for a corrupt file or one without a video stream (the first
    frame is decoded to prove the stream is readable) and ``TooLarge`` past
    ``max_duration_s``."""
    import av

    container = _open(data)
    with container:
        stream = _video_stream(container)
        duration_s = _duration_s(container, stream)
        if duration_s > max_duration_s:
            raise TooLarge(
                f"the video lasts {duration_s:.0f} s, over the {max_duration_s:.0f}-s limit"
            )
        try:
            first = next(container.decode(stream), None)
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            raise Unprocessable(f"the video stream cannot be decoded ({_reason(exc)})") from exc
        if first is None:
            raise Unprocessable("the video stream holds no frames")
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(
            duration_s=duration_s,
            width=int(first.width),
            height=int(first.height),
            fps=float(rate) if rate else 0.0,
            codec=str(stream.codec_context.name),
        )


def _duration_s(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000.0
    return 0.0


def sample_frames(data: bytes, sampling: Sampling = Sampling()) -> list[SampledFrame]:
    """The sampled frames of a video, in time order (see ``Sampling``); raises
    ``Unprocessable`` if no frame can be decoded. A stream that breaks part-way keeps
    the frames decoded before the break."""
    frames = list(_sample(data, sampling, sampling.interval_s))
    interval_s = sampling.interval_s
    while len(frames) > sampling.max_frames:
        interval_s *= 2
        frames = list(_sample(data, sampling, interval_s))
    if not frames:
        raise Unprocessable("no frame of the video could be decoded")
    for i, f in enumerate(frames):
        f.index = i
    return frames


def _sample(data: bytes, sampling: Sampling, interval_s: float) -> Iterator[SampledFrame]:
    import av

    container = _open(data)
    with container:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        next_regular_s = 0.0
        last_sample_s = -1e9
        previous: np.ndarray | None = None
        scene_on = sampling.scene_threshold > 0
        budget = sampling.max_frames * 4  # hard stop even if the rule keeps firing
        try:
            for number, frame in enumerate(container.decode(stream)):
                time_s = _frame_time_s(frame, number, stream)
                cut = False
                if scene_on:
                    probe_px = frame.to_ndarray(
                        width=_SCENE_PROBE_PX[0], height=_SCENE_PROBE_PX[1], format="gray"
                    ).astype(np.float32) / 255.0
                    if previous is not None:
                        cut = float(np.abs(probe_px - previous).mean()) > sampling.scene_threshold
                    previous = probe_px
                regular = time_s >= next_regular_s - 1e-6
                scene = cut and time_s - last_sample_s >= sampling.min_scene_gap_s
                if not (regular or scene):
                    continue
                if regular:
                    while next_regular_s <= time_s + 1e-6:
                        next_regular_s += interval_s
                last_sample_s = time_s
                yield SampledFrame(
                    index=0,
                    frame_number=number,
                    time_s=round(time_s, 3),
                    image=_shrink(frame.to_image(), sampling.max_side_px),
                    scene_change=scene and not regular,
                )
                budget -= 1
                if budget <= 0:
                    return
        except (av.error.FFmpegError, ValueError, OSError):
            return  # a truncated stream: keep what was decoded


def _frame_time_s(frame: Any, number: int, stream: Any) -> float:
    if frame.time is not None:
        return max(0.0, float(frame.time))
    rate = stream.average_rate or stream.guessed_rate
    return number / float(rate) if rate else float(number)


def _shrink(image: Image.Image, max_side_px: int) -> Image.Image:
    image = image.convert("RGB")
    if max(image.size) > max_side_px:
        image.thumbnail((max_side_px, max_side_px))
    return image


def jpeg_bytes(image: Image.Image, *, max_side_px: int = 240, quality: int = 80) -> bytes:
    """A small JPEG of ``image`` (for frame thumbnails)."""
    small = image.copy()
    small.thumbnail((max_side_px, max_side_px))
    out = io.BytesIO()
    small.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def write_clip(
    images: list[np.ndarray], path: Any, *, fps: int = 10, codec: str = "libx264"
) -> None:
    """Write RGB uint8 frames ``(h, w, 3)`` (all the same size, even sides) as a video
    at ``fps`` frames per second. Used by tests, benchmarks and demos to make clips
    whose content is known."""
    import av

    height, width = images[0].shape[:2]
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        for array in images:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
