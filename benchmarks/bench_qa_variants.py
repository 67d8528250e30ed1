"""QA relevance by what a pair is represented by and how a query is scored (issue 13).
Writes benchmarks/results/qa_variants.json.

Pure numpy over the MiniLM encoder, the Perl FAQ demo set and the three paraphrase
sets (A: tests/api/test_qa_quality.py, B: PERLFAQ_PARAPHRASES, C: PERLFAQ_HELD_OUT,
held out: report only, never choose on it). Exact search over all 303 pairs, no Milvus:

- ``today``: the app's one vector per pair, unit(enc(question) + enc(question + first
  400 characters of the answer));
- ``today+bm25qa``: per query, z(cosine to today's vector) + 0.2 * z(BM25 over question
  + the whole answer), z = standardised over all pairs. The BM25 here is a small python
  one (k1 1.2, b 0.75; words lower-cased, this file's stop words out, a crude suffix
  stemmer), an approximation of Milvus's (which has no stemming in Milvus Lite);
- ``max(today,q+chunk)``: several rows per pair, today's vector and one per ~320-character
  answer passage prefixed by the question; a pair scores its best row.

Usage: python benchmarks/bench_qa_variants.py
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from findalike.encoders.sentence import MiniLMEncoder  # noqa: E402
from tests.api.relevance_sets import PERLFAQ_HELD_OUT, PERLFAQ_PARAPHRASES  # noqa: E402
from tests.api.test_qa_quality import PARAPHRASES  # noqa: E402

SETS = {"A": PARAPHRASES, "B": PERLFAQ_PARAPHRASES, "C": PERLFAQ_HELD_OUT}
BM25_WEIGHT = 0.2  # chosen on A+B (0.05..0.5 tried)
STOP = frozenset(
    "a an the of to in on for and or is are be do does did how i my me can what which why "
    "when where with from by it its this that these those there you your we as at if not so "
    "any some get".split()
)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def zscore(s: np.ndarray) -> np.ndarray:
    return (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-9)


def words(text: str) -> list[str]:
    out = [w for w in re.findall(r"[a-z0-9@%$]+", text.lower()) if w not in STOP]
    return [re.sub(r"(ies|es|s|ing|ed|ly)$", "", w) if len(w) > 4 else w for w in out]


def bm25(docs: list[str], queries: list[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    counts = [Counter(words(d)) for d in docs]
    lengths = np.array([sum(c.values()) for c in counts], dtype=float)
    df = Counter(t for c in counts for t in c)
    idf = {t: math.log(1 + (len(docs) - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    out = np.zeros((len(queries), len(docs)))
    for i, q in enumerate(queries):
        for t in set(words(q)):
            for j, c in enumerate(counts):
                f = c.get(t, 0)
                if f:
                    out[i, j] += idf.get(t, 0.0) * f * (k1 + 1) / (f + norm[j])
    return out


def passages(text: str, size: int = 320) -> list[str]:
    out, cur = [], ""
    for sentence in re.split(r"(?<=[.!?:])\s+", text):
        if cur and len(cur) + len(sentence) > size:
            out.append(cur)
            cur = ""
        cur = f"{cur} {sentence}".strip()
    if cur:
        out.append(cur)
    return [p[:600] for p in out]


def figures(scores: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    at_gold = scores[np.arange(len(gold)), gold]
    rank = (scores > at_gold[:, None]).sum(1) + 1
    return {
        "top1": round(float(np.mean(rank == 1)), 3),
        "mrr": round(float(np.mean(1 / rank)), 3),
        "recall_at_10": round(float(np.mean(rank <= 10)), 3),
    }


def load_faq() -> tuple[list[str], list[str], dict[str, int]]:
    """The Perl FAQ demo set: its questions, its answers (whitespace runs made one
    space) and each question's index."""
    with (REPO / "src/findalike/demo/perlfaq.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    questions = [r["question"].strip() for r in rows]
    answers = [" ".join(r["answer"].split()) for r in rows]
    return questions, answers, {q: i for i, q in enumerate(questions)}


def main() -> None:
    questions, answers, index = load_faq()
    queries = [q for s in SETS.values() for q, _ in s]
    gold = np.array([index[e] for s in SETS.values() for _, e in s])

    enc = MiniLMEncoder()
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], np.ndarray]) -> np.ndarray:
        t = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - t, 2)
        return out

    q_vec = timed("encode questions", lambda: enc.encode(questions))
    ctx = [f"{q} {a[:400]}" for q, a in zip(questions, answers, strict=True)]
    ctx_vec = timed("encode question+answer[:400]", lambda: enc.encode(ctx))
    query_vec = timed("encode queries", lambda: enc.encode(queries))
    owner, chunk_texts = [], []
    for i, (q, a) in enumerate(zip(questions, answers, strict=True)):
        for p in passages(a):
            owner.append(i)
            chunk_texts.append(f"{q} {p}")
    chunk_vec = timed("encode question+passage rows", lambda: enc.encode(chunk_texts))
    docs = [f"{q} {a}" for q, a in zip(questions, answers, strict=True)]
    lexical = timed("bm25 over question+answer", lambda: bm25(docs, queries))

    today = query_vec @ unit(q_vec + ctx_vec).T
    chunk_best = np.full_like(today, -1.0)
    np.maximum.at(chunk_best.T, np.array(owner), (query_vec @ chunk_vec.T).T)
    variants = {
        "today": today,
        "today+bm25qa": zscore(today) + BM25_WEIGHT * zscore(lexical),
        "max(today,q+chunk)": np.maximum(today, chunk_best),
    }
    result: dict[str, object] = {
        "pairs": len(questions),
        "question_passage_rows": len(chunk_texts),
        "seconds": timings,
    }
    per_variant: dict[str, dict[str, dict[str, float]]] = {}
    start = 0
    bounds = {}
    for name, s in SETS.items():
        bounds[name] = (start, start + len(s))
        start += len(s)
    for name, scores in variants.items():
        per_set = {s: figures(scores[a:b], gold[a:b]) for s, (a, b) in bounds.items()}
        per_variant[name] = per_set
        line = "  ".join(
            f"{s} {f['top1']:.3f}/{f['mrr']:.3f}/{f['recall_at_10']:.3f}"
            for s, f in per_set.items()
        )
        print(f"{name:22s} {line}")
    result["variants"] = per_variant
    print(json.dumps(timings))
    out = REPO / "benchmarks" / "results" / "qa_variants.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
