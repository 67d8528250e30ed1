"""Request and response models of the audio app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from findalike.core.contract import Base64Media, Hit, SearchRequest, SearchResponse
from findalike.core.request_types import ContentId, exactly_one_of


class AudioSearchOptions(SearchRequest):
    """The options of an audio search: the JSON body's fields beside the query, and the
    form fields beside the file of ``POST /api/audio/search/upload``."""

    matches_per_clip: int = Field(
        5, ge=1, le=100, description="Matching window pairs listed for each clip."
    )
    min_score: float | None = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description="Clips scoring below this (cosine, -1..1) are left out. `null`: no floor.",
    )


class AudioSearchRequest(AudioSearchOptions):
    """Search by a clip given inline (base64) or by a stored clip's id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"item_id": "0c8e4b2a9f1d4e7b8a6c5d3e2f1a0b9c", "top_k": 5, "exclude_self": True},
            ],
            **exactly_one_of(audio_base64="string", item_id="string"),
        }
    )

    audio_base64: Base64Media | None = Field(
        None,
        description="A query clip (wav, flac, ogg, mp3), base64-encoded. For large "
        "clips prefer POST /api/audio/search/upload.",
    )
    item_id: ContentId | None = Field(None, description="Find clips like this stored clip.")
    exclude_self: bool = Field(
        True, description="With item_id: leave the clip itself out of the results."
    )

    @model_validator(mode="after")
    def _one_query(self) -> AudioSearchRequest:
        if (self.audio_base64 is None) == (self.item_id is None):
            raise ValueError("give exactly one of audio_base64 or item_id")
        return self


class WindowMatch(BaseModel):
    query_offset_s: float = Field(description="Start of the query window, in the query.")
    offset_s: float = Field(description="Start of the matching stored window, in the clip.")
    score: float = Field(description="Cosine similarity of the two windows, -1..1.")


class AudioHit(Hit):
    """One stored clip, with where the query most likely starts in it."""

    name: str
    score: float = Field(
        description="Mean over the query's windows of their best cosine similarity in this "
        "clip, -1..1 (higher is closer)."
    )
    offset_s: float = Field(
        description="Where the query most likely starts in this clip (resolution: hop_s)."
    )
    duration_s: float
    file_url: str = Field(description="Streams the stored clip for a player.")
    matches: list[WindowMatch]


class AudioSearchResponse(SearchResponse):
    query_duration_s: float
    query_windows: int
    query_truncated: bool = Field(
        description="True if the query was longer than FINDALIKE_AUDIO_QUERY_MAX_S and only "
        "its start was used."
    )
    hits: list[AudioHit] = Field(description="Clips, best first.")
