"""Request and response models of the QA chatbot."""

from __future__ import annotations

from pydantic import BaseModel, Field

from findalike.core.contract import Hit, SearchRequest, SearchResponse, StrictModel
from findalike.core.request_types import FILTER_TEXT_PATTERN
from findalike.kit.hybrid import FusionOptions, ModeFigures, ModeOptions, SearchMode

SCORE_MEANING = (
    "Cosine similarity of the question asked and the stored pair's vector, -1..1, in "
    "every mode (the mode decides which pairs come back and in what order)."
)


class QASearchRequest(SearchRequest, ModeOptions):
    question: str = Field(min_length=1, max_length=4000, examples=["how do I sort a hash by value"])


class QAMatch(Hit):
    question: str = Field(description="The stored question that matched.")
    answer: str
    score: float = Field(description=SCORE_MEANING)
    rank_score: float | None = Field(
        None,
        description="What ranked the hit: its BM25 score (lexical), the fused score "
        "(hybrid), none (semantic).",
    )
    highlights: list[tuple[int, int]] = Field(
        default_factory=list,
        description="[start, end) character spans of the asked question's words in `question`.",
    )
    source: str


class QASearchResponse(SearchResponse):
    question: str
    hits: list[QAMatch]
    mode: SearchMode = Field("auto", description="The mode the search ran in.")
    exact_terms: list[str] = Field(
        default_factory=list,
        description="Auto mode: the identifiers and quoted phrases of the query; the "
        "hits that hold them come first.",
    )
    notice: str | None = Field(
        None, description="Why the mode differs from the one asked for, if it does."
    )


class AskRequest(ModeOptions, StrictModel):
    question: str = Field(
        min_length=1, max_length=4000, examples=["How can I sort a hash by its values?"]
    )
    threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Least confidence to answer (default: FINDALIKE_QA_THRESHOLD).",
    )
    related: int = Field(3, ge=0, le=20, description="Closest other questions to offer.")


class RelatedQuestion(BaseModel):
    item_id: str
    question: str
    score: float


class AnswerResponse(BaseModel):
    question: str
    answered: bool = Field(description="False when no stored question is close enough.")
    answer: str | None = None
    matched_question: str | None = None
    confidence: float = Field(description="Similarity of the best match, 0..1.")
    threshold: float
    message: str = Field(description="What to show the user.")
    related: list[RelatedQuestion] = Field(
        default_factory=list, description="Closest questions (other than the answer's)."
    )
    mode: SearchMode = Field("auto", description="The mode the search ran in.")
    exact_terms: list[str] = Field(
        default_factory=list,
        description="Auto mode: the identifiers and quoted phrases of the query; the "
        "hits that hold them come first.",
    )
    notice: str | None = None


MAX_EVALUATE_QUERIES = 200
MAX_EVALUATE_QUERY_CHARS = 1000
"""A labelled query is a user's query: short; long ones would only make evaluating slow."""


class QAJudgement(StrictModel):
    question: str = Field(min_length=1, max_length=MAX_EVALUATE_QUERY_CHARS)
    expected: str | None = Field(
        None,
        min_length=1,
        max_length=8192,
        pattern=FILTER_TEXT_PATTERN,  # a question is looked up with a Milvus filter
        description="The stored question (its exact text) or the item id of the pair that "
        "answers it; null for a question the chatbot should not answer (off-topic).",
    )


class QAEvaluateRequest(FusionOptions, StrictModel):
    queries: list[QAJudgement] = Field(min_length=1, max_length=MAX_EVALUATE_QUERIES)
    k: int = Field(10, ge=1, le=100, description="The k of recall@k.")


class QAModeFigures(ModeFigures):
    threshold: float = Field(
        description="The answer threshold that makes the most right decisions on this set "
        "(answer when the best match's confidence is at least this, and it is the "
        "expected pair; refuse otherwise): use it as FINDALIKE_QA_THRESHOLD or per request."
    )
    accuracy_at_threshold: float = Field(description="Share of right decisions at `threshold`.")
    accuracy_at_current: float = Field(
        description="Share of right decisions at the server's threshold today."
    )


class QAEvaluateResponse(BaseModel):
    queries: int
    answerable: int = Field(description="Queries with an expected pair.")
    unknown_expected: list[str] = Field(
        default_factory=list,
        description="Expected questions or ids that match no stored pair (not counted).",
    )
    k: int
    current_threshold: float
    modes: dict[SearchMode, QAModeFigures]
    notice: str | None = None
