"""Request and response models of the audio app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AudioSearchOptions(BaseModel):
    top_k: int = Field(10, ge=1, le=100, description="Clips returned, best first.")
    matches_per_clip: int = Field(
        5, ge=1, le=100, description="Matching window pairs listed for each clip."
    )
    min_score: float = Field(
        0.0, ge=-1.0, le=1.0, description="Clips scoring below this are left out."
    )


class AudioSearchRequest(AudioSearchOptions):
    """Search by a clip given inline (base64) or by a stored clip's id."""
    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"item_id": "0c8e4b2a9f1d4e7b8a6c5d3e2f1a0b9c", "top_k": 5, "exclude_self": True},
        ]}
    )

    audio_base64: str | None = Field(
        None, description="A query clip (wav, flac, ogg, mp3), base64-encoded. For large "
        "clips prefer POST /api/audio/search/upload."
    )
    item_id: str | None = Field(
        None, max_length=64, description="Find clips like this stored clip."
    )
    exclude_self: bool = Field(
        True, description="With item_id: leave the clip itself out of the results."
    )


class WindowMatch(BaseModel):
    query_offset_s: float = Field(description="Start of the query window, in the query.")
    offset_s: float = Field(description="Start of the matching stored window, in the clip.")
    similarity: float = Field(description="Cosine similarity of the two windows.")


class ClipResult(BaseModel):
    item_id: str
    name: str
    score: float = Field(
        description="Mean over the query's windows of their best similarity in this clip."
    )
    offset_s: float = Field(
        description="Where the query most likely starts in this clip (resolution: hop_s)."
    )
    duration_s: float
    file_url: str = Field(description="Streams the stored clip for a player.")
    matches: list[WindowMatch]


class AudioSearchResponse(BaseModel):
    query_duration_s: float
    query_windows: int
    query_truncated: bool = Field(
        description="True if the query was longer than FINDALIKE_AUDIO_QUERY_MAX_S and only "
        "its start was used."
    )
    results: list[ClipResult]
