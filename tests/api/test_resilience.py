"""The server under stress and failure: a long load must not block searches or job
polling, a mismatched collection is a 409, an unreachable Milvus a 503."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.store import CollectionSpec, VectorStore
from tests.conftest import REPO, count_connection_attempts, serving, wait_job

SOTU = REPO / "datasets" / "sotu" / "sotu.jsonl.gz"


def sotu_sentences(n: int) -> list[str]:
    """``n`` real sentences from State of the Union addresses (8 to 60 words)."""
    out: list[str] = []
    with gzip.open(SOTU, "rt", encoding="utf-8") as fh:
        for line in fh:
            for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
                if 8 <= len(s.split()) <= 60:
                    out.append(s)
                    if len(out) == n:
                        return out
    return out


def _jsonl(texts: list[str]) -> bytes:
    lines = (json.dumps({"title": f"s{i}", "text": t}) for i, t in enumerate(texts))
    return "\n".join(lines).encode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("resilience"), apps=["text"])
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        yield c


def test_search_and_job_polling_answer_during_a_10k_document_load(client: TestClient) -> None:
    seed = client.post(
        "/api/text/load",
        files=[
            (
                "files",
                (
                    "seed.jsonl",
                    _jsonl(
                        [
                            "Taxes on families should be cut.",
                            "Our soldiers serve with honour abroad.",
                        ]
                    ),
                ),
            )
        ],
    )
    assert wait_job(client, seed.json()["id"])["done"] == 2
    big = _jsonl(sotu_sentences(10_000))
    r = client.post("/api/text/load", files=[("files", ("big.jsonl", big))])
    job_id = r.json()["id"]
    progress_seen: set[int] = set()
    searches_answered = 0
    cancelled: dict | None = None
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] != "running" and job["state"] != "queued":
            break
        if job["total"] and 0 < job["done"] < job["total"]:
            progress_seen.add(job["done"])
        hits = client.post("/api/text/search", json={"query": "tax cuts", "top_k": 3})
        assert hits.status_code == 200
        searches_answered += job["state"] == "running"
        if cancelled is None and len(progress_seen) >= 4 and searches_answered >= 5:
            r = client.post(f"/api/jobs/{job_id}/cancel")  # enough seen: save the suite's time
            assert r.status_code == 200, r.text
            cancelled = r.json()
    final = wait_job(client, job_id)
    print(
        f"during the load: {searches_answered} searches answered, "
        f"{len(progress_seen)} distinct progress values; final {final['state']} {final['done']}"
    )
    assert final["total"] == 10_000
    assert len(progress_seen) >= 4, "job progress was not visible while it ran"
    assert searches_answered >= 5, "searches did not answer while the load ran"
    # cancelling over HTTP stops the load: what it stored is what it counts, the rest never
    assert cancelled is not None and cancelled["id"] == job_id
    assert final["state"] == "cancelled", final
    assert final["done"] < final["total"]
    assert client.get("/api/text/count").json()["items"] == 2 + final["done"]


def test_a_collection_built_by_another_encoder_is_a_409(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    store: VectorStore = client.app.state.store  # type: ignore[attr-defined]
    rt = client.app.state.runtimes["text"]  # type: ignore[attr-defined]
    client.delete("/api/text")
    store.ensure(
        CollectionSpec(
            name=rt.collection,
            dim=512,
            vector_kind="float",
            metric="COSINE",
            encoder="some-other-model@9",
        )
    )
    r = client.post("/api/text/search", json={"query": "anything"})
    assert r.status_code == 409
    assert "some-other-model@9" in r.json()["detail"] and "all-MiniLM-L6-v2" in r.json()["detail"]
    assert client.get("/api/text/count").status_code == 409
    # dropping clears the conflict; loading works again
    assert client.delete("/api/text").json()["dropped"] is True
    r = client.post("/api/text/load", files=[("files", ("a.txt", b"Fresh start."))])
    assert wait_job(client, r.json()["id"])["done"] == 1
    assert settings.collection_prefix + "text" == rt.collection


def test_unreachable_milvus_gives_503_not_a_crash(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, apps=["text"], milvus_uri="http://127.0.0.1:9", milvus_timeout_s=1
    )
    with TestClient(create_app(settings)) as c:  # the server starts anyway
        health = c.get("/api/health")
        assert health.status_code == 503 and health.json()["milvus"]["ok"] is False
        r = c.get("/api/text/count")
        assert r.status_code == 503
        assert r.json()["title"] == "Service unavailable" and "127.0.0.1:9" in r.json()["detail"]
        assert "Traceback" not in r.text
        assert c.post("/api/text/search", json={"query": "x"}).status_code == 503


def test_a_hung_milvus_answers_every_request_503_within_its_timeout(
    tmp_path: Path, hung_milvus_uri: str
) -> None:
    """Milvus accepts the connection and never answers: eight concurrent requests
    each get a 503 after the one shared connection attempt, not one after another."""
    timeout_s = 2.0
    settings = Settings(
        data_dir=tmp_path, apps=["dna"], milvus_uri=hung_milvus_uri, milvus_timeout_s=timeout_s
    )
    with TestClient(create_app(settings)) as c:
        statuses: list[int] = []
        store = c.app.state.store  # type: ignore[attr-defined]
        attempts = count_connection_attempts(store)
        # the start-up's failed attempt opened the breaker: let it close, so that the eight
        # requests below must share one new attempt (not queue eight of them)
        time.sleep(max(0.0, store._down_until - time.monotonic()) + 0.1)

        def count() -> None:
            statuses.append(c.get("/api/dna/count").status_code)

        threads = [threading.Thread(target=count) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10 * timeout_s)
        assert statuses == [503] * 8
        assert len(attempts) == 1, f"{len(attempts)} connection attempts, one after another"
        r = c.get("/api/dna/count")
        assert r.status_code == 503 and "Traceback" not in r.text


def test_upload_spools_left_by_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    """A process killed mid-load leaves its upload spool behind; no job survives a
    restart (it is marked interrupted), so the next start removes every spool."""
    stale = tmp_path / "spool" / "0123abcd"
    stale.mkdir(parents=True)
    (stale / "00000.csv").write_bytes(b"x" * 1024)
    settings = Settings(data_dir=tmp_path, apps=["dna"])
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/jobs").status_code == 200
        assert not (tmp_path / "spool").exists()


def test_event_streams_past_the_cap_get_503_with_retry_after(tmp_path: Path) -> None:
    """FINDALIKE_MAX_EVENT_WATCHERS=2: a third watcher of a running job is refused with
    ``Retry-After`` (a thousand were all accepted and slowed every request); a
    closed stream gives its slot back."""
    import httpx

    release = threading.Event()
    settings = Settings(data_dir=tmp_path, apps=["dna"], max_event_watchers=2)
    app = create_app(settings)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        job = app.state.jobs.submit("dna", lambda ctx: release.wait(60) and None)
        events = f"/api/jobs/{job.id}/events"
        try:
            with client.stream("GET", events) as one, client.stream("GET", events) as two:
                assert one.status_code == two.status_code == 200
                third = client.get(events)
                assert third.status_code == 503, third.text
                assert third.headers["retry-after"] == "5"
                assert "FINDALIKE_MAX_EVENT_WATCHERS" in third.json()["detail"]
                assert client.get(f"/api/jobs/{job.id}").status_code == 200  # polling works
            deadline = time.monotonic() + 10
            while True:  # the server notices the closed streams within a poll or two
                with client.stream("GET", events) as again:
                    if again.status_code == 200:
                        break
                assert time.monotonic() < deadline, again.status_code
                time.sleep(0.2)
        finally:
            release.set()
