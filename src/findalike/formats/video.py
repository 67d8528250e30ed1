"""Video decoding and frame sampling (PyAV), shared by the video and objects apps.

A video is sampled at a regular interval (one frame every ``interval_s`` seconds,
always including the first frame) plus the first frame of every scene change (a cut),
detected as a large mean difference between consecutive tiny greyscale frames.
Sampled frames are returned as RGB ``PIL.Image`` objects no larger than
``max_side_px`` on their longer side, with their time offset in seconds.

Sampling is one decoding pass with hard bounds, whatever the content: at most
``max_frames`` frames are kept (past it the rule is coarsened and the frames kept so
far thinned, never a second pass), at most ``max_decoded_frames`` are decoded and
only the first ``max_duration_s`` seconds, frames over ``MAX_FRAME_PX`` are refused,
and the job's cancellation is checked at every frame (``findalike.jobs.checkpoint``).

Every function here raises ``findalike.errors.Unprocessable`` for content that is
not a usable video (no video stream, corrupt container, undecodable frames) and
``TooLarge`` for a video over its limits; nothing else escapes for bad input.
PyAV is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from findalike.errors import TooLarge, Unprocessable
from findalike.jobs import checkpoint

if TYPE_CHECKING:
    from PIL import Image

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif"})
_SCENE_PROBE_PX = (32, 18)  # tiny greyscale frames compared for cut detection
MAX_FRAME_PX = 7680 * 4320
"""Frames larger than 8K UHD are refused: decoding one costs too much to be worth it."""
_MIN_COARSE_GAP_S = 0.05  # the least scene gap once thinning started (the default may be 0)
_MAX_THINNING_ROUNDS = 64  # doublings: far past any real duration; a last-resort guard


@dataclass(frozen=True)
class Sampling:
    """How frames are picked from a video.

    ``interval_s``: one frame per this many seconds (the first frame always).
    ``scene_threshold``: mean absolute difference (0..1) between consecutive tiny
    greyscale frames above which a frame starts a new scene and is sampled too;
    0 disables scene sampling. ``min_scene_gap_s``: scene samples closer than this to
    the previous sample are skipped (flashes, fades). ``max_frames``: at most this many
    frames; past it the interval and the scene gap are doubled and the frames kept so
    far thinned to the coarser rule (in the same decoding pass).
    ``max_side_px``: sampled frames are shrunk to this longer side.
    ``max_duration_s``: only frames up to this time are decoded (a query's limit).
    ``max_fps``: with ``max_duration_s`` it caps the frames decoded at all
    (``max_decoded_frames``), whatever the timestamps claim.
    """

    interval_s: float = 1.0
    scene_threshold: float = 0.12
    min_scene_gap_s: float = 0.1
    max_frames: int = 600
    max_side_px: int = 480
    max_duration_s: float = 4 * 3600.0
    max_fps: float = 120.0

    @property
    def max_decoded_frames(self) -> int:
        """The most frames one sampling decodes (4 h at 120 fps: 1.7 M)."""
        return math.ceil(self.max_duration_s * self.max_fps) + 1


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
        raise Unprocessable(f"the file has no video stream (streams found: {', '.join(kinds)})")
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
        _check_frame_size(first)
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
    """The sampled frames of a video, in time order (see ``Sampling``), from one
    decoding pass: at most ``sampling.max_frames`` of them, whatever the number of
    cuts. Raises ``Unprocessable`` if no frame can be decoded, ``TooLarge`` for frames
    over ``MAX_FRAME_PX``, ``JobCancelled`` inside a cancelled job. A stream that breaks
    part-way keeps the frames decoded before the break."""
    picker = _Picker(sampling)
    _decode_into(data, sampling, picker)
    frames = picker.frames()
    if not frames:
        raise Unprocessable("no frame of the video could be decoded")
    for i, f in enumerate(frames):
        f.index = i
    return frames


def _decode_into(data: bytes, sampling: Sampling, picker: _Picker) -> None:
    import av

    container = _open(data)
    with container:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        previous: np.ndarray | None = None
        previous_s: float | None = None
        try:
            for number, frame in enumerate(container.decode(stream)):
                checkpoint()
                time_s = _frame_time_s(frame, number, stream)
                if number >= sampling.max_decoded_frames or time_s > sampling.max_duration_s:
                    return
                _check_frame_size(frame)
                cut, previous = _scene_cut(frame, previous, sampling.scene_threshold)
                picker.offer(frame, number, time_s, previous_s, cut)
                previous_s = time_s
        except (av.error.FFmpegError, ValueError, OSError):
            return  # a truncated stream: keep what was decoded


def _scene_cut(
    frame: Any, previous: np.ndarray | None, threshold: float
) -> tuple[bool, np.ndarray | None]:
    """Whether ``frame`` starts a new scene, and its tiny grey probe for the next one."""
    if threshold <= 0:
        return False, None
    probe_px = (
        frame.to_ndarray(width=_SCENE_PROBE_PX[0], height=_SCENE_PROBE_PX[1], format="gray").astype(
            np.float32
        )
        / 255.0
    )
    cut = previous is not None and float(np.abs(probe_px - previous).mean()) > threshold
    return cut, probe_px


def _check_frame_size(frame: Any) -> None:
    if int(frame.width) * int(frame.height) > MAX_FRAME_PX:
        raise TooLarge(
            f"frames of {frame.width}x{frame.height} pixels are over the "
            f"{MAX_FRAME_PX}-pixel limit (8K UHD)"
        )


@dataclass
class _Pick:
    """A kept frame with what re-judging it needs: the previous decoded frame's time
    and whether it starts a scene."""

    frame: SampledFrame
    time_s: float
    previous_s: float | None
    cut: bool


class _Picker:
    """Chooses the frames to keep while they are decoded. A frame is kept if it is
    the first at or past a multiple of the interval (regular) or starts a scene at
    least the scene gap after the last kept frame. When more than ``max_frames`` are
    kept, the interval and the gap are doubled and the kept frames re-judged by the
    coarser rule: a frame regular at 2x the interval was regular at 1x, so thinning
    never needs a frame that was not kept. Deterministic: it depends on the content
    only."""

    def __init__(self, sampling: Sampling) -> None:
        self._sampling = sampling
        self._interval_s = sampling.interval_s
        self._gap_s = sampling.min_scene_gap_s
        self._kept: list[_Pick] = []

    def offer(
        self, frame: Any, number: int, time_s: float, previous_s: float | None, cut: bool
    ) -> None:
        regular = _crosses_grid(previous_s, time_s, self._interval_s)
        scene = cut and time_s - self._last_kept_s() >= self._gap_s
        if not (regular or scene):
            return
        image = _shrink(frame.to_image(), self._sampling.max_side_px)
        sampled = SampledFrame(
            index=0,
            frame_number=number,
            time_s=round(time_s, 3),
            image=image,
            scene_change=scene and not regular,
        )
        self._kept.append(_Pick(sampled, time_s, previous_s, cut))
        if len(self._kept) > self._sampling.max_frames:
            self._thin()

    def frames(self) -> list[SampledFrame]:
        return [p.frame for p in self._kept]

    def _last_kept_s(self) -> float:
        return self._kept[-1].time_s if self._kept else -math.inf

    def _thin(self) -> None:
        for _ in range(_MAX_THINNING_ROUNDS):
            if len(self._kept) <= self._sampling.max_frames:
                return
            self._interval_s *= 2
            self._gap_s = max(2 * self._gap_s, _MIN_COARSE_GAP_S)
            self._kept = self._rejudged()
        del self._kept[self._sampling.max_frames :]

    def _rejudged(self) -> list[_Pick]:
        kept: list[_Pick] = []
        for p in self._kept:
            regular = _crosses_grid(p.previous_s, p.time_s, self._interval_s)
            scene = p.cut and (not kept or p.time_s - kept[-1].time_s >= self._gap_s)
            if regular or scene:
                p.frame.scene_change = scene and not regular
                kept.append(p)
        return kept


def _crosses_grid(previous_s: float | None, time_s: float, interval_s: float) -> bool:
    """Whether a multiple of ``interval_s`` lies in (previous_s, time_s], i.e. the frame
    at ``time_s`` is the first at or past it; the first frame always is."""
    if previous_s is None:
        return True
    return math.floor((time_s + 1e-6) / interval_s) > math.floor((previous_s + 1e-6) / interval_s)


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
        stream: Any = out.add_stream(codec, rate=fps)  # a VideoStream for a video codec
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        for array in images:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
