"""Job records: progress, errors, cancellation and surviving a restart (real SQLite)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from findalike.errors import Conflict, InvalidInput, NotFound
from findalike.jobs import (
    FINISHED_KEPT_IN_MEMORY,
    MAX_ERRORS_KEPT,
    Job,
    JobContext,
    JobManager,
    checkpoint,
)


def test_progress_is_recorded_and_job_ends_done(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path / "jobs.sqlite")

    def work(ctx: JobContext) -> str:
        ctx.set_total(10)
        for _ in range(8):
            ctx.advance(done=1)
        ctx.advance(skipped=1)
        ctx.fail_item("bad.csv:3", "empty text")
        return "finished"

    job = jobs.wait(jobs.submit("text", work).id)
    assert (job.state, job.done, job.skipped, job.failed, job.total) == ("done", 8, 1, 1, 10)
    assert job.errors[0].item == "bad.csv:3" and job.message == "finished"
    assert job.finished_at is not None and job.rate_per_s is not None
    jobs.shutdown()


def test_a_job_whose_every_item_failed_is_failed(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path / "jobs.sqlite")

    def work(ctx: JobContext) -> None:
        ctx.set_total(2)
        ctx.fail_item("a", "broken")
        ctx.fail_item("b", "broken")

    assert jobs.wait(jobs.submit("text", work).id).state == "failed"
    jobs.shutdown()


def test_a_raised_error_fails_the_job_with_its_message(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path / "jobs.sqlite")

    def work(ctx: JobContext) -> None:
        raise InvalidInput("the collection is unusable")

    job = jobs.wait(jobs.submit("text", work).id)
    assert job.state == "failed" and job.message == "the collection is unusable"
    jobs.shutdown()


def test_errors_are_capped_but_counted(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path / "jobs.sqlite")

    def work(ctx: JobContext) -> None:
        ctx.set_total(MAX_ERRORS_KEPT + 5)
        for i in range(MAX_ERRORS_KEPT + 5):
            ctx.fail_item(f"line {i}", "bad")

    job = jobs.wait(jobs.submit("text", work).id)
    assert job.failed == MAX_ERRORS_KEPT + 5
    assert len(job.errors) == MAX_ERRORS_KEPT and job.errors_truncated == 5
    jobs.shutdown()


def test_cancel_stops_a_running_job(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path / "jobs.sqlite")
    started = threading.Event()

    def work(ctx: JobContext) -> None:
        started.set()
        while True:
            ctx.check_cancelled()
            ctx.advance(done=1)
            threading.Event().wait(0.01)

    job = jobs.submit("text", work)
    started.wait(10)
    jobs.cancel(job.id)
    assert jobs.wait(job.id).state == "cancelled"
    with pytest.raises(Conflict):
        jobs.cancel(job.id)
    with pytest.raises(NotFound):
        jobs.cancel("no-such-job")
    jobs.shutdown()


OTHER_WORKER = """
import sys, time
from pathlib import Path
from findalike.jobs import JobManager

jobs = JobManager(Path(sys.argv[1]), persist_every_s=0)

def work(ctx):
    ctx.set_total(100)
    ctx.advance(done=40)
    while True:  # until cancelled or killed
        ctx.check_cancelled()
        time.sleep(0.02)

job = jobs.submit("text", work)
print(job.id, flush=True)
print(jobs.wait(job.id, 60).state, flush=True)
jobs.shutdown()
"""


@pytest.fixture
def other_worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Another process (a worker) running a job on the same records, 40 of 100 done."""
    proc = subprocess.Popen(
        [sys.executable, "-c", OTHER_WORKER, str(tmp_path / "jobs.sqlite")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    job_id = proc.stdout.readline().strip()
    try:
        yield proc, job_id
    finally:
        proc.kill()
        proc.wait()


def _until(jobs: JobManager, job_id: str, check: Callable[[Job], bool]) -> Job:
    deadline = time.monotonic() + 30
    job = jobs.get(job_id)
    while not check(job) and time.monotonic() < deadline:
        job = jobs.wait_for_change(job_id, job.version, 1.0)
    return job


def test_another_workers_job_is_read_live_and_a_killed_worker_leaves_it_interrupted(
    tmp_path: Path, other_worker: tuple[subprocess.Popen[str], str]
) -> None:
    proc, job_id = other_worker
    jobs = JobManager(tmp_path / "jobs.sqlite")
    job = _until(jobs, job_id, lambda j: j.done == 40)
    assert (job.state, job.done, job.total) == ("running", 40, 100)  # its owner lives
    assert jobs.live_counts()["running"] == 1
    assert JobManager(tmp_path / "jobs.sqlite").get(job_id).state == "running"  # a new worker
    proc.kill()
    proc.wait()
    job = jobs.get(job_id)
    assert (job.state, job.done) == ("interrupted", 40) and "stopped" in job.message
    assert jobs.live_counts()["running"] == 0
    jobs.shutdown()
    # and a restart finds it so too
    assert JobManager(tmp_path / "jobs.sqlite").get(job_id).state == "interrupted"


def test_a_cancel_posted_to_another_worker_stops_the_job_where_it_runs(
    tmp_path: Path, other_worker: tuple[subprocess.Popen[str], str]
) -> None:
    proc, job_id = other_worker
    jobs = JobManager(tmp_path / "jobs.sqlite")
    _until(jobs, job_id, lambda j: j.done == 40)
    assert jobs.cancel(job_id).state == "running"  # asked; the owner stops it
    assert proc.stdout is not None and proc.stdout.readline().strip() == "cancelled"
    assert proc.wait(timeout=30) == 0
    assert jobs.get(job_id).state == "cancelled"
    with pytest.raises(Conflict):
        jobs.cancel(job_id)
    jobs.shutdown()


def test_a_restart_marks_unfinished_jobs_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    subprocess.run(  # a server that died with a job running: killed, no shutdown
        [
            sys.executable,
            "-c",
            OTHER_WORKER.replace("print(jobs.wait", "__import__('os')._exit(9)\n#"),
            db,
        ],
        stdout=subprocess.PIPE,
        check=False,
    )
    [row] = sqlite3.connect(db).execute("SELECT id FROM jobs").fetchall()
    again = JobManager(db)
    job = again.get(row[0])
    assert job.state == "interrupted" and "stopped" in job.message
    assert [j.id for j in again.list()] == [row[0]]
    again.shutdown()


def test_a_claim_is_granted_once_across_workers(tmp_path: Path) -> None:
    first, second = JobManager(tmp_path / "j.sqlite"), JobManager(tmp_path / "j.sqlite")
    assert first.claim("demo:1") and not second.claim("demo:1") and not first.claim("demo:1")
    assert second.claim("demo:2")
    first.shutdown()
    second.shutdown()


def _deep_media_loop(started: threading.Event, steps: list[int]) -> None:
    """Stands for a frame/window loop deep inside a reader: no JobContext in reach."""
    started.set()
    while True:
        checkpoint()
        steps.append(1)
        time.sleep(0.005)


@pytest.mark.timeout(60)
def test_checkpoint_stops_a_deep_loop_on_cancel(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path / "jobs.sqlite")
    started, steps = threading.Event(), []
    job = jobs.submit("video", lambda ctx: _deep_media_loop(started, steps))
    assert started.wait(10)
    cancelled_at = time.monotonic()
    jobs.cancel(job.id)
    ended = jobs.wait(job.id, timeout_s=10)
    print(f"cancel took effect in {time.monotonic() - cancelled_at:.3f} s (bar: 10 s)")
    assert ended.state == "cancelled"
    count = len(steps)
    time.sleep(0.05)
    assert len(steps) == count  # the loop really stopped
    jobs.shutdown()


@pytest.mark.timeout(60)
def test_shutdown_interrupts_a_deep_loop(tmp_path: Path) -> None:
    jobs = JobManager(tmp_path / "jobs.sqlite")
    started, steps = threading.Event(), []
    job = jobs.submit("video", lambda ctx: _deep_media_loop(started, steps))
    queued = jobs.submit("video", lambda ctx: "never runs")
    assert started.wait(10)
    jobs.shutdown()  # returns only once the worker thread has left the loop
    reopened = JobManager(tmp_path / "jobs.sqlite")
    ended = reopened.get(job.id)
    assert ended.state == "interrupted" and "server stopped" in ended.message, ended
    assert reopened.get(queued.id).state == "interrupted"


def test_checkpoint_is_a_no_op_outside_a_job_and_resets_after_one(tmp_path: Path) -> None:
    checkpoint()  # a search request, not a job: nothing to cancel
    jobs = JobManager(tmp_path / "jobs.sqlite", workers=1)
    started, steps = threading.Event(), []
    first = jobs.submit("video", lambda ctx: _deep_media_loop(started, steps))
    assert started.wait(10)
    jobs.cancel(first.id)
    assert jobs.wait(first.id).state == "cancelled"

    def after(ctx: JobContext) -> str:  # same worker thread: must not see the old cancel
        checkpoint()
        return "ran"

    assert jobs.wait(jobs.submit("video", after).id).message == "ran"
    jobs.shutdown()


@pytest.mark.timeout(60)
def test_a_cancel_inside_an_item_is_not_taken_for_a_bad_item(tmp_path: Path) -> None:
    """The load pipeline isolates a bad item with ``except Exception``; a cancel raised
    by a checkpoint inside that item must still end the job."""
    jobs = JobManager(tmp_path / "jobs.sqlite")
    started, steps = threading.Event(), []

    def work(ctx: JobContext) -> str:
        while True:
            try:
                _deep_media_loop(started, steps)
            except Exception:  # noqa: BLE001 - what the loader does per item
                ctx.fail_item("item", "bad")

    job = jobs.submit("video", work)
    assert started.wait(10)
    jobs.cancel(job.id)
    ended = jobs.wait(job.id, timeout_s=10)
    assert ended.state == "cancelled" and ended.failed == 0, ended
    jobs.shutdown()


def test_finished_jobs_leave_memory_but_stay_readable(tmp_path: Path) -> None:
    manager = JobManager(tmp_path / "jobs.sqlite")
    ids = [manager.submit("text", lambda ctx: "ok").id for _ in range(FINISHED_KEPT_IN_MEMORY + 30)]
    for job_id in ids:
        assert manager.wait(job_id, timeout_s=30).state == "done"
    held = [i for i in ids if manager.version_of(i) is not None]
    assert len(held) == FINISHED_KEPT_IN_MEMORY
    assert held == ids[-FINISHED_KEPT_IN_MEMORY:]  # the newest stay, the oldest go
    oldest = manager.get(ids[0])  # read back from SQLite
    assert oldest.state == "done" and oldest.message == "ok"
    assert len(manager.list(limit=500)) == len(ids)
    with pytest.raises(Conflict):
        manager.cancel(ids[0])
    manager.shutdown()


OPEN_RECORDS = """
import sys, time
from pathlib import Path
from findalike.apps.recommend.ratings import RatingsStore, create_schema
from findalike.jobs import JobManager
from findalike.store.sqlitedb import set_up_wal

time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all at once, as workers start
JobManager(Path(sys.argv[1]) / "jobs.sqlite").shutdown()
set_up_wal(Path(sys.argv[1]) / "ratings.sqlite", create_schema)
RatingsStore(Path(sys.argv[1]) / "ratings.sqlite").has_user("u1")
"""


def test_workers_starting_together_on_new_records_all_start(tmp_path: Path) -> None:
    """The workers of ``serve --workers N`` open the new jobs (and ratings) file at the
    same moment; each creates the schema if it is missing, and none may fail for
    another's doing (two adding the same column, or one switching the file to WAL while
    another did, failed a worker's start-up)."""
    start = time.time() + 3.0  # past every interpreter's start-up
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_RECORDS, str(tmp_path), str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    jobs = sqlite3.connect(tmp_path / "jobs.sqlite")
    columns = [row[1] for row in jobs.execute("PRAGMA table_info(jobs)")]
    assert columns == ["id", "created_at", "body", "state", "owner", "cancel"]
    assert jobs.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    ratings = sqlite3.connect(tmp_path / "ratings.sqlite")
    assert ratings.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    tables = ratings.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    assert {row[0] for row in tables} == {"ratings", "items"}


def test_records_written_before_states_were_columns_are_read_and_extended(
    tmp_path: Path,
) -> None:
    """A jobs file of findalike 0.2 (id, created_at, body only) gains the columns, keeps
    its jobs and takes new ones."""
    db = tmp_path / "jobs.sqlite"
    old = JobManager(tmp_path / "new.sqlite")
    job = old.submit("text", lambda ctx: "ok")
    done = old.wait(job.id, 30)
    old.shutdown()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, created_at TEXT, body TEXT)")
        conn.execute(
            "INSERT INTO jobs VALUES (?, ?, ?)",
            (done.id, done.created_at.isoformat(), done.model_dump_json()),
        )
    jobs = JobManager(db)
    assert jobs.get(done.id).state == "done"
    assert [j.id for j in jobs.list()] == [done.id]
    later = jobs.submit("text", lambda ctx: "ok")
    assert jobs.wait(later.id, 30).state == "done"
    jobs.shutdown()
    reopened = JobManager(db)
    assert {j.id for j in reopened.list()} == {done.id, later.id}
    reopened.shutdown()
