"""Request and response models of the video app."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from findalike.core.contract import Base64Media, Hit, SearchRequest, SearchResponse
from findalike.core.request_types import ContentId, exactly_one_of


class VideoSearchOptions(SearchRequest):
    """The options of a video search: the JSON body's fields beside the query, and the
    form fields beside the file of ``POST /api/video/search/upload``."""

    offsets_per_video: int = Field(
        5, ge=1, le=100, description="Most matching frames listed per video, best first."
    )
    min_score: float | None = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description="Frames less similar than this (cosine, -1..1) are ignored, and videos "
        "scoring below it are left out. `null`: no floor.",
    )
    segment_margin: float = Field(
        0.08,
        ge=0.0,
        le=2.0,
        description="A frame belongs to a matching segment if its score is within this of "
        "the video's best score.",
    )


class VideoSearchRequest(VideoSearchOptions):
    """Search by an image (base64) or by a stored video (``item_id``: videos that
    share scenes with it). A clip upload goes to ``POST /api/video/search/upload``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"item_id": "3f2a9c0d4b1e4f6a8c7d5e2b1a0f9e8d", "top_k": 5}],
            **exactly_one_of(image_base64="string", item_id="string"),
        }
    )

    image_base64: Base64Media | None = Field(
        None,
        description="A query image (jpg, png, webp, gif, bmp), base64-encoded.",
    )
    item_id: ContentId | None = Field(
        None, description="A stored video used as a query clip (it is left out of the results)."
    )

    @model_validator(mode="after")
    def _one_query(self) -> VideoSearchRequest:
        if (self.image_base64 is None) == (self.item_id is None):
            raise ValueError("give exactly one of image_base64 or item_id")
        return self


class FrameMatch(BaseModel):
    part: int = Field(description="Ordinal of the sampled frame in its video.")
    offset_s: float = Field(description="Time of the frame in the video, seconds.")
    score: float = Field(description="Cosine similarity to the query (higher is closer).")
    query_offset_s: float | None = Field(
        None, description="For a clip query: time of the query frame it matched, seconds."
    )
    thumbnail_url: str


class Segment(BaseModel):
    """A run of consecutive sampled frames that all match the query well."""

    start_s: float
    end_s: float
    best_offset_s: float
    score: float


class VideoHit(Hit):
    """One video, with the moments in it that match the query."""

    name: str
    score: float = Field(
        description="Cosine similarity, -1..1 (higher is closer). Image "
        "query: the best frame's. Clip query: the mean over query frames of "
        "their best score in this video."
    )
    duration_s: float
    clip_start_s: float | None = Field(
        None, description="For a clip query: where the clip most likely starts in this video."
    )
    thumbnail_url: str = Field(description="Thumbnail of the best-matching frame.")
    file_url: str
    matches: list[FrameMatch]
    segments: list[Segment]


class VideoSearchResponse(SearchResponse):
    query: Literal["image", "clip"]
    query_frames: int = Field(description="Frames embedded for the query.")
    hits: list[VideoHit] = Field(description="Videos, best first.")
