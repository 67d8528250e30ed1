"""Background ingestion jobs: a queue of work functions run in worker threads, with
live progress, per-item errors, cancellation and records that survive a restart.

A job record is kept in memory while the job runs and written to SQLite (stdlib)
at every state change and at most every ``persist_every_s`` while it makes
progress. On start-up, jobs that were queued or running when the last process
ended are marked ``interrupted``: they never show as running forever.

Several processes (``serve --workers N``) share one SQLite file (WAL). A job runs in
the process that accepted it, which is recorded as its owner (pid and start time, so a
reused pid is not taken for it); any process reads its progress from the file (at most
``persist_every_s`` old), asks it to stop through the file (the owner polls for that),
and marks it ``interrupted`` when its owner is found dead. ``claim`` lets exactly one
process do a once-per-server task (the demo loads).

Code deep inside a reader or encoder, which is not handed the job's context, calls
``checkpoint()`` in its loops over untrusted content (frames, windows, blocks): it
raises ``JobCancelled`` once the job it runs in was cancelled (or the server is
stopping), and does nothing outside a job.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from asgi_correlation_id import correlation_id
from pydantic import BaseModel, Field

from findalike.errors import Conflict, FindalikeError, NotFound
from findalike.store.sqlitedb import set_up_wal

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
TERMINAL_STATES: frozenset[str] = frozenset({"done", "failed", "cancelled", "interrupted"})
MAX_ERRORS_KEPT = 1000
FINISHED_KEPT_IN_MEMORY = 100
"""Finished jobs kept in memory for fast reads; older ones are read from SQLite."""
CROSS_PROCESS_POLL_S = 0.25
"""How often a watcher of another worker's job re-reads it, and how often a worker
looks for cancel requests posted to the others."""


class ItemError(BaseModel):
    """Why one item (a file, a line, a zip member) was skipped."""

    item: str = Field(description="The item: a file name, `file:line`, or `zip/member`.")
    error: str = Field(description="What was wrong with it.")


class Job(BaseModel):
    """A load's progress. ``total`` is null until the sources have been read."""

    id: str
    app: str
    kind: str = "load"
    state: JobState = "queued"
    phase: str = Field("queued", description="What it is doing: reading, encoding, flushing.")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    total: int | None = None
    done: int = Field(0, description="Items stored (new or updated).")
    skipped: int = Field(0, description="Items already stored with the same content.")
    failed: int = Field(0, description="Items that could not be read or encoded.")
    errors: list[ItemError] = Field(default_factory=list)
    errors_truncated: int = Field(0, description="Errors counted but not listed.")
    message: str = ""
    rate_per_s: float | None = Field(None, description="Items processed per second.")
    eta_s: float | None = Field(None, description="Seconds left at the current rate.")
    version: int = Field(0, description="Grows by one at every change (for watchers).")
    worker: int | None = Field(
        None, description="Process id of the worker that runs it (`serve --workers N`)."
    )

    @property
    def processed(self) -> int:
        return self.done + self.skipped + self.failed

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


class JobCancelled(BaseException):
    """Raised inside a job's work when it was asked to stop. A ``BaseException`` (like
    ``asyncio.CancelledError``) so that the ``except Exception`` which keeps one bad
    item from failing a load cannot swallow a cancel raised deep inside that item."""


_CURRENT: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "findalike_current_job", default=None
)


def checkpoint() -> None:
    """Raise ``JobCancelled`` if the job this code runs in was asked to stop; a no-op
    outside a job (a search request, a test). Cheap: call it once per frame, window
    or block of a loop whose length depends on the content."""
    ctx = _CURRENT.get()
    if ctx is not None:
        ctx.check_cancelled()


class JobContext:
    """What a job's work function is handed: progress reporting and cancellation.
    Thread-safe; the work runs in a worker thread."""

    def __init__(self, manager: JobManager, job: Job) -> None:
        self._manager = manager
        self._job = job
        self._cancel = threading.Event()

    @property
    def job_id(self) -> str:
        return self._job.id

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled

    def phase(self, phase: str) -> None:
        self._manager._update(self._job, phase=phase)

    def set_total(self, total: int) -> None:
        self._manager._update(self._job, total=total)

    def advance(self, *, done: int = 0, skipped: int = 0) -> None:
        with self._manager._lock:
            self._manager._update(
                self._job, done=self._job.done + done, skipped=self._job.skipped + skipped
            )

    def fail_item(self, item: str, error: str) -> None:
        self._manager._add_error(self._job, ItemError(item=item, error=error))

    def message(self, text: str) -> None:
        self._manager._update(self._job, message=text)


Work = Callable[[JobContext], str | None]


def _create_schema(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, created_at TEXT, body TEXT,"
        " state TEXT, owner TEXT, cancel INTEGER)"
    )
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    for column, kind in (("state", "TEXT"), ("owner", "TEXT"), ("cancel", "INTEGER")):
        if column not in columns:  # records written by findalike 0.2 and older
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
    db.execute("CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state)")
    db.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT, at TEXT)")


class JobManager:
    """Runs jobs in ``workers`` threads and keeps their records in ``db_path``."""

    def __init__(self, db_path: Path, *, workers: int = 1, persist_every_s: float = 0.5) -> None:
        self._db_path = db_path
        self._persist_every_s = persist_every_s
        self._jobs: dict[str, Job] = {}
        self._contexts: dict[str, JobContext] = {}
        self._last_persist: dict[str, float] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="findalike-job")
        self._stopping = False
        self._stopped = threading.Event()
        self.owner = process_token(os.getpid()) or str(os.getpid())
        """This process, as recorded in the jobs it runs."""
        self.finished_counts: dict[str, int] = {}
        """Jobs ended in this process, by final state (for ``/metrics``)."""
        set_up_wal(db_path, _create_schema)  # WAL: readers in other workers never block
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, timeout=30.0)
        self._mark_interrupted()
        self._watcher = threading.Thread(
            target=self._watch_cancels, name="findalike-job-cancels", daemon=True
        )
        self._watcher.start()

    # -- public -------------------------------------------------------------------

    def submit(self, app: str, work: Work, *, kind: str = "load") -> Job:
        job = Job(id=uuid.uuid4().hex, app=app, kind=kind, created_at=_now(), worker=os.getpid())
        ctx = JobContext(self, job)
        with self._lock:
            self._jobs[job.id] = job
            self._contexts[job.id] = ctx
            self._persist(job)
        self._pool.submit(self._run, job, ctx, work)
        return job.model_copy(deep=True)

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return job.model_copy(deep=True)
            row = self._db.execute(
                "SELECT body, owner FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"No job with id {job_id!r}.")
            job = Job.model_validate_json(row[0])
            if not job.finished and not owner_alive(row[1]):
                job = self._interrupt(job, "the worker running this job stopped before it ended")
        return job

    def version_of(self, job_id: str) -> int | None:
        """The version of a job held in memory (None if it is not): a cheap check for
        watchers, which copy the job only when this moves."""
        job = self._jobs.get(job_id)
        return None if job is None else job.version

    def live_counts(self) -> dict[str, int]:
        """Jobs queued and running now, by state, in every process sharing the records
        (those whose owner has died are marked ``interrupted`` first)."""
        with self._lock:
            self._reap()
            counts = {"queued": 0, "running": 0}
            for state, n in self._db.execute(
                "SELECT state, COUNT(*) FROM jobs WHERE state IN ('queued', 'running') "
                "GROUP BY state"
            ):
                counts[state] = n
            return counts

    def list(self, *, app: str | None = None, limit: int = 50) -> list[Job]:
        with self._lock:
            self._reap()
            rows = self._db.execute(
                "SELECT body FROM jobs ORDER BY created_at DESC LIMIT ?", (limit * 4,)
            ).fetchall()
            live = {j.id: j.model_copy(deep=True) for j in self._jobs.values()}
        jobs = [live.get(j.id, j) for j in (Job.model_validate_json(r[0]) for r in rows)]
        return [j for j in jobs if app is None or j.app == app][:limit]

    def cancel(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                elsewhere = self.get(job_id)  # raises NotFound for an unknown id
                if elsewhere.finished:
                    raise Conflict(f"Job {job_id} has already ended ({elsewhere.state}).")
                # run by another worker: it polls for this flag (``_watch_cancels``)
                self._db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
                self._db.commit()
                return elsewhere
            if job.finished:
                raise Conflict(f"Job {job_id} has already ended ({job.state}).")
            self._contexts[job_id]._cancel.set()
            if job.state == "queued":
                self._finish(job, "cancelled", "cancelled before it started")
            return job.model_copy(deep=True)

    def wait_for_change(self, job_id: str, version: int, timeout_s: float) -> Job:
        """Block until the job's version passes ``version`` or it ends (or timeout)."""
        deadline = time.monotonic() + timeout_s
        if job_id not in self._jobs:  # another worker's (or evicted): poll the records
            polled = self.get(job_id)
            while polled.version == version and not polled.finished:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped.wait(min(left, CROSS_PROCESS_POLL_S)):
                    break
                polled = self.get(job_id)
            return polled
        with self._changed:
            while True:
                job = self._jobs.get(job_id)
                if job is None or job.version != version or job.finished:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        return self.get(job_id)

    def wait(self, job_id: str, timeout_s: float = 600.0) -> Job:
        """Block until the job ends (for the CLI and tests)."""
        deadline = time.monotonic() + timeout_s
        job = self.get(job_id)
        while not job.finished and time.monotonic() < deadline:
            job = self.wait_for_change(job_id, job.version, min(1.0, deadline - time.monotonic()))
        return job

    def claim(self, key: str) -> bool:
        """True for the first caller with ``key`` among all processes sharing these
        records, False for every later one: a task done once per server."""
        with self._lock:
            added = self._db.execute(
                "INSERT OR IGNORE INTO claims (key, owner, at) VALUES (?, ?, ?)",
                (key, self.owner, _now().isoformat()),
            ).rowcount
            self._db.commit()
            return added == 1

    def shutdown(self) -> None:
        """Stop: running jobs are cancelled (they stop at their next ``checkpoint`` or
        batch) and recorded as ``interrupted``, queued ones never start."""
        self._stopped.set()
        with self._lock:
            self._stopping = True
            for ctx in self._contexts.values():
                ctx._cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._watcher.join(timeout=5)
        with self._lock:
            for job in self._jobs.values():
                if not job.finished:
                    self._finish(job, "interrupted", "the server stopped during this job")
            self._db.close()

    # -- internals ----------------------------------------------------------------

    def _run(self, job: Job, ctx: JobContext, work: Work) -> None:
        if job.finished:
            return
        self._update(job, state="running", phase="reading", started_at=_now())
        token = _CURRENT.set(ctx)  # pool threads are reused: reset in ``finally``
        log_id = correlation_id.set(f"job-{job.id[:12]}")  # the job's log lines say so
        try:
            message = work(ctx)
        except JobCancelled:
            if self._stopping:
                self._finish(job, "interrupted", "the server stopped during this job")
            else:
                self._finish(job, "cancelled", "cancelled at the client's request")
        except FindalikeError as exc:
            self._finish(job, "failed", exc.detail)
        except Exception as exc:  # a bug or a backend failure: keep the server alive
            log.exception("job %s failed", job.id)
            self._finish(job, "failed", f"{type(exc).__name__}: {exc}")
        else:
            nothing_stored = job.done == 0 and job.skipped == 0 and job.failed > 0
            state: JobState = "failed" if nothing_stored else "done"
            self._finish(job, state, message or _summary(job))
        finally:
            _CURRENT.reset(token)
            correlation_id.reset(log_id)
            with self._lock:
                self._contexts.pop(job.id, None)

    def _finish(self, job: Job, state: JobState, message: str) -> None:
        with self._lock:  # watchers wake once both are done
            self._update(
                job,
                state=state,
                phase=state,
                message=message,
                finished_at=_now(),
                eta_s=None,
                force=True,
            )
            self.finished_counts[state] = self.finished_counts.get(state, 0) + 1
            self._evict_finished()

    def _evict_finished(self) -> None:
        """Forget all but the newest ``FINISHED_KEPT_IN_MEMORY`` finished jobs (their
        records stay in SQLite), so a long-running server does not grow forever."""
        with self._lock:
            finished = [j.id for j in self._jobs.values() if j.finished]  # oldest first
            for job_id in finished[: max(0, len(finished) - FINISHED_KEPT_IN_MEMORY)]:
                del self._jobs[job_id]
                self._last_persist.pop(job_id, None)

    def _add_error(self, job: Job, error: ItemError) -> None:
        with self._lock:
            if len(job.errors) < MAX_ERRORS_KEPT:
                job.errors.append(error)
            else:
                job.errors_truncated += 1
            self._update(job, failed=job.failed + 1)

    def _update(self, job: Job, *, force: bool = False, **changes: object) -> None:
        with self._changed:
            for key, value in changes.items():
                setattr(job, key, value)
            self._refresh_rate(job)
            job.version += 1
            now = time.monotonic()
            state_changed = "state" in changes
            if (
                force
                or state_changed
                or now - self._last_persist.get(job.id, 0) >= (self._persist_every_s)
            ):
                self._persist(job)
                self._last_persist[job.id] = now
            self._changed.notify_all()

    @staticmethod
    def _refresh_rate(job: Job) -> None:
        if job.started_at is None or job.finished:
            return
        elapsed = (_now() - job.started_at).total_seconds()
        if elapsed <= 0 or job.processed == 0:
            return
        job.rate_per_s = round(job.processed / elapsed, 2)
        if job.total is not None and job.rate_per_s > 0:
            job.eta_s = round(max(job.total - job.processed, 0) / job.rate_per_s, 1)

    def _persist(self, job: Job) -> None:
        try:
            self._db.execute(
                "INSERT INTO jobs (id, created_at, body, state, owner) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET body = excluded.body, state = excluded.state",
                (job.id, job.created_at.isoformat(), job.model_dump_json(), job.state, self.owner),
            )
            self._db.commit()
        except sqlite3.Error:
            log.exception("could not persist job %s", job.id)
            self._db.rollback()  # never hold the file's write lock from the others

    def _mark_interrupted(self) -> None:
        """At start-up: unfinished jobs whose process is gone (a restart, a killed
        worker) are ``interrupted``; those of live workers are left to them."""
        rows = self._db.execute(
            "SELECT body, owner FROM jobs WHERE state IS NULL OR state IN ('queued', 'running')"
        ).fetchall()
        for body, owner in rows:
            job = Job.model_validate_json(body)
            if job.finished or owner_alive(owner):
                continue
            self._interrupt(
                job, "the server stopped before this job finished; load again to resume"
            )
            log.warning("job %s (%s) was interrupted by a restart", job.id, job.app)

    def _reap(self) -> None:
        """Mark ``interrupted`` the unfinished jobs of workers that have died."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body, owner FROM jobs WHERE state IN ('queued', 'running') "
                "AND owner IS NOT ?",
                (self.owner,),
            ).fetchall()
            for body, owner in rows:
                if not owner_alive(owner):
                    job = Job.model_validate_json(body)
                    self._interrupt(job, "the worker running this job stopped before it ended")

    def _interrupt(self, job: Job, message: str) -> Job:
        """Record ``job`` (not run by this process) as interrupted."""
        job.state = "interrupted"
        job.phase = "interrupted"
        job.message = message
        job.finished_at = _now()
        job.eta_s = None
        job.version += 1
        with self._lock:
            try:
                self._db.execute(
                    "UPDATE jobs SET body = ?, state = ? WHERE id = ?",
                    (job.model_dump_json(), job.state, job.id),
                )
                self._db.commit()
            except sqlite3.Error:
                log.exception("could not record job %s as interrupted", job.id)
        return job

    def _watch_cancels(self) -> None:
        """Cancel this process's jobs that another worker was asked to cancel."""
        while not self._stopped.wait(CROSS_PROCESS_POLL_S):
            with self._lock:
                if not self._contexts:
                    continue
                try:
                    flagged = self._db.execute(
                        "SELECT id FROM jobs WHERE cancel = 1 AND owner = ? "
                        "AND state IN ('queued', 'running')",
                        (self.owner,),
                    ).fetchall()
                except sqlite3.Error:
                    log.exception("could not read cancel requests")
                    continue
                for (job_id,) in flagged:
                    if job_id in self._contexts and not self._jobs[job_id].finished:
                        self.cancel(job_id)


def process_token(pid: int) -> str | None:
    """``pid:start-time`` of a live process (None if there is none), so that a pid
    reused by a later process is not taken for the one recorded. Where there is no
    ``/proc``, the pid alone."""
    if not os.path.exists("/proc/self/stat"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return str(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    if fields[0] == "Z":  # a zombie: dead, not yet reaped by its parent
        return None
    return f"{pid}:{fields[19]}"


def spool_root(data_dir: Path, owner: str) -> Path:
    """Where the process ``owner`` spools uploads until its jobs have read them."""
    return data_dir / "spool" / owner.replace(":", "-")


def remove_dead_spools(data_dir: Path) -> None:
    """Remove the upload spools of processes that have ended (a crash or a kill
    leaves them behind; their jobs are interrupted, so nothing will read them)."""
    root = data_dir / "spool"
    try:
        folders = list(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):  # none, or another worker removed it
        return
    for folder in folders:
        if not owner_alive(folder.name.replace("-", ":")):
            shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        root.rmdir()  # only if empty: live workers' spools stay


def owner_alive(owner: str | None) -> bool:
    """Whether the process recorded as a job's ``owner`` still runs."""
    if not owner:
        return False
    pid = owner.split(":", 1)[0]
    return pid.isdigit() and process_token(int(pid)) == owner


def _summary(job: Job) -> str:
    parts = [f"{job.done} stored"]
    if job.skipped:
        parts.append(f"{job.skipped} already stored")
    if job.failed:
        parts.append(f"{job.failed} failed")
    return ", ".join(parts)


def _now() -> datetime:
    return datetime.now(UTC)


def job_json(job: Job) -> str:
    return json.dumps(job.model_dump(mode="json"))
