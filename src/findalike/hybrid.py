"""Search modes for text-like apps: semantic (dense vectors), lexical (BM25 over a
full-text field) and hybrid (both, fused by Milvus), and the relevance figures
(recall@k, MRR, nDCG@10) that let a user choose between them.

Independent of any app: an app passes its store, collection and query; the dense
path stays the app's own (its runtime's ``search_vectors``). Whatever the mode, a
hit's score is the dense similarity of the query and the hit (cosine for the text
model), so ``min_score`` and thresholds keep one meaning; the mode decides which hits
come back and in what order.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from findalike.encoders.base import Metric
from findalike.store import Hit, VectorStore

SearchMode = Literal["hybrid", "semantic", "lexical"]
Fusion = Literal["weighted", "rrf"]
DEFAULT_LEXICAL_WEIGHT = 0.05
"""Measured on the Perl FAQ paraphrases (README): BM25 over words as they are written
is a weaker signal than the sentence model, so it decides between close dense
candidates rather than outvoting them."""
MODES: tuple[SearchMode, ...] = ("semantic", "lexical", "hybrid")
DEFAULT_MODE: SearchMode = "semantic"
"""The mode of a request that names none. Semantic, by measurement: on paraphrased
questions (README, "Search modes") BM25 over words as written (Milvus's standard
analyzer: no stemming, no stop words) adds more noise than signal, and hybrid ranked
below semantic at every fusion weight tried. Hybrid and lexical are one field away
for queries whose exact words matter (names, acronyms, codes)."""
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
        description="`semantic` (default): meaning only (dense vectors); `hybrid`: "
        "meaning and words, fused by Milvus; `lexical`: the query's words only (BM25). "
        "Hybrid and lexical need the collection's full-text index; without it the "
        "search is semantic and the response's `notice` says so.",
    )


@dataclass(frozen=True)
class ModeChoice:
    """The mode a search runs in, and why it differs from the one asked, if it does."""

    mode: SearchMode
    notice: str | None = None


def choose_mode(store: VectorStore, collection: str, asked: SearchMode | None) -> ModeChoice:
    """``asked`` (default ``DEFAULT_MODE``) if the collection can serve it, else
    semantic with a notice. The collection must exist."""
    wanted: SearchMode = asked or DEFAULT_MODE
    if wanted == "semantic" or store.lexical_field(collection) is not None:
        return ModeChoice(wanted)
    return ModeChoice("semantic", NO_LEXICAL_NOTICE)


def ranked_search(
    store: VectorStore,
    collection: str,
    mode: Literal["hybrid", "lexical"],
    text: str,
    query_vector: np.ndarray,
    *,
    limit: int,
    metric: Metric,
    fusion: FusionOptions | None = None,
    filter: str = "",
    output_fields: Sequence[str] = (),
) -> list[Hit]:
    """Lexical or hybrid hits for ``text`` (see ``VectorStore.lexical_search`` and
    ``VectorStore.hybrid_search``)."""
    limit = min(limit, 16384)
    fusion = fusion or FusionOptions()
    text = lexical_query(text)
    if mode == "lexical":
        return store.lexical_search(
            collection,
            text,
            query_vector,
            limit=limit,
            metric=metric,
            filter=filter,
            output_fields=output_fields,
        )
    return store.hybrid_search(
        collection,
        text,
        query_vector,
        limit=limit,
        metric=metric,
        lexical_weight=None if fusion.fusion == "rrf" else fusion.lexical_weight,
        filter=filter,
        output_fields=output_fields,
    )


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
