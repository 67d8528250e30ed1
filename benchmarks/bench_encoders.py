"""Text encoders compared on the QA paraphrase sets (issue 26, item 5). Writes
benchmarks/results/encoders.json.

Each encoder reads the Perl FAQ demo set (303 pairs) as the QA app stores it (one vector
per pair: unit(enc(question) + enc(question + first 400 characters of the answer))) and
the three paraphrase sets (A: tests/api/test_qa_quality.py, B: PERLFAQ_PARAPHRASES,
C: PERLFAQ_HELD_OUT; C is held out: report only, never choose on it) as queries. Exact
search over all pairs in numpy (no Milvus: the ranking is the encoder's alone), top-1,
MRR and recall@10 per set, and the encoder's speed on the pairs' text (texts/s, one
thread, this machine).

Usage: python benchmarks/bench_encoders.py [minilm bge bge-noinstr minilm-int8]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from bench_qa_variants import SETS, figures, load_faq, unit  # noqa: E402


def make(name: str) -> tuple[Any, Any]:
    """(encoder, function that encodes queries) for a name on the command line."""
    if name == "minilm":
        from findalike.encoders.sentence import MiniLMEncoder

        e: Any = MiniLMEncoder(threads=1)
        return e, e.encode
    if name == "minilm-int8":
        from findalike.encoders.minilm_int8 import MiniLMInt8Encoder

        e = MiniLMInt8Encoder(threads=1)
        return e, e.encode
    from findalike.encoders.base import encode_queries
    from findalike.encoders.bge_small import BgeSmallEncoder

    e = BgeSmallEncoder(threads=1)
    return e, (e.encode if name == "bge-noinstr" else lambda t: encode_queries(e, t))


def main(names: list[str]) -> None:
    questions, answers, index = load_faq()
    ctx = [f"{q} {a[:400]}" for q, a in zip(questions, answers, strict=True)]
    result: dict[str, Any] = {"pairs": len(questions), "encoders": {}}
    for name in names:
        enc, encode_queries = make(name)
        t = time.perf_counter()
        pair_vec = unit(enc.encode(questions) + enc.encode(ctx))
        seconds = time.perf_counter() - t
        per_set = {}
        for set_name, pairs in SETS.items():
            query_vec = encode_queries([q for q, _ in pairs])
            gold = np.array([index[e] for _, e in pairs])
            per_set[set_name] = figures(query_vec @ pair_vec.T, gold)
        result["encoders"][name] = {
            "record": f"{enc.name}@{enc.version}",
            "sets": per_set,
            "texts_per_s": round(2 * len(questions) / seconds, 1),
        }
        line = "  ".join(
            f"{s} {f['top1']:.3f}/{f['mrr']:.3f}/{f['recall_at_10']:.3f}"
            for s, f in per_set.items()
        )
        print(f"{name:12s} {line}  {result['encoders'][name]['texts_per_s']} texts/s", flush=True)
    out = REPO / "benchmarks" / "results" / "encoders.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["minilm", "minilm-int8", "bge", "bge-noinstr"])
