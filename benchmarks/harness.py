"""What every benchmark needs to measure findalike over HTTP: a free loopback port,
the real server in a subprocess, ready before the clock starts, and ``wrk`` (Debian
package ``wrk``, written in C, one thread) to load it without competing with the
server for the 2 cores the way a Python load generator would."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
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


def side_venv(venv: Path, packages: Sequence[str], check: Sequence[str]) -> Path:
    """The python of a benchmark's own venv (another engine, a peer project): ``check``
    (a command) run with it first; if it fails, the venv is made again with
    ``packages`` (pip, from the local mirror) and checked once more. The venvs' folder
    is git-ignored."""
    python = venv / "bin" / "python"
    command = [str(python), *check]
    if python.exists() and subprocess.run(command, capture_output=True).returncode == 0:
        return python
    print(f"making {venv} (pip install {' '.join(packages)})", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    (venv.parent / ".gitignore").write_text("*\n")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    subprocess.run(command, check=True)
    return python


# -- wrk ----------------------------------------------------------------------------------


def _lua(s: str) -> str:
    """A Lua string literal of ``s`` (UTF-8 bytes; all but plain characters escaped)."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-./:,=?&%")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in s.encode()) + '"'


def wrk_script(requests: Sequence[tuple[str, str, str | None]], path: Path) -> Path:
    """A wrk script sending ``requests`` (method, path and query, JSON body or None)
    round robin, each connection from where the last one left off."""
    specs = [
        f"  {{{_lua(method)}, {_lua(target)}" + (f", {_lua(body)}}}," if body else "},")
        for method, target, body in requests
    ]
    path.write_text(
        "local specs = {\n" + "\n".join(specs) + "\n}\n"
        "local requests = {}\n"
        "init = function(args)\n"  # wrk.headers holds Host from here on
        "  for i, s in ipairs(specs) do\n"
        "    local headers = {}\n"
        "    for k, v in pairs(wrk.headers) do headers[k] = v end\n"
        '    if s[3] then headers["Content-Type"] = "application/json" end\n'
        "    requests[i] = wrk.format(s[1], s[2], headers, s[3])\n"
        "  end\n"
        "end\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #requests + 1\n"
        "  return requests[n]\n"
        "end\n"
    )
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(out: str, pattern: str) -> float:
    m = re.search(pattern + r"\s+([\d.]+)(us|ms|s|m)\b", out)
    return round(float(m.group(1)) * _UNITS[m.group(2)], 2) if m else float("nan")


def wrk(url: str, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    """One ``wrk -t1 -cN`` run of ``script`` against ``url``: latency percentiles (ms),
    requests/s; a RuntimeError if any answer was not 2xx/3xx."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "30s"]
    command += ["--latency", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if non_2xx or not requests:
        raise RuntimeError(f"wrk on {url} ({script.name}): errors\n{out}")
    return {
        "p50_ms": _ms(out, "50%"),
        "p99_ms": _ms(out, "99%"),
        "mean_ms": _ms(out, "Latency"),
        "rps": float(rps.group(1)) if rps else float("nan"),
        "requests": int(requests.group(1)),
        "non_2xx": 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }
