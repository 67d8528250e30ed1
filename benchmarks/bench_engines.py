"""Which embedded engine, by measurement (issue 25, item 1): the same store workload on
Milvus Lite 3.2.2 (pure Python), Milvus Lite 2.5.1 (the C++ core, findalike's default)
and the Milvus 2.3.5 standalone server (PyPI ``milvus``, on loopback), in one run.

    .venv/bin/python benchmarks/bench_engines.py                  # N = 100000, ~11 min
    .venv/bin/python benchmarks/bench_engines.py --sizes 10000    # ~3 min

(on 2 cores; the first run also encodes 20000 sentences, ~8 min, and pip-installs the
side venv.) Writes (merges into) benchmarks/results/engines.json after every stage of
every engine, and prints a table at the end (``--table``: only the table, from that
file).

Each engine runs in its own child process (engines_worker.py, with that engine's venv
python: Milvus Lite 2.5.1 has the same PyPI name as 3.2.2, so the one this venv lacks
lives in benchmarks/.venvs/lite<version>, made here on the first run with pip), one after the other,
on the same data, prepared here once a size:
- N 384-d vectors: the first ``--real`` (20000) all-MiniLM-L6-v2 over State of the Union
  sentences (bench_text.py's cache under benchmarks/results/cache/, minutes of encoding
  the first time), every further one a real vector + N(0, 0.03) noise a dimension,
  renormalised (bench_scale_store.corpus), stored with its source's text; ``year``
  uniform in 1950..2049 (``year >= 2000``: about half the rows);
- 500 queries: bench_text's 20 topics and 480 held-out SOTU sentences
  (bench_scale_store.query_texts), encoded; their text, cut to its first 10 words, is
  the BM25 query;
- the exact k-th best cosine of each query over all rows and over the filtered rows.

What each engine measures (engines_worker.py): insert (MilvusClient.insert of row dicts
in batches of 2000, one client) and flush; the BM25 index; for each vector index the
engine takes (3.2.2: HNSW M 16 efConstruction 100, FLAT; 2.5.1: FLAT, IVF_FLAT with
nlist 4 sqrt(N), AUTOINDEX, and HNSW to record its refusal; 2.3: HNSW) its build and
load, then for each search parameter (``ef`` 32,64,128; ``nprobe`` 8..128) recall@10
against exact search (a hit counts when its true cosine ties or beats the 10th best and,
filtered, it passes the filter), p50/p99 of 1-vector and 16-vector requests, top 10,
output fields item_id, part, text, with and without the filter ``year >= 2000``; hybrid
(dense + BM25, RRF and findalike's weighted sum) at the smallest parameter reaching
recall@10 >= 0.95; once an engine: filtered ``count(*)``, a browse page
(``query(filter="", limit=20, offset=5000)``) and BM25 search p50; peak RSS of the
worker's process tree (the engine's process included; 3.2.2 runs inside the worker),
sampled every 0.2 s. A measurement stops early past ``--budget-s`` (``requests`` says
how many ran). The load generator and the engines share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness
import numpy as np
import psutil
from bench_scale_store import SEED, _cpu_model, corpus, exact_top, query_texts
from bench_text import CACHE, RESULTS, cached_vectors, documents

HERE = Path(__file__).resolve().parent
LITE_VERSIONS = {"lite322": "3.2.2", "lite251": "2.5.1"}
SIDE_PACKAGES = {
    "3.2.2": ["milvus-lite==3.2.2", "pymilvus==3.0.2", "faiss-cpu==1.14.3", "numpy", "psutil"],
    # 2.5.1 imports pkg_resources (gone from setuptools 80)
    "2.5.1": ["milvus-lite==2.5.1", "pymilvus==3.0.2", "setuptools<80", "numpy", "psutil"],
}
"""The side venv of the Lite version this venv does not have (one PyPI name, one version
a venv): 2.5.1 since findalike's default; 3.2.2 before it."""
ENGINES = {
    "lite322": "Milvus Lite 3.2.2 (pure Python, in the worker process), embedded .db",
    "lite251": "Milvus Lite 2.5.1 (C++ core, its server a child process), embedded .db",
    "server23": "Milvus 2.3.5 standalone (PyPI milvus, embedded etcd), loopback gRPC",
}
BM25_WORDS = 10
PASSED = ["requests", "count_requests", "budget_s", "efs", "nprobes", "insert_batch"]
"""Options handed on to engines_worker.py as they are."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def side_python(version: str) -> Path:
    """A side venv's python with Milvus Lite ``version``, made (pip) when missing."""
    venv = HERE / ".venvs" / f"lite{version.replace('.', '')}"
    check = ["-c", "import milvus_lite, psutil, pymilvus"]
    return harness.side_venv(venv, SIDE_PACKAGES[version], check)


def python_of(engine: str) -> Path:
    """This venv's python where it has the engine's Lite version, else a side venv's."""
    from importlib.metadata import version

    wanted = LITE_VERSIONS.get(engine)
    if wanted is None or version("milvus-lite") == wanted:
        return Path(sys.executable)
    return side_python(wanted)


def prepare(n: int, n_real: int) -> tuple[Path, dict[str, Any]]:
    """The files engines_worker.Data reads, for ``n`` rows, in a folder of the cache."""
    from findalike.encoders.sentence import MiniLMEncoder

    folder = CACHE / f"engines_{n}_{n_real}"
    folder.mkdir(parents=True, exist_ok=True)
    docs = documents(n_real)
    path = CACHE / f"sotu_{n_real}_{MiniLMEncoder.name}.npy"
    real = np.load(path) if path.exists() else cached_vectors(MiniLMEncoder(), docs)
    vectors, sources = corpus(n, real.astype(np.float32))
    texts = query_texts(n_real)
    qpath = CACHE / f"queries_sotu_500_after_{n_real}_{MiniLMEncoder.name}.npy"
    if not qpath.exists():
        np.save(qpath, MiniLMEncoder().encode(texts).astype(np.float32))
    queries = np.load(qpath).astype(np.float32)
    years = np.random.default_rng(SEED + 2).integers(1950, 2050, n)
    allowed = years >= 2000
    np.save(folder / "vectors.npy", vectors)
    np.save(folder / "sources.npy", sources)
    np.save(folder / "years.npy", years)
    (folder / "docs.json").write_text(json.dumps(docs))
    np.save(folder / "queries.npy", queries)
    cut = [" ".join(t.split()[:BM25_WORDS]) for t in texts]
    (folder / "query_texts.json").write_text(json.dumps(cut))
    np.save(folder / "kth.npy", exact_top(vectors, queries))
    np.save(folder / "kth_filtered.npy", exact_top(vectors[allowed], queries))
    return folder, {
        "rows": n,
        "real": min(n, n_real),
        "generated": max(0, n - n_real),
        "filtered_rows": int(allowed.sum()),
        "queries": len(queries),
    }


def run_engine(engine: str, folder: Path, part: Path, args: argparse.Namespace, merge: Any) -> int:
    """engines_worker.py for ``engine`` over ``folder``; ``merge(part_json)`` whenever
    its result file changes; the exit code (the worker is killed past ``--timeout-s``)."""
    command = [
        str(python_of(engine)),
        str(HERE / "engines_worker.py"),
        "--engine",
        engine,
        "--data",
        str(folder),
        "--out",
        str(part),
    ]
    for name in PASSED:
        if getattr(args, name) is not None:
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    part.unlink(missing_ok=True)
    proc = subprocess.Popen(command, cwd=HERE, start_new_session=True)
    deadline = time.monotonic() + args.timeout_s
    seen = 0.0

    def pick_up() -> None:
        nonlocal seen
        if part.exists() and part.stat().st_mtime != seen:
            seen = part.stat().st_mtime
            merge(json.loads(part.read_text()))

    while proc.poll() is None:
        time.sleep(2)
        pick_up()
        if time.monotonic() > deadline:
            log(f"{engine}: past {args.timeout_s} s, stopping it")
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    pick_up()
    return int(proc.returncode)


# -- the table ------------------------------------------------------------------------


def _ms(m: dict[str, Any] | None) -> str:
    """A p50 in ms; ``*``: stopped early by ``--budget-s`` (fewer requests than asked)."""
    if not m:
        return "-"
    if "error" in m:
        return "error"
    cut = "*" if m.get("requests", 0) < m.get("asked", 0) else ""
    return f"{m['p50_ms']:g}{cut}"


def _pair(m: dict[str, Any] | None) -> str:
    return "-" if not m or "error" in m else f"{_ms(m)} / {m['p99_ms']:g}"


def table(result: dict[str, Any]) -> str:
    """Markdown tables of every size's runs: one row an engine, then one row a search
    point (index, parameter); ``>`` marks the smallest parameter with recall@10 >= 0.95
    (hybrid is measured there), ``!`` the largest where none reaches it (hybrid there),
    ``*`` a measurement cut by ``--budget-s``."""
    lines = []
    for n, runs in result.get("runs", {}).items():
        lines += [
            f"N = {n}",
            "",
            "| engine | insert rows/s | flush s | BM25 index s | count(*) filtered p50 ms "
            "| browse p50 ms | BM25 p50 ms | peak RSS tree MB (before engine) "
            "| engine process MB | wall s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for engine, r in runs.items():
            no_bm25 = "no BM25" if isinstance(r.get("bm25"), dict) else "-"
            bm25 = r.get("bm25_index") or {}
            lines.append(
                f"| {engine} | {r.get('insert', {}).get('rows_per_s', '-')} "
                f"| {r.get('flush_s', '-')} | {bm25.get('build_s', no_bm25)} "
                f"| {_ms(r.get('filtered_count'))} | {_ms(r.get('browse_page'))} "
                f"| {_ms(r.get('bm25_search')) if bm25 else no_bm25} "
                f"| {r.get('peak_rss_tree_mb', '-')} ({r.get('rss_before_engine_mb', '-')}) "
                f"| {r.get('peak_rss_engine_process_mb', 'in-process')} | {r.get('wall_s')} |"
            )
        lines += [
            "",
            "| engine | index | param | build s | load s | recall@10 | recall@10 filtered "
            "| 1-vec p50/p99 ms | 1-vec filtered | 16-vec p50/p99 ms | 16-vec filtered "
            "| hybrid RRF p50 | hybrid weighted p50 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for engine, r in runs.items():
            for kind, entry in r.get("indexes", {}).items():
                if "refused" in entry:
                    lines.append(f"| {engine} | {kind} | refused: {entry['refused'][:90]} |")
                    continue
                for point in entry.get("sweep", []):
                    param = " ".join(
                        f"{k} {v}" for k, v in point.items() if k not in ("all", "filtered")
                    ).replace("param None", "-")
                    chosen = entry.get("chosen", {}).items() <= point.items()
                    mark = ("> " if entry.get("chosen_reaches_goal") else "! ") if chosen else ""
                    hyb = entry.get("hybrid", {}) if chosen else {}
                    a, f = point["all"], point["filtered"]
                    lines.append(
                        f"| {engine} | {kind} | {mark}{param} "
                        f"| {entry.get('build_s')} | {entry.get('load_s')} "
                        f"| {a['recall_at_10']} | {f['recall_at_10']} "
                        f"| {_pair(a['one_vector'])} | {_pair(f['one_vector'])} "
                        f"| {_pair(a['sixteen_vectors'])} | {_pair(f['sixteen_vectors'])} "
                        f"| {_ms(hyb.get('rrf'))} | {_ms(hyb.get('weighted'))} |"
                    )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000", help="comma-separated N")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"of {', '.join(ENGINES)}")
    ap.add_argument("--real", type=int, default=20_000, help="real vectors (the rest noisy)")
    ap.add_argument("--out", type=Path, default=RESULTS / "engines.json")
    ap.add_argument("--timeout-s", type=float, default=3 * 3600, help="per engine and size")
    ap.add_argument("--table", action="store_true", help="print --out's table, run nothing")
    ap.add_argument("--requests", type=int, help="1-vector requests a point (worker: 100)")
    ap.add_argument("--count-requests", type=int, help="counts, browse pages (worker: 20)")
    ap.add_argument("--budget-s", type=float, help="at most per measurement (worker: 20)")
    ap.add_argument("--efs", help="HNSW ef values (worker: 32,64,128)")
    ap.add_argument("--nprobes", help="IVF nprobe values (worker: 8,16,32,64,128)")
    ap.add_argument("--insert-batch", type=int, help="rows an insert (worker: 2000)")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    engines = args.engines.split(",")
    for engine in engines:
        if engine not in ENGINES:
            raise SystemExit(f"unknown engine {engine!r}")
        python_of(engine)  # the side venv before the clock starts
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    result.update(
        {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": " ".join(["benchmarks/bench_engines.py", *sys.argv[1:]]),
            "machine": {
                "cpus": os.cpu_count(),
                "affinity_cpus": len(os.sched_getaffinity(0)),
                "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
                "processor": _cpu_model(),
                "platform": platform.platform(),
            },
            "note": f"the load generator (one client) and each engine shared the machine's "
            f"{os.cpu_count()} cores, with other work running at times (load average "
            f"recorded per run)",
            "engines": {e: ENGINES[e] for e in engines},
            "vectors": f"first {args.real} real all-MiniLM-L6-v2 vectors of SOTU "
            f"sentences, the rest a random real one + N(0, 0.03) a dimension, "
            f"renormalised; year uniform in 1950..2049",
            "queries": "bench_text's 20 topics + 480 held-out SOTU sentences (vectors); "
            f"BM25 and hybrid: their first {BM25_WORDS} words",
        }
    )
    runs = result.setdefault("runs", {})

    def write() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        tmp.replace(args.out)

    for n in (int(s) for s in args.sizes.split(",")):
        t = time.perf_counter()
        folder, about = prepare(n, args.real)
        log(f"N {n}: data in {time.perf_counter() - t:.1f} s ({about})")
        size: dict[str, Any] = runs.setdefault(str(n), {})
        for engine in engines:
            log(f"== {engine} at {n}")
            extra = {"data": about, "load_average_before": [round(x, 2) for x in os.getloadavg()]}

            def merge(
                part: dict[str, Any], key: str = engine, more: dict = extra, into: dict = size
            ) -> None:
                into[key] = {**part, **more}
                write()

            part = args.out.parent / f"engines_{engine}_{n}.part.json"
            rc = run_engine(engine, folder, part, args, merge)
            size.setdefault(engine, {"data": about})
            size[engine]["exit_code"] = rc
            size[engine]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            write()
            part.unlink(missing_ok=True)
            log(f"{engine} at {n}: exit {rc}")
    print(table(result))


if __name__ == "__main__":
    main()
