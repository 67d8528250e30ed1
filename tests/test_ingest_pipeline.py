"""Pipelined loads (issue 11): while one batch is written to Milvus the next is
encoded, batches hold about ``batch_size`` model inputs (passages, not documents), so a
load of a few long speeches reports progress many times instead of jumping from 0 to
all at the end; and what is stored is exactly what a load one batch at a time stores."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import REPO, wait_job

SPEECHES = (REPO / "src" / "findalike" / "demo" / "sotu_recent.jsonl").read_text().splitlines()[:4]


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict[str, Any]
) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("pipeline"), apps=["text"], encode_batch_size=16
    )
    with TestClient(create_app(settings, encoders=dict(shared_encoders))) as c:
        yield c


def test_a_load_of_few_long_documents_reports_progress_as_it_goes(client: TestClient) -> None:
    passages = sum(1 + len(json.loads(s)["text"].split()) // 200 for s in SPEECHES)
    assert passages > 4 * 16  # several batches of 16 passages, in 4 documents
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    r = client.post("/api/text/load", files=[("files", ("s.jsonl", "\n".join(SPEECHES)))])
    assert r.status_code == 202
    job_id = r.json()["id"]
    seen: list[int] = []

    def watch() -> None:
        job = jobs.get(job_id)
        while not job.finished:
            seen.append(job.done)
            job = jobs.wait_for_change(job_id, job.version, 60)
        seen.append(job.done)

    watcher = threading.Thread(target=watch)
    watcher.start()
    job = wait_job(client, job_id)
    watcher.join(60)
    assert job["state"] == "done" and job["done"] == len(SPEECHES), job
    # each speech is its own batch or less: done moved through every count, not 0 -> 4
    assert sorted(set(seen)) == list(range(len(SPEECHES) + 1)), seen
    assert job["rate_per_s"] and job["rate_per_s"] > 0


def test_the_pipelined_load_stores_every_passage_once(client: TestClient) -> None:
    count = client.get("/api/text/count").json()
    settings = client.app.state.settings  # type: ignore[attr-defined]
    from findalike.apps.text.documents import split_passages

    expected = sum(
        len(split_passages(json.loads(s)["text"], settings.text_chunk_words)) for s in SPEECHES
    )
    assert count == {"app": "text", "items": len(SPEECHES), "vectors": expected}
    # loading again skips all of it (same content): nothing written twice
    r = client.post("/api/text/load", files=[("files", ("s.jsonl", "\n".join(SPEECHES)))])
    job = wait_job(client, r.json()["id"])
    assert job["skipped"] == len(SPEECHES) and job["done"] == 0
    assert client.get("/api/text/count").json() == count
