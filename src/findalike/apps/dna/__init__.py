"""DNA sequence classification and similar-sequence search.

Loads labelled FASTA/TSV, validates every record, stores a vector of it with its
class and the sequence itself, and classifies a sequence by a similarity-weighted
vote of its nearest labelled sequences. The vector is a fixed-vocabulary k-mer
profile (``findalike.encoders.kmer``, composition, any length) by default, or a
position-aware encoding of fixed-length sequences (``findalike.encoders.dna``),
chosen with ``FINDALIKE_DNA_ENCODER`` (or per named collection at its creation:
``findalike.apps.dna.collections``) after comparing them on the stored data with
``POST /api/dna/evaluate``. Settings: ``FINDALIKE_DNA_ENCODER``, ``_SEQUENCE_LENGTH``,
``_CANONICAL``, ``_K``, ``_NEIGHBOURS``, ``_LABEL_PATTERN``, ``_MAX_SEQUENCE_LETTERS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from findalike.apps.dna.collections import choose_collection, forget_choice
from findalike.apps.dna.models import (
    DnaCollectionRequest,
    DnaEvaluateRequest,
    DnaEvaluation,
    DnaQuery,
    DnaResults,
)
from findalike.apps.dna.reader import SEQUENCE_FIELD_LETTERS, dna_settings, read_dna
from findalike.apps.dna.routes import dna_routes
from findalike.apps.dna.search import evaluate_request, search_sequences
from findalike.apps.dna.settings import DnaSettings
from findalike.core.app import (
    AppRuntime,
    AppSpec,
    EncodedItem,
    Evaluation,
    Record,
    one_row_per_record,
)
from findalike.encoders.base import Encoder
from findalike.schema import FieldSpec


def make_encoder(rt: AppRuntime) -> Encoder:
    from findalike.apps.dna.encoders import configured_encoder

    return configured_encoder(dna_settings(rt))


def to_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """One row per sequence, with the sequence itself in ``sequence`` unless the
    collection was created before that field existed (then loads still work and
    ``evaluate`` reads the preview of short sequences)."""
    items = one_row_per_record(rt, records)
    if "dna_stores_sequences" not in rt.state:
        rt.state["dna_stores_sequences"] = "sequence" in rt.stored_fields()
    if not rt.state["dna_stores_sequences"]:
        for item in items:
            for row in item.rows:
                row.pop("sequence", None)
    return items


def forget_schema(rt: AppRuntime) -> None:
    rt.state.pop("dna_stores_sequences", None)
    forget_choice(rt)


def demo_files(datasets: Path) -> list[tuple[str, Path]]:
    path = datasets / "dna" / "ten_16s.100.fa.gz"
    return [(path.name, path)] if path.exists() else []


APP = AppSpec(
    name="dna",
    title="DNA sequences",
    summary="Classify a DNA sequence by its nearest labelled sequences (k-mer profiles, "
    "or position-aware encodings of fixed-length sequences), or find similar sequences.",
    extensions=frozenset({".fa", ".fasta", ".fna", ".ffn", ".fas", ".gz", ".tsv", ".txt"}),
    fields=(
        FieldSpec("label", "str", 256),
        FieldSpec("seq_id", "str", 256),
        FieldSpec("length", "int"),
        FieldSpec("preview", "str", 256),
        FieldSpec("sequence", "str", SEQUENCE_FIELD_LETTERS),
    ),
    make_encoder=make_encoder,
    to_rows=to_rows,
    on_drop=forget_schema,
    collection_request=DnaCollectionRequest,
    choose_collection=choose_collection,
    settings=DnaSettings,
    read=read_dna,
    search_request=DnaQuery,
    search_response=DnaResults,
    search=search_sequences,
    routes=dna_routes,
    evaluation=Evaluation(
        DnaEvaluateRequest,
        DnaEvaluation,
        evaluate_request,
        summary="Compare the DNA encoders on the stored labelled sequences",
        description="Held-out accuracy, per-class precision/recall, confusion matrix and "
        "the majority-class baseline of each encoder (the top-level figures are the stored "
        "vectors' encoder's).",
    ),
    demo_files=demo_files,
    one_row_per_item=True,
    batch_size=500,
)
