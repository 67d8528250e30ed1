"""Request and response models of the recommender."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Recommendation(BaseModel):
    item: str
    title: str
    score: float = Field(description="Inner product of user and item factors (higher: better).")


class Recommendations(BaseModel):
    user: str | None = Field(None, description="The stored user; null for a fold-in.")
    model_version: int
    items: list[Recommendation]
    unknown_items: list[str] = Field(
        default_factory=list, description="Liked items (fold-in) the model does not know."
    )


class SimilarItem(BaseModel):
    item: str
    title: str
    score: float = Field(description="Cosine similarity of item factors, -1..1.")


class SimilarItems(BaseModel):
    item: str
    title: str
    model_version: int
    items: list[SimilarItem]


class FoldInRequest(BaseModel):
    """A user who is not in the model, described by items they liked."""
    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"items": ["1002", "1050", "1582"], "ratings": [5, 4, 5], "k": 10},
        ]}
    )

    items: list[str] = Field(min_length=1, max_length=1000, description="Liked item ids.")
    ratings: list[float] | None = Field(
        None, description="Optional rating per liked item (same order); default 5 each."
    )
    k: int = Field(10, ge=1, le=1000)

    @model_validator(mode="after")
    def _same_length(self) -> FoldInRequest:
        if self.ratings is not None and len(self.ratings) != len(self.items):
            raise ValueError("ratings must have one value per item")
        return self


class RecommendRequest(BaseModel):
    """``POST /api/recommend/search``: recommendations for a stored ``user``, or for
    a new user from ``items`` they liked (fold-in)."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"user": "1", "k": 10}]})

    user: str | None = None
    items: list[str] | None = Field(None, min_length=1, max_length=1000)
    k: int = Field(10, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_of(self) -> RecommendRequest:
        if (self.user is None) == (self.items is None):
            raise ValueError("give either a user or a list of liked items")
        return self


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"k": 10, "holdout": "random", "test_fraction": 0.2},
        ]}
    )

    k: int = Field(10, ge=1, le=100)
    holdout: Literal["random", "temporal"] = Field(
        "random", description="random: a random share of each user's ratings; temporal: "
        "each user's latest ratings (needs timestamps)."
    )
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    min_user_ratings: int = Field(5, ge=2, description="Users with fewer ratings stay in "
                                  "training only.")
    relevant_min_rating: float | None = Field(
        None, description="Held-out ratings at or above this count as relevant (null: all)."
    )
    seed: int = 0


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
