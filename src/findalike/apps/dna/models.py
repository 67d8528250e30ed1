"""Request and response models of the DNA app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from findalike.contract import Hit, SearchRequest, SearchResponse, StrictModel, deprecated_alias
from findalike.request_types import FILTER_TEXT_PATTERN

MAX_QUERY_LETTERS = 1_000_000
_LETTERS = r"[ACGTNacgtn\s]*[ACGTNacgtn][ACGTNacgtn\s]*"
SEQUENCE_PATTERN = rf"^\s*(>[^\n]*\n)?{_LETTERS}$"
"""What ``clean_sequence`` reads: an optional FASTA header line, then DNA letters
and white space (at least one letter; the server also needs at least k of them).
Stated in the schema; ``clean_sequence`` enforces it with a message that names the
first bad letter and its position (a 400)."""


class DnaQuery(SearchRequest):
    """A sequence to classify or to find similar sequences for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sequence": "AGAGTTTGATCCTGGCTCAGGATGAACGCTGGCGGCGTGCCTAATACATGCAAGTCG",
                    "top_k": 5,
                },
            ]
        }
    )

    sequence: str = Field(
        min_length=1,
        max_length=MAX_QUERY_LETTERS,
        json_schema_extra={"pattern": SEQUENCE_PATTERN},
        description="DNA letters A/C/G/T/N (any case; white space and a FASTA header "
        "line are ignored); at least k letters (FINDALIKE_DNA_K, 5 by default).",
    )
    limit: int | None = deprecated_alias("top_k")
    label: str | None = Field(
        None,
        max_length=256,
        pattern=FILTER_TEXT_PATTERN,
        description="Only sequences of this class.",
    )


class DnaNeighbour(Hit):
    score: float = Field(
        description="Cosine similarity of the k-mer count profiles, 0..1 (counts are never "
        "negative; 1: the same profile)."
    )
    label: str = Field(description="The class of the stored sequence.")
    seq_id: str = ""
    length: int
    preview: str = Field("", description="The first letters of the stored sequence.")


class DnaResults(SearchResponse):
    hits: list[DnaNeighbour] = Field(description="Most similar first.")


class DnaClassifyRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sequence": "AGAGTTTGATCCTGGCTCAGGATGAACGCTGGCGGCGTGCCTAATACATGCAAG",
                    "neighbours": 5,
                },
            ]
        }
    )

    sequence: str = Field(
        min_length=1,
        max_length=MAX_QUERY_LETTERS,
        json_schema_extra={"pattern": SEQUENCE_PATTERN},
        description="As for `POST /api/dna/search`.",
    )
    neighbours: int | None = Field(
        None, ge=1, le=200, description="k of the vote (default FINDALIKE_DNA_NEIGHBOURS)."
    )


class DnaClassification(BaseModel):
    label: str | None = Field(description="The predicted class; null if nothing is stored.")
    confidence: float = Field(
        description="The winning class's share of the similarity-weighted vote, 0..1."
    )
    votes: dict[str, float] = Field(description="Similarity-weighted vote per class.")
    neighbours: list[DnaNeighbour]


class DnaEvaluateRequest(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"holdout_fraction": 0.2, "neighbours": 5, "seed": 0},
            ]
        }
    )

    holdout_fraction: float = Field(0.2, gt=0.0, lt=0.9, description="Share held out.")
    neighbours: int | None = Field(None, ge=1, le=200)
    seed: int = Field(0, description="Chooses which items are held out (reproducible).")


class ClassScore(BaseModel):
    label: str
    precision: float
    recall: float
    support: int = Field(description="Held-out items of this class.")


class DnaEvaluation(BaseModel):
    """Held-out accuracy of the kNN vote against the stored labelled sequences."""

    held_out: int
    training: int
    neighbours: int
    k: int = Field(description="k-mer length of the stored vectors.")
    accuracy: float
    majority_baseline: float = Field(
        description="Accuracy of always answering the most frequent training class."
    )
    majority_label: str
    per_class: list[ClassScore]
    labels: list[str] = Field(description="Row/column order of the confusion matrix.")
    confusion: list[list[int]] = Field(description="confusion[true][predicted] counts.")
