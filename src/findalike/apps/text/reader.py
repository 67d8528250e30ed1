"""Reading documents (CSV, JSONL, TXT) and splitting long ones into passages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any

from findalike.core.app import AppRuntime, EncodedItem, ReadFailure, Record, content_id
from findalike.formats.textio import RowError, clip_utf8, coerce, decode_text, read_rows

TITLE_MAX_BYTES = 2048
PASSAGE_MAX_BYTES = 60_000
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Kana and CJK ideographs: written without spaces, each one counts as a word."""
_CJK = re.compile(f"[{_CJK_CHARS}\u3000-\u303f\uff00-\uffef]")
"""A character after or before which CJK text puts no space (CJK punctuation too)."""
_UNIT = re.compile(f"[{_CJK_CHARS}]|[^\\s{_CJK_CHARS}]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")
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
    longer than that is cut by words. In Chinese and Japanese, which have no spaces,
    each character counts as a word and sentences also end at 。！？ (the model reads
    about one word piece per character); whitespace runs become one space."""
    passages: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in _SENTENCE_END.split(text):
        units = [m.span() for m in _UNIT.finditer(sentence)]
        while len(units) > words_per_passage:
            if current:
                passages.append(_join(current))
                current, count = [], 0
            passages.append(_piece(sentence, units[:words_per_passage]))
            units = units[words_per_passage:]
        if not units:
            continue
        if count + len(units) > words_per_passage and current:
            passages.append(_join(current))
            current, count = [], 0
        current.append(_piece(sentence, units))
        count += len(units)
    if current:
        passages.append(_join(current))
    return passages


def _piece(sentence: str, units: list[tuple[int, int]]) -> str:
    return " ".join(sentence[units[0][0] : units[-1][1]].split())


def _join(sentences: list[str]) -> str:
    """Sentences joined as they were written: with a space, none between two ending and
    starting with a CJK character."""
    out = sentences[0]
    for s in sentences[1:]:
        out += s if _CJK.match(out[-1]) and _CJK.match(s[0]) else " " + s
    return out


def passage_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """Each document becomes one row per passage (the model reads title + passage) and,
    if it has a title, one more row for the title alone (``title_row``): a document asked
    by its title is then found first, by meaning and by BM25, however long its text."""
    words = rt.settings.text_chunk_words
    split = [split_passages(r.payload[1], words) or [r.payload[1]] for r in records]
    titles = [_own_title(r, passages) for r, passages in zip(records, split, strict=True)]
    inputs = [
        f"{r.payload[0]}. {p}" if r.payload[0] else p
        for r, passages in zip(records, split, strict=True)
        for p in passages
    ]
    inputs += [t for t in titles if t]
    vectors = rt.encoder.encode(inputs)
    out, i, j = [], 0, sum(len(p) for p in split)
    for record, passages, title in zip(records, split, titles, strict=True):
        rows = [
            rt.row(record, part, vectors[i + part], text=clip_utf8(p, PASSAGE_MAX_BYTES))
            for part, p in enumerate(passages)
        ]
        i += len(passages)
        if title:
            rows.append(rt.row(record, len(passages), vectors[j], text=title))
            j += 1
        out.append(EncodedItem(record=record, rows=rows))
    return out


def _own_title(record: Record, passages: list[str]) -> str:
    """The title a title row is made of: none if the document has no title, or if its
    only passage is its title."""
    title = str(record.payload[0])
    return "" if not title or passages == [title] else title


def is_title_row(fields: dict[str, Any]) -> bool:
    """A title row holds its document's title as its text (and is never part 0)."""
    return int(fields.get("part", 0)) > 0 and fields.get("text") == fields.get("title")


def passages_of(rt: AppRuntime, record: Record) -> int:
    """About how many passages (model inputs) a document makes: a load batches by it
    (its title, one short input more, is left out of the count)."""
    return 1 + len(str(record.payload[1]).split()) // rt.settings.text_chunk_words
