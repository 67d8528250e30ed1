"""The image app's own settings (environment variables, prefix ``FINDALIKE_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ImageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINDALIKE_", env_file=".env", extra="ignore")

    image_near_duplicate_score: float = Field(
        0.85,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity at or above which a hit is flagged as a "
        "near-duplicate of the query (same photo resized, recompressed, cropped, flipped). "
        "Measured on 184 photos with efficientnet-lite3-int8: ~90% of transformed copies "
        "score >= 0.85 (flips ~1.0), and 5% of photos have a different photo above 0.84.",
    )
    image_regions: bool = Field(
        True,
        description="Store a second vector per image, of its centre 60%, so that a cropped "
        "copy (a screenshot of part of a picture) finds the whole: measured on held-out "
        "photos, rank-1 on 60% crops 0.92 -> 1.0 and on random crops 0.96 -> 1.0, for twice "
        "the vectors and ~0.7x the load rate (benchmarks/bench_image_crops.py). Images "
        "loaded while it is off keep one vector.",
    )
