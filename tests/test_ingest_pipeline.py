"""Pipelined loads (issue 11): while one batch is written to Milvus the next is
encoded, batches hold about ``batch_size`` model inputs (passages, not documents), so a
load of a few long speeches reports progress many times instead of jumping from 0 to
all at the end; and what is stored is exactly what a load one batch at a time stores."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.app import AppRuntime
from findalike.apps.text import APP as TEXT_APP
from findalike.apps.text.documents import passage_rows
from findalike.config import Settings
from findalike.ingest import load_files
from findalike.jobs import JobManager, checkpoint
from findalike.store import VectorStore
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


# -- the pipeline's steps on their threads: cancels and failures reach the job -------


def _load_with(
    tmp_path: Path, shared_encoders: dict[str, Any], to_rows: Any, lines: list[str]
) -> tuple[JobManager, str, AppRuntime]:
    """A load of ``lines`` (JSONL) by the text app whose encoding step is ``to_rows``;
    returns the job manager, the job's id and the runtime."""
    settings = Settings(data_dir=tmp_path, apps=["text"], encode_batch_size=4)
    store = VectorStore(str(tmp_path / "milvus.db"))
    rt = AppRuntime(
        dataclasses.replace(TEXT_APP, to_rows=to_rows),
        settings,
        store,
        encoder_cache=dict(shared_encoders),
    )
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(lines))
    jobs = JobManager(tmp_path / "jobs.sqlite")
    return jobs, jobs.submit("text", load_files(rt, [(source.name, source)])).id, rt


@pytest.mark.timeout(120)
def test_a_cancel_reaches_an_item_deep_in_the_encoding_step(
    tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    """Items are encoded on a thread of the load's own; ``checkpoint()`` in an item's
    work (a video's frame loop) must still see its job's cancel there."""
    started = threading.Event()

    def endless_rows(rt: AppRuntime, records: Any) -> Any:
        started.set()
        deadline = time.monotonic() + 60  # a loop over content that would run long
        while time.monotonic() < deadline:
            checkpoint()
            time.sleep(0.01)
        return passage_rows(rt, records)

    jobs, job_id, rt = _load_with(tmp_path, shared_encoders, endless_rows, SPEECHES)
    assert started.wait(60)
    jobs.cancel(job_id)
    ended = jobs.wait(job_id, timeout_s=10)
    assert ended.state == "cancelled" and ended.failed == 0, ended
    assert rt.store.count(rt.collection) == 0
    jobs.shutdown()
    rt.store.close()


@pytest.mark.timeout(120)
def test_a_store_refusal_in_the_writing_step_fails_the_load_and_keeps_what_was_stored(
    tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    lines = [json.dumps({"title": f"t{i}", "text": f"Document number {i}."}) for i in range(12)]

    def rows_then_a_bad_one(rt: AppRuntime, records: Any) -> Any:
        encoded = passage_rows(rt, records)
        if any(r.fields["title"] == "t9" for r in records):  # the third batch of four
            encoded[0].rows[0]["vector"] = np.zeros(3, dtype=np.float32)  # not 384-d
        return encoded

    jobs, job_id, rt = _load_with(tmp_path, shared_encoders, rows_then_a_bad_one, lines)
    ended = jobs.wait(job_id, timeout_s=60)
    assert ended.state == "failed", ended
    # the two batches written before the refusal are stored, whole
    assert ended.done == 8
    assert rt.store.count(rt.collection) == 8
    jobs.shutdown()
    rt.store.close()
