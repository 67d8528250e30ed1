"""Finding known objects in a video: sample frames, detect objects, embed each crop,
and match it to the nearest known object's images."""

from __future__ import annotations

from dataclasses import dataclass

from findalike.apps.objects.models import (
    DetectOptions,
    DetectRequest,
    DetectResponse,
    ObjectHit,
    Sighting,
    UnknownDetection,
)
from findalike.apps.objects.reader import crop_box, detector_of
from findalike.apps.objects.settings import ObjectsSettings
from findalike.core.app import AppRuntime
from findalike.encoders.detector import Detection
from findalike.formats.video import SampledFrame
from findalike.jobs import checkpoint
from findalike.kit.sightings import add_sighting, query_frames, scale_box
from findalike.schema import similarity

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
    settings = rt.config(ObjectsSettings)
    frames, duration_s, scale = query_frames(
        name, data, settings, max_pixels=rt.settings.image_max_pixels
    )
    threshold = settings.min_match_score if options.min_score is None else options.min_score
    found = _detect_per_frame(rt, frames, settings.min_detector_score)
    boxes = [(f, d) for f, dets in zip(frames, found, strict=True) for d in dets]
    matches = _match(rt, boxes)
    known: dict[str, ObjectHit] = {}
    unknown: list[UnknownDetection] = []
    for (frame, det), best in zip(boxes, matches, strict=True):
        box = scale_box(det.box, scale)
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
    add_sighting(rt, known, ObjectHit, name=best.name, item_id=best.item_id, sighting=sighting)
