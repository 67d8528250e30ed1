"""Job records: progress, errors, cancellation and surviving a restart (real SQLite)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from findalike.errors import Conflict, InvalidInput, NotFound
from findalike.jobs import MAX_ERRORS_KEPT, JobContext, JobManager


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


def test_a_restart_marks_unfinished_jobs_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    first = JobManager(db, persist_every_s=0)
    release = threading.Event()
    midway = threading.Event()

    def work(ctx: JobContext) -> None:
        ctx.set_total(100)
        ctx.advance(done=40)
        midway.set()
        release.wait(30)

    job = first.submit("text", work)
    midway.wait(10)
    # a second process opening the same records (the first one died without shutdown)
    second = JobManager(db)
    again = second.get(job.id)
    assert again.state == "interrupted" and again.done == 40
    assert "stopped" in again.message
    release.set()
    first.shutdown()
    assert JobManager(db).get(job.id).state in ("interrupted", "done")
    done_ids = [j.id for j in second.list()]
    assert job.id in done_ids
