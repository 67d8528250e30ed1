"""Request and response models of the recommender."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator

from findalike.apps.recommend.ratings import MAX_ABS_RATING
from findalike.core.contract import (
    TOP_K_DEFAULT,
    TOP_K_MAX,
    Hit,
    SearchRequest,
    SearchResponse,
    StrictModel,
    deprecated_alias,
)
from findalike.core.request_types import NameId, exactly_one_of

MAX_USERS_PER_REQUEST = 1000


class Recommendation(Hit):
    item_id: str = Field(description="The item's id in the ratings (its stored item id).")
    score: float = Field(
        description="Inner product of the user's and the item's factors: unbounded, mostly "
        "0..1 (implicit ALS fits 1 to a rated item, 0 to the rest); higher: better."
    )
    item: str = Field(description="The same as `item_id`.")
    title: str


class Recommendations(SearchResponse):
    user: str | None = Field(None, description="The stored user; null for a fold-in.")
    model_version: int
    hits: list[Recommendation] = Field(description="Best first.")
    unknown_items: list[str] = Field(
        default_factory=list, description="Liked items (fold-in) the model does not know."
    )


class SimilarItem(Hit):
    item_id: str = Field(description="The item's id in the ratings (its stored item id).")
    score: float = Field(description="Cosine similarity of the item factors, -1..1.")
    item: str = Field(description="The same as `item_id`.")
    title: str


class SimilarItems(SearchResponse):
    item: str = Field(description="The item the hits are similar to.")
    title: str
    model_version: int
    hits: list[SimilarItem] = Field(description="Most similar first.")


FoldInRating = Annotated[FiniteFloat, Field(ge=-MAX_ABS_RATING, le=MAX_ABS_RATING)]
"""Finite and bounded: a NaN, an infinity or 1e308 would poison the folded-in vector."""


class FoldInRequest(SearchRequest):
    """A user who is not in the model, described by items they liked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": ["1002", "1050", "1582"], "ratings": [5, 4, 5], "top_k": 10},
            ]
        }
    )

    items: list[NameId] = Field(min_length=1, max_length=1000, description="Liked item ids.")
    ratings: list[FoldInRating] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Optional rating per liked item (same order, as many as `items`); "
        "default 5 each.",
    )
    k: int | None = deprecated_alias("top_k")

    @model_validator(mode="after")
    def _same_length(self) -> FoldInRequest:
        if self.ratings is not None and len(self.ratings) != len(self.items):
            raise ValueError("ratings must have one value per item")
        return self


class RecommendRequest(SearchRequest):
    """``POST /api/recommend/search``: recommendations for a stored ``user``, or for
    a new user from ``items`` they liked (fold-in)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"user": "1", "top_k": 10}],
            **exactly_one_of(user="string", items="array"),
        }
    )

    user: NameId | None = None
    items: list[NameId] | None = Field(None, min_length=1, max_length=1000)
    k: int | None = deprecated_alias("top_k")

    @model_validator(mode="after")
    def _one_of(self) -> RecommendRequest:
        if (self.user is None) == (self.items is None):
            raise ValueError("give either a user or a list of liked items")
        return self


class UsersRequest(StrictModel):
    """``POST /api/recommend/for-users``: recommendations for many stored users in one
    request (a nightly e-mail, a page of users), each exactly as ``GET /users/{user}``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"users": ["1", "2", "3"], "top_k": 5}]}
    )

    users: list[NameId] = Field(
        min_length=1, max_length=MAX_USERS_PER_REQUEST, description="Stored user ids."
    )
    top_k: int = Field(
        TOP_K_DEFAULT, ge=1, le=TOP_K_MAX, description="Most items returned per user."
    )


class UsersRecommendations(BaseModel):
    model_version: int
    data: list[Recommendations] = Field(description="One entry per known user, in order.")
    count: int = Field(description="Users answered.")
    unknown_users: list[str] = Field(
        default_factory=list,
        description="Users the model does not know (not in the ratings, or loaded after "
        "the last training); the others are answered anyway.",
    )


class EvaluateRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"k": 10, "holdout": "random", "test_fraction": 0.2},
            ]
        }
    )

    k: int = Field(
        10,
        ge=1,
        le=100,
        description="The cut-off of precision@k, recall@k and NDCG@k (not a result count).",
    )
    holdout: Literal["random", "temporal"] = Field(
        "random",
        description="random: a random share of each user's ratings; temporal: "
        "each user's latest ratings (needs timestamps).",
    )
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    min_user_ratings: int = Field(
        5, ge=2, description="Users with fewer ratings stay in training only."
    )
    relevant_min_rating: FiniteFloat | None = Field(
        None, description="Held-out ratings at or above this count as relevant (null: all)."
    )
    seed: int = Field(0, ge=0, description="Chooses the held-out ratings (reproducible).")


class Metrics(BaseModel):
    precision: float
    recall: float
    ndcg: float


class EvaluationReport(BaseModel):
    k: int
    holdout: str
    users_evaluated: int
    train_ratings: int
    test_ratings: int
    model: Metrics = Field(description="Trained ALS model on the training split.")
    popularity: Metrics = Field(description="Most-rated items in the training split.")
    train_s: float
    factors: int


class ModelInfo(BaseModel):
    version: int | None = Field(None, description="null: no model trained yet.")
    users: int = 0
    items: int = 0
    trained_on_ratings: int = 0
    factors: int = 0
    trained_at: str | None = None
    train_s: float | None = None
    stored: dict[str, int] = Field(
        default_factory=dict, description="What is loaded now: ratings, users, items."
    )
