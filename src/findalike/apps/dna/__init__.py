"""DNA sequence classification and similar-sequence search on k-mer profiles.

Loads labelled FASTA/TSV, validates every record, stores a fixed-vocabulary k-mer
profile (``findalike.encoders.kmer``) with its class, and classifies a sequence by
a similarity-weighted vote of its nearest labelled sequences. Settings:
``FINDALIKE_DNA_K``, ``_NEIGHBOURS``, ``_LABEL_PATTERN``, ``_MAX_SEQUENCE_LETTERS``.
"""

from __future__ import annotations

from pathlib import Path

from findalike.app import AppRuntime, AppSpec
from findalike.apps.dna.classify import search_sequences
from findalike.apps.dna.models import DnaQuery, DnaResults
from findalike.apps.dna.reader import read_dna
from findalike.apps.dna.routes import dna_routes
from findalike.apps.dna.settings import DnaSettings
from findalike.encoders.base import Encoder
from findalike.store import FieldSpec

DATASETS = Path(__file__).resolve().parents[4] / "datasets" / "dna"


def make_encoder(rt: AppRuntime) -> Encoder:
    from findalike.encoders.kmer import KmerEncoder

    settings: DnaSettings = rt.app_settings
    return KmerEncoder(settings.k)


def demo_files() -> list[tuple[str, Path]]:
    path = DATASETS / "ten_16s.100.fa.gz"
    return [(path.name, path)] if path.exists() else []


APP = AppSpec(
    name="dna",
    title="DNA sequences",
    summary="Classify a DNA sequence by its nearest labelled sequences (k-mer profiles), "
    "or find similar sequences.",
    extensions=frozenset({".fa", ".fasta", ".fna", ".ffn", ".fas", ".gz", ".tsv", ".txt"}),
    fields=(
        FieldSpec("label", "str", 256),
        FieldSpec("seq_id", "str", 256),
        FieldSpec("length", "int"),
        FieldSpec("preview", "str", 256),
    ),
    make_encoder=make_encoder,
    settings=DnaSettings,
    read=read_dna,
    search_request=DnaQuery,
    search_response=DnaResults,
    search=search_sequences,
    routes=dna_routes,
    demo_files=demo_files,
    one_row_per_item=True,
    batch_size=500,
)
