"""Text search benchmark (issue: core platform). Writes benchmarks/results/text.json.

Measures, in one run on one machine:
- encoder throughput alone (documents/s) on real State of the Union sentences;
- end-to-end ingestion through the HTTP API (a load job) on the same documents,
  and its ratio to the encoder alone;
- search latency p50/p99 and QPS over HTTP with 1/8/32 concurrent clients, on
  collections of 10k and 100k documents, and the same searches in-process (encode +
  store search) and on the store alone (precomputed query vector), so the API's
  overhead shows as a ratio.

The 100k documents are real text: every SOTU sentence of 8-60 words plus every
pair of consecutive such sentences. Their vectors are cached under
benchmarks/results/cache/ (first run: minutes of encoding).

Usage: python benchmarks/bench_text.py [--sizes 10000,100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from harness import free_port, start_server, wait_job

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
CACHE = RESULTS / "cache"
QUERIES = [
    "cutting taxes for working families",
    "the threat of nuclear weapons",
    "space exploration",
    "health insurance costs",
    "building roads and bridges",
    "immigration reform",
    "the war in Vietnam",
    "protecting the environment",
    "education for every child",
    "trade with China",
    "balancing the federal budget",
    "veterans returning home",
    "civil rights and equality",
    "energy independence and oil",
    "fighting terrorism",
    "social security for retirees",
    "the economy is growing",
    "farm prices and agriculture",
    "crime and drugs in our cities",
    "relations with the Soviet Union",
]


def documents(n: int) -> list[str]:
    sentences: list[str] = []
    with gzip.open(REPO / "datasets" / "sotu" / "sotu.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
                if 8 <= len(s.split()) <= 60:
                    sentences.append(s)
    pairs = [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
    docs = sentences + pairs
    if n > len(docs):
        raise SystemExit(f"only {len(docs)} documents available")
    return docs[:n]


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def encoder_throughput(encoder: Any, docs: list[str]) -> dict[str, float]:
    encoder.encode(docs[:64])  # warm-up
    t = time.perf_counter()
    encoder.encode(docs)
    elapsed = time.perf_counter() - t
    return {
        "documents": len(docs),
        "seconds": round(elapsed, 2),
        "docs_per_s": round(len(docs) / elapsed, 1),
    }


def cached_vectors(encoder: Any, docs: list[str]) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"sotu_{len(docs)}_{encoder.name}.npy"
    if path.exists():
        return np.load(path)
    print(f"encoding {len(docs)} documents once (cached at {path}) ...", flush=True)
    vectors = encoder.encode(docs)
    np.save(path, vectors)
    return vectors


def fill_collection(data_dir: Path, docs: list[str], vectors: np.ndarray) -> None:
    """Write the documents straight into the text app's collection (as a load would,
    minus encoding, which is measured separately)."""
    from findalike.apps.text import APP
    from findalike.config import Settings
    from findalike.core.app import AppRuntime, Record, content_id
    from findalike.store import VectorStore

    settings = Settings(data_dir=data_dir, apps=["text"])
    store = VectorStore(str(data_dir / "milvus.db"))
    rt = AppRuntime(APP, settings, store, encoder_cache={"minilm": _Dims(vectors.shape[1])})
    rt.ensure_collection()
    rows = []
    for i, (doc, vec) in enumerate(zip(docs, vectors, strict=True)):
        rec = Record(
            item_id=content_id(doc, str(i)),
            payload=None,
            fields={"title": f"doc {i}", "source": "bench", "meta": {"n": i}},
            label=str(i),
        )
        rows.append(rt.row(rec, 0, vec, text=doc))
    store.upsert(rt.collection, rows, batch_rows=settings.insert_batch_rows)
    store.flush(rt.collection)
    store.close()


class _Dims:
    """Stands in for the model when writing precomputed vectors: only its identity
    (name, version, dim) is used, to label the collection as the real model would."""

    def __init__(self, dim: int) -> None:
        from findalike.encoders.sentence import MiniLMEncoder

        self.name, self.version = MiniLMEncoder.name, MiniLMEncoder.version
        self.dim, self.vector_kind, self.metric = dim, "float", "COSINE"


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = start_server(
            data_dir,
            self.port,
            apps=["text"],
            timeout_s=120,
            env={"FINDALIKE_MAX_UPLOAD_BYTES": str(4 * 1024**3)},
        )
        # the first search loads the model: keep it out of the measurements
        httpx.post(f"{self.url}/api/text/search", json={"query": "warm up"}, timeout=120)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


async def http_load(url: str, clients: int, requests: int) -> dict[str, float]:
    latencies: list[float] = []
    counter = iter(range(requests))

    async def client(c: httpx.AsyncClient) -> None:
        for i in counter:
            body = {"query": QUERIES[i % len(QUERIES)], "top_k": 10}
            t = time.perf_counter()
            r = await c.post("/api/text/search", json=body)
            latencies.append(time.perf_counter() - t)
            r.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        t = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        wall = time.perf_counter() - t
    return {
        "clients": clients,
        "requests": requests,
        "qps": round(requests / wall, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


def in_child_process(fn: Any, *args: Any) -> Any:
    """Run ``fn`` in a fresh process: Milvus Lite holds its file's lock until the
    process that opened it exits, and the HTTP server must open the file next."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def in_process_latency(data_dir: Path, requests: int) -> dict[str, Any]:
    """The same searches without HTTP: the app's search function (encode + Milvus),
    and the store alone with precomputed query vectors."""
    from findalike.encoders.sentence import MiniLMEncoder

    encoder = MiniLMEncoder()
    from findalike.apps.text import APP
    from findalike.apps.text.models import TextSearchRequest
    from findalike.apps.text.search import search_text
    from findalike.config import Settings
    from findalike.core.app import AppRuntime
    from findalike.store import VectorStore

    settings = Settings(data_dir=data_dir, apps=["text"])
    store = VectorStore(str(data_dir / "milvus.db"))
    rt = AppRuntime(APP, settings, store, encoder_cache={"minilm": encoder})
    qvecs = encoder.encode(QUERIES)
    search_text(rt, TextSearchRequest(query="warm up"))
    app_lat, store_lat = [], []
    for i in range(requests):
        t = time.perf_counter()
        search_text(rt, TextSearchRequest(query=QUERIES[i % len(QUERIES)], top_k=10))
        app_lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.search(
            rt.collection, qvecs[i % len(QUERIES)][None, :], limit=10, output_fields=["title"]
        )
        store_lat.append(time.perf_counter() - t)
    store.close()
    return {
        "app_function": {
            "p50_ms": round(percentile(app_lat, 50) * 1000, 2),
            "p99_ms": round(percentile(app_lat, 99) * 1000, 2),
        },
        "store_only": {
            "p50_ms": round(percentile(store_lat, 50) * 1000, 2),
            "p99_ms": round(percentile(store_lat, 99) * 1000, 2),
        },
    }


def ingestion_through_api(docs: list[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    server = Server(work)
    try:
        # no titles: the model then reads exactly the texts the encoder alone read (a
        # title is read with each passage: "d17. " made the load's inputs ~20% longer)
        body = "\n".join(json.dumps({"text": d}) for d in docs)
        t = time.perf_counter()
        r = httpx.post(
            f"{server.url}/api/text/load",
            timeout=120,
            files=[("files", ("docs.jsonl", body.encode()))],
        )
        accepted_ms = (time.perf_counter() - t) * 1000
        job = wait_job(server.url, r.json()["id"])
        wall = time.perf_counter() - t
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    rate = job["done"] / wall
    return {
        "documents": len(docs),
        "state": job["state"],
        "seconds": round(wall, 2),
        "accepted_in_ms": round(accepted_ms, 1),
        "docs_per_s": round(rate, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--ingest-docs", type=int, default=2000)
    ap.add_argument("--clients", default="1,8,32")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from findalike.encoders.sentence import MiniLMEncoder

    encoder = MiniLMEncoder()
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "encoder": encoder.name}
    sample = documents(args.ingest_docs)
    # the encoder alone before and after the load, the ratio against their mean: on a
    # shared machine one measurement of it swung 18-23 s on the same 2,000 texts
    before = encoder_throughput(encoder, sample)
    ingestion = ingestion_through_api(sample)
    after = encoder_throughput(encoder, sample)
    mean_rate = (before["docs_per_s"] + after["docs_per_s"]) / 2
    result["encoder_alone"] = {
        "documents": len(sample),
        "docs_per_s": round(mean_rate, 1),
        "before_load": before,
        "after_load": after,
    }
    ingestion["ratio_to_encoder_alone"] = round(ingestion["docs_per_s"] / mean_rate, 3)
    result["ingestion_api"] = ingestion
    print("encoder alone:", result["encoder_alone"], flush=True)
    print("ingestion through the API:", result["ingestion_api"], flush=True)
    result["search"] = {}
    all_docs = documents(max(sizes))
    all_vectors = cached_vectors(encoder, all_docs)
    for n in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"bench-search-{n}-"))
        try:
            in_child_process(fill_collection, work, all_docs[:n], all_vectors[:n])
            direct = in_child_process(in_process_latency, work, args.requests)
            server = Server(work)
            try:
                http = [
                    asyncio.run(http_load(server.url, int(c), args.requests))
                    for c in args.clients.split(",")
                ]
            finally:
                server.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        one = http[0]["p50_ms"]
        result["search"][str(n)] = {
            "http": http,
            **direct,
            "api_overhead_ratio_p50": round(one / direct["app_function"]["p50_ms"], 2),
            "http_vs_store_only_ratio_p50": round(one / direct["store_only"]["p50_ms"], 2),
        }
        print(f"search over {n} documents:", json.dumps(result["search"][str(n)]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "text.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS / 'text.json'}")


if __name__ == "__main__":
    main()
