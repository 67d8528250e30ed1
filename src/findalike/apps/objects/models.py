"""Request and response models of the objects app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectOptions(BaseModel):
    min_match_score: float | None = Field(
        None, ge=-1.0, le=1.0,
        description="Override of FINDALIKE_OBJECTS_MIN_MATCH_SCORE for this request.",
    )
    include_unknown: bool = Field(
        False, description="Also list detections that match no known object."
    )


class DetectRequest(DetectOptions):
    """Find known objects in a video (or an image), sent base64-encoded. Uploading the
    file to ``POST /api/objects/detect/upload`` does the same without base64."""
    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"media_base64": "<base64 of an mp4 or a jpg>", "filename": "street.mp4"},
        ]}
    )

    media_base64: str = Field(description="The video (mp4, webm, mkv, gif, ...) or image.")
    filename: str = Field(
        "query.mp4", description="Its name; the suffix says whether it is an image or a video."
    )


class Sighting(BaseModel):
    """One detection of a known object in one sampled frame."""

    time_s: float = Field(description="Offset of the frame in the video, seconds.")
    frame_number: int
    box: tuple[int, int, int, int] = Field(
        description="(x0, y0, x1, y1) in pixels of the original frame."
    )
    detector_label: str = Field(description="The detector's COCO class for the box.")
    detector_score: float
    score: float = Field(description="Cosine similarity of the crop to the known object.")


class KnownObjectFound(BaseModel):
    item_id: str = Field(description="The known object's image that matched best.")
    name: str
    first_s: float
    last_s: float
    best_score: float
    thumbnail_url: str
    sightings: list[Sighting]


class UnknownDetection(BaseModel):
    time_s: float
    box: tuple[int, int, int, int]
    detector_label: str
    detector_score: float
    best_name: str | None = Field(None, description="The closest known object, if any.")
    best_score: float | None = None


class DetectResponse(BaseModel):
    frames_checked: int
    detections: int = Field(description="Boxes found by the detector in all checked frames.")
    duration_s: float
    found: list[KnownObjectFound] = Field(description="Known objects seen, best first.")
    unknown: list[UnknownDetection] = Field(default_factory=list)
