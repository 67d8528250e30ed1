"""Who is in a video (or an image): sample frames, detect faces, embed each face and
match it to the nearest registered photo; faces under the threshold are unknown."""

from __future__ import annotations

from dataclasses import dataclass

from findalike.apps.people.models import (
    IdentifyOptions,
    IdentifyRequest,
    IdentifyResponse,
    PersonHit,
    UnknownFace,
)
from findalike.apps.people.register import face_model_of
from findalike.apps.people.settings import PeopleSettings
from findalike.core.app import AppRuntime
from findalike.encoders.face import FaceCrop
from findalike.formats.video import SampledFrame
from findalike.jobs import checkpoint
from findalike.kit.sightings import Sighting, add_sighting, query_frames, scale_box
from findalike.schema import similarity

MAX_UNKNOWN = 200
MAX_FACES_PER_FRAME = 32


@dataclass(frozen=True)
class _Face:
    frame: SampledFrame
    box: tuple[int, int, int, int]  # in the original's pixels
    item_id: str | None  # the nearest registered photo
    name: str | None
    score: float | None


def search(rt: AppRuntime, request: IdentifyRequest) -> IdentifyResponse:
    """The JSON search: the media is sent base64-encoded."""
    return identify_people(rt, request.filename, request.media_base64, request)


def identify_people(
    rt: AppRuntime, name: str, data: bytes, options: IdentifyOptions
) -> IdentifyResponse:
    """Which registered people appear in the video (or image) ``data``, when and where:
    the ``top_k`` seen most surely, best first, and the unknown faces. Also the upload
    search (``POST /api/people/search/upload``)."""
    settings = rt.config(PeopleSettings)
    frames, duration_s, scale = query_frames(
        name, data, settings, max_pixels=rt.settings.image_max_pixels
    )
    threshold = settings.min_match_score if options.min_score is None else options.min_score
    faces = _faces(rt, frames, scale)
    known: dict[str, PersonHit] = {}
    unknown: list[UnknownFace] = []
    for face in faces:
        if face.name is not None and face.score is not None and face.score >= threshold:
            _add_sighting(rt, known, face)
        elif len(unknown) < MAX_UNKNOWN:
            unknown.append(
                UnknownFace(
                    time_s=face.frame.time_s,
                    frame_number=face.frame.frame_number,
                    box=face.box,
                    best_name=face.name,
                    best_score=face.score,
                )
            )
    ordered = sorted(known.values(), key=lambda k: k.score, reverse=True)
    return IdentifyResponse(
        frames_checked=len(frames),
        faces=len(faces),
        duration_s=duration_s,
        hits=ordered[: options.top_k],
        unknown=unknown,
    )


def _faces(rt: AppRuntime, frames: list[SampledFrame], scale: float) -> list[_Face]:
    """Every face of every frame with its nearest registered photo, one frame at a
    time with a cancellation checkpoint between frames."""
    model = face_model_of(rt)
    metric = model.metric
    out: list[_Face] = []
    for frame in frames:
        checkpoint()
        boxes = [f.box for f in model.detect(frame.image)[:MAX_FACES_PER_FRAME]]
        if not boxes:
            continue
        vectors = model.encode([FaceCrop(frame.image, box) for box in boxes])
        nearest = rt.search_vectors(vectors, limit=1, output_fields=["name"])
        for box, hits in zip(boxes, nearest, strict=True):
            best = hits[0] if hits else None
            out.append(
                _Face(
                    frame=frame,
                    box=scale_box(box, scale),
                    item_id=best.item_id if best else None,
                    name=str(best.fields.get("name", "")) if best else None,
                    score=round(similarity(metric, best.distance), 6) if best else None,
                )
            )
    return out


def _add_sighting(rt: AppRuntime, known: dict[str, PersonHit], face: _Face) -> None:
    assert face.name is not None and face.item_id is not None and face.score is not None
    sighting = Sighting(
        time_s=face.frame.time_s,
        frame_number=face.frame.frame_number,
        box=face.box,
        score=face.score,
    )
    add_sighting(rt, known, PersonHit, name=face.name, item_id=face.item_id, sighting=sighting)
