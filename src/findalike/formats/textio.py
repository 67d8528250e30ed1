"""Reading tabular text files (CSV, JSONL, TXT) into rows, shared by the text and
QA apps: decoding with a clear error, per-line failures, size limits."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from findalike.errors import InvalidInput

_INT = re.compile(r"^-?\d{1,18}$")
_FLOAT = re.compile(r"^-?\d+\.\d+$")


@dataclass
class TextRow:
    """One row: its fields (column -> value) and a label for errors (``f.csv:12``)."""

    label: str
    values: dict[str, Any]


@dataclass
class RowError:
    label: str
    error: str


def decode_text(name: str, data: bytes) -> str:
    """UTF-8 (with or without BOM), or UTF-16 with a BOM; anything else is an
    ``InvalidInput`` naming the first bad byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise InvalidInput(
            f"{name} is not UTF-8 text: byte 0x{bad} at offset {exc.start} cannot be decoded; "
            "save the file as UTF-8."
        ) from exc


def coerce(value: str) -> str | int | float:
    """CSV cells that are plainly numbers become numbers (so ``year`` filters work)."""
    v = value.strip()
    if _INT.match(v):
        return int(v)
    if _FLOAT.match(v):
        return float(v)
    return value


def read_rows(
    name: str, data: bytes, *, max_chars: int, required: tuple[str, ...]
) -> Iterator[TextRow | RowError]:
    """Rows of a ``.csv`` or ``.jsonl`` file with lower-cased column names. A file
    without a ``required`` column raises ``InvalidInput``; a bad line is a ``RowError``."""
    text = decode_text(name, data)
    if name.lower().endswith(".jsonl"):
        yield from _jsonl_rows(name, text, max_chars=max_chars, required=required)
    else:
        yield from _csv_rows(name, text, max_chars=max_chars, required=required)


def _csv_rows(
    name: str, text: str, *, max_chars: int, required: tuple[str, ...]
) -> Iterator[TextRow | RowError]:
    csv.field_size_limit(max(max_chars, 1024))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{name} is empty.") from None
    except csv.Error as exc:
        raise InvalidInput(f"{name}: the header line cannot be read ({exc}).") from exc
    columns = [h.strip().lower() for h in header]
    _require(name, columns, required)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(f"{name}:{reader.line_num}", _csv_problem(exc, max_chars))
            continue
        label = f"{name}:{reader.line_num}"
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(columns):
            yield RowError(label, f"{len(cells)} cells but the header has {len(columns)} columns")
            continue
        yield TextRow(label, dict(zip(columns, cells, strict=False)))


def _csv_problem(exc: csv.Error, max_chars: int) -> str:
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {max_chars} characters"
    return f"malformed CSV ({exc})"


def _jsonl_rows(
    name: str, text: str, *, max_chars: int, required: tuple[str, ...]
) -> Iterator[TextRow | RowError]:
    for n, line in enumerate(text.splitlines(), start=1):
        label = f"{name}:{n}"
        if not line.strip():
            continue
        if len(line) > max_chars * 2:
            yield RowError(label, f"line of {len(line)} characters is over the limit")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError(label, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield RowError(label, "each line must be a JSON object")
            continue
        values = {str(k).strip().lower(): v for k, v in obj.items()}
        missing = [c for c in required if c not in values]
        if missing:
            yield RowError(label, f"missing field(s): {', '.join(missing)}")
            continue
        yield TextRow(label, values)


def _require(name: str, columns: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise InvalidInput(
            f"{name} has no column {', '.join(repr(m) for m in missing)} "
            f"(found: {', '.join(columns) or 'none'})."
        )


def clip_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 without splitting a character."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", errors="ignore")
