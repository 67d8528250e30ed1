"""Request and response models of the people app. Its search is "who is in it": the
query is a video (or an image) and the hits are the registered people seen in it.
No face image is ever returned: only boxes, times and the registered photos' URLs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from findalike.core.contract import SearchRequest, SearchResponse
from findalike.kit.sightings import MediaQuery, SeenHit, Sighting


class IdentifyOptions(SearchRequest):
    """The options of a search: the JSON body's fields beside the media, and the form
    fields beside the file of ``POST /api/people/search/upload``."""

    min_score: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description="A face is a sighting of a registered person if its cosine "
        "similarity to one of their photos (-1..1) is at least this; other faces are "
        "unknown. Default: FINDALIKE_PEOPLE_MIN_MATCH_SCORE (0.93).",
    )


class IdentifyRequest(IdentifyOptions, MediaQuery):
    """Find the registered people in a video (or an image), sent base64-encoded.
    Uploading the file to ``POST /api/people/search/upload`` does the same."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"media_base64": "<base64 of an mp4 or a jpg>", "filename": "meeting.mp4"},
            ]
        }
    )


class PersonHit(SeenHit):
    """A registered person seen in the query: when, where (face boxes), how surely."""

    sightings: list[Sighting]


class UnknownFace(BaseModel):
    """A face that matches no registered person closely enough."""

    time_s: float
    frame_number: int
    box: tuple[int, int, int, int]
    best_name: str | None = Field(None, description="The closest registered person, if any.")
    best_score: float | None = None


class IdentifyResponse(SearchResponse):
    frames_checked: int
    faces: int = Field(description="Faces found in all checked frames.")
    duration_s: float
    hits: list[PersonHit] = Field(description="Registered people seen, surest first.")
    unknown: list[UnknownFace] = Field(
        default_factory=list, description="Faces of no registered person (at most 200)."
    )


class Person(BaseModel):
    name: str
    photos: list[str] = Field(description="Item ids of the person's registered photos.")
    thumbnail_urls: list[str]


class PeopleList(BaseModel):
    people: list[Person]


class PersonDeleted(BaseModel):
    name: str
    deleted_photos: int
    deleted_vectors: int
