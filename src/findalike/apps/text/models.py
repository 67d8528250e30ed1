"""Request and response models of the text app."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints, field_validator

from findalike.core.contract import Hit, SearchRequest, SearchResponse, StrictModel
from findalike.core.request_types import FILTER_TEXT_PATTERN, ContentId, at_least_one_of
from findalike.kit.hybrid import FusionOptions, ModeFigures, ModeOptions, SearchMode

FILTER_KEY = r"^[A-Za-z_][A-Za-z0-9_\- ]{0,63}$"


MAX_FILTERS = 32
MAX_FILTER_TEXT_CHARS = 1000
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1


class Range(BaseModel):
    """A numeric range on a metadata field; give at least one bound."""

    model_config = ConfigDict(
        extra="forbid",  # a misspelt bound ("gtee") is a 422, never silently dropped
        json_schema_extra=at_least_one_of(gte="number", gt="number", lte="number", lt="number"),
    )

    gte: FiniteFloat | None = None
    gt: FiniteFloat | None = None
    lte: FiniteFloat | None = None
    lt: FiniteFloat | None = None


# Milvus compares with int64 and finite doubles; text without the control characters
# its expressions cannot carry
FilterValue = (
    Annotated[str, StringConstraints(max_length=MAX_FILTER_TEXT_CHARS, pattern=FILTER_TEXT_PATTERN)]
    | Annotated[int, Field(ge=MIN_INT64, le=MAX_INT64)]
    | FiniteFloat
    | bool
    | Range
)


class TextSearchRequest(SearchRequest, ModeOptions):
    query: str = Field(
        min_length=1, max_length=4000, examples=["how can we make health care cheaper"]
    )
    filters: dict[str, FilterValue] = Field(
        default_factory=dict,
        max_length=MAX_FILTERS,
        json_schema_extra={"propertyNames": {"pattern": FILTER_KEY}},
        description='Metadata that must match: `{"party": "Democratic"}` (exact) or '
        '`{"year": {"gte": 2000}}` (range). All must hold.',
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


class TextHit(Hit):
    score: float = Field(
        description="Cosine similarity of the query and the best passage, -1..1, in every "
        "mode (the mode decides which passages come back and in what order)."
    )
    rank_score: float | None = Field(
        None,
        description="What ranked the hit: its BM25 score (lexical), the fused score "
        "(hybrid), none (semantic).",
    )
    title: str
    snippet: str
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) character spans of query words in snippet."
    )
    passage: int = Field(description="Which passage of the document matched (0-based).")
    source: str
    meta: dict[str, Any]


class TextSearchResponse(SearchResponse):
    query: str
    hits: list[TextHit]
    mode: SearchMode = Field("auto", description="The mode the search ran in.")
    exact_terms: list[str] = Field(
        default_factory=list,
        description="Auto mode: the identifiers and quoted phrases of the query; the "
        "hits that hold them come first.",
    )
    notice: str | None = Field(
        None, description="Why the mode differs from the one asked for, if it does."
    )


MAX_EVALUATE_QUERIES = 200
MAX_EVALUATE_QUERY_CHARS = 1000
"""A labelled query is a user's query: short; long ones would only make evaluating slow."""
MAX_RELEVANT_ITEMS = 100


class TextJudgement(StrictModel):
    query: str = Field(min_length=1, max_length=MAX_EVALUATE_QUERY_CHARS)
    relevant: list[ContentId] = Field(
        min_length=1,
        max_length=MAX_RELEVANT_ITEMS,
        description="Item ids of the documents that answer the query.",
    )


class TextEvaluateRequest(FusionOptions, StrictModel):
    queries: list[TextJudgement] = Field(min_length=1, max_length=MAX_EVALUATE_QUERIES)
    k: int = Field(10, ge=1, le=100, description="The k of recall@k.")


class TextEvaluateResponse(BaseModel):
    queries: int
    k: int
    modes: dict[SearchMode, ModeFigures] = Field(
        description="Figures per mode that this collection can serve."
    )
    notice: str | None = None
