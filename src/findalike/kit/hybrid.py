"""Search modes for text-like apps: auto (the default: by meaning, with the passages
that hold the query's exact identifiers first), semantic (dense vectors), lexical (BM25
over a full-text field) and hybrid (both, fused), and the relevance figures (recall@k,
MRR, nDCG@10) that let a user choose between them.

Independent of any app: an app passes its runtime and query, and every search goes
through the runtime (``search_vectors``, ``search_text``), coalesced with concurrent
ones and tuned by the request's ``ef``/``nprobe``. Whatever the mode, a
hit's score is the dense similarity of the query and the hit (cosine for the text
model), so ``min_score`` and thresholds keep one meaning; the mode decides which hits
come back and in what order.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from findalike.schema import MAX_RESULT_ROWS, Hit, quote
from findalike.store import StoreError

if TYPE_CHECKING:
    from findalike.core.app import AppRuntime

log = logging.getLogger(__name__)

SearchMode = Literal["auto", "hybrid", "semantic", "lexical"]
Fusion = Literal["weighted", "rrf"]
DEFAULT_LEXICAL_WEIGHT = 0.05
"""Measured on the Perl FAQ paraphrases (README): BM25 over words as they are written
is a weaker signal than the sentence model, so it decides between close dense
candidates rather than outvoting them."""
MODES: tuple[SearchMode, ...] = ("auto", "semantic", "lexical", "hybrid")
DEFAULT_MODE: SearchMode = "auto"
"""The mode of a request that names none. Auto, by measurement
(``benchmarks/bench_text_modes.py``, README "Search modes"): a query without an exact
term ranks as semantic does (on paraphrased questions BM25 over words as written adds
more noise than signal, and hybrid ranked below semantic at every fusion weight
tried), and a query that names an identifier (``add_help``, ``hasAttribute``,
``os.path``) or quotes a phrase gets the passages that hold it first. Milvus's standard
analyzer cuts ``add_help`` into ``add`` and ``help``, so neither BM25 nor hybrid can
tell that passage from one about adding help."""
EXACT_CANDIDATES = 200
"""Lexical candidates (BM25 over the exact terms' words) that auto mode checks for the
exact terms, beside the dense ones: the passage that holds ``add_help`` holds ``add``
and ``help`` too, so it is among the first BM25 hits for them."""
_IDENTIFIER = re.compile(
    r"(?<![\w.:])"
    r"(?:[A-Za-z_]\w+(?:(?:\.|::)[A-Za-z_]\w+)+"  # dotted.name, Name::space
    r"|(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]*_[A-Za-z0-9_]*"  # snake_case, _x, __init__
    r"|[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*)"  # camelCase
    r"(?![\w:])"
)
"""An identifier as a programmer types it: a word with an underscore or an inner capital,
or names joined by dots or ``::`` (each part two characters or more: not ``e.g``)."""
MAX_SCANNED_TERMS = 3
"""Identifiers of one query matched with ``like`` (each one more scan)."""
_QUOTED = re.compile(r'"([^"\n]{2,80})"')
NO_LEXICAL_NOTICE = (
    "This collection has no full-text (BM25) index: it was made before findalike had "
    "one, or on a Milvus server older than 2.5. The search was semantic. Drop the "
    "collection and load it again (on Milvus Lite or Milvus 2.5+) for lexical and "
    "hybrid search."
)
_WORD = re.compile(r"\w+", re.UNICODE)
STOP_WORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its of on or "
    "our that the their there this to was we what when where which who why will with you "
    "your my me".split()
)
"""English function words left out of the BM25 query: Milvus's standard analyzer keeps
them, and a question's "what does ... mean" otherwise matches every question built the
same way."""


class FusionOptions(BaseModel):
    """How hybrid search fuses its two rankings."""

    lexical_weight: float = Field(
        DEFAULT_LEXICAL_WEIGHT,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="Hybrid with `weighted` fusion: weight of the word match (0..1; the "
        "meaning gets the rest) in a sum of normalised scores.",
    )
    fusion: Fusion = Field(
        "weighted",
        description="Hybrid only: `weighted` (a weighted sum of normalised scores, see "
        "`lexical_weight`) or `rrf` (reciprocal rank fusion: ranks only, no weights).",
    )


class ModeOptions(FusionOptions):
    """The request fields that choose how a text query is matched."""

    mode: SearchMode | None = Field(
        None,
        description="`auto` (default): by meaning, and where the query names an "
        "identifier (`add_help`, `hasAttribute`, `os.path.join`) or quotes a phrase, the "
        "items that hold it exactly come first (the response's `exact_terms`); "
        "`semantic`: meaning only (dense vectors); `hybrid`: meaning and words, fused; "
        "`lexical`: the query's words only (BM25). Hybrid and lexical need the "
        "collection's full-text index; without it the search is semantic and the "
        "response's `notice` says so.",
    )


@dataclass(frozen=True)
class ModeChoice:
    """The mode a search runs in, and why it differs from the one asked, if it does."""

    mode: SearchMode
    notice: str | None = None


def choose_mode(rt: AppRuntime, asked: SearchMode | None, *, loaded: bool = True) -> ModeChoice:
    """``asked`` (default ``DEFAULT_MODE``) if the collection can serve it, else
    semantic with a notice. ``loaded`` False: the collection is empty or not made yet
    (nothing to rank: the mode is what was asked, hybrid and lexical read as semantic)."""
    wanted: SearchMode = asked or DEFAULT_MODE
    if not loaded:
        return ModeChoice(wanted if wanted == "auto" else "semantic")
    if wanted in ("semantic", "auto") or rt.has_full_text():
        return ModeChoice(wanted)
    return ModeChoice("semantic", NO_LEXICAL_NOTICE)


def ranked_search(
    rt: AppRuntime,
    mode: Literal["hybrid", "lexical"],
    text: str,
    query_vector: np.ndarray,
    *,
    limit: int,
    fusion: FusionOptions | None = None,
    filter: str = "",
    output_fields: Sequence[str] = (),
) -> list[Hit]:
    """Lexical or hybrid hits for ``text`` (``AppRuntime.search_text``)."""
    fusion = fusion or FusionOptions()
    return rt.search_text(
        mode,
        lexical_query(text),
        query_vector,
        limit=limit,
        lexical_weight=None if fusion.fusion == "rrf" else fusion.lexical_weight,
        filter=filter,
        output_fields=output_fields,
    )


def mode_fields(choice: ModeChoice, query: str) -> dict[str, Any]:
    """A search response's ``mode``, ``exact_terms`` (the query's, in auto mode only) and
    ``notice``."""
    terms = exact_terms(query) if choice.mode == "auto" else []
    return {"mode": choice.mode, "exact_terms": terms, "notice": choice.notice}


def exact_terms(query: str) -> list[str]:
    """What the query asks for exactly, in its order: identifiers as typed (a word with
    an inner ``_`` or an inner capital, or dotted/``::`` names) and quoted phrases."""
    terms = [m.group(1).strip() for m in _QUOTED.finditer(query)]
    unquoted = _QUOTED.sub(" ", query)
    terms += [m.group() for m in _IDENTIFIER.finditer(unquoted)]
    return list(dict.fromkeys(t for t in terms if t))


def held_terms(hit: Hit, terms: Sequence[str], fields: Sequence[str]) -> int:
    """How many of ``terms`` the hit's ``fields`` hold (an identifier as typed and whole,
    a quoted phrase in any case)."""
    text = "\n".join(str(hit.fields.get(f, "")) for f in fields)
    count = 0
    for term in terms:
        if _IDENTIFIER.fullmatch(term):  # whole: get_source is not in get_source_segment,
            # QUOTE_ALL is in csv.QUOTE_ALL, add_option in parser.add_option(...)
            count += re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text) is not None
        else:
            count += term.casefold() in text.casefold()
    return count


def auto_search(
    rt: AppRuntime,
    query: str,
    query_vector: np.ndarray,
    dense: Callable[[int, str], list[Hit]],
    *,
    limit: int,
    fields: Sequence[str],
    scan_fields: Sequence[str] = (),
    filter: str = "",
    output_fields: Sequence[str] = (),
) -> tuple[list[Hit], list[str]]:
    """Auto mode: ``dense(limit, "")`` (the app's own semantic search; its second
    argument is a filter to add to the request's), with the hits that hold the query's
    exact terms (``exact_terms``, looked for in ``fields``) first, most terms first, then
    by meaning. Candidates for them come from the dense hits; where the collection has a
    full-text index, from the first ``EXACT_CANDIDATES`` BM25 hits for the terms' words;
    and for ``scan_fields`` (fields the full-text index does not read, such as a QA
    pair's answer), from a dense search filtered by ``like`` on the identifiers (a scan:
    meant for short fields or small collections). Returns the hits and the terms."""
    limit = min(limit, MAX_RESULT_ROWS)
    hits = dense(limit, "")
    terms = exact_terms(query)
    if not terms:
        return hits, []
    candidates = {h.id: h for h in hits}
    if rt.has_full_text():
        for h in rt.search_text(
            "lexical",
            lexical_query(" ".join(terms)),
            query_vector,
            limit=max(limit, EXACT_CANDIDATES),
            filter=filter,
            output_fields=output_fields,
        ):
            candidates.setdefault(h.id, h)
    scan = _like_filter([t for t in terms if _IDENTIFIER.fullmatch(t)], scan_fields)
    if scan:
        try:
            for h in dense(max(limit, EXACT_CANDIDATES), scan):
                candidates.setdefault(h.id, h)
        except StoreError as exc:  # a Milvus before 2.4 matches prefixes only
            log.info("auto mode: no infix match on %s (%s)", rt.collection, exc)
    sign = (
        1.0 if rt.encoder.metric == "L2" else -1.0
    )  # best first: the smallest distance, else the largest
    held = {i: held_terms(h, terms, fields) for i, h in candidates.items()}
    first = sorted(
        (h for i, h in candidates.items() if held[i]),
        key=lambda h: (-held[h.id], sign * h.distance),
    )
    firsts = {h.id for h in first}
    ranked = [*first, *(h for h in hits if h.id not in firsts)]
    for h in ranked:
        h.rank_score = None
    return ranked[:limit], terms


def _like_filter(identifiers: Sequence[str], fields: Sequence[str]) -> str:
    """``field like "%identifier%"`` for each pair, or-ed (``_`` escaped: in a pattern
    it matches any one character); empty if there is nothing to match."""
    parts = [
        f"{f} like {quote('%' + t.replace('_', chr(92) + '_') + '%')}"
        for t in identifiers[:MAX_SCANNED_TERMS]
        for f in fields
    ]
    return " or ".join(parts)


def lexical_query(text: str) -> str:
    """The words of ``text`` that BM25 should match: all but ``STOP_WORDS`` (all of
    them if nothing else is left)."""
    words = _WORD.findall(text)
    content = [w for w in words if w.lower() not in STOP_WORDS]
    return " ".join(content or words)


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ZH_STOP_WORDS = frozenset(
    "的 了 是 吗 呢 吧 啊 呀 么 在 和 与 或 我 你 您 他 她 它 我们 你们 他们 这 那 这个 那个 "
    "什么 怎么 怎样 哪 哪个 哪里 谁 为什么 如何 有 没有 一个 个 也 都 就 请 问 能 会 吗".split()
)
"""Chinese function words left out of highlights (jieba's cut keeps them as words)."""
_jieba_lock = threading.Lock()


def _jieba_tokenize(text: str) -> list[tuple[str, int, int]]:
    """jieba's words of ``text`` with their spans (the dictionary loads once, ~1 s)."""
    import jieba

    with _jieba_lock:
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
    return [(w, start, end) for w, start, end in jieba.tokenize(text)]


def words(text: str) -> list[tuple[int, int, str]]:
    """The words of ``text``, each with its [start, end) character span: runs of letters
    and digits, and where the text has Chinese characters, jieba's words (Chinese has no
    spaces; the jieba analyzer of a ``zh``/``multi`` collection cuts it the same way)."""
    if _HAN.search(text):
        return [(start, end, w) for w, start, end in _jieba_tokenize(text) if _WORD.fullmatch(w)]
    return [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def plain_words(text: str) -> list[str] | None:
    """The words of ``text`` as ``words`` finds them, without their spans, or None where
    it has Chinese characters (jieba cuts those: use ``words``). Found by the regex
    engine alone, with no Python object a word but its string: a snippet looks at every
    word of a passage and needs the spans of only a few (``spans_of_words``)."""
    if _HAN.search(text):
        return None
    return _WORD.findall(text)


def spans_of_words(text: str, first: int, last: int) -> list[tuple[int, int]]:
    """[start, end) spans of the words ``first`` .. ``last`` (inclusive) of a ``text``
    that ``plain_words`` cuts."""
    return [m.span() for m in itertools.islice(_WORD.finditer(text), first, last + 1)]


def is_han(word: str) -> bool:
    return bool(_HAN.match(word))


def word_spans(text: str, query: str) -> list[tuple[int, int]]:
    """[start, end) character spans of the words of ``text`` that the query has too
    (case-insensitive, whole words, stop words left out), as BM25 matched them."""
    wanted = {w.lower() for _, _, w in words(lexical_query(query))} - ZH_STOP_WORDS
    return [(start, end) for start, end, w in words(text) if w.lower() in wanted]


# -- relevance ---------------------------------------------------------------------


class ModeFigures(BaseModel):
    """Relevance of one mode over a labelled query set (each figure the mean over the
    queries, 0..1, higher is better)."""

    recall_at_k: float = Field(description="Share of each query's relevant items in its top k.")
    mrr: float = Field(description="Mean reciprocal rank of the first relevant hit (0 if none).")
    ndcg_at_10: float = Field(description="Normalised discounted cumulative gain of the top 10.")
    top1: float = Field(description="Share of queries whose first hit is relevant.")


def figures(ranked: Sequence[Sequence[str]], relevant: Sequence[set[str]], k: int) -> ModeFigures:
    """Recall@k, MRR, nDCG@10 and top-1 of ranked item ids against the relevant sets
    (queries without a relevant item are left out)."""
    recall, rr, ndcg, top1 = [], [], [], []
    for ids, rel in zip(ranked, relevant, strict=True):
        if not rel:
            continue
        recall.append(len(rel & set(ids[:k])) / len(rel))
        first = next((i for i, item in enumerate(ids) if item in rel), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
        dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ids[:10]) if item in rel)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), 10)))
        ndcg.append(dcg / ideal)
        top1.append(1.0 if ids and ids[0] in rel else 0.0)

    def mean(xs: list[float]) -> float:
        return round(float(np.mean(xs)), 4) if xs else 0.0

    return ModeFigures(
        recall_at_k=mean(recall), mrr=mean(rr), ndcg_at_10=mean(ndcg), top1=mean(top1)
    )


@dataclass(frozen=True)
class Calibration:
    threshold: float
    accuracy: float


def calibrate_threshold(scores: Sequence[float], right: Sequence[bool]) -> Calibration:
    """The answer threshold that makes the most right decisions over labelled queries:
    answer when the best hit's score is >= the threshold, and an answer is right only
    if that hit is a right one (``right``; off-topic queries have none). The threshold
    is midway between the two scores it separates; among equally good ones, the
    lowest (answer more)."""
    if not scores:
        return Calibration(threshold=0.0, accuracy=0.0)
    levels = sorted(set(scores))
    candidates = [levels[0] - 0.01]
    candidates += [(a + b) / 2 for a, b in zip(levels, levels[1:], strict=False)]
    candidates.append(levels[-1] + 0.01)
    best = Calibration(threshold=candidates[0], accuracy=-1.0)
    for t in candidates:
        correct = sum((s >= t) == r for s, r in zip(scores, right, strict=True))
        accuracy = correct / len(scores)
        if accuracy > best.accuracy:
            best = Calibration(threshold=round(t, 4), accuracy=round(accuracy, 4))
    return best
