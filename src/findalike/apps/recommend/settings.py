"""The recommender's settings (environment variables ``FINDALIKE_RECOMMEND_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from findalike.encoders.factors import TrainParams


class RecommendSettings(BaseSettings):
    """Recommender settings (env ``FINDALIKE_RECOMMEND_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="FINDALIKE_RECOMMEND_", env_file=".env", extra="ignore"
    )

    factors: int = Field(64, ge=2, le=1024, description="Latent factors per user and item.")
    iterations: int = Field(15, ge=1, le=200, description="ALS iterations per training.")
    regularization: float = Field(0.05, ge=0.0, description="ALS L2 regularisation.")
    alpha: float = Field(1.0, gt=0.0, description="Confidence per rating point: 1 + alpha*r.")

    def params(self) -> TrainParams:
        return TrainParams(
            factors=self.factors,
            iterations=self.iterations,
            regularization=self.regularization,
            alpha=self.alpha,
        )
