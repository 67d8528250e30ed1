"""QA search: the pairs closest to a question (every mode), the chatbot's answer with
its confidence, and the evaluation of modes and threshold."""

from __future__ import annotations

import re

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
from findalike.core.app import AppRuntime
from findalike.core.request_types import CONTENT_ID_PATTERN
from findalike.encoders.base import encode_queries
from findalike.errors import Unprocessable
from findalike.kit.hybrid import (
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
from findalike.schema import Hit, quote


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
