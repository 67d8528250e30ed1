"""Pipelined loads (issue 11): while one batch is written to Milvus the next is
encoded, batches hold about ``batch_size`` model inputs (passages, not documents), so a
load of a few long speeches reports progress many times instead of jumping from 0 to
all at the end; and what is stored is exactly what a load one batch at a time stores."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.apps.text import APP as TEXT_APP
from findalike.apps.text.reader import passage_rows
from findalike.config import Settings
from findalike.core.app import AppRuntime
from findalike.core.ingest import load_files
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


def _watch(jobs: JobManager, job_id: str, *fields: str) -> Callable[[], list[Any]]:
    """Starts watching the job: the function returned gives the values of its
    ``fields`` seen at each of its changes, once it has ended."""
    seen: list[Any] = []

    def watch() -> None:
        job = jobs.get(job_id)
        while not job.finished:
            seen.append(tuple(getattr(job, f) for f in fields))
            job = jobs.wait_for_change(job_id, job.version, 60)
        seen.append(tuple(getattr(job, f) for f in fields))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    def collected() -> list[Any]:
        watcher.join(60)
        return seen

    return collected


def test_a_load_of_few_long_documents_reports_progress_as_it_goes(client: TestClient) -> None:
    passages = sum(1 + len(json.loads(s)["text"].split()) // 200 for s in SPEECHES)
    assert passages > 4 * 16  # several batches of 16 passages, in 4 documents
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    r = client.post("/api/text/load", files=[("files", ("s.jsonl", "\n".join(SPEECHES)))])
    assert r.status_code == 202
    job_id = r.json()["id"]
    watching = _watch(jobs, job_id, "done", "total")
    job = wait_job(client, job_id)
    seen = [done for done, _ in watching()]
    # one file: its 4 documents are counted once it is read, before any is stored
    assert all(total == len(SPEECHES) for done, total in watching() if done), watching()
    assert job["state"] == "done" and job["done"] == len(SPEECHES), job
    # each speech is its own batch or less: done moved through every count, not 0 -> 4
    assert sorted(set(seen)) == list(range(len(SPEECHES) + 1)), seen
    assert job["rate_per_s"] and job["rate_per_s"] > 0


def test_the_pipelined_load_stores_every_passage_once(client: TestClient) -> None:
    count = client.get("/api/text/count").json()
    settings = client.app.state.settings  # type: ignore[attr-defined]
    from findalike.apps.text.reader import split_passages

    expected = sum(  # its passages, and one row for its title
        len(split_passages(json.loads(s)["text"], settings.text_chunk_words))
        + bool(json.loads(s).get("title"))
        for s in SPEECHES
    )
    assert count == {"app": "text", "items": len(SPEECHES), "vectors": expected}
    # loading again skips all of it (same content): nothing written twice
    r = client.post("/api/text/load", files=[("files", ("s.jsonl", "\n".join(SPEECHES)))])
    job = wait_job(client, r.json()["id"])
    assert job["skipped"] == len(SPEECHES) and job["done"] == 0
    assert client.get("/api/text/count").json() == count


def test_a_load_reports_a_total_only_once_it_is_known(client: TestClient) -> None:
    """``total`` counts items, not files: null until every file has been read (a
    file's items are known only then), never a number that changes later."""
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    files = [
        ("a.jsonl", "\n".join(_documents(3))),
        ("b.jsonl", "\n".join([*_documents(5)[3:], "not json"])),
        ("c.jsonl", ""),
    ]
    r = client.post("/api/text/load", files=[("files", f) for f in files])
    job_id = r.json()["id"]
    watching = _watch(jobs, job_id, "total")
    job = wait_job(client, job_id)
    totals = [total for (total,) in watching()]
    # 5 documents, a line that is not JSON, a file with nothing in it
    assert (job["done"], job["skipped"], job["failed"], job["total"]) == (5, 0, 2, 7), job
    assert set(totals) <= {None, 7}, totals


# -- the pipeline's steps on their threads: cancels and failures reach the job -------


@contextlib.contextmanager
def _load_with(
    tmp_path: Path,
    shared_encoders: dict[str, Any],
    to_rows: Any,
    lines: list[str],
    *,
    batch_size: int = 4,
) -> Iterator[tuple[JobManager, str, AppRuntime]]:
    """A load of ``lines`` (JSONL) by the text app whose encoding step is ``to_rows``,
    ``batch_size`` documents a batch: the job manager, the job's id and the runtime."""
    settings = Settings(data_dir=tmp_path, apps=["text"], encode_batch_size=batch_size)
    store = VectorStore(str(tmp_path / "milvus.db"))
    rt = AppRuntime(
        dataclasses.replace(TEXT_APP, to_rows=to_rows),
        settings,
        store,
        # the model only: this runtime makes (and closes) a model thread of its own,
        # not the one other tests' apps left in the session's shared dict
        encoder_cache={"minilm": shared_encoders["minilm"]},
    )
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(lines))
    jobs = JobManager(tmp_path / "jobs.sqlite")
    try:
        yield jobs, jobs.submit("text", load_files(rt, [(source.name, source)])).id, rt
    finally:
        jobs.shutdown()
        rt.encoder.close()  # type: ignore[attr-defined]  (the runtime's model thread)
        store.close()


def _documents(n: int) -> list[str]:
    return [json.dumps({"title": f"t{i}", "text": f"Document number {i}."}) for i in range(n)]


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

    with _load_with(tmp_path, shared_encoders, endless_rows, SPEECHES) as (jobs, job_id, rt):
        assert started.wait(60)
        jobs.cancel(job_id)
        ended = jobs.wait(job_id, timeout_s=10)
        assert ended.state == "cancelled" and ended.failed == 0, ended
        assert rt.store.count(rt.collection) == 0


@pytest.mark.timeout(120)
def test_a_cancelled_load_encodes_no_batch_after_the_one_in_hand(
    tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    """Batches wait in the steps' queues while one is encoded: after a cancel, the
    one in hand is finished and stored, and the queued ones are never encoded."""
    in_first, go_on, calls = threading.Event(), threading.Event(), []

    def rows(rt: AppRuntime, records: Any) -> Any:
        calls.append(len(records))
        if len(calls) == 1:
            in_first.set()
            assert go_on.wait(60)
        return passage_rows(rt, records)

    with _load_with(tmp_path, shared_encoders, rows, _documents(40), batch_size=2) as (
        jobs,
        job_id,
        rt,
    ):
        assert in_first.wait(60)
        time.sleep(0.5)  # the next batches reach the queues behind the one in hand
        jobs.cancel(job_id)
        go_on.set()
        ended = jobs.wait(job_id, timeout_s=30)
        assert ended.state == "cancelled", ended
        assert calls == [2], calls  # the first batch only
        # each document is a passage and a title row
        assert ended.done == rt.store.count(rt.collection) / 2 <= 2


@pytest.mark.timeout(120)
def test_a_store_refusal_stops_the_load_at_once_and_keeps_what_was_stored(
    tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    """The writer fails on the first batch while the encoder and the reader are busy
    behind it (full queues): the failure reaches the job's thread through both,
    and the job fails before the rest is encoded."""
    calls = []

    def first_refused(rt: AppRuntime, records: Any) -> Any:
        calls.append(len(records))
        encoded = passage_rows(rt, records)
        if records[0].fields["title"] == "t0":
            encoded[0].rows[0]["vector"] = np.zeros(3, dtype=np.float32)  # not 384-d
        return encoded

    with _load_with(tmp_path, shared_encoders, first_refused, _documents(60), batch_size=1) as (
        jobs,
        job_id,
        rt,
    ):
        ended = jobs.wait(job_id, timeout_s=60)
        assert ended.state == "failed", ended
        assert ended.done == 0 and rt.store.count(rt.collection) == 0
        # the encoder stopped within a batch or two of the refusal, not at the end
        assert len(calls) <= 3, calls


@pytest.mark.timeout(120)
def test_a_store_refusal_mid_load_keeps_the_batches_written_before_it(
    tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    def rows_then_a_bad_one(rt: AppRuntime, records: Any) -> Any:
        encoded = passage_rows(rt, records)
        if any(r.fields["title"] == "t9" for r in records):  # the third batch of four
            encoded[0].rows[0]["vector"] = np.zeros(3, dtype=np.float32)  # not 384-d
        return encoded

    with _load_with(tmp_path, shared_encoders, rows_then_a_bad_one, _documents(12)) as (
        jobs,
        job_id,
        rt,
    ):
        ended = jobs.wait(job_id, timeout_s=60)
        assert ended.state == "failed", ended
        # the two batches written before the refusal are stored, whole
        assert ended.done == 8
        assert rt.store.count(rt.collection) == 2 * 8  # a passage and a title row each


@pytest.mark.timeout(300)
def test_loads_of_the_same_items_at_once_write_and_count_each_item_once(
    tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    """Four job workers loading the same 200 documents at once (issue 24): each
    document is written by one load and counted ``done`` once in all; the other loads
    count it ``skipped``, as they would one after another. Without claims every load
    looked the first batches up before any was written, and 200 items made 800 done."""
    n = 200
    settings = Settings(data_dir=tmp_path, apps=["text"], encode_batch_size=16)
    store = VectorStore(str(tmp_path / "milvus.db"))
    rt = AppRuntime(TEXT_APP, settings, store, encoder_cache={"minilm": shared_encoders["minilm"]})
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(_documents(n)))
    jobs = JobManager(tmp_path / "jobs.sqlite", workers=4)
    try:
        ids = [jobs.submit("text", load_files(rt, [(source.name, source)])).id for _ in range(4)]
        finished = [jobs.wait(i, 240) for i in ids]
        assert all(j.state == "done" for j in finished), finished
        assert sum(j.done for j in finished) == n, [(j.done, j.skipped) for j in finished]
        assert sum(j.skipped for j in finished) == 3 * n
        assert all(j.done + j.skipped == n for j in finished)
        assert rt.count() == (n, 2 * n)  # a passage and a title row each
    finally:
        jobs.shutdown()
        rt.encoder.close()  # type: ignore[attr-defined]
        store.close()
