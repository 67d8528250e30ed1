"""Scale benchmark of the store alone (issue 12, item 4): N 384-d vectors in the text
app's collection layout on a real Milvus 2.3.5 standalone server (PyPI ``milvus``).

Standalone on purpose: the module imports pymilvus, numpy and psutil only (``milvus``
when it starts the server itself; ``main`` reads the documents' text through
bench_text.py), nothing of the text model, so it runs on a machine without it (a lent
many-core machine, say), and engines_worker.py imports its helpers in another venv.
The encoder is not needed: the real vectors and the 500 query vectors come precomputed
as ``.npy``.

For one size N, in one run:
- the corpus of ``bench_scale.corpus()``: the first ``--real`` rows real (all-MiniLM-L6-v2
  over State of the Union sentences and pairs, ``--real-npy``), every further one a real
  vector chosen at random plus N(0, 0.03) noise a dimension, renormalised (same seed,
  same order), stored with its source's text;
- a collection like the text app's (``id`` primary key, ``item_id``, ``part``, 384-d
  FLOAT_VECTOR with COSINE, ``title``/``text``/``source``/``meta``; Strong consistency),
  rows inserted in chunks by column (ORM ``Collection.insert``, new ids; findalike's
  load upserts rows; the first ``--one-client-rows`` by one client, the rest by
  ``--insert-threads`` clients), then flush,
  then the HNSW index built (M 16, efConstruction 100 by default) until
  ``describe_index`` reports every row indexed, then load;
- recall@10 against exact numpy search over the same vectors (a hit counts when its true
  similarity ties or beats the 10th best), for each ``ef``; the store's p50/p99 and QPS
  at 1 client (one query a call, the text app's output fields) with consistency
  Strong (each search waits for the next time tick; findalike's default with several
  workers), Session (findalike's default with one worker: waits only for this
  process's own last write, here the load's, long consumed) and Bounded;
- 16 clients (threads) at the smallest ``ef`` with recall@10 >= 0.95, Bounded and
  Session;
- read your writes at that ``ef``: ``--ryw-rounds`` rounds of (insert
  ``--ryw-rows`` new rows through the searching client, then at once search one of them
  with Session): latency and whether the new row is the top hit (Session then waits
  for the server to consume that write: the cost right after a write);
- peak RSS of the Milvus process (and its children), sampled every 0.2 s;
- JSON written after every stage (``--out``, else ``$OUT/scale_store.json``), so a run
  stopped early still leaves what it measured.

Queries (``--queries-npy``): the 20 topic queries of bench_text.py plus the 480 SOTU
sentence pairs held out after the first ``--real`` documents, encoded beforehand, e.g.:

    .venv/bin/python benchmarks/bench_scale_store.py --n 20000 \\
        --real-npy benchmarks/results/cache/sotu_10000_all-MiniLM-L6-v2.npy \\
        --queries-npy benchmarks/results/cache/queries_sotu_500_all-MiniLM-L6-v2.npy \\
        --out benchmarks/results/scale_store_20k.json

(the queries file is made by ``--make-queries``, which does import findalike's encoder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
SEED = 20261125
NOISE_SIGMA = 0.03
HELD_OUT_QUERIES = 480
RECALL_GOAL = 0.95
K = 10
COLLECTION = "text_scale"
OUTPUT_FIELDS = ["item_id", "title", "text", "source", "meta"]  # the text app's


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(np.asarray(values), p)) * 1000, 2)


# -- vectors (bench_scale.py uses these too) ------------------------------------------


def corpus(n: int, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors (the real ones first, the rest real + noise) and each row's
    source (an index into the real rows)."""
    n_real = len(real)
    if n <= n_real:
        return real[:n], np.arange(n)
    rng = np.random.default_rng(SEED)
    sources = np.concatenate([np.arange(n_real), rng.integers(0, n_real, n - n_real)])
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[:n_real] = real
    for start in range(n_real, n, 100_000):
        stop = min(n, start + 100_000)
        block = real[sources[start:stop]] + rng.normal(
            0.0, NOISE_SIGMA, (stop - start, real.shape[1])
        ).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, sources


def exact_top(base: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """The k-th best cosine similarity of each query over ``base`` (brute force)."""
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for start in range(0, len(base), 100_000):
        scores = queries @ base[start : start + 100_000].T
        both = np.concatenate([best, scores], axis=1)
        part = np.partition(both, both.shape[1] - k, axis=1)[:, -k:]
        best = -np.sort(-part, axis=1)
    return best[:, k - 1]


def recall_at_k(
    ids: list[list[str]],
    base: np.ndarray,
    queries: np.ndarray,
    kth: np.ndarray,
    allowed: np.ndarray | None = None,
) -> float:
    """Share of the first K ids per query (rows ``int(id.split(":")[0], 16)``) whose
    true similarity ties or beats the K-th best: duplicates are not misses. With
    ``allowed`` (a boolean a row: the filter) a row outside it is a miss, and ``kth``
    is the K-th best among the allowed rows."""
    found = 0
    for q, row in enumerate(ids):
        idx = np.array([int(i.split(":")[0], 16) for i in row[:K]], dtype=np.int64)
        if len(idx):
            hit = base[idx] @ queries[q] >= kth[q] - 1e-5
            if allowed is not None:
                hit &= allowed[idx]
            found += int(np.sum(hit))
    return round(found / (K * len(ids)), 4)


# -- the server and its memory --------------------------------------------------------


class PeakRss:
    """The largest resident set of a process and its children, sampled."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for p in [self.proc, *self.proc.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def mb(self) -> float:
        return round(self.peak / 2**20, 1)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return self.mb()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """Milvus 2.3.5 standalone from PyPI ``milvus`` (embedded etcd, local storage,
    default configuration) on loopback, in a fresh folder. Its embedded etcd gets free
    ports (``ETCD_CONFIG_PATH``): by default its peer port is 2380 whatever ``milvus``
    resolves, so a second server on the machine (a test run's) failed to start."""

    def __init__(self, base: Path | None) -> None:
        from milvus import MilvusServer

        self.base = base or Path(tempfile.mkdtemp(prefix="bench-scale-store-milvus-"))
        etcd_port, peer = free_port(), free_port()
        self.server = MilvusServer(etcd_port=etcd_port)
        self.server.set_base_dir(str(self.base))
        config = self.base / "embed-etcd.yaml"
        config.write_text(
            f"listen-client-urls: http://127.0.0.1:{etcd_port}\n"
            f"advertise-client-urls: http://127.0.0.1:{etcd_port}\n"
            f"listen-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-cluster: default=http://127.0.0.1:{peer}\n"
        )
        saved = os.environ.get("ETCD_CONFIG_PATH")
        os.environ["ETCD_CONFIG_PATH"] = str(config)  # MilvusServer passes its environment
        try:
            self.server.start()
        finally:
            if saved is None:
                os.environ.pop("ETCD_CONFIG_PATH")
            else:
                os.environ["ETCD_CONFIG_PATH"] = saved
        self.pid = int(self.server.server_proc.pid)
        self.uri = f"http://127.0.0.1:{self.server.listen_port}"

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.base, ignore_errors=True)


# -- stages ---------------------------------------------------------------------------


def key_fields(client: Any, name: str) -> Any:
    """A new schema holding the text app's first fields (``id`` primary key, ``item_id``,
    ``part``), collection ``name`` dropped first if it exists (engines_worker.py too)."""
    from pymilvus import DataType, MilvusClient

    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=160)
    schema.add_field("item_id", DataType.VARCHAR, max_length=160)
    schema.add_field("part", DataType.INT64)
    return schema


def create(client: Any, dim: int) -> None:
    from pymilvus import DataType

    schema = key_fields(client, COLLECTION)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("title", DataType.VARCHAR, max_length=2048)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("source", DataType.VARCHAR, max_length=1024)
    schema.add_field("meta", DataType.JSON)
    client.create_collection(COLLECTION, schema=schema, consistency_level="Strong")


def insert(
    vectors: np.ndarray,
    docs: list[str],
    sources: np.ndarray,
    chunk: int,
    first_rows: int,
    uri: str,
    threads: int,
) -> dict[str, Any]:
    """Rows in chunks of ``chunk``: the first ``first_rows`` from one client (the rate
    comparable with one loader), the rest from ``threads`` clients (threads), to
    finish sooner; both rates and the whole are reported."""
    import warnings

    from pymilvus import Collection, connections

    warnings.filterwarnings("ignore", message=".*ORM-style")
    n = len(vectors)

    def columns(start: int) -> list[Any]:
        """One chunk by column (pymilvus packs columns several times faster than rows:
        the rows of a million would cost minutes of client CPU)."""
        idx = range(start, min(n, start + chunk))
        return [
            [f"{i:032x}:0" for i in idx],
            [f"{i:032x}" for i in idx],
            [0] * len(idx),
            vectors[idx.start : idx.stop],
            [f"doc {i}" for i in idx],
            [docs[j] for j in sources[idx.start : idx.stop]],
            ["bench"] * len(idx),
            [{"n": i} for i in idx],
        ]

    def collection(alias: str) -> Any:
        connections.connect(alias, uri=uri, timeout=600)
        return Collection(COLLECTION, using=alias)

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    split = min(n, first_rows)
    col = collection("insert-0")
    for start in range(0, split, chunk):
        col.insert(columns(start))
    one_s = time.perf_counter() - t0
    out: dict[str, Any] = {
        "rows": n,
        "chunk_rows": chunk,
        "method": "Collection.insert by column (new ids; findalike's load upserts rows)",
        "one_client": {
            "rows": split,
            "seconds": round(one_s, 1),
            "rows_per_s": round(split / one_s, 1),
            "client_cpu_s": round(time.process_time() - cpu0, 1),
        },
    }
    log(f"  {split} rows from 1 client in {one_s:.1f} s")
    if split < n:
        lock = threading.Lock()
        todo = iter(range(split, n, chunk))
        errors: list[BaseException] = []

        def work(k: int) -> None:
            alias = f"insert-{k + 1}"
            c = collection(alias)
            try:
                while not errors:
                    with lock:
                        start = next(todo, None)
                    if start is None:
                        return
                    c.insert(columns(start))
                    if (start + chunk) % 100_000 < chunk:
                        log(f"  ~{start + chunk} rows in {time.perf_counter() - t0:.0f} s")
            except BaseException as exc:  # noqa: BLE001  (re-raised below)
                errors.append(exc)
            finally:
                connections.disconnect(alias)

        t1 = time.perf_counter()
        pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        if errors:
            raise errors[0]
        rest_s = time.perf_counter() - t1
        out[f"{threads}_clients"] = {
            "rows": n - split,
            "seconds": round(rest_s, 1),
            "rows_per_s": round((n - split) / rest_s, 1),
        }
    seconds = time.perf_counter() - t0
    out["seconds"] = round(seconds, 1)
    out["rows_per_s"] = round(n / seconds, 1)
    out["client_cpu_s"] = round(time.process_time() - cpu0, 1)
    connections.disconnect("insert-0")
    return out


def build_index(client: Any, n: int, m: int, ef_construction: int, timeout_s: float) -> dict:
    index = client.prepare_index_params()
    index.add_index(
        field_name="vector",
        index_name="vector",
        index_type="HNSW",
        metric_type="COSINE",
        params={"M": m, "efConstruction": ef_construction},
    )
    t = time.perf_counter()
    client.create_index(COLLECTION, index)
    timeline = []
    deadline = time.monotonic() + timeout_s
    while True:
        desc = client.describe_index(COLLECTION, index_name="vector")
        indexed = int(desc.get("indexed_rows", 0))
        timeline.append([round(time.perf_counter() - t, 1), indexed])
        if indexed >= n or time.monotonic() > deadline:
            break
        if len(timeline) % 10 == 0:
            log(f"  indexed {indexed} of {n} after {time.perf_counter() - t:.0f} s")
        time.sleep(1)
    return {
        "type": "HNSW",
        "M": m,
        "efConstruction": ef_construction,
        "measured": "create_index after flush, until describe_index reports every row indexed",
        "build_s": round(time.perf_counter() - t, 1),
        "indexed_rows": indexed,
        "complete": indexed >= n,
        "indexed_rows_timeline_s": timeline[:: max(1, len(timeline) // 40)],
    }


def search_one(client: Any, q: np.ndarray, ef: int, level: str) -> Any:
    return client.search(
        COLLECTION,
        data=[q.tolist()],
        limit=K,
        output_fields=OUTPUT_FIELDS,
        search_params={"params": {"ef": ef}},
        consistency_level=level,
    )


def latency(client: Any, queries: np.ndarray, ef: int, level: str) -> dict[str, float]:
    lat = []
    t0 = time.perf_counter()
    for q in queries:
        t = time.perf_counter()
        search_one(client, q, ef, level)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    return {
        "p50_ms": pct(lat, 50),
        "p99_ms": pct(lat, 99),
        "qps_1": round(len(lat) / wall, 1),
    }


def sweep(
    client: Any,
    base: np.ndarray,
    queries: np.ndarray,
    kth: np.ndarray,
    efs: list[int],
    latency_queries: int,
    rows: list[dict[str, Any]],
    save: Any,
) -> None:
    """One row per ``ef`` appended to ``rows`` (and saved) as it is measured."""
    for q in queries[:20]:  # caches, connections
        search_one(client, q, efs[0], "Bounded")
    for ef in efs:
        hits: list[list[dict[str, Any]]] = []
        for start in range(0, len(queries), 50):
            hits += client.search(
                COLLECTION,
                data=queries[start : start + 50].tolist(),
                limit=K,
                output_fields=["item_id"],
                search_params={"params": {"ef": ef}},
                consistency_level="Strong",
            )
        row: dict[str, Any] = {
            "ef": ef,
            "recall_at_10": recall_at_k(
                [[str(h["id"]) for h in row] for row in hits], base, queries, kth
            ),
        }
        lq = queries[:latency_queries]
        row["strong"] = latency(client, lq, ef, "Strong")
        row["session"] = latency(client, lq, ef, "Session")
        row["bounded"] = latency(client, lq, ef, "Bounded")
        log(f"  {row}")
        rows.append(row)
        save()


def concurrent(
    uri: str, queries: np.ndarray, ef: int, clients: int, requests: int, level: str
) -> dict[str, Any]:
    """``clients`` threads, one MilvusClient each, ``requests`` searches in all."""
    from pymilvus import MilvusClient

    conns = [MilvusClient(uri=uri) for _ in range(clients)]
    lock = threading.Lock()
    latencies: list[float] = []
    counter = iter(range(requests))

    def work(c: Any, todo: Any, record: bool) -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            t = time.perf_counter()
            search_one(c, queries[i % len(queries)], ef, level)
            if record:
                with lock:
                    latencies.append(time.perf_counter() - t)

    def run(todo: Any, record: bool) -> float:
        threads = [threading.Thread(target=work, args=(c, todo, record)) for c in conns]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return time.perf_counter() - t

    run(iter(range(4 * clients)), record=False)  # connections
    wall = run(counter, record=True)
    for c in conns:
        c.close()
    return {
        "clients": clients,
        "ef": ef,
        "consistency": level,
        "requests": requests,
        "qps": round(requests / wall, 1),
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
    }


def read_your_writes(
    client: Any, dim: int, n: int, ef: int, rounds: int, rows: int
) -> dict[str, Any]:
    """``rounds`` times: insert ``rows`` new random unit vectors through ``client``, then
    at once search the last of them with Session; is it the top hit, and how long did
    the search take (it waits until the server has consumed this client's write)?"""
    rng = np.random.default_rng(SEED + 1)
    search_lat: list[float] = []
    insert_lat: list[float] = []
    found = 0
    for r in range(rounds):
        block = rng.normal(0.0, 1.0, (rows, dim)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        ids = [n + r * rows + j for j in range(rows)]
        data = [
            {
                "id": f"{i:032x}:0",
                "item_id": f"{i:032x}",
                "part": 0,
                "vector": block[j].tolist(),
                "title": f"new {i}",
                "text": "read your writes",
                "source": "bench",
                "meta": {"n": i},
            }
            for j, i in enumerate(ids)
        ]
        t = time.perf_counter()
        client.insert(COLLECTION, data)
        insert_lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        res = search_one(client, block[-1], ef, "Session")
        search_lat.append(time.perf_counter() - t)
        top = res[0][0]["id"] if res and len(res[0]) else None
        found += int(top == data[-1]["id"])
    return {
        "rounds": rounds,
        "rows_per_insert": rows,
        "ef": ef,
        "consistency": "Session",
        "how": "insert through the searching client, then at once search the last new "
        "vector (random unit vectors, unflushed, not in the corpus)",
        "search_p50_ms": pct(search_lat, 50),
        "search_p99_ms": pct(search_lat, 99),
        "search_max_ms": round(max(search_lat) * 1000, 2),
        "insert_p50_ms": pct(insert_lat, 50),
        "new_row_top_hit": found,
    }


def query_texts(real: int) -> list[str]:
    """bench_scale's 500 queries: bench_text's 20 topics, then the 480 SOTU documents
    after the first ``real`` (not stored)."""
    from bench_text import QUERIES, documents

    return [*QUERIES, *documents(real + HELD_OUT_QUERIES)[real:]]


def make_queries(real: int, path: Path) -> None:
    """Encode bench_scale's 500 queries (needs findalike and the text model)."""
    from findalike.encoders.sentence import MiniLMEncoder

    texts = query_texts(real)
    np.save(path, MiniLMEncoder().encode(texts).astype(np.float32))
    print(f"wrote {path} ({len(texts)} queries)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, required=True, help="rows")
    ap.add_argument("--real-npy", type=Path, required=True, help="real vectors (first rows)")
    ap.add_argument("--queries-npy", type=Path, required=True)
    ap.add_argument("--make-queries", action="store_true", help="write --queries-npy, stop")
    ap.add_argument("--uri", help="a running server (default: start one from `milvus`)")
    ap.add_argument("--milvus-pid", type=int, help="with --uri: its process, for peak RSS")
    ap.add_argument("--base-dir", type=Path, help="the started server's folder")
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=100)
    ap.add_argument("--efs", default="16,32,64,128")
    ap.add_argument("--latency-queries", type=int, default=50)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--concurrent-requests", type=int, default=1600)
    ap.add_argument("--ryw-rounds", type=int, default=20, help="read-your-writes rounds")
    ap.add_argument("--ryw-rows", type=int, default=10, help="rows inserted a round")
    ap.add_argument("--insert-chunk", type=int, default=5000)
    ap.add_argument(
        "--one-client-rows", type=int, default=100_000, help="rows inserted by 1 client first"
    )
    ap.add_argument("--insert-threads", type=int, default=4, help="clients for the rest")
    ap.add_argument("--index-timeout-s", type=float, default=3 * 3600)
    ap.add_argument("--out", type=Path, help="JSON file (default: $OUT/scale_store.json)")
    args = ap.parse_args()

    real = np.load(args.real_npy).astype(np.float32)
    if args.make_queries:
        make_queries(len(real), args.queries_npy)
        return
    out_path = args.out or Path(os.environ.get("OUT", ".")) / "scale_store.json"
    t_all = time.perf_counter()
    result: dict[str, Any] = {
        "stage": "start",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "os_cpu_count": os.cpu_count(),
            "affinity_cpus": len(os.sched_getaffinity(0)),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": _cpu_model(),
        },
        "vectors": {
            "rows": args.n,
            "real": min(args.n, len(real)),
            "generated": max(0, args.n - len(real)),
            "how": f"first {len(real)} real (all-MiniLM-L6-v2 over SOTU sentences and "
            f"pairs); the rest a random real vector + N(0, {NOISE_SIGMA}) a dimension, "
            f"renormalised (seed {SEED})",
        },
        "note": "Milvus and this client share the machine's cores",
    }

    def save(stage: str | None = None) -> None:
        if stage:
            result["stage"] = stage
        result["wall_s"] = round(time.perf_counter() - t_all, 1)
        if rss is not None:
            result["milvus_peak_rss_mb"] = rss.mb()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        tmp.replace(out_path)

    rss: PeakRss | None = None
    save()
    from bench_text import documents

    queries = np.load(args.queries_npy).astype(np.float32)
    docs = documents(len(real))
    t = time.perf_counter()
    vectors, sources = corpus(args.n, real)
    result["corpus_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    kth = exact_top(vectors, queries)
    result["exact_search_s"] = round(time.perf_counter() - t, 1)
    result["queries"] = len(queries)
    log(f"corpus {vectors.shape} in {result['corpus_s']} s, exact {result['exact_search_s']} s")

    server = None
    t = time.perf_counter()
    if args.uri:
        uri = args.uri
        if args.milvus_pid:
            rss = PeakRss(args.milvus_pid)
    else:
        server = Server(args.base_dir)
        uri = server.uri
        rss = PeakRss(server.pid)
    result["server"] = {"uri": uri, "start_s": round(time.perf_counter() - t, 1)}
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, timeout=600)
    try:
        result["server"]["version"] = client.get_server_version()
        log(f"server {result['server']}")
        create(client, vectors.shape[1])
        save("created")
        result["insert"] = insert(
            vectors,
            docs,
            sources,
            args.insert_chunk,
            args.one_client_rows,
            uri,
            args.insert_threads,
        )
        save("inserted")
        log(f"insert {result['insert']}")
        t = time.perf_counter()
        client.flush(COLLECTION)
        result["flush_s"] = round(time.perf_counter() - t, 1)
        save("flushed")
        log(f"flush {result['flush_s']} s")
        result["index"] = build_index(
            client, args.n, args.hnsw_m, args.ef_construction, args.index_timeout_s
        )
        save("indexed")
        log(f"index {result['index']['build_s']} s, {result['index']['indexed_rows']} rows")
        t = time.perf_counter()
        client.load_collection(COLLECTION, timeout=1800)
        result["load_s"] = round(time.perf_counter() - t, 1)
        save("loaded")
        log(f"load {result['load_s']} s")
        efs = [int(v) for v in args.efs.split(",")]
        result["sweep"] = []
        sweep(
            client,
            vectors,
            queries,
            kth,
            efs,
            args.latency_queries,
            result["sweep"],
            lambda: save("sweep"),
        )
        ok = [r for r in result["sweep"] if r["recall_at_10"] >= RECALL_GOAL]
        chosen = ok[0] if ok else result["sweep"][-1]
        result["chosen_ef"] = chosen["ef"]
        save("swept")
        result["concurrent"] = {}
        for level in ("Bounded", "Session"):
            result["concurrent"][level] = concurrent(
                uri, queries, chosen["ef"], args.clients, args.concurrent_requests, level
            )
            log(f"concurrent {result['concurrent'][level]}")
            save("concurrent")
        result["goals"] = {
            "recall_at_10_ge_0.95": chosen["recall_at_10"] >= RECALL_GOAL,
            "bounded_p50_le_20ms": chosen["bounded"]["p50_ms"] <= 20,
            "session_p50_le_20ms": chosen["session"]["p50_ms"] <= 20,
            "strong_p50_le_20ms": chosen["strong"]["p50_ms"] <= 20,
        }
        save("concurrent")
        result["read_your_writes"] = read_your_writes(
            client, vectors.shape[1], args.n, chosen["ef"], args.ryw_rounds, args.ryw_rows
        )
        log(f"read your writes {result['read_your_writes']}")
        save("done")
    finally:
        client.close()
        if rss is not None:
            result["milvus_peak_rss_mb"] = rss.stop()
        if server is not None:
            server.stop()
        save()
    log(f"DONE wrote {out_path} in {result['wall_s']} s")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
