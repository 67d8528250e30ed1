"""QA pairs in: CSV or JSONL rows of a question and its answer, one vector a pair."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from findalike.core.app import AppRuntime, EncodedItem, ReadFailure, Record, content_id
from findalike.encoders.base import l2_normalise
from findalike.formats.textio import RowError, clip_utf8, read_rows


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
