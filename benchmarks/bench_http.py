"""What the HTTP stack costs one worker: requests per second of trivial requests,
findalike's app against a bare FastAPI app on the same server, in one run.

Load comes from ``wrk`` (Debian package ``wrk``, C, one thread): it does not compete
for the cores the way a Python client would. Each server is one uvicorn worker in a
subprocess; each variant is measured twice, interleaved (A B A B), and the median of
its runs reported, since this 2-core machine is noisy.

- ``findalike``: the real app (Host, Origin and key checks, body limits, metrics,
  request ids, error handlers) with the DNA app (no model), over Milvus Lite.
- ``bare``: ``FastAPI()`` with one route: the floor of the server and framework.
- ``findalike serve``: the command a user runs (uvicorn picks the compiled loop and
  parser when installed; the access log on, written to a file here).

Paths: an unknown path (the 404 the issue measured, through every middleware and the
fallback route) and ``GET /api/dna/count`` (a Milvus call in a worker thread, cached).
Servers: uvicorn's pure-Python one (``--loop asyncio --http h11``) and its compiled
one (``--loop uvloop --http httptools``, what findalike installs and uvicorn picks).

Usage: python benchmarks/bench_http.py [--seconds 8] [--connections 16]
Writes benchmarks/results/http.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "http.json"
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import free_port  # noqa: E402

SERVERS = {"h11+asyncio": ("asyncio", "h11"), "httptools+uvloop": ("uvloop", "httptools")}


def bare_app() -> Any:
    """The reference: FastAPI with one route and nothing else."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def _uvicorn(target: str, loop: str, http: str) -> list[str]:
    """uvicorn on one app, the given loop and HTTP parser, no access log."""
    return [
        *(sys.executable, "-m", "uvicorn", target, "--factory", "--loop", loop, "--http", http),
        *("--log-level", "warning", "--no-access-log", "--app-dir", str(REPO / "benchmarks")),
    ]


SERVE = [sys.executable, "-m", "findalike.cli", "serve"]
"""What a user runs: uvicorn's choice of loop and parser, the access log on (to a file)."""


def _serve(command: list[str], port: int, env: dict[str, str], log: Path) -> Any:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{command} did not start")


def _wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    p50_ms = float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": p50_ms, "non_2xx": float(errors.group(1)) if errors else 0.0}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("needs wrk (apt-get install wrk)")
        return 2
    data_dir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    env = {"FINDALIKE_DATA_DIR": str(data_dir), "FINDALIKE_APPS": '["dna"]'}
    findalike_paths = ["/no-such-path", "/api/dna/count"]
    variants: list[tuple[str, list[str], list[str]]] = [("findalike serve", SERVE, findalike_paths)]
    for server, (loop, http) in SERVERS.items():
        app = "findalike.api.main:create_app_from_env"
        variants.append((f"findalike {server}", _uvicorn(app, loop, http), findalike_paths))
        variants.append((f"bare {server}", _uvicorn("bench_http:bare_app", loop, http), ["/ping"]))
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for label, command, paths in variants:
            port = free_port()
            proc = _serve(command, port, env, data_dir / "server.log")
            try:
                for path in paths:
                    url = f"http://127.0.0.1:{port}{path}"
                    _wrk(url, 1, args.connections)  # warm-up
                    result = _wrk(url, args.seconds, args.connections)
                    runs.setdefault(f"{label} {path}", []).append(result)
                    print(
                        f"{label:28} {path:15} {result['rps']:8.0f} req/s "
                        f"p50 {result['p50_ms']:.2f} ms",
                        flush=True,
                    )
            finally:
                proc.terminate()
                proc.wait(30)
    shutil.rmtree(data_dir, ignore_errors=True)
    summary = {
        name: {
            "rps_median": round(statistics.median(r["rps"] for r in rs), 1),
            "rps_runs": [round(r["rps"], 1) for r in rs],
            "p50_ms_median": round(statistics.median(r["p50_ms"] for r in rs), 3),
        }
        for name, rs in runs.items()
    }
    result = {
        "generator": f"wrk -t1 -c{args.connections} -d{args.seconds}s",
        "cores": os.cpu_count(),
        "runs": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
