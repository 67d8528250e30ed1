"""Reading documents (CSV, JSONL, TXT) and splitting long ones into passages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any

from findalike.app import AppRuntime, EncodedItem, ReadFailure, Record, content_id
from findalike.textio import RowError, clip_utf8, coerce, decode_text, read_rows

TITLE_MAX_BYTES = 2048
PASSAGE_MAX_BYTES = 60_000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_RESERVED = {"title", "text"}


def read_documents(name: str, data: bytes, rt: AppRuntime) -> Iterator[Record | ReadFailure]:
    max_chars = rt.settings.text_max_chars
    if PurePosixPath(name).suffix.lower() == ".txt":
        text = decode_text(name, data)
        yield _document(name, PurePosixPath(name).stem, text, {}, max_chars)
        return
    for row in read_rows(name, data, max_chars=max_chars, required=("text",)):
        if isinstance(row, RowError):
            yield ReadFailure(row.label, row.error)
            continue
        values = row.values
        meta = {k: _meta_value(v) for k, v in values.items() if k not in _RESERVED and k}
        yield _document(
            row.label,
            str(values.get("title") or ""),
            str(values.get("text") or ""),
            meta,
            max_chars,
        )


def _meta_value(v: Any) -> Any:
    return coerce(v) if isinstance(v, str) else v


def _document(
    label: str, title: str, text: str, meta: dict[str, Any], max_chars: int
) -> Record | ReadFailure:
    text = text.strip()
    if not text:
        return ReadFailure(label, "empty text")
    if len(text) > max_chars:
        return ReadFailure(
            label,
            f"text of {len(text)} characters is over the {max_chars} limit "
            "(FINDALIKE_TEXT_MAX_CHARS)",
        )
    title = clip_utf8(title.strip(), TITLE_MAX_BYTES)
    source = label.rsplit(":", 1)[0] if ":" in label else label
    meta_json = json.dumps(meta, sort_keys=True, default=str)
    return Record(
        item_id=content_id(title, text, meta_json),
        payload=(title, text),
        fields={"title": title, "source": clip_utf8(source, 1024), "meta": meta},
        label=label,
    )


def split_passages(text: str, words_per_passage: int) -> list[str]:
    """Sentence-aligned passages of about ``words_per_passage`` words; a sentence
    longer than that is cut by words."""
    passages: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if not words:
            continue
        while len(words) > words_per_passage:
            if current:
                passages.append(" ".join(current))
                current, count = [], 0
            passages.append(" ".join(words[:words_per_passage]))
            words = words[words_per_passage:]
        if count + len(words) > words_per_passage and current:
            passages.append(" ".join(current))
            current, count = [], 0
        current.append(" ".join(words))
        count += len(words)
    if current:
        passages.append(" ".join(current))
    return passages


def passage_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """Each document becomes one row per passage; the model reads title + passage."""
    words = rt.settings.text_chunk_words
    split = [split_passages(r.payload[1], words) or [r.payload[1]] for r in records]
    inputs = [
        f"{r.payload[0]}. {p}" if r.payload[0] else p
        for r, passages in zip(records, split, strict=True)
        for p in passages
    ]
    vectors = rt.encoder.encode(inputs)
    out, i = [], 0
    for record, passages in zip(records, split, strict=True):
        rows = [
            rt.row(record, part, vectors[i + part], text=clip_utf8(p, PASSAGE_MAX_BYTES))
            for part, p in enumerate(passages)
        ]
        i += len(passages)
        out.append(EncodedItem(record=record, rows=rows))
    return out
