"""Scale benchmark (issue 12, item 4): the text app at 100k, 300k and 1M vectors of
384-d on the real Milvus 2.3.5 standalone server (PyPI ``milvus``) and on Milvus Lite
(its own gRPC server, ``milvus-lite server``, on loopback), both reached by URI.

For each backend and size, in one run on one machine:
- insert rate through findalike's store (``VectorStore.upsert``, the path a load job
  takes, rows written straight in: encoding is measured elsewhere, bench_text.py);
- index build time: flush, then until ``describe_index`` reports every row indexed
  (where the backend reports it; otherwise the flush alone);
- recall@10 against exact search over the same vectors (numpy, chunked; a hit counts
  when its true similarity ties or beats the 10th best, so duplicate sentences do not
  count as misses), and the store alone's p50/p99 (one query vector a call, the
  text app's output fields), for each search parameter (HNSW ``ef`` / IVF ``nprobe``);
  the smallest one reaching recall@10 >= 0.95 is then used over HTTP. findalike's
  collections are Strong-consistency, so a search on the 2.3 server waits for the
  next time tick (~200 ms idle); ``bounded_p50_ms`` is the same search with
  ``consistency_level="Bounded"`` (pymilvus directly), what the index itself costs;
- p50/p99 and QPS over HTTP at 1 and 16 clients: a real ``findalike serve``
  subprocess pointed at the store by FINDALIKE_MILVUS_URI, text app searches
  (``group: false``, ``mode: semantic``, so the store does the same top-10 search as
  measured alone) with the query's encoding included. The API has no query by
  vector (every search takes text), so "encoding excluded" over HTTP is not
  measured: the store-alone figures and the encoder alone on one query
  (``encoder_one_query_p50_ms``) bound it;
- peak RSS (sampled every 0.2 s with psutil, the process and its children) of the
  Milvus process over the whole size, and of the findalike process while serving;
- at the largest size, 1 vs 2 ``findalike serve`` workers at 16 clients, when
  ``findalike serve --workers`` exists.

Vectors: the first 100k are real (all-MiniLM-L6-v2 over State of the Union sentences
and pairs of consecutive sentences, bench_text.py's cache under
benchmarks/results/cache/, minutes of encoding on the first run); every further one is
a real vector chosen at random plus Gaussian noise (sigma 0.03 a dimension, about
cosine 0.86 to its source) and renormalised, stored with its source's text. Queries are
the 20 topic queries of bench_text.py plus 480 held-out SOTU sentence pairs (not
stored). The load generator, the findalike server and Milvus share the machine's cores.

Writes (merges into) benchmarks/results/scale.json.

    .venv/bin/python benchmarks/bench_scale.py --sizes 100000,300000 --backends server,lite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from bench_scale_store import NOISE_SIGMA, K, PeakRss, exact_top, recall_at_k
from bench_scale_store import corpus as noisy_corpus
from bench_text import QUERIES, _Dims, cached_vectors, documents
from harness import free_port

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
BIN = Path(sys.executable).parent
HELD_OUT_QUERIES = 480
RECALL_GOAL = 0.95


def pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(np.asarray(values), p)) * 1000, 2)


# -- vectors --------------------------------------------------------------------------


def corpus(n: int, n_real: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``n`` unit vectors (the first ``n_real`` real, the rest real + noise) and the
    text of each row's source document (as indexes into ``docs``)."""
    from findalike.encoders.sentence import MiniLMEncoder

    docs = documents(n_real)
    real = cached_vectors(MiniLMEncoder(), docs).astype(np.float32)
    vectors, sources = noisy_corpus(n, real)
    return vectors, docs, sources


# -- processes ------------------------------------------------------------------------


def wait_port(port: int, proc: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Milvus process did not start") from None
            time.sleep(0.3)


class MilvusServerBackend:
    """Milvus 2.3.5 standalone from PyPI ``milvus`` (embedded etcd and local storage,
    default configuration), on loopback, in a fresh folder."""

    name = "server"

    def start(self) -> str:
        from milvus import MilvusServer

        self.base = Path(tempfile.mkdtemp(prefix="bench-scale-milvus-"))
        self.server = MilvusServer()
        self.server.set_base_dir(str(self.base))
        self.server.start()
        self.pid = int(self.server.server_proc.pid)
        return f"http://127.0.0.1:{self.server.listen_port}"

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.base, ignore_errors=True)


class LiteBackend:
    """Milvus Lite's own gRPC server (``milvus-lite server``) on loopback: what
    ``findalike serve --workers N`` shares between its workers."""

    name = "lite"

    def start(self) -> str:
        self.base = Path(tempfile.mkdtemp(prefix="bench-scale-lite-"))
        port = free_port()
        args = ["server", "--data-dir", str(self.base), "--host", "127.0.0.1", "--port", str(port)]
        self.proc = subprocess.Popen(
            [str(BIN / "milvus-lite"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(port, self.proc, 60)
        self.pid = self.proc.pid
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


BACKENDS = {"server": MilvusServerBackend, "lite": LiteBackend}


def index_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        "FINDALIKE_INDEX_TYPE": args.index,
        "FINDALIKE_HNSW_M": str(args.hnsw_m),
        "FINDALIKE_HNSW_EF_CONSTRUCTION": str(args.ef_construction),
        "FINDALIKE_IVF_NLIST": str(args.nlist),
        "FINDALIKE_SEARCH_CONSISTENCY": args.search_consistency,
    }


def has_workers_option() -> bool:
    out = subprocess.run(
        [str(BIN / "findalike"), "serve", "--help"], capture_output=True, text=True, timeout=120
    )
    return "--workers" in out.stdout


class Findalike:
    """``findalike serve`` (text app only) on a free loopback port over ``uri``."""

    def __init__(self, uri: str, work: Path, env: dict[str, str], workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [str(BIN / "findalike"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--log-level", "warning"]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        full_env = {
            **os.environ,
            **env,
            "FINDALIKE_DATA_DIR": str(work),
            "FINDALIKE_APPS": '["text"]',
            "FINDALIKE_MILVUS_URI": uri,
        }
        self.proc = subprocess.Popen(cmd, env=full_env, cwd=REPO)
        self.rss = PeakRss(self.proc.pid)
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("findalike serve did not start")
            time.sleep(0.3)

    def stop(self) -> float:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.rss.stop()


async def http_load(url: str, bodies: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    latencies: list[float] = []

    async def client(c: httpx.AsyncClient, todo: Any) -> None:
        for body in todo:
            t = time.perf_counter()
            r = await c.post("/api/text/search", json=body)
            latencies.append(time.perf_counter() - t)
            r.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as c:
        warm = iter(bodies[: 2 * clients])  # connections, and every worker's model
        await asyncio.gather(*(client(c, warm) for _ in range(clients)))
        latencies.clear()
        todo = iter(bodies)
        t = time.perf_counter()
        await asyncio.gather(*(client(c, todo) for _ in range(clients)))
        wall = time.perf_counter() - t
    return {
        "clients": clients,
        "requests": len(bodies),
        "qps": round(len(bodies) / wall, 1),
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
    }


# -- one backend, one size ------------------------------------------------------------


def fill(
    uri: str, work: Path, vectors: np.ndarray, docs: list[str], sources: np.ndarray, env: dict
) -> tuple[Any, Any, dict[str, Any]]:
    """Write every row through the text app's runtime and store; time it and the
    index build."""
    from pymilvus import MilvusClient

    from findalike.apps.text import APP
    from findalike.config import Settings
    from findalike.core.app import AppRuntime, Record
    from findalike.store import VectorStore

    settings = Settings(
        data_dir=work,
        apps=["text"],
        milvus_uri=uri,
        index_type=env["FINDALIKE_INDEX_TYPE"],
        hnsw_m=int(env["FINDALIKE_HNSW_M"]),
        hnsw_ef_construction=int(env["FINDALIKE_HNSW_EF_CONSTRUCTION"]),
        ivf_nlist=int(env["FINDALIKE_IVF_NLIST"]),
    )
    store = VectorStore(uri, timeout_s=120, search_consistency=env["FINDALIKE_SEARCH_CONSISTENCY"])
    rt = AppRuntime(APP, settings, store, encoder_cache={"minilm": _Dims(vectors.shape[1])})
    rt.ensure_collection()
    n = len(vectors)
    t = time.perf_counter()
    for start in range(0, n, 10_000):
        rows = []
        for i in range(start, min(n, start + 10_000)):
            rec = Record(
                item_id=f"{i:032x}",
                payload=None,
                fields={"title": f"doc {i}", "source": "bench", "meta": {"n": i}},
                label=str(i),
            )
            rows.append(rt.row(rec, 0, vectors[i], text=docs[sources[i]]))
        store.upsert(rt.collection, rows, batch_rows=settings.insert_batch_rows)
        if start and start % 100_000 == 0:
            print(f"  {start} rows in {time.perf_counter() - t:.0f} s", flush=True)
    insert_s = time.perf_counter() - t
    t = time.perf_counter()
    store.flush(rt.collection)
    flush_s = time.perf_counter() - t
    client = MilvusClient(uri=uri)
    desc = client.describe_index(rt.collection, index_name="vector")
    index: dict[str, Any] = {"flush_s": round(flush_s, 1)}
    if "indexed_rows" in desc:  # wait until every row is indexed (pending_index_rows
        # is not used: on the 2.3 server it stayed at 260k of 300k once all were indexed)
        deadline = time.monotonic() + 3 * 3600
        while int(desc.get("indexed_rows", 0)) < n and time.monotonic() < deadline:
            time.sleep(2)
            desc = client.describe_index(rt.collection, index_name="vector")
        index["measured"] = "flush, then until describe_index reports every row indexed"
        index["indexed_rows"] = int(desc.get("indexed_rows", 0))
    else:
        index["measured"] = "flush (Milvus Lite builds its index while sealing)"
    index["build_s"] = round(time.perf_counter() - t, 1)
    index["type"] = str(desc.get("index_type"))
    index["params"] = {
        k: desc[k] for k in ("M", "efConstruction", "nlist", "params") if k in desc and desc[k]
    }
    client.close()
    insert = {"rows": n, "seconds": round(insert_s, 1), "rows_per_s": round(n / insert_s, 1)}
    return store, rt, {"insert": insert, "index": index}


def store_sweep(
    store: Any,
    collection: str,
    base: np.ndarray,
    queries: np.ndarray,
    kth: np.ndarray,
    param: str,
    values: list[int],
    latency_queries: int,
) -> list[dict[str, Any]]:
    from pymilvus import MilvusClient

    from findalike.apps.text.search import OUTPUT_FIELDS

    client = MilvusClient(uri=store.uri)
    for q in queries[:20]:  # segments handed over to search after the build, caches
        store.search(collection, q[None, :], limit=K, output_fields=OUTPUT_FIELDS)
    rows = []
    # Milvus Lite builds its index in the background after the flush and searches
    # exactly meanwhile (recall 1.0, slow): the first value is measured again at the end
    for v in [*values, values[0]]:
        params = {param: v}
        hits: list[list[Any]] = []
        for start in range(0, len(queries), 50):
            hits += store.search(collection, queries[start : start + 50], limit=K, params=params)
        recall = recall_at_k([[h.id for h in row] for row in hits], base, queries, kth)
        lat = []
        for q in queries[:latency_queries]:
            t = time.perf_counter()
            store.search(
                collection, q[None, :], limit=K, output_fields=OUTPUT_FIELDS, params=params
            )
            lat.append(time.perf_counter() - t)
        bounded = []  # the same search without waiting for Strong consistency
        for q in queries[:latency_queries]:
            t = time.perf_counter()
            client.search(
                collection,
                data=[q.tolist()],
                limit=K,
                output_fields=["item_id", *OUTPUT_FIELDS],
                search_params={"params": params},
                consistency_level="Bounded",
            )
            bounded.append(time.perf_counter() - t)
        row = {
            param: v,
            "recall_at_10": recall,
            "store_p50_ms": pct(lat, 50),
            "store_p99_ms": pct(lat, 99),
            "store_qps_1": round(1 / float(np.mean(lat)), 1),
            "bounded_p50_ms": pct(bounded, 50),
            "bounded_p99_ms": pct(bounded, 99),
        }
        print("  ", row, flush=True)
        rows.append(row)
    client.close()
    rows[0] = {**rows.pop(), "first_pass": rows[0]}
    return rows


def bench_one(
    backend_name: str,
    n: int,
    args: argparse.Namespace,
    query_texts: list[str],
    queries: np.ndarray,
    largest: bool,
) -> dict[str, Any]:
    vectors, docs, sources = corpus(n, args.real)
    t = time.perf_counter()
    kth = exact_top(vectors, queries)
    exact_s = time.perf_counter() - t
    backend = BACKENDS[backend_name]()
    uri = backend.start()
    milvus_rss = PeakRss(backend.pid)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-work-"))
    env = index_env(args)
    out: dict[str, Any] = {
        "backend": backend_name,
        "vectors": n,
        "real_vectors": min(n, args.real),
        "generated_vectors": max(0, n - args.real),
        "exact_search_s": round(exact_s, 1),
    }
    try:
        store, rt, filled = fill(uri, work, vectors, docs, sources, env)
        out.update(filled)
        print(f"[{backend_name} {n}] {filled}", flush=True)
        param = "nprobe" if args.index == "IVF_FLAT" else "ef"
        values = [int(v) for v in args.search_params.split(",")]
        sweep = store_sweep(
            store, rt.collection, vectors, queries, kth, param, values, args.latency_queries
        )
        store.close()
        ok = [r for r in sweep if r["recall_at_10"] >= RECALL_GOAL]
        chosen = ok[0] if ok else sweep[-1]
        out["store"] = {"sweep": sweep, "chosen": chosen}
        del vectors
        body_extra = {"group": False, "mode": "semantic", param: chosen[param]}
        bodies = [
            {"query": query_texts[i % len(query_texts)], "top_k": K, **body_extra}
            for i in range(args.requests)
        ]
        server = Findalike(uri, work, env)
        try:
            http = [asyncio.run(http_load(server.url, bodies, c)) for c in (1, 16)]
        finally:
            findalike_rss = server.stop()
        out["http_encoding_included"] = http
        out["http_encoding_excluded"] = (
            "not measured: the text API has no query by vector; see store (the floor) "
            "and encoder_one_query_p50_ms"
        )
        print(f"[{backend_name} {n}] http {http}", flush=True)
        if largest:
            out["workers"] = compare_workers(uri, work, env, bodies, http[-1], args)
        out["peak_rss_mb"] = {"findalike": findalike_rss}
    finally:
        out.setdefault("peak_rss_mb", {})["milvus"] = milvus_rss.stop()
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def compare_workers(
    uri: str,
    work: Path,
    env: dict[str, str],
    bodies: list[dict[str, Any]],
    one: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any] | str:
    if args.no_workers:
        return "skipped (--no-workers)"
    if not has_workers_option():
        return "not measured: this findalike has no `serve --workers` yet"
    server = Findalike(uri, work, env, workers=2)
    try:
        two = asyncio.run(http_load(server.url, bodies, 16))
    finally:
        rss = server.stop()
    return {
        "one_worker": one,
        "two_workers": two,
        "two_workers_peak_rss_mb": rss,
        "qps_ratio": round(two["qps"] / one["qps"], 2),
    }


def encoder_p50(encoder: Any, texts: list[str]) -> float:
    encoder.encode(texts[:4])
    lat = []
    for text in texts[:40]:
        t = time.perf_counter()
        encoder.encode([text])
        lat.append(time.perf_counter() - t)
    return pct(lat, 50)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,300000")
    ap.add_argument("--backends", default="server,lite")
    ap.add_argument("--real", type=int, default=100_000, help="real vectors (the rest noisy)")
    ap.add_argument("--index", default="HNSW", choices=["HNSW", "IVF_FLAT", "AUTOINDEX", "FLAT"])
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=100)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument(
        "--search-params", default="16,32,64,128", help="ef (HNSW) or nprobe (IVF_FLAT)"
    )
    ap.add_argument("--requests", type=int, default=100, help="HTTP searches per client count")
    ap.add_argument("--latency-queries", type=int, default=50)
    ap.add_argument(
        "--search-consistency",
        default="Strong",
        choices=["Strong", "Session", "Bounded", "Eventually"],
        help="findalike's FINDALIKE_SEARCH_CONSISTENCY (store alone and HTTP)",
    )
    ap.add_argument("--no-workers", action="store_true", help="skip 1 vs 2 workers")
    ap.add_argument("--out", default="scale.json", help="file under benchmarks/results/")
    args = ap.parse_args()
    from findalike.encoders.sentence import MiniLMEncoder

    encoder = MiniLMEncoder()
    held_out = documents(args.real + HELD_OUT_QUERIES)[args.real :]
    query_texts = [*QUERIES, *held_out]
    queries = encoder.encode(query_texts)
    sizes = [int(s) for s in args.sizes.split(",")]
    path = RESULTS / args.out
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    result.update(
        {
            "machine": {
                "cpus": os.cpu_count(),
                "ram_gib": round(psutil.virtual_memory().total / 2**30),
            },
            "note": "Milvus, findalike and the load generator share the machine's cores",
            "vectors": f"first {args.real} real (all-MiniLM-L6-v2 over SOTU sentences); the "
            f"rest a random real vector + N(0, {NOISE_SIGMA}) a dimension, renormalised",
            "queries": len(query_texts),
            "encoder_one_query_p50_ms": encoder_p50(encoder, query_texts),
        }
    )
    del encoder
    runs = result.setdefault("runs", {})
    for n in sizes:  # the smaller sizes first, on every backend
        for backend in args.backends.split(","):
            print(f"== {backend} {n}", flush=True)
            t = time.perf_counter()
            load_before = [round(x, 1) for x in os.getloadavg()]
            run = bench_one(backend, n, args, query_texts, queries, largest=n == max(sizes))
            run["index_choice"] = {
                "type": args.index,
                "M": args.hnsw_m,
                "efConstruction": args.ef_construction,
                "nlist": args.nlist,
                "search_consistency": args.search_consistency,
            }
            run["wall_s"] = round(time.perf_counter() - t, 1)
            run["load_average_1_5_15"] = {
                "before": load_before,
                "after": [round(x, 1) for x in os.getloadavg()],
            }
            run["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            runs[f"{backend}/{n}"] = run
            RESULTS.mkdir(parents=True, exist_ok=True)
            latest = json.loads(path.read_text()) if path.exists() else {}
            latest.setdefault("runs", {}).update(runs)  # runs written meanwhile stay
            path.write_text(json.dumps({**result, "runs": latest["runs"]}, indent=2))
            print(f"wrote {path} ({backend}/{n}, {run['wall_s']} s)", flush=True)


if __name__ == "__main__":
    main()
