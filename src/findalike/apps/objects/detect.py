"""Finding known objects in a video: sample frames, detect objects, embed each crop,
and match it to the nearest known object's images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from findalike.app import AppRuntime
from findalike.apps.objects.models import (
    DetectOptions,
    DetectRequest,
    DetectResponse,
    ObjectHit,
    Sighting,
    UnknownDetection,
)
from findalike.apps.objects.pipeline import (
    IMAGE_EXTENSIONS,
    crop_box,
    detector_of,
    settings_of,
)
from findalike.encoders.detector import Detection
from findalike.imaging import decode_image
from findalike.jobs import checkpoint
from findalike.store import similarity
from findalike.video import SampledFrame, probe, sample_frames

MAX_UNKNOWN = 200


def search(rt: AppRuntime, request: DetectRequest) -> DetectResponse:
    """The JSON search: the media is sent base64-encoded."""
    return detect_known_objects(rt, request.filename, request.media_base64, request)


def detect_known_objects(
    rt: AppRuntime, name: str, data: bytes, options: DetectOptions
) -> DetectResponse:
    """Which known objects appear in the video (or image) ``data``, when and where: the
    ``top_k`` seen most surely, best first. Also the upload search
    (``POST /api/objects/search/upload``)."""
    frames, duration_s, scale = _frames(rt, name, data)
    settings = settings_of(rt)
    threshold = settings.min_match_score if options.min_score is None else options.min_score
    found = _detect_per_frame(rt, frames, settings.min_detector_score)
    boxes = [(f, d) for f, dets in zip(frames, found, strict=True) for d in dets]
    matches = _match(rt, boxes)
    known: dict[str, ObjectHit] = {}
    unknown: list[UnknownDetection] = []
    for (frame, det), best in zip(boxes, matches, strict=True):
        box = (
            int(det.box[0] * scale),
            int(det.box[1] * scale),
            int(det.box[2] * scale),
            int(det.box[3] * scale),
        )
        if best is not None and best.score >= threshold:
            _add_sighting(rt, known, best, frame, det, box)
        elif options.include_unknown and len(unknown) < MAX_UNKNOWN:
            unknown.append(
                UnknownDetection(
                    time_s=frame.time_s,
                    box=box,
                    detector_label=det.label,
                    detector_score=det.score,
                    best_name=best.name if best else None,
                    best_score=round(best.score, 6) if best else None,
                )
            )
    ordered = sorted(known.values(), key=lambda k: k.score, reverse=True)
    return DetectResponse(
        frames_checked=len(frames),
        detections=len(boxes),
        duration_s=duration_s,
        hits=ordered[: options.top_k],
        unknown=unknown,
    )


def _detect_per_frame(
    rt: AppRuntime, frames: list[SampledFrame], min_score: float
) -> list[list[Detection]]:
    """The detector's boxes of every frame, one frame at a time with a cancellation
    checkpoint between frames (a no-op unless this runs inside a job)."""
    detector = detector_of(rt)
    found = []
    for frame in frames:
        checkpoint()
        found.extend(detector.detect([frame.image], min_score=min_score))
    return found


def _frames(rt: AppRuntime, name: str, data: bytes) -> tuple[list[SampledFrame], float, float]:
    """The frames to check, the duration in seconds, and the factor from the sampled
    frames' pixels to the original's (boxes are reported in the original's pixels)."""
    if PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS - {".gif"}:
        image = decode_image(data)
        return [SampledFrame(0, 0, 0.0, image, False)], 0.0, 1.0
    settings = settings_of(rt)
    info = probe(data, max_duration_s=settings.max_duration_s)  # refused before decoding
    frames = sample_frames(data, settings.sampling())
    return frames, info.duration_s, info.width / frames[0].image.size[0]


@dataclass
class _Best:
    item_id: str
    name: str
    score: float


def _match(rt: AppRuntime, boxes: list[tuple[SampledFrame, Detection]]) -> list[_Best | None]:
    """The nearest known object of each detected box (None if nothing is registered)."""
    if not boxes:
        return []
    crops = [crop_box(frame.image, det.box) for frame, det in boxes]
    vectors = rt.encoder.encode(crops)
    hits = rt.search_vectors(vectors, limit=1, output_fields=["name"])
    metric = rt.encoder.metric
    return [
        _Best(h[0].item_id, str(h[0].fields.get("name", "")), similarity(metric, h[0].distance))
        if h
        else None
        for h in hits
    ]


def _add_sighting(
    rt: AppRuntime,
    known: dict[str, ObjectHit],
    best: _Best,
    frame: SampledFrame,
    det: Detection,
    box: tuple[int, int, int, int],
) -> None:
    sighting = Sighting(
        time_s=frame.time_s,
        frame_number=frame.frame_number,
        box=box,
        detector_label=det.label,
        detector_score=det.score,
        score=round(best.score, 6),
    )
    entry = known.get(best.name)
    if entry is None:
        known[best.name] = ObjectHit(
            item_id=best.item_id,
            name=best.name,
            first_s=frame.time_s,
            last_s=frame.time_s,
            score=sighting.score,
            thumbnail_url=f"/api/{rt.name}/items/{best.item_id}/thumbnail",
            sightings=[sighting],
        )
        return
    entry.sightings.append(sighting)
    entry.first_s = min(entry.first_s, frame.time_s)
    entry.last_s = max(entry.last_s, frame.time_s)
    if sighting.score > entry.score:
        entry.score, entry.item_id = sighting.score, best.item_id
        entry.thumbnail_url = f"/api/{rt.name}/items/{best.item_id}/thumbnail"
