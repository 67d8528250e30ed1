"""Request and response models of the text app."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

FILTER_KEY = r"^[A-Za-z_][A-Za-z0-9_\- ]{0,63}$"


class Range(BaseModel):
    """A numeric range on a metadata field; give at least one bound."""

    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None


FilterValue = str | int | float | bool | Range


class TextSearchRequest(BaseModel):
    query: str = Field(
        min_length=1, max_length=4000, examples=["how can we make health care cheaper"]
    )
    top_k: int = Field(10, ge=1, le=200, description="Documents to return.")
    filters: dict[str, FilterValue] = Field(
        default_factory=dict,
        description="Metadata that must match: `{\"party\": \"Democratic\"}` (exact) or "
        "`{\"year\": {\"gte\": 2000}}` (range). All must hold.",
        examples=[{"party": "Republican", "year": {"gte": 1990}}],
    )
    group: bool = Field(
        True, description="One hit per document (its best passage); false: every passage."
    )

    @field_validator("filters")
    @classmethod
    def _keys(cls, v: dict[str, FilterValue]) -> dict[str, FilterValue]:
        import re

        for key, value in v.items():
            if not re.match(FILTER_KEY, key):
                raise ValueError(f"filter key {key!r} is not a metadata field name")
            if isinstance(value, Range) and not value.model_dump(exclude_none=True):
                raise ValueError(f"range filter on {key!r} has no bound")
        return v


class TextHit(BaseModel):
    item_id: str
    score: float = Field(description="Cosine similarity of the best passage, -1..1.")
    title: str
    snippet: str
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) character spans of query words in snippet."
    )
    passage: int = Field(description="Which passage of the document matched (0-based).")
    source: str
    meta: dict[str, Any]


class TextSearchResponse(BaseModel):
    query: str
    results: list[TextHit]
