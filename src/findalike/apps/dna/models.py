"""Request and response models of the DNA app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from findalike.apps.dna.settings import EncoderName
from findalike.core.contract import (
    Hit,
    SearchRequest,
    SearchResponse,
    StrictModel,
    deprecated_alias,
)
from findalike.core.request_types import COLLECTION_NAME_PATTERN, FILTER_TEXT_PATTERN

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
        "line are ignored); at least k letters (FINDALIKE_DNA_K, 5 by default), and "
        "exactly FINDALIKE_DNA_SEQUENCE_LENGTH for a position-aware encoder (else 422).",
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
        description="Cosine similarity of the two vectors, 0..1 (they are never negative): "
        "of the k-mer count profiles, or for `onehot` the share of positions with the same "
        "letter; 1: the same vector."
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
                {"holdout_fraction": 0.2, "neighbours": 5, "seed": 0, "max_sequences": 5000},
            ]
        }
    )

    holdout_fraction: float = Field(0.2, gt=0.0, lt=0.9, description="Share held out.")
    neighbours: int | None = Field(None, ge=1, le=200)
    seed: int = Field(
        0,
        ge=0,
        le=2**53 - 1,  # the largest integer a JSON number holds exactly
        description="Chooses which items are held out (reproducible): stored items are "
        "ordered by sha256 of `{seed}:{item_id}`, the first `max_sequences` taken and "
        "the first `round(holdout_fraction * n)` of those held out.",
    )
    max_sequences: int = Field(
        5000, ge=10, le=20_000, description="At most this many stored sequences are used."
    )


class DnaCollectionRequest(StrictModel):
    """``POST /api/dna/collections``: a named collection and, optionally, its encoder."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "splice", "encoder": "onehot", "sequence_length": 60},
                {"name": "reads", "encoder": "kmer-profile", "canonical": True},
            ]
        }
    )

    name: str = Field(
        pattern=COLLECTION_NAME_PATTERN,
        max_length=32,
        description="A lower-case letter, then up to 31 lower-case letters, digits or `_`.",
    )
    encoder: EncoderName | None = Field(
        None,
        description="The encoder of its vectors, recorded with it (`kmer-profile`, "
        "`onehot`, `weighted-onehot`, `positional-kmer`: see FINDALIKE_DNA_ENCODER; "
        "compare them first with `POST /api/dna/evaluate`). Default: the app's settings; "
        "with it, the options below not given take their defaults, not the app's.",
    )
    sequence_length: int | None = Field(
        None, ge=3, le=10_000, description="The one length of a position-aware encoder."
    )
    position_weights: list[float] | None = Field(
        None,
        max_length=10_000,
        description="`weighted-onehot`: one weight >= 0 per position, as evaluate learns "
        "them (`position_weights` of its weighted-onehot row).",
    )
    canonical: bool | None = Field(
        None,
        description="`kmer-profile`: a k-mer and its reverse complement count as one.",
    )
    k: int | None = Field(None, ge=2, le=7, description="`kmer-profile`: the k-mer length.")


class ClassScore(BaseModel):
    label: str
    precision: float
    recall: float
    support: int = Field(description="Held-out items of this class.")


class EncoderEvaluation(BaseModel):
    """One encoder's held-out kNN accuracy (or why it does not apply)."""

    encoder: str = Field(description="name@version, as a collection records it.")
    dim: int
    current: bool = Field(description="The encoder of the stored vectors.")
    applicable: bool
    reason: str = Field("", description="Why it does not apply (then no figures).")
    accuracy: float = 0.0
    per_class: list[ClassScore] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list, description="Confusion matrix order.")
    confusion: list[list[int]] = Field(
        default_factory=list, description="confusion[true][predicted] counts."
    )
    position_weights: list[float] | None = Field(
        None,
        description="weighted-onehot: the weights learned from the training split; set "
        "them as FINDALIKE_DNA_POSITION_WEIGHTS to use this encoder.",
    )


class DnaEvaluation(BaseModel):
    """Held-out accuracy of the kNN vote over the stored labelled sequences, for the
    encoder of the collection (the top-level figures) and every other applicable
    encoder (``encoders``), all on the same split, re-encoded in memory."""

    held_out: int
    training: int
    neighbours: int
    seed: int
    sequences: int = Field(description="Stored sequences used (at most max_sequences).")
    lengths: list[int] = Field(description="Shortest and longest sequence used.")
    k: int = Field(description="k-mer length of the k-mer profiles.")
    encoder: str = Field(description="The encoder of the stored vectors (name@version).")
    best: str = Field(description="The encoder with the highest held-out accuracy.")
    accuracy: float = Field(description="Held-out accuracy of the stored vectors' encoder.")
    majority_baseline: float = Field(
        description="Accuracy of always answering the most frequent training class."
    )
    majority_label: str
    per_class: list[ClassScore]
    labels: list[str] = Field(description="Row/column order of the confusion matrix.")
    confusion: list[list[int]] = Field(description="confusion[true][predicted] counts.")
    encoders: list[EncoderEvaluation]
