"""Settings of the molecule app (env prefix ``FINDALIKE_MOLECULE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MoleculeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FINDALIKE_MOLECULE_", env_file=".env", extra="ignore"
    )

    radius: int = Field(2, ge=1, le=6, description="Morgan fingerprint radius (2 ~ ECFP4).")
    bits: int = Field(
        2048, ge=64, le=16384, multiple_of=8, description="Morgan fingerprint length in bits."
    )
    vectors: Literal["auto", "binary", "float"] = Field(
        "auto",
        description="auto: BINARY_VECTOR + JACCARD (exact, BIN_FLAT) on a Milvus server and "
        "on the embedded Milvus Lite 2.5; 0/1 FLOAT_VECTOR + COSINE with an exact Tanimoto "
        "re-rank on Milvus Lite 3.2 (no binary vectors there). An existing collection keeps "
        "the kind it holds.",
    )
