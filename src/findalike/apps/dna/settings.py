"""Settings of the DNA app (env prefix ``FINDALIKE_DNA_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EncoderName = Literal["kmer-profile", "onehot", "weighted-onehot", "positional-kmer"]
POSITIONAL_ENCODERS = ("onehot", "weighted-onehot", "positional-kmer")
DEFAULT_LABEL_PATTERN = r"(?:^|[\s;,|])(?:class|label|p)[=:]([^;,|\s]+)"


class DnaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINDALIKE_DNA_", env_file=".env", extra="ignore")

    encoder: EncoderName = Field(
        "kmer-profile",
        description="How a sequence becomes a vector: `kmer-profile` (composition, any "
        "length), `onehot` (letter per position), `weighted-onehot` (letter per position, "
        "positions weighted by FINDALIKE_DNA_POSITION_WEIGHTS) or `positional-kmer` (3-mer "
        "counts per window of 6 positions); all but the first take sequences of exactly "
        "FINDALIKE_DNA_SEQUENCE_LENGTH letters. Compare them with `POST /api/dna/evaluate`.",
    )
    sequence_length: int | None = Field(
        None,
        ge=3,
        le=10_000,
        description="The one sequence length the position-aware encoders take (needed "
        "for them; others are rejected per record, or with a 422 for a query).",
    )
    position_weights: list[float] | None = Field(
        None,
        description="`weighted-onehot` only: one weight >= 0 per position (a JSON list of "
        "FINDALIKE_DNA_SEQUENCE_LENGTH numbers), as `POST /api/dna/evaluate` learns them "
        "from the stored sequences (`position_weights` of its weighted-onehot row).",
    )
    canonical: bool = Field(
        False,
        description="k-mer profile only: count a k-mer and its reverse complement as one, "
        "for data whose strand does not matter (recorded in the encoder version).",
    )
    k: int = Field(5, ge=2, le=7, description="k-mer length; vectors have 4**k dimensions.")
    neighbours: int = Field(5, ge=1, le=200, description="Default k of the kNN vote.")
    label_pattern: str = Field(
        DEFAULT_LABEL_PATTERN,
        description="Regex whose first group is the class in a FASTA header. The default "
        "reads `class=X` or `label=X`, or the phylum `p:X` of a taxonomy header "
        "(`tax=d:Bacteria,p:Proteobacteria,...`).",
    )
    max_sequence_letters: int = Field(
        1_000_000, ge=100, description="Longer sequences are rejected (per record)."
    )

    @model_validator(mode="after")
    def _length_for_positional(self) -> DnaSettings:
        if self.encoder in POSITIONAL_ENCODERS and self.sequence_length is None:
            raise ValueError(
                f"FINDALIKE_DNA_ENCODER={self.encoder} needs FINDALIKE_DNA_SEQUENCE_LENGTH "
                "(the one length of the sequences it encodes)"
            )
        if self.encoder == "weighted-onehot" and (
            self.position_weights is None or len(self.position_weights) != self.sequence_length
        ):
            raise ValueError(
                "FINDALIKE_DNA_ENCODER=weighted-onehot needs FINDALIKE_DNA_POSITION_WEIGHTS: "
                "one weight per position (FINDALIKE_DNA_SEQUENCE_LENGTH of them)"
            )
        weights = self.position_weights or [1.0]
        if min(weights) < 0 or max(weights) <= 0:
            raise ValueError("FINDALIKE_DNA_POSITION_WEIGHTS must be >= 0, not all 0")
        if self.canonical and self.encoder != "kmer-profile":
            raise ValueError("FINDALIKE_DNA_CANONICAL applies to the kmer-profile encoder only")
        return self
