"""One engine's share of bench_engines.py (issue 25, item 1): the store workload on one
Milvus engine, run by bench_engines.py with that engine's venv python.

Standalone: pymilvus, numpy and psutil (and ``milvus`` for the 2.3 server), plus the
helpers of bench_scale_store.py (which imports nothing else at module level); nothing of
findalike, so it runs in the side venv of Milvus Lite 2.5.1 too. The data come
precomputed from the driver in ``--data`` (vectors, years, texts, queries, the exact
k-th best similarities); the result goes to ``--out`` (JSON, rewritten after every
stage, so a run stopped early still leaves what it measured).

Engines: ``lite322`` (Milvus Lite 3.2.2, pure Python, in this process),
``lite251`` (Milvus Lite 2.5.1, its C++ server as a child process), both embedded
(``MilvusClient("file.db")``); ``server23`` (Milvus 2.3.5 standalone from PyPI
``milvus``, started on loopback by bench_scale_store.Server).

    python benchmarks/engines_worker.py --engine lite322 --data DIR --out FILE.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from bench_scale_store import RECALL_GOAL, K, PeakRss, key_fields, log, pct, recall_at_k

COLLECTION = "engines"
OUTPUT_FIELDS = ["item_id", "part", "text"]  # the text app's, less title/source/meta
FILTER = "year >= 2000"
LEVEL = "Session"  # findalike's search consistency with one worker
RRF_K = 60  # findalike's store.RRF_K
INDEXES = {
    "lite322": ["HNSW", "FLAT"],
    "lite251": ["FLAT", "IVF_FLAT", "AUTOINDEX", "HNSW"],
    "server23": ["HNSW"],
}
VERSIONS = {"lite322": ("milvus-lite", "3.2."), "lite251": ("milvus-lite", "2.5.1")}
"""The package an engine needs in this venv (checked first: both are ``milvus-lite``)."""
"""Index variants by engine, measured one after the other on the same rows (release,
drop the vector index, build the next, load). HNSW on 2.5.1 only to record its answer
(refused: "local mode only support FLAT IVF_FLAT AUTOINDEX"). Seen on 2.5.1 (December
2026): IVF_FLAT and AUTOINDEX search every row exactly up to 90k rows; at 100k the
results turn approximate (recall@10 0.82) and stay the same whatever ``nlist`` (1 to
1265) and ``nprobe`` (1 to 1265): the engine's own index, not the one asked for."""


def index_plan(kind: str, n: int, args: argparse.Namespace) -> tuple[dict, str, list]:
    """The build parameters of index ``kind`` at ``n`` rows, its search parameter's
    name and the values swept (``[None]``: no parameter)."""
    if kind == "HNSW":
        return {"M": args.hnsw_m, "efConstruction": args.ef_construction}, "ef", args.efs
    if kind == "IVF_FLAT":
        return {"nlist": max(1, round(4 * n**0.5))}, "nprobe", args.nprobes
    return {}, "", [None]


class Data:
    """What the driver wrote for one N (see bench_engines.prepare)."""

    def __init__(self, folder: Path) -> None:
        self.vectors = np.load(folder / "vectors.npy")
        self.sources = np.load(folder / "sources.npy")
        self.years = np.load(folder / "years.npy")
        self.docs: list[str] = json.loads((folder / "docs.json").read_text())
        self.queries = np.load(folder / "queries.npy")
        self.query_texts: list[str] = json.loads((folder / "query_texts.json").read_text())
        self.kth = np.load(folder / "kth.npy")
        self.kth_filtered = np.load(folder / "kth_filtered.npy")
        self.allowed = self.years >= 2000
        self.n = len(self.vectors)

    def rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        return [
            {
                "id": f"{i:032x}:0",
                "item_id": f"{i:032x}",
                "part": 0,
                "year": int(self.years[i]),
                "vector": self.vectors[i].tolist(),
                "text": self.docs[self.sources[i]],
            }
            for i in range(start, stop)
        ]


def timed(call: Any, count: int, budget_s: float, warm: int = 3) -> dict[str, Any]:
    """p50/p99 of ``call(i)`` for i in 0..count-1 after ``warm`` unmeasured calls;
    stopped early (at least 5 calls) once ``budget_s`` is spent: ``requests`` says."""
    for i in range(warm):
        call(i)
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        call(i)
        lat.append(time.perf_counter() - t)
        if time.perf_counter() - t0 > budget_s and len(lat) >= 5:
            break
    return {"p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "requests": len(lat), "asked": count}


def error(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    return f"{type(exc).__name__}: {text}"[:300]


# -- engines --------------------------------------------------------------------------


class Engine:
    """A running engine and a MilvusClient on it."""

    def __init__(self, name: str) -> None:
        from pymilvus import MilvusClient

        self.name = name
        self.base = Path(tempfile.mkdtemp(prefix=f"bench-engines-{name}-"))
        self.server: Any = None
        t = time.perf_counter()
        if name == "server23":
            from bench_scale_store import Server

            self.server = Server(self.base)
            self.client = MilvusClient(uri=self.server.uri, timeout=1800)
        else:
            self.client = MilvusClient(str(self.base / "bench.db"), timeout=1800)
        self.start_s = round(time.perf_counter() - t, 2)

    def versions(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pymilvus": metadata.version("pymilvus")}
        dist = "milvus" if self.name == "server23" else "milvus-lite"
        out[dist] = metadata.version(dist)
        try:
            out["server_reports"] = self.client.get_server_version()
        except Exception as exc:  # noqa: BLE001  (2.5.1: UNIMPLEMENTED)
            out["server_reports"] = error(exc)
        return out

    def stop(self) -> None:
        try:
            self.client.close()
        finally:
            if self.server is not None:
                self.server.stop()  # removes the folder
            shutil.rmtree(self.base, ignore_errors=True)


def create(client: Any, dim: int, bm25: bool) -> None:
    """The text app's layout (``id``, ``item_id``, ``part``, 384-d COSINE ``vector``,
    ``text``) plus ``year`` for filters; with ``bm25`` the text analysed (standard) and
    a BM25 function filling ``text_bm25``, as findalike's store declares it."""
    from pymilvus import DataType, Function, FunctionType

    schema = key_fields(client, COLLECTION)
    schema.add_field("year", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    text: dict[str, Any] = {"enable_analyzer": True, "analyzer_params": {"type": "standard"}}
    schema.add_field("text", DataType.VARCHAR, max_length=65535, **(text if bm25 else {}))
    if bm25:
        schema.add_field("text_bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="text_bm25_fn",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["text_bm25"],
            )
        )
    client.create_collection(COLLECTION, schema=schema, consistency_level="Strong")
    if bm25:
        # the 2.3 server takes the schema and drops the function (2.5.1 lists no function
        # either, but marks the field as its output)
        desc = client.describe_collection(COLLECTION)
        sparse = [f for f in desc.get("fields", []) if f["name"] == "text_bm25"]
        if not desc.get("functions") and not (sparse and sparse[0].get("is_function_output")):
            client.drop_collection(COLLECTION)
            raise RuntimeError(f"collection made without its BM25 function: {sparse}")


def wait_index(client: Any, name: str, timeout_s: float) -> dict[str, Any]:
    """Until ``describe_index`` says Finished with nothing pending (Milvus Lite 2.5.1
    reports 0 rows of 0 at once: its build, if any, happens at load or search)."""
    deadline = time.monotonic() + timeout_s
    while True:
        desc = client.describe_index(COLLECTION, index_name=name)
        if str(desc.get("state")) == "Failed":
            raise RuntimeError(f"index build failed: {desc}")
        done = str(desc.get("state", "Finished")) == "Finished"
        if done and int(desc.get("pending_index_rows", 0)) == 0 or time.monotonic() > deadline:
            return {k: desc.get(k) for k in ("state", "total_rows", "indexed_rows")}
        time.sleep(0.5)


def build(client: Any, field: str, kind: str, metric: str, params: dict, timeout_s: float) -> dict:
    index = client.prepare_index_params()
    index.add_index(
        field_name=field, index_name=field, index_type=kind, metric_type=metric, params=params
    )
    t = time.perf_counter()
    client.create_index(COLLECTION, index)
    reported = wait_index(client, field, timeout_s)
    return {"build_s": round(time.perf_counter() - t, 2), "reported": reported}


# -- measurements ---------------------------------------------------------------------


def dense(client: Any, vectors: np.ndarray, param: str, value: Any, filt: str) -> Any:
    return client.search(
        COLLECTION,
        data=vectors.tolist(),
        anns_field="vector",
        filter=filt,
        limit=K,
        search_params={"metric_type": "COSINE", "params": {param: value} if param else {}},
        output_fields=OUTPUT_FIELDS,
        consistency_level=LEVEL,
    )


def sweep_point(
    client: Any, data: Data, param: str, value: Any, args: argparse.Namespace
) -> dict[str, Any]:
    """Recall@10 and the 16-vector p50/p99 from the same requests (every query, 16 a
    request), then the 1-vector p50/p99; unfiltered and filtered."""
    out: dict[str, Any] = {param or "param": value}
    q = data.queries
    for label, filt, kth, allowed in (
        ("all", "", data.kth, None),
        ("filtered", FILTER, data.kth_filtered, data.allowed),
    ):
        for i in range(2):  # warm
            dense(client, q[16 * i : 16 * i + 16], param, value, filt)
        ids: list[list[str]] = []
        lat: list[float] = []
        for start in range(0, len(q), 16):
            t = time.perf_counter()
            res = dense(client, q[start : start + 16], param, value, filt)
            lat.append(time.perf_counter() - t)
            ids += [[str(h["id"]) for h in hits] for hits in res]
        one = timed(
            lambda i, f=filt: dense(client, q[i % len(q) : i % len(q) + 1], param, value, f),
            args.requests,
            args.budget_s,
        )
        out[label] = {
            "recall_at_10": recall_at_k(ids, data.vectors, q, kth, allowed),
            "one_vector": one,
            "sixteen_vectors": {
                "p50_ms": pct(lat, 50),
                "p99_ms": pct(lat, 99),
                "requests": len(lat),
            },
        }
    return out


def text_measures(client: Any, data: Data, args: argparse.Namespace) -> dict[str, Any]:
    """Filtered count, a browse page and BM25 search (each from the index-independent
    part of the store: measured once, on the first index)."""
    out: dict[str, Any] = {}
    expected = int(data.allowed.sum())
    try:

        def count(_: int) -> None:
            res = client.query(
                COLLECTION, filter=FILTER, output_fields=["count(*)"], consistency_level=LEVEL
            )
            got = int(res[0]["count(*)"])
            if got != expected:
                raise RuntimeError(f"count(*) {got}, expected {expected}")

        out["filtered_count"] = {
            **timed(count, args.count_requests, args.budget_s, warm=1),
            "rows": expected,
        }
    except Exception as exc:  # noqa: BLE001
        out["filtered_count"] = {"error": error(exc)}
    log(f"  count {out['filtered_count']}")
    try:

        def browse(_: int) -> None:
            res = client.query(
                COLLECTION,
                filter="",
                limit=20,
                offset=5000,
                output_fields=OUTPUT_FIELDS,
                consistency_level=LEVEL,
            )
            if len(res) != 20:
                raise RuntimeError(f"browse page of {len(res)} rows")

        out["browse_page"] = {
            **timed(browse, args.count_requests, args.budget_s, warm=1),
            "how": 'query(filter="", limit=20, offset=5000)',
        }
    except Exception as exc:  # noqa: BLE001
        out["browse_page"] = {"error": error(exc)}
    log(f"  browse {out['browse_page']}")
    return out


def bm25_search(client: Any, text: str) -> Any:
    return client.search(
        COLLECTION,
        data=[text],
        anns_field="text_bm25",
        limit=K,
        search_params={"metric_type": "BM25"},
        output_fields=OUTPUT_FIELDS,
        consistency_level=LEVEL,
    )


def hybrid(client: Any, data: Data, param: str, value: Any, ranker: Any, i: int) -> Any:
    from pymilvus import AnnSearchRequest

    j = i % len(data.queries)
    params = {"metric_type": "COSINE", "params": {param: value} if param else {}}
    return client.hybrid_search(
        COLLECTION,
        [
            AnnSearchRequest(
                data=[data.queries[j].tolist()], anns_field="vector", param=params, limit=K
            ),
            AnnSearchRequest(
                data=[data.query_texts[j]],
                anns_field="text_bm25",
                param={"metric_type": "BM25"},
                limit=K,
            ),
        ],
        ranker=ranker,
        limit=K,
        output_fields=OUTPUT_FIELDS,
    )


def hybrid_measures(
    client: Any, data: Data, param: str, value: Any, args: argparse.Namespace
) -> dict[str, Any]:
    """Dense + BM25 fused by RRF (findalike's default) and by findalike's weighted sum
    (``lexical_weight`` 0.3: WeightedRanker(0.7, 0.3, norm_score=True))."""
    from pymilvus import RRFRanker, WeightedRanker

    out: dict[str, Any] = {}
    for label, ranker in (
        ("rrf", RRFRanker(RRF_K)),
        ("weighted", WeightedRanker(0.7, 0.3, norm_score=True)),
    ):
        try:
            out[label] = timed(
                lambda i, r=ranker: hybrid(client, data, param, value, r, i),
                args.requests,
                args.budget_s,
            )
        except Exception as exc:  # noqa: BLE001
            out[label] = {"error": error(exc)}
    return out


# -- the run --------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", required=True, choices=sorted(INDEXES))
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--indexes", help="comma-separated (default: the engine's list)")
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=100)
    ap.add_argument("--efs", default="32,64,128")
    ap.add_argument("--nprobes", default="8,16,32,64,128")
    ap.add_argument("--requests", type=int, default=100, help="1-vector requests a point")
    ap.add_argument("--count-requests", type=int, default=20, help="counts, browse pages")
    ap.add_argument("--budget-s", type=float, default=20.0, help="at most per measurement")
    ap.add_argument("--insert-batch", type=int, default=2000, help="findalike's upsert batch")
    ap.add_argument("--index-timeout-s", type=float, default=3600)
    args = ap.parse_args()
    args.efs = [int(v) for v in args.efs.split(",")]
    args.nprobes = [int(v) for v in args.nprobes.split(",")]
    import pymilvus  # its logging configured first, then quieted: errors are recorded

    del pymilvus
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    logging.getLogger().setLevel(logging.CRITICAL)  # 2.5.1 logs on the root logger

    dist, prefix = VERSIONS.get(args.engine, ("milvus", "2.3."))
    if not metadata.version(dist).startswith(prefix):
        raise SystemExit(f"{args.engine} needs {dist} {prefix}*, not {metadata.version(dist)}")
    t_all = time.perf_counter()
    data = Data(args.data)
    me = psutil.Process()
    result: dict[str, Any] = {
        "engine": args.engine,
        "rows": data.n,
        "stage": "start",
        "rss_before_engine_mb": round(me.memory_info().rss / 2**20, 1),
    }
    rss = PeakRss(os.getpid())

    def save(stage: str) -> None:
        result["stage"] = stage
        result["wall_s"] = round(time.perf_counter() - t_all, 1)
        result["peak_rss_tree_mb"] = rss.mb()
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        tmp.replace(args.out)

    engine = Engine(args.engine)
    client = engine.client
    children = me.children(recursive=True)
    child_rss = PeakRss(children[0].pid) if children else None
    result["engine_start_s"] = engine.start_s
    result["versions"] = engine.versions()
    result["engine_process"] = (
        f"child process {children[0].name()}" if children else "in this process"
    )
    log(f"{args.engine} {result['versions']} ({result['engine_process']})")
    try:
        try:
            create(client, data.vectors.shape[1], bm25=True)
            result["bm25"] = "BM25 function (analyzer standard)"
        except Exception as exc:  # noqa: BLE001  (2.3: no BM25, no sparse vectors)
            result["bm25"] = {"refused": error(exc)}
            create(client, data.vectors.shape[1], bm25=False)
        has_bm25 = isinstance(result["bm25"], str)
        save("created")

        t0 = time.perf_counter()
        cpu0 = time.process_time()
        calls = 0.0
        for start in range(0, data.n, args.insert_batch):
            rows = data.rows(start, min(data.n, start + args.insert_batch))
            t = time.perf_counter()
            client.insert(COLLECTION, rows)
            calls += time.perf_counter() - t
        seconds = time.perf_counter() - t0
        result["insert"] = {
            "rows": data.n,
            "batch_rows": args.insert_batch,
            "how": "MilvusClient.insert of row dicts, one client, no index yet",
            "seconds": round(seconds, 1),
            "rows_per_s": round(data.n / seconds, 1),
            "insert_calls_s": round(calls, 1),
            "process_cpu_s": round(time.process_time() - cpu0, 1),
        }
        log(f"insert {result['insert']}")
        save("inserted")
        t = time.perf_counter()
        client.flush(COLLECTION)
        result["flush_s"] = round(time.perf_counter() - t, 2)
        log(f"flush {result['flush_s']} s")
        save("flushed")
        if has_bm25:
            try:
                result["bm25_index"] = build(
                    client, "text_bm25", "SPARSE_INVERTED_INDEX", "BM25", {}, args.index_timeout_s
                )
            except Exception as exc:  # noqa: BLE001
                result["bm25_index"] = {"error": error(exc)}
                has_bm25 = False
            log(f"bm25 index {result['bm25_index']}")

        result["indexes"] = {}
        kinds = args.indexes.split(",") if args.indexes else INDEXES[args.engine]
        first = True
        for kind in kinds:
            build_params, param, values = index_plan(kind, data.n, args)
            entry: dict[str, Any] = {"params": build_params}
            result["indexes"][kind] = entry
            if not first:
                client.release_collection(COLLECTION)
                client.drop_index(COLLECTION, "vector")
            try:
                entry.update(
                    build(client, "vector", kind, "COSINE", build_params, args.index_timeout_s)
                )
            except Exception as exc:  # noqa: BLE001  (2.5.1 refuses HNSW)
                entry["refused"] = error(exc)
                log(f"{kind} refused: {entry['refused']}")
                save(f"{kind} refused")
                continue
            t = time.perf_counter()
            client.load_collection(COLLECTION, timeout=3600)
            entry["load_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            dense(client, data.queries[:1], param, values[0], "")
            entry["first_search_ms"] = round((time.perf_counter() - t) * 1000, 1)
            entry["describe_after_load"] = wait_index(client, "vector", 60)
            log(f"{kind} {entry}")
            save(f"{kind} built")
            if first and has_bm25:
                result.update(text_measures(client, data, args))
                try:
                    result["bm25_search"] = timed(
                        lambda i: bm25_search(client, data.query_texts[i % len(data.queries)]),
                        args.requests,
                        args.budget_s,
                    )
                except Exception as exc:  # noqa: BLE001
                    result["bm25_search"] = {"error": error(exc)}
                log(f"  bm25 {result['bm25_search']}")
            elif first:
                result.update(text_measures(client, data, args))
            first = False
            save(f"{kind} text")
            entry["sweep"] = []
            for value in values:
                point = sweep_point(client, data, param, value, args)
                entry["sweep"].append(point)
                log(f"  {kind} {point}")
                save(f"{kind} sweep")
            ok = [p for p in entry["sweep"] if p["all"]["recall_at_10"] >= RECALL_GOAL]
            chosen = ok[0] if ok else entry["sweep"][-1]
            entry["chosen"] = {param or "param": chosen[param or "param"]}
            entry["chosen_reaches_goal"] = bool(ok)
            if has_bm25:
                entry["hybrid"] = hybrid_measures(
                    client, data, param, chosen[param or "param"], args
                )
                log(f"  hybrid {entry['hybrid']}")
            save(f"{kind} done")
        save("done")
    finally:
        if child_rss is not None:
            result["peak_rss_engine_process_mb"] = child_rss.stop()
        engine.stop()
        result["peak_rss_tree_mb"] = rss.stop()
        save(result["stage"])
    log(f"{args.engine} done in {result['wall_s']} s")


if __name__ == "__main__":
    main()
