"""What apps and the store both speak: a collection's scalar fields, a search hit, a
filter's literals and Milvus's one cap on rows. No Milvus here: the store
(``findalike.store``) implements these, and an app reaches them through its runtime
(``findalike.core.app``), never through the store."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from findalike.encoders.base import Metric
from findalike.errors import Unprocessable

FieldKind = Literal["str", "int", "float", "bool", "json"]
MAX_RESULT_ROWS = 16_384
"""Milvus's cap on a search's ``limit`` and on a query's ``offset + limit``: the one
place findalike writes it."""
Language = Literal["en", "zh", "multi"]
"""The language of a collection's full text (``findalike.store.LANGUAGES``: its analyzer)."""


@dataclass(frozen=True)
class FieldSpec:
    """A scalar field. ``max_length`` is in bytes (UTF-8) for ``str`` fields.

    ``lexical`` (``str`` fields only, at most one per collection) asks for a full-text
    index: Milvus analyses the text and a BM25 function fills a sparse vector field
    ``{name}_bm25`` at insert, for ``lexical_search`` and ``hybrid_search``. Where the
    Milvus cannot (a server before 2.5) the collection is made without it and
    ``lexical_field`` says so. It is a wish, not part of the field's identity: two
    specs that differ only in it compare equal."""

    name: str
    kind: FieldKind
    max_length: int = 1024
    lexical: bool = field(default=False, compare=False)


@dataclass
class Hit:
    """One search result row. ``distance`` is Milvus's raw value for the metric
    (a similarity for COSINE/IP, a distance for L2/JACCARD/HAMMING).

    From ``lexical_search`` and ``hybrid_search`` ``distance`` is still the dense
    metric's value for the hit's vector against the query vector (so a score keeps one
    meaning whatever ranked the hit), and ``rank_score`` is what ranked it: the BM25
    score (lexical) or the fused score of the ranker (hybrid)."""

    id: str
    distance: float
    fields: dict[str, Any] = field(default_factory=dict)
    rank_score: float | None = None

    @property
    def item_id(self) -> str:
        return str(self.fields.get("item_id", self.id.rsplit(":", 1)[0]))


def similarity(metric: Metric, distance: float) -> float:
    """Milvus's raw distance turned into "higher is more similar"."""
    if metric in ("COSINE", "IP"):
        return float(distance)
    if metric == "JACCARD":
        return 1.0 - float(distance)
    return -float(distance)


_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\t"}
"""How a string is written in a filter. A tab is written as it is: Milvus Lite 2.5 reads
no ``\\t`` (it matches nothing), and Lite 3.2 and the server read the tab itself."""


def quote(value: str | int | float | bool) -> str:
    """A literal for a Milvus boolean expression, so user input cannot change the
    expression. Strings are double-quoted with backslash escapes for ``\\``, ``"``,
    newline, carriage return and tab, the escapes that Milvus Lite and the Milvus
    server both read; other control characters and lone surrogates have no escape
    that both read, and non-finite numbers no literal: each raises ``Unprocessable``
    (a 422 naming the character) rather than reaching Milvus."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unprocessable(f"{value} is not a number a filter can compare with")
        return repr(value)
    text = str(value)
    for ch in text:
        if ch in "\n\r":
            raise Unprocessable(
                "filter values may not contain a line break (U+000A, U+000D): Milvus Lite "
                "2.5 has no way to write one in a filter"
            )
        if ch not in _STRING_ESCAPES and unicodedata.category(ch) in ("Cc", "Cs"):
            raise Unprocessable(
                f"filter values may not contain the control character U+{ord(ch):04X}"
            )
    return '"' + "".join(_STRING_ESCAPES.get(ch, ch) for ch in text) + '"'


def in_filter(field_name: str, values: Iterable[str]) -> str:
    return f"{field_name} in [{', '.join(quote(v) for v in values)}]"


def both(*filters: str) -> str:
    """The filters that are not empty, and-ed."""
    parts = [f for f in filters if f]
    return parts[0] if len(parts) == 1 else " and ".join(f"({f})" for f in parts)
