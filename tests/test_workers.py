"""``findalike serve --workers 2`` (issue 12, item 2), on Milvus Lite (the server owns a
Milvus Lite server the workers share) and on the real Milvus 2.3 server: a load
posted to one worker runs once and is followed and searched from every worker; a
worker killed mid-job leaves the job ``interrupted`` and a reload skips what was
stored; ``/metrics`` adds up the workers; stopping the server stops all it started."""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from findalike.store import VectorStore
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
    """``findalike serve --workers 2`` in a subprocess. ``client(worker=..)`` opens a
    connection that a given worker accepted (or any but one): a kept-alive connection
    stays with its worker while it is used (uvicorn closes it after 5 s idle)."""

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
        self.seen: set[int] = set()
        self._open: list[httpx.Client] = []

    def health(self, client: httpx.Client) -> int:
        r = client.get("/api/health")
        self.health_requests += 1
        assert r.status_code == 200, r.text
        pid: int = r.json()["worker"]
        return pid

    def client(self, *, worker: int | None = None, not_worker: int | None = None) -> httpx.Client:
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no such worker among {self.seen}"
            client = httpx.Client(base_url=self.url, timeout=60)
            try:
                pid = self.health(client)
            except httpx.TransportError:
                client.close()
                time.sleep(0.3)
                continue
            self.seen.add(pid)
            if (worker is None or pid == worker) and pid != not_worker:
                self._open.append(client)
                return client
            client.close()

    def live_workers(self, n: int = 2) -> set[int]:
        """The pids of ``n`` live workers (waiting for them to start)."""
        found: set[int] = set()
        while len(found) < n:
            pid = self.health(self.client(not_worker=None))
            assert psutil.pid_exists(pid)
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.add(pid)
        return found

    def stop(self) -> None:
        for client in self._open:
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
        server.live_workers(2)
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
    first, second = sorted(server.live_workers(2))

    # a load posted to one worker runs once (there) and is followed from the other
    small = _fasta(200)
    posted = server.client().post("/api/dna/load", files=[("files", ("first.fa", small))])
    assert posted.status_code == 202
    job_id, owner = posted.json()["id"], posted.json()["worker"]
    other = server.client(not_worker=owner)
    seen = _until(lambda: other.get(f"/api/jobs/{job_id}").json(), lambda j: j["state"] == "done")
    assert (seen["done"], seen["skipped"], seen["worker"]) == (200, 0, owner), str(seen)
    listed = other.get("/api/jobs", params={"app": "dna"}).json()["data"]
    assert [j["id"] for j in listed] == [job_id]  # one job, run once

    # every worker searches what the owner stored
    wanted = small.decode().split(">")[7].split("\n", 1)[1]
    item_ids = set()
    for pid in (first, second):
        client = server.client(worker=pid)
        assert client.get("/api/dna/count").json()["items"] == 200
        hits = client.post("/api/dna/search", json={"sequence": wanted, "top_k": 1})
        assert hits.status_code == 200, hits.text
        item_ids.add(hits.json()["hits"][0]["item_id"])
    assert len(item_ids) == 1

    # /metrics from either worker adds both up: every health check, every search
    for pid in (first, second):
        client = server.client(worker=pid)
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
        assert _metric(client, "findalike_jobs_finished_total", state="done") == 1

    # a worker killed mid-job: the job is interrupted, a reload skips what was stored
    everything = _fasta()
    total = everything.count(b">")
    posted = server.client().post("/api/dna/load", files=[("files", ("all.fa", everything))])
    job_id, owner = posted.json()["id"], posted.json()["worker"]
    other = server.client(not_worker=owner)
    running = _until(
        lambda: other.get(f"/api/jobs/{job_id}").json(),
        lambda j: j["done"] > 0 or j["state"] not in ("queued", "running"),
    )
    assert running["state"] == "running" and 0 < running["done"] < total - 200, running
    killed = psutil.Process(owner)
    killed.kill()
    with contextlib.suppress(psutil.NoSuchProcess):  # a signal is delivered, not awaited
        _until(lambda: {"status": killed.status()}, lambda p: p["status"] == "zombie")
    interrupted = other.get(f"/api/jobs/{job_id}").json()
    assert interrupted["state"] == "interrupted", interrupted
    # Milvus finishes a write whose sender died: count once the killed worker's last
    # batch has landed (the same count twice, half a second apart)
    counts = [-2, -1]

    def settled() -> dict[str, Any]:
        time.sleep(0.5)
        counts.append(other.get("/api/dna/count").json()["items"])
        return {"counts": counts[-2:]}

    stored = _until(settled, lambda c: c["counts"][0] == c["counts"][1])["counts"][1]
    assert 200 + running["done"] <= stored < total
    again = other.post("/api/dna/load", files=[("files", ("all.fa", everything))]).json()["id"]
    reloaded = _until(lambda: other.get(f"/api/jobs/{again}").json(), lambda j: j["finished_at"])
    assert (reloaded["state"], reloaded["skipped"]) == ("done", stored), reloaded
    assert reloaded["done"] == total - stored
    assert other.get("/api/dna/count").json()["items"] == total  # nothing lost or doubled

    # the supervisor replaced the killed worker; stopping the server stops everything
    replaced = server.live_workers(2)
    assert owner not in replaced
    everyone = psutil.Process(server.proc.pid).children(recursive=True)
    server.stop()
    assert server.proc.returncode is not None
    _, alive = psutil.wait_procs({*started, *everyone}, timeout=30)
    assert not alive, alive


def test_a_lite_server_waits_for_the_folder_to_be_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that had the data open may still be exiting when the next server
    starts: LiteServer waits for Milvus Lite's lock, then starts; data held for good
    (another server on the same data) is a clear error, not a dead child process. The
    lock is held by another process, as it would be (Lite 2.5's is a POSIX record lock,
    which never blocks the process that holds it)."""
    from findalike.store import liteserver

    db = tmp_path / "milvus.db"
    holder = _hold_lite_lock(db)
    monkeypatch.setattr(liteserver, "LOCK_WAIT_S", 1.0)
    with pytest.raises(RuntimeError, match="another process has Milvus Lite's"):
        liteserver.LiteServer(db).start()

    monkeypatch.setattr(liteserver, "LOCK_WAIT_S", 30.0)
    threading.Timer(1.0, _release, args=(holder,)).start()  # it exits a second later
    with liteserver.LiteServer(db) as server:
        store = VectorStore(server.uri)
        assert store.ping().startswith("milvus_lite")
        store.close()


def _hold_lite_lock(db: Path) -> subprocess.Popen[str]:
    """Another process holding the lock Milvus Lite 2.5 takes on ``db``
    (``.milvus.db.lock`` beside the file, lockf)."""
    path, call = db.parent / f".{db.name}.lock", "lockf"
    code = (
        f"import fcntl, sys; f = open({str(path)!r}, 'a'); fcntl.{call}(f, fcntl.LOCK_EX); "
        "print('held', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(10)
