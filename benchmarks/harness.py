"""What every benchmark needs to measure findalike over HTTP: a free loopback port
and the real server in a subprocess, ready before the clock starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from findalike.jobs import TERMINAL_STATES

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    data_dir: Path,
    port: int,
    *,
    apps: list[str],
    ready_path: str = "/api/health",
    timeout_s: float = 90.0,
    env: dict[str, str] | None = None,
    workers: int = 1,
) -> subprocess.Popen[bytes]:
    """findalike (uvicorn) on 127.0.0.1:``port`` over ``data_dir`` with ``apps``,
    returned once ``ready_path`` answers 2xx; killed and ``RuntimeError`` otherwise.
    ``workers`` above 1: ``findalike serve --workers N`` (on Milvus Lite it owns a
    ``milvus-lite server`` the workers share; stop it with ``terminate``, not ``kill``)."""
    full_env = {
        **os.environ,
        "FINDALIKE_DATA_DIR": str(data_dir),
        "FINDALIKE_APPS": json.dumps(apps),
        **(env or {}),
    }
    if workers > 1:
        command = [sys.executable, "-m", "findalike.cli", "serve", "--workers", str(workers)]
    else:
        command = [sys.executable, "-m", "uvicorn", "findalike.api.main:create_app", "--factory"]
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=full_env,
        cwd=REPO,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).is_success:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the server did not start (apps {apps}, data {data_dir})")


def wait_job(url: str, job_id: str, timeout_s: float = 600.0) -> dict[str, Any]:
    """The job's final record, read from its event stream (``/api/jobs/{id}/events``):
    one connection that the server writes to when the job changes. Polling with a new
    ``httpx.get`` every 0.1-0.2 s instead took 2 s of CPU per 10 s of a load, on the
    2 cores the server's model uses (each call builds a client and an SSL context)."""
    event = ""
    with httpx.stream("GET", f"{url}/api/jobs/{job_id}/events", timeout=timeout_s) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event in TERMINAL_STATES:
                job: dict[str, Any] = json.loads(line.partition(":")[2])
                return job
    raise RuntimeError(f"the event stream of job {job_id} ended before the job did")
