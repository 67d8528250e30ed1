"""How the text app's search modes rank queries of two kinds (issue 26, item 1): exact
identifiers and paraphrases. Writes benchmarks/results/text_modes.json.

- Identifiers: the docstrings of Python's standard library (``tests/api/stdlib_docs.py``:
  ~1,200 documents, title = the qualified name) loaded into the text app; two sets of 30
  queries "how to use <identifier>", each identifier in exactly one document (the first
  set was looked at while auto mode was built, the second was not). Top-1 and top-10 per
  mode (and per hybrid weight), and the p50 of a search in-process (TestClient, one
  client; the query's encoding included).
- Paraphrases: the QA app over the Perl FAQ demo set, sets A, B and C (C held out:
  report only), through ``POST /api/qa/evaluate`` (top-1 and MRR per mode).

The real app in-process (FastAPI's TestClient), Milvus Lite, MiniLM.

Usage: python benchmarks/bench_text_modes.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from fastapi.testclient import TestClient  # noqa: E402

from findalike.api.main import create_app  # noqa: E402
from findalike.apps.qa import demo_files  # noqa: E402
from findalike.config import Settings  # noqa: E402
from tests.api.relevance_sets import PERLFAQ_HELD_OUT, PERLFAQ_PARAPHRASES  # noqa: E402
from tests.api.stdlib_docs import documents, identifier_queries  # noqa: E402
from tests.api.test_qa_quality import PARAPHRASES  # noqa: E402
from tests.conftest import wait_job  # noqa: E402

SETS = {"A": PARAPHRASES, "B": PERLFAQ_PARAPHRASES, "C": PERLFAQ_HELD_OUT}
VARIANTS: list[dict[str, Any]] = [
    {},
    {"mode": "auto"},
    {"mode": "semantic"},
    {"mode": "lexical"},
    {"mode": "hybrid"},
    {"mode": "hybrid", "lexical_weight": 0.2},
    {"mode": "hybrid", "lexical_weight": 0.3},
    {"mode": "hybrid", "lexical_weight": 0.5},
    {"mode": "hybrid", "fusion": "rrf"},
]


def label(variant: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in variant.items()) or "default"


def main() -> None:
    docs = documents(2000)
    sets = {"tuned on": identifier_queries(docs, 30), "held out": identifier_queries(docs, 30, 1)}
    result: dict[str, Any] = {"documents": len(docs)}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), apps=["text", "qa"])
        with TestClient(create_app(settings)) as c:
            lines = "\n".join(
                json.dumps({"title": d.title, "text": d.text}, ensure_ascii=False) for d in docs
            )
            t = time.perf_counter()
            job = c.post("/api/text/load", files=[("files", ("stdlib.jsonl", lines.encode()))])
            done = wait_job(c, job.json()["id"], timeout_s=1800)
            result["text_load_s"] = round(time.perf_counter() - t, 1)
            assert done["state"] == "done", done
            ((name, path),) = demo_files()
            job = c.post("/api/qa/load", files=[("files", (name, Path(path).read_bytes()))])
            assert wait_job(c, job.json()["id"])["state"] == "done"

            identifiers: dict[str, Any] = {}
            for set_name, queries in sets.items():
                for variant in VARIANTS:
                    top1 = top10 = 0
                    took = []
                    for query, i in queries:
                        body = {"query": query, "top_k": 10, **variant}
                        t = time.perf_counter()
                        hits = c.post("/api/text/search", json=body).json()["hits"]
                        took.append(time.perf_counter() - t)
                        titles = [h["title"] for h in hits]
                        top1 += bool(titles) and titles[0] == docs[i].title
                        top10 += docs[i].title in titles
                    n = len(queries)
                    identifiers.setdefault(set_name, {})[label(variant)] = {
                        "top1": top1,
                        "top10": top10,
                        "queries": n,
                        "p50_ms": round(1000 * statistics.median(took), 1),
                    }
                    print(
                        f"identifiers, {set_name:8s} {label(variant):32s} "
                        f"top-1 {top1}/{n} top-10 {top10}/{n} "
                        f"p50 {1000 * statistics.median(took):.1f} ms"
                    )
            result["identifiers"] = identifiers

            paraphrases: dict[str, Any] = {}
            for weight in (0.05, 0.2, 0.3, 0.5):
                for set_name, pairs in SETS.items():
                    body = {
                        "queries": [{"question": q, "expected": e} for q, e in pairs],
                        "lexical_weight": weight,
                    }
                    res = c.post("/api/qa/evaluate", json=body).json()
                    for mode, f in res["modes"].items():
                        if mode in ("semantic", "lexical", "auto") and weight != 0.05:
                            continue  # the weight is hybrid's only
                        key = mode if mode != "hybrid" else f"hybrid lexical_weight={weight}"
                        paraphrases.setdefault(key, {})[set_name] = {
                            "top1": round(f["top1"], 3),
                            "mrr": round(f["mrr"], 3),
                        }
            for key, per_set in paraphrases.items():
                line = "  ".join(
                    f"{s} {f['top1']:.3f}/{f['mrr']:.3f}" for s, f in sorted(per_set.items())
                )
                print(f"paraphrases {key:32s} {line}")
            result["paraphrases"] = paraphrases
    out = REPO / "benchmarks" / "results" / "text_modes.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
