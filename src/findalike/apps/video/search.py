"""Video search: by an image (which videos hold a similar frame, and when) or by a
clip (which videos share its scenes, and where the clip starts in them). Frame hits
are grouped per video, best video first."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from findalike.apps.video.models import (
    FrameMatch,
    Segment,
    VideoHit,
    VideoSearchOptions,
    VideoSearchRequest,
    VideoSearchResponse,
)
from findalike.apps.video.settings import VideoSettings
from findalike.core.app import AppRuntime
from findalike.errors import NotFound
from findalike.formats.imaging import decode_image
from findalike.formats.video import probe, sample_frames
from findalike.schema import Hit, similarity

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
MAX_SEGMENTS = 20


def search(rt: AppRuntime, request: VideoSearchRequest) -> VideoSearchResponse:
    """The JSON search: by ``image_base64`` or by a stored video ``item_id``."""
    if request.image_base64 is not None:
        return search_image_bytes(rt, request.image_base64, request)
    return _search_by_item(rt, str(request.item_id), request)


def search_upload(
    rt: AppRuntime, name: str, data: bytes, options: VideoSearchOptions
) -> VideoSearchResponse:
    """Search by an uploaded file: an image by its suffix, anything else as a clip."""
    if PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES:
        return search_image_bytes(rt, data, options)
    return search_clip_bytes(rt, data, options)


def search_image_bytes(
    rt: AppRuntime, data: bytes, options: VideoSearchOptions
) -> VideoSearchResponse:
    image = decode_image(data, max_pixels=rt.settings.image_max_pixels)
    vectors = rt.encoder.encode([image])
    return _rank(rt, vectors, [0.0], options, kind="image")


def search_clip_bytes(
    rt: AppRuntime, data: bytes, options: VideoSearchOptions
) -> VideoSearchResponse:
    """Search by a clip: probed first (a corrupt file or one over
    FINDALIKE_VIDEO_MAX_DURATION_S is refused before any decoding), then only its
    first FINDALIKE_VIDEO_QUERY_MAX_DURATION_S seconds are sampled, at most
    FINDALIKE_VIDEO_QUERY_MAX_FRAMES frames in one decoding pass."""
    settings = rt.config(VideoSettings)
    probe(data, max_duration_s=settings.max_duration_s)
    frames = sample_frames(data, settings.query_sampling())
    vectors = rt.encoder.encode([f.image for f in frames])
    return _rank(rt, vectors, [f.time_s for f in frames], options, kind="clip")


def _search_by_item(
    rt: AppRuntime, item_id: str, options: VideoSearchOptions
) -> VideoSearchResponse:
    rows = rt.item_rows(item_id, ["offset_s", "vector"])
    if not rows:
        raise NotFound(f"No video with id {item_id!r}.")
    query_max = rt.config(VideoSettings).query_max_frames
    step = max(1, -(-len(rows) // query_max))
    rows = rows[::step]
    vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    offsets = [float(r["offset_s"]) for r in rows]
    return _rank(rt, vectors, offsets, options, kind="clip", exclude=item_id)


@dataclass
class _VideoHits:
    """Best hits of one video: per sampled frame, and per query frame."""

    name: str = ""
    duration_s: float = 0.0
    frames: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    """part -> (score, offset_s, query offset_s)"""
    per_query: dict[int, tuple[float, float]] = field(default_factory=dict)
    """query frame index -> (score, offset_s)"""

    def add(self, j: int, query_offset_s: float, part: int, offset_s: float, score: float) -> None:
        if part not in self.frames or score > self.frames[part][0]:
            self.frames[part] = (score, offset_s, query_offset_s)
        if j not in self.per_query or score > self.per_query[j][0]:
            self.per_query[j] = (score, offset_s)


def _rank(
    rt: AppRuntime,
    vectors: np.ndarray,
    query_offsets_s: Sequence[float],
    options: VideoSearchOptions,
    *,
    kind: str,
    exclude: str | None = None,
) -> VideoSearchResponse:
    limit = min(4000, max(200, options.top_k * 40))
    hits = rt.search_vectors(vectors, limit=limit, output_fields=["name", "offset_s", "duration_s"])
    floor = options.min_score
    videos = _group(rt, hits, query_offsets_s, floor, exclude)
    ranked = [_hit(rt, vid, v, query_offsets_s, options, kind) for vid, v in videos.items()]
    # a clip's score is a mean over its query frames, so it can fall under the floor
    ranked = [h for h in ranked if floor is None or h.score >= floor]
    ranked.sort(key=lambda r: r.score, reverse=True)
    return VideoSearchResponse(
        query="clip" if kind == "clip" else "image",
        query_frames=len(vectors),
        hits=ranked[: options.top_k],
    )


def _group(
    rt: AppRuntime,
    hits: list[list[Hit]],
    query_offsets_s: Sequence[float],
    min_score: float | None,
    exclude: str | None,
) -> dict[str, _VideoHits]:
    metric = rt.encoder.metric
    videos: dict[str, _VideoHits] = {}
    for j, row in enumerate(hits):
        for h in row:
            score = similarity(metric, h.distance)
            if (min_score is not None and score < min_score) or h.item_id == exclude:
                continue
            v = videos.get(h.item_id)
            if v is None:
                v = videos[h.item_id] = _VideoHits(
                    name=str(h.fields.get("name", "")),
                    duration_s=float(h.fields.get("duration_s", 0.0)),
                )
            v.add(j, query_offsets_s[j], int(h.fields["part"]), float(h.fields["offset_s"]), score)
    return videos


def _hit(
    rt: AppRuntime,
    item_id: str,
    v: _VideoHits,
    query_offsets_s: Sequence[float],
    options: VideoSearchOptions,
    kind: str,
) -> VideoHit:
    ranked = sorted(v.frames.items(), key=lambda kv: kv[1][0], reverse=True)
    best_part, (best_score, _, _) = ranked[0]
    matches = [
        FrameMatch(
            part=part,
            offset_s=off,
            score=round(score, 6),
            query_offset_s=q_off if kind == "clip" else None,
            thumbnail_url=rt.item_url(item_id, "/thumbnail", part=part),
        )
        for part, (score, off, q_off) in ranked[: options.offsets_per_video]
    ]
    if kind == "clip":
        score = sum(s for s, _ in v.per_query.values()) / len(query_offsets_s)
        clip_start_s: float | None = round(
            statistics.median(off - query_offsets_s[j] for j, (_, off) in v.per_query.items()), 3
        )
    else:
        score, clip_start_s = best_score, None
    return VideoHit(
        item_id=item_id,
        name=v.name,
        score=round(score, 6),
        duration_s=v.duration_s,
        clip_start_s=clip_start_s,
        thumbnail_url=rt.item_url(item_id, "/thumbnail", part=best_part),
        file_url=rt.item_url(item_id, "/file"),
        matches=matches,
        segments=_segments(v.frames, best_score - options.segment_margin),
    )


def _segments(frames: dict[int, tuple[float, float, float]], floor: float) -> list[Segment]:
    """Runs of consecutive sampled frames scoring at least ``floor``, in time order."""
    good = sorted(p for p, (s, _, _) in frames.items() if s >= floor)
    runs: list[list[int]] = []
    for p in good:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    segments = []
    for run in runs[:MAX_SEGMENTS]:
        best = max(run, key=lambda p: frames[p][0])
        segments.append(
            Segment(
                start_s=frames[run[0]][1],
                end_s=frames[run[-1]][1],
                best_offset_s=frames[best][1],
                score=round(frames[best][0], 6),
            )
        )
    return segments
