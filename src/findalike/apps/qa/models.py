"""Request and response models of the QA chatbot."""

from __future__ import annotations

from pydantic import BaseModel, Field

from findalike.contract import Hit, SearchRequest, SearchResponse, StrictModel


class QASearchRequest(SearchRequest):
    question: str = Field(min_length=1, max_length=4000, examples=["how do I sort a hash by value"])


class QAMatch(Hit):
    question: str = Field(description="The stored question that matched.")
    answer: str
    score: float = Field(description="Cosine similarity of the questions, -1..1.")
    source: str


class QASearchResponse(SearchResponse):
    question: str
    hits: list[QAMatch]


class AskRequest(StrictModel):
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
