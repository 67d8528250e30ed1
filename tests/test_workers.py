"""``findalike serve --workers 2`` (issue 12, item 2), on Milvus Lite (the server owns a
``milvus-lite server`` the workers share) and on the real Milvus 2.3 server: a load
posted to one worker runs once and is followed and searched from every worker; a
worker killed mid-job leaves the job ``interrupted`` and a reload skips what was
stored; ``/metrics`` adds up the workers; stopping the server stops all it started."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, _free_port

SIXTEEN_S = REPO / "datasets" / "dna" / "ten_16s.100.fa.gz"


def _fasta(n: int | None = None) -> bytes:
    """The first ``n`` records of the 16S set (all for None) without ambiguous letters
    (which the app refuses)."""
    text = gzip.decompress(SIXTEEN_S.read_bytes()).decode()
    records = [">" + r for r in text.split(">")[1:]]
    plain = [r for r in records if set(r.split("\n", 1)[1].replace("\n", "")) <= set("ACGTN")]
    return "".join(plain[:n]).encode()


class Workers:
    """``findalike serve --workers 2`` in a subprocess, and one HTTP client pinned to each
    worker (a kept-alive connection stays with the worker that accepted it)."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "findalike.cli", "serve", "--workers", "2"]
                + ["--port", str(self.port)],
                env={**os.environ, "FINDALIKE_DATA_DIR": str(data_dir), **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.health_requests = 0
        self.pinned: dict[int, httpx.Client] = {}

    def health(self, client: httpx.Client) -> dict[str, Any]:
        r = client.get("/api/health")
        self.health_requests += 1
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def pin_each_worker(self, workers: int = 2) -> dict[int, httpx.Client]:
        deadline = time.monotonic() + 120
        while len(self.pinned) < workers:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"only workers {list(self.pinned)} answered"
            client = httpx.Client(base_url=self.url, timeout=60)
            try:
                pid = self.health(client)["worker"]
            except httpx.TransportError:
                client.close()
                time.sleep(0.3)
                continue
            if pid in self.pinned:
                client.close()
            else:
                self.pinned[pid] = client
        return self.pinned

    def stop(self) -> None:
        for client in self.pinned.values():
            client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(params=["lite", pytest.param("server", marks=pytest.mark.server)])
def workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Workers, list[psutil.Process]]]:
    env = {
        "FINDALIKE_APPS": '["dna"]',
        "FINDALIKE_INSERT_BATCH_ROWS": "64",  # many small writes: a load to kill midway
        "FINDALIKE_ENCODE_BATCH_SIZE": "64",
    }
    if request.param == "server":
        env["FINDALIKE_MILVUS_URI"] = request.getfixturevalue("milvus_server_uri")
        env["FINDALIKE_COLLECTION_PREFIX"] = f"w{uuid.uuid4().hex[:8]}_"
    server = Workers(tmp_path, env)
    try:
        server.pin_each_worker()
        started = psutil.Process(server.proc.pid).children(recursive=True)
        yield server, started
    finally:
        server.stop()


def _until(get: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + 180
    body = get()
    while not done(body):
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
        body = get()
    return body


def _metric(client: httpx.Client, name: str, **labels: str) -> float:
    r = client.get("/metrics")
    assert r.status_code == 200
    return sum(
        s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_two_workers_share_loads_jobs_searches_and_metrics(
    workers: tuple[Workers, list[psutil.Process]],
) -> None:
    server, started = workers
    (pid_a, a), (pid_b, b) = server.pinned.items()
    assert pid_a != pid_b

    # a load posted to worker A runs once (in A) and is followed from B as it goes
    small = _fasta(200)
    posted = a.post("/api/dna/load", files=[("files", ("first.fa", small))])
    assert posted.status_code == 202
    job_id = posted.json()["id"]
    seen_from_b = _until(
        lambda: b.get(f"/api/jobs/{job_id}").json(), lambda j: j["state"] == "done"
    )
    assert (seen_from_b["done"], seen_from_b["skipped"], seen_from_b["worker"]) == (
        200,
        0,
        pid_a,
    ), str(seen_from_b)
    assert a.get(f"/api/jobs/{job_id}").json()["done"] == 200
    listed = b.get("/api/jobs", params={"app": "dna"}).json()["data"]
    assert [j["id"] for j in listed] == [job_id]  # one job, run once

    # every worker searches what A stored
    query = small.decode().split(">")[7]
    wanted = ">" + query
    item_ids = set()
    for client in (a, b):
        assert client.get("/api/dna/count").json()["items"] == 200
        hits = client.post(
            "/api/dna/search", json={"sequence": wanted.split("\n", 1)[1], "top_k": 1}
        )
        assert hits.status_code == 200, hits.text
        item_ids.add(hits.json()["hits"][0]["item_id"])
    assert len(item_ids) == 1

    # /metrics from either worker adds both up: every health check, every search
    for client in (a, b):
        assert (
            _metric(client, "findalike_request_seconds_count", route="/api/health")
            == server.health_requests
        )
        # the other worker's counters are at most SNAPSHOT_S old
        searches = _until(
            lambda c=client: {"n": _metric(c, "findalike_search_batch_callers_sum", app="dna")},
            lambda m: m["n"] >= 2,
        )
        assert searches["n"] == 2
    assert _metric(a, "findalike_jobs_finished_total", state="done") == 1

    # a worker killed mid-job: the job is interrupted, a reload skips what was stored
    everything = _fasta()
    total = everything.count(b">")
    job_id = a.post("/api/dna/load", files=[("files", ("all.fa", everything))]).json()["id"]
    running = _until(
        lambda: b.get(f"/api/jobs/{job_id}").json(),
        lambda j: j["done"] > 0 or j["state"] != "running" and j["state"] != "queued",
    )
    assert running["state"] == "running" and 0 < running["done"] < total - 200, running
    os.kill(pid_a, signal.SIGKILL)
    interrupted = b.get(f"/api/jobs/{job_id}").json()
    assert interrupted["state"] == "interrupted", interrupted
    stored = b.get("/api/dna/count").json()["items"]
    assert 200 + running["done"] <= stored < total
    again = b.post("/api/dna/load", files=[("files", ("all.fa", everything))]).json()["id"]
    reloaded = _until(lambda: b.get(f"/api/jobs/{again}").json(), lambda j: j["state"] == "done")
    assert reloaded["skipped"] == stored and reloaded["done"] == total - stored
    assert b.get("/api/dna/count").json()["items"] == total  # nothing lost or doubled

    # the supervisor replaced the killed worker; stopping the server stops everything
    server.pinned.pop(pid_a).close()
    server.pin_each_worker()
    assert len(server.pinned) == 2 and pid_a not in server.pinned
    everyone = psutil.Process(server.proc.pid).children(recursive=True)
    server.stop()
    assert server.proc.returncode is not None
    for proc in {*started, *everyone}:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, proc
