"""Peak memory of ``findalike serve --demo`` (issue 11: "peak RSS of `serve --demo`
reported, and not higher than today").

Starts the real server (one worker, the embedded Milvus Lite file) over an empty data
folder with the demo loads on, samples the memory of the server process and its children
every 0.5 s (psutil: RSS, and USS, the memory no other process shares) until every demo
job and its follow-ups have finished, then asks each app one search and samples for a few
more seconds. Reports the peak of the process tree's RSS and USS, the time the demo took,
and each job's final state.

``--checkout DIR`` measures another checkout of findalike (its ``src/`` put first on
``PYTHONPATH``, run from its folder, the same virtual environment): the baseline before
issue 11 is ``git worktree add /tmp/base eb3abda``. Run both in one sitting, one after the
other, on a quiet machine: memory does not depend on the load the way timings do, but
the demo's duration does.

Writes (merges into) benchmarks/results/memory.json under ``--label``.

    .venv/bin/python benchmarks/bench_memory.py --label head
    .venv/bin/python benchmarks/bench_memory.py --checkout /tmp/base --label before-issue-11

``--apps`` serves only those apps: the baseline had fewer apps, so the demo loaded less
(``--apps text,qa,image,audio,video,objects,molecule,dna,recommend`` is its list).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from harness import free_port

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SAMPLE_S = 0.5
QUIET_S = 15.0
"""The demo is done when no job has been queued or running for this long."""
QUERIES = {
    "text": {"query": "sending astronauts to Mars", "top_k": 10},
    "qa": {"question": "How do I sort a hash by value?", "top_k": 5},
    "molecule": {"query": "CC(=O)Oc1ccccc1C(=O)O", "top_k": 10},
}


class TreeMemory:
    """Peak RSS and USS (MB) of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_rss = 0.0
        self.peak_uss = 0.0
        self.started = time.monotonic()
        self.at_peak: dict[str, float] = {}
        """Each process's RSS (MB) in the sample where the tree's RSS peaked."""
        self.peak_at_s = 0.0
        self.peak_wall = 0.0
        self.process_peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        rss = uss = 0
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        split: dict[str, float] = {}
        for proc in procs:
            try:
                info = proc.memory_full_info()
                name = process_name(proc)
            except psutil.Error:
                continue
            rss += info.rss
            uss += info.uss
            split[name] = split.get(name, 0.0) + info.rss / 2**20
        for name, mb in split.items():
            self.process_peaks[name] = max(self.process_peaks.get(name, 0.0), mb)
        if rss / 2**20 > self.peak_rss:
            self.peak_rss = rss / 2**20
            self.at_peak = split
            self.peak_at_s = time.monotonic() - self.started
            self.peak_wall = time.time()
        self.peak_uss = max(self.peak_uss, uss / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {
            "peak_rss_mb": round(self.peak_rss, 1),
            "peak_uss_mb": round(self.peak_uss, 1),
            "peak_at_s": round(self.peak_at_s, 1),
            "at_peak_mb": {k: round(v, 1) for k, v in sorted(self.at_peak.items())},
            "process_peaks_mb": {k: round(v, 1) for k, v in sorted(self.process_peaks.items())},
        }


def process_name(proc: psutil.Process) -> str:
    """A short name for a process of the tree: the server, Milvus Lite, or what it runs."""
    cmdline = " ".join(proc.cmdline())
    if "findalike.cli" in cmdline:
        return "findalike serve"
    if "milvus" in cmdline.lower():
        return "milvus lite"
    return proc.name()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not answer /api/health")


def wait_demo(url: str, timeout_s: float) -> list[dict[str, Any]]:
    """Every job once none has been queued or running for QUIET_S."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        jobs = httpx.get(f"{url}/api/jobs", params={"limit": 200}, timeout=30).json()["data"]
        busy = [j for j in jobs if j["state"] in ("queued", "running")]
        if jobs and not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= QUIET_S:
                return jobs
        else:
            quiet_since = None
        time.sleep(1.0)
    raise RuntimeError(f"the demo did not finish in {timeout_s:.0f} s: {jobs}")


def measure(checkout: Path, timeout_s: float, apps: list[str] | None) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FINDALIKE_DATA_DIR": str(data),
        "PYTHONPATH": str(checkout / "src"),
    }
    env.pop("FINDALIKE_APPS", None)
    if apps:
        env["FINDALIKE_APPS"] = json.dumps(apps)
    command = [sys.executable, "-m", "findalike.cli", "serve", "--demo"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=checkout)
    memory = TreeMemory(proc.pid)
    try:
        wait_ready(url, proc, 300)
        ready_s = time.perf_counter() - started
        jobs = wait_demo(url, timeout_s)
        demo_s = time.perf_counter() - started - QUIET_S
        searched = {}
        for app, body in QUERIES.items():
            r = httpx.post(f"{url}/api/{app}/search", json=body, timeout=120)
            searched[app] = r.status_code
        time.sleep(3)
    finally:
        peaks = memory.stop()
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)
    running_at_peak = [
        f"{job['app']} {job['kind']}"
        for job in jobs
        if job["started_at"]
        and datetime.fromisoformat(job["started_at"]).timestamp() <= memory.peak_wall
        and (
            not job["finished_at"]
            or datetime.fromisoformat(job["finished_at"]).timestamp() >= memory.peak_wall
        )
    ]
    states: dict[str, int] = {}
    for job in jobs:
        states[job["state"]] = states.get(job["state"], 0) + 1
    return {
        **peaks,
        "ready_s": round(ready_s, 1),
        "demo_s": round(demo_s, 1),
        "jobs": states,
        "jobs_running_at_peak": running_at_peak,
        "searches": searched,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkout", type=Path, default=REPO, help="a findalike checkout")
    ap.add_argument("--label", default="head")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds for the demo")
    ap.add_argument(
        "--apps",
        default="",
        help="comma-separated apps to serve (default: all); compare checkouts on the same apps",
    )
    args = ap.parse_args()
    apps = [a for a in args.apps.split(",") if a] or None
    checkout = args.checkout.resolve()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True
    ).stdout.strip()
    load_before = os.getloadavg()
    result = measure(checkout, args.timeout, apps)
    result.update(
        apps=apps or "all",
        commit=commit,
        load_average_before=[round(x, 1) for x in load_before],
        load_average_after=[round(x, 1) for x in os.getloadavg()],
        cpus=os.cpu_count(),
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    print(json.dumps(result, indent=2), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "memory.json"
    merged = json.loads(out.read_text()) if out.exists() else {}
    merged[args.label] = result
    out.write_text(json.dumps(merged, indent=2))


if __name__ == "__main__":
    main()
