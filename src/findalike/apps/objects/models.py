"""Request and response models of the objects app. Its search is the detect: the
query is a video (or an image) and the hits are the known objects seen in it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from findalike.core.contract import SearchRequest, SearchResponse, deprecated_alias
from findalike.kit.sightings import MediaQuery, SeenHit
from findalike.kit.sightings import Sighting as BaseSighting


class DetectOptions(SearchRequest):
    """The options of a detect: the JSON body's fields beside the media, and the form
    fields beside the file of ``POST /api/objects/search/upload``."""

    min_score: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description="A detected box is a sighting of a known object if its crop's cosine "
        "similarity to it (-1..1) is at least this; known objects seen less surely are "
        "left out. Default: FINDALIKE_OBJECTS_MIN_MATCH_SCORE.",
    )
    min_match_score: float | None = deprecated_alias("min_score")
    include_unknown: bool = Field(
        False, description="Also list detections that match no known object."
    )


class DetectRequest(DetectOptions, MediaQuery):
    """Find known objects in a video (or an image), sent base64-encoded. Uploading the
    file to ``POST /api/objects/search/upload`` does the same without base64."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"media_base64": "<base64 of an mp4 or a jpg>", "filename": "street.mp4"},
            ]
        }
    )


class Sighting(BaseSighting):
    """One detection of a known object in one sampled frame."""

    detector_label: str = Field(description="The detector's COCO class for the box.")
    detector_score: float


class ObjectHit(SeenHit):
    """A known object seen in the query: when, where, and how surely."""

    sightings: list[Sighting]


class UnknownDetection(BaseModel):
    time_s: float
    box: tuple[int, int, int, int]
    detector_label: str
    detector_score: float
    best_name: str | None = Field(None, description="The closest known object, if any.")
    best_score: float | None = None


class DetectResponse(SearchResponse):
    frames_checked: int
    detections: int = Field(description="Boxes found by the detector in all checked frames.")
    duration_s: float
    hits: list[ObjectHit] = Field(description="Known objects seen, best first.")
    unknown: list[UnknownDetection] = Field(default_factory=list)
