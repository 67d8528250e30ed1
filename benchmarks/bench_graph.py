"""The embedded store with and without its HNSW graph (issue 25, "index by size"): the
same Milvus Lite 2.5 collection searched exactly (FLAT, every row) and through the
usearch graph findalike keeps beside it past ``FINDALIKE_ANN_MIN_ROWS``, in one run.

    .venv/bin/python benchmarks/bench_graph.py                    # 100k rows, ~4 min
    .venv/bin/python benchmarks/bench_graph.py --rows 1000000     # ~40 min
    .venv/bin/python benchmarks/bench_graph.py --rows 50000 --index flat  # the exact copy

(on 2 cores; the first run also encodes 20,000 sentences, ~8 min, cached by
bench_text.py.) Writes benchmarks/results/graph_<rows>_<ids>.json. ``--ids sequential``
gives rows the ids 0:0, 1:0, ... as this benchmark did before 2026-12-07; the default,
``hashed``, gives them ids as the apps do (a content hash: in no order). Milvus Lite 2.5
looks up rows by id (the graph's hits, for their fields) much faster when they were
inserted in id order: 10 ids among 300k 384-d rows in 2.0-4.8 ms against 49 ms. Rows are
written ``encode_batch_size`` (256) at a time, as a load writes them (20,000 at a time
before 2026-12-07), and ``VectorStore.upsert`` sorts each write by id.

Data as bench_engines.py: the first 20,000 rows are all-MiniLM-L6-v2 vectors of State of
the Union sentences, every further one a real vector plus N(0, 0.03) noise a dimension,
renormalised; ``year`` uniform in 1950..2049 (``year >= 2000`` passes about half); the
source sentence as a BM25 text field. 200 held-out SOTU sentences as queries. Recall@10
counts a hit whose true cosine ties or beats the exact 10th best (filtered: among rows
passing the filter). Measured through ``VectorStore`` (what the server calls), one
client, p50/p99 of 200 calls (60 for exact): top 10 of 1 vector and of 16, filtered and
not, 1 vector with the hits' ``year`` and ``text`` (as an app asks), hybrid RRF (dense +
BM25 of the query's first 10 words); the graph's build (read back from Milvus + HNSW), the
rows' fields it keeps, and its restore from disk by a second store, as after a restart.
numpy's BLAS runs ``BLAS_THREADS`` (1) thread, as in the server (before 2026-12-07 12:30
UTC: OpenBLAS's default, 2 on this machine). ``--index flat`` measures the exact
in-memory copy a smaller collection gets instead (``ann.FlatIndex``; writes
``graph_<rows>_<ids>_flat.json``): the same runs but ef's, and the second store builds
its copy again (a copy is not saved).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from bench_scale_store import corpus, query_texts
from bench_text import CACHE, RESULTS, cached_vectors, documents
from threadpoolctl import threadpool_limits

from findalike.api.main import BLAS_THREADS
from findalike.config import Settings
from findalike.encoders.sentence import MiniLMEncoder
from findalike.store import CollectionSpec, FieldSpec, VectorStore, ann

N_REAL = 20_000
K = 10


def timed(call: Any, inputs: list[Any]) -> tuple[dict[str, float], list[Any]]:
    lat, out = [], []
    for x in inputs:
        t0 = time.perf_counter()
        out.append(call(x))
        lat.append(time.perf_counter() - t0)
    ms = np.asarray(lat) * 1e3
    return {
        "p50_ms": round(float(np.median(ms)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument(
        "--ids",
        choices=["hashed", "sequential"],
        default="hashed",
        help="row ids as the apps make them (32 hex digits of a content hash, in no "
        "order) or 0:0, 1:0, ... (what this benchmark used before 2026-12-07: Milvus "
        "Lite looks those up far faster)",
    )
    ap.add_argument(
        "--write",
        choices=["upsert", "insert"],
        default="upsert",
        help="rows written through VectorStore.upsert, 256 at a time, as a load writes them "
        "(its pace falls as the collection grows: ~1,060 rows/s for 100k, ~120 rows/s at "
        "580k), or inserted 20,000 at a time (each batch sorted by id), for 1M rows",
    )
    ap.add_argument(
        "--index",
        choices=["hnsw", "flat"],
        default="hnsw",
        help="what findalike keeps beside Lite: the HNSW graph (a collection past "
        "FINDALIKE_ANN_MIN_ROWS) or the exact copy (past FINDALIKE_FLAT_MIN_ROWS, under "
        "FINDALIKE_ANN_MIN_ROWS; its ef runs are skipped: it ignores ef)",
    )
    args = ap.parse_args()
    threadpool_limits(BLAS_THREADS, user_api="blas")  # numpy's BLAS as the server runs it
    flat = args.index == "flat"
    kept = {"ann_min_rows": 0, "flat_min_rows": 1} if flat else {"ann_min_rows": 1}

    docs = documents(N_REAL)
    path = CACHE / f"sotu_{N_REAL}_{MiniLMEncoder.name}.npy"
    real = np.load(path) if path.exists() else cached_vectors(MiniLMEncoder(), docs)
    X, sources = corpus(args.rows, real.astype(np.float32))
    texts = query_texts(N_REAL)
    qpath = CACHE / f"queries_sotu_500_after_{N_REAL}_{MiniLMEncoder.name}.npy"
    if not qpath.exists():
        np.save(qpath, MiniLMEncoder().encode(texts).astype(np.float32))
    Q = np.load(qpath).astype(np.float32)[: args.queries]
    words = [" ".join(t.split()[:10]) for t in texts[: args.queries]]
    years = np.random.default_rng(3).integers(1950, 2050, args.rows)
    allowed = years >= 2000
    # exact k-th best over all rows, and over the filtered rows
    scores = Q @ X.T if args.rows <= 200_000 else None

    def kth_of(mask: np.ndarray | None) -> np.ndarray:
        if scores is not None:
            s = scores if mask is None else scores[:, mask]
            return np.partition(s, s.shape[1] - K, axis=1)[:, -K]
        best = np.full((len(Q), K), -np.inf, dtype=np.float32)
        for start in range(0, args.rows, 100_000):
            block = X[start : start + 100_000]
            if mask is not None:
                block = block[mask[start : start + 100_000]]
            both = np.concatenate([best, Q @ block.T], axis=1)
            best = np.partition(both, both.shape[1] - K, axis=1)[:, -K:]
        return best.min(axis=1)

    kth, kth_f = kth_of(None), kth_of(allowed)

    def recall(out: list[list[Any]], bar: np.ndarray) -> float:
        got = [
            sum(1 for h in hits if float(X[int(h.item_id)] @ Q[i]) >= bar[i] - 1e-5) / K
            for i, hits in enumerate(out)
        ]
        return round(float(np.mean(got)), 4)

    def row_id(i: int) -> str:
        if args.ids == "sequential":
            return f"{i}:0"
        return hashlib.sha256(str(i).encode()).hexdigest()[:32] + ":0"

    folder = Path(tempfile.mkdtemp(prefix="bench_graph_"))
    result: dict[str, Any] = {
        "rows": args.rows,
        "queries": len(Q),
        "engine": "milvus-lite 2.5.1",
        "ids": args.ids,
        "write": args.write,
        "index": args.index,
    }
    try:
        store = VectorStore(str(folder / "milvus.db"), shared_dir=folder, timeout_s=600, **kept)
        spec = CollectionSpec(
            name="bench",
            dim=384,
            vector_kind="float",
            metric="COSINE",
            encoder="all-MiniLM-L6-v2@bench",
            fields=(FieldSpec("year", "int"), FieldSpec("text", "str", lexical=True)),
            index_type="FLAT",
        )
        store.ensure(spec)
        t0 = time.perf_counter()
        # rows a write: as a load writes them, or in big sorted inserts
        step = Settings().encode_batch_size if args.write == "upsert" else 20_000
        for start in range(0, args.rows, step):
            stop = min(args.rows, start + step)
            rows = [
                {
                    "id": row_id(i),
                    "item_id": str(i),
                    "part": 0,
                    "vector": X[i],
                    "year": int(years[i]),
                    "text": docs[int(sources[i])],
                }
                for i in range(start, stop)
            ]
            if args.write == "upsert":
                store.upsert("bench", rows)
                continue
            rows.sort(key=lambda r: r["id"])
            for part in range(0, len(rows), 2000):  # under gRPC's message limit
                chunk = rows[part : part + 2000]
                store._call(  # noqa: SLF001
                    "insert", "bench", [{**r, "vector": r["vector"].tolist()} for r in chunk]
                )
            store._wrote("bench")  # noqa: SLF001  # the write marker a saved graph is tied to
        store.flush("bench")
        result["insert_rows_per_s"] = round(args.rows / (time.perf_counter() - t0))
        print("inserted", result["insert_rows_per_s"], "rows/s", flush=True)
        time.sleep(5)

        def runs(prefix: str, exact: bool) -> None:
            n = len(Q) if not exact else min(60, len(Q))
            one = list(range(n))
            m, out = timed(
                lambda i: store.search("bench", Q[i][None], limit=K, exact=exact)[0], one
            )
            result[f"{prefix}_search_1"] = {**m, "recall_at_10": recall(out, kth[:n])}
            m, out = timed(
                lambda i: store.search(
                    "bench", Q[i][None], limit=K, filter="year >= 2000", exact=exact
                )[0],
                one,
            )
            result[f"{prefix}_search_1_filtered"] = {**m, "recall_at_10": recall(out, kth_f[:n])}
            m, _ = timed(
                lambda i: store.search("bench", Q[i : i + 16], limit=K, exact=exact), one[: n // 4]
            )
            result[f"{prefix}_search_16"] = m
            print(prefix, {k: v for k, v in result.items() if k.startswith(prefix)}, flush=True)

        graphs = store._graphs
        assert graphs is not None
        graphs.min_rows, graphs.flat_min_rows = 10**12, None  # nothing kept: Lite, exact
        runs("flat", exact=True)
        m, _ = timed(
            lambda i: store.hybrid_search("bench", words[i], Q[i], limit=K, metric="COSINE"),
            list(range(60)),
        )
        result["flat_hybrid_rrf"] = m
        graphs.min_rows, graphs.flat_min_rows = kept["ann_min_rows"], kept.get("flat_min_rows")
        t0 = time.perf_counter()
        store.search("bench", Q[:1], limit=K)
        while store._graphs.builds == 0:  # type: ignore[union-attr]
            time.sleep(0.2)
        graph = store._graphs.held("bench")  # type: ignore[union-attr]
        result["graph_build_s"] = round(time.perf_counter() - t0, 1)
        result["graph_memory_mb"] = round(graph.index.memory_usage / 1e6)
        # the rows' fields it keeps for unfiltered searches (none before 2026-12-07)
        result["graph_fields_mb"] = round(getattr(graph, "stored_bytes", 0) / 1e6, 1)
        print("graph built", result["graph_build_s"], "s", flush=True)
        for ef in () if flat else (64, 128, 256, 512):
            store._graphs.ef = ef  # type: ignore[union-attr]
            m, out = timed(
                lambda i: store.search("bench", Q[i][None], limit=K)[0], list(range(len(Q)))
            )
            result[f"graph_ef{ef}_search_1"] = {**m, "recall_at_10": recall(out, kth)}
        store._graphs.ef = ann.DEFAULT_EF  # type: ignore[union-attr]
        runs("graph", exact=False)
        m, _ = timed(  # as an app asks: with the hits' fields
            lambda i: store.search("bench", Q[i][None], limit=K, output_fields=["year", "text"]),
            list(range(len(Q))),
        )
        result["graph_search_1_fields"] = m
        m, _ = timed(
            lambda i: store.hybrid_search("bench", words[i], Q[i], limit=K, metric="COSINE"),
            list(range(len(Q))),
        )
        result["graph_hybrid_rrf"] = m
        m, _ = timed(lambda i: store.count("bench", filter="year >= 2000"), list(range(30)))
        result["filtered_count"] = m
        result["rss_mb_with_graph"] = round(
            sum(p.memory_info().rss for p in [psutil.Process(), *psutil.Process().children(True)])
            / 1e6
        )
        store.close()
        again = VectorStore(str(folder / "milvus.db"), shared_dir=folder, timeout_s=600, **kept)
        t0 = time.perf_counter()
        again.search("bench", Q[:1], limit=K)
        while again._graphs.builds == 0:  # type: ignore[union-attr]
            time.sleep(0.05)
        # Lite reopening its file (the first search) and the graph read back from disk
        result["reopen_and_restore_s"] = round(time.perf_counter() - t0, 2)
        restored = again._graphs.held("bench")  # type: ignore[union-attr]
        result["graph_restored"] = restored.restored
        result["graph_restore_s"] = round(restored.built_s, 2)
        m, out = timed(lambda i: again.search("bench", Q[i][None], limit=K)[0], list(range(len(Q))))
        result["restored_search_1"] = {**m, "recall_at_10": recall(out, kth)}
        again.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    kind = "_flat" if flat else ""
    out_path = RESULTS / f"graph_{args.rows}_{args.ids}{kind}.json"
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print("written to", out_path)


if __name__ == "__main__":
    main()
