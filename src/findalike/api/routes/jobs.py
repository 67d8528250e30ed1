"""Load jobs: state, live progress (Server-Sent Events) and cancellation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from findalike.api.deps import JobsDep
from findalike.api.errors import ERROR_RESPONSES
from findalike.jobs import Job, JobManager

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

POLL_S = 0.2
KEEPALIVE_S = 15.0
WATCHER_RETRY_AFTER_S = 5


class EventWatchers:
    """How many event streams this worker process has open, against
    ``FINDALIKE_MAX_EVENT_WATCHERS``: each costs a poll every ``POLL_S`` on the event
    loop, and a thousand of them slowed every other request."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def take(self) -> None:
        """One slot, or a 503 with ``Retry-After`` (on the event loop: no lock needed)."""
        if self.open >= self.limit:
            raise HTTPException(
                503,
                f"{self.open} job event streams are open, the most this server keeps "
                "(FINDALIKE_MAX_EVENT_WATCHERS): retry later, or poll GET /api/jobs/{id}.",
                headers={"Retry-After": str(WATCHER_RETRY_AFTER_S)},
            )
        self.open += 1


class _WatchedEvents(EventSourceResponse):
    """An event stream that gives its watcher slot back however it ends."""

    def __init__(self, content: AsyncIterator[dict[str, str]], watchers: EventWatchers) -> None:
        super().__init__(content, ping=int(KEEPALIVE_S))
        self._watchers = watchers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._watchers.open -= 1


class JobsPage(BaseModel):
    data: list[Job]
    count: int = Field(description="Jobs listed.")


@router.get("", response_model=JobsPage, summary="Recent jobs, newest first")
async def list_jobs(
    jobs: JobsDep,
    app: Annotated[str | None, Query(max_length=64, description="Only this app's jobs.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobsPage:
    found = await anyio.to_thread.run_sync(lambda: jobs.list(app=app, limit=limit))
    return JobsPage(data=found, count=len(found))


@router.get("/{job_id}", response_model=Job, summary="A job's state and progress")
async def get_job(job_id: str, jobs: JobsDep) -> Job:
    return await anyio.to_thread.run_sync(jobs.get, job_id)


@router.post("/{job_id}/cancel", response_model=Job, summary="Ask a job to stop")
async def cancel_job(job_id: str, jobs: JobsDep) -> Job:
    return await anyio.to_thread.run_sync(jobs.cancel, job_id)


@router.get(
    "/{job_id}/events",
    summary="Progress as Server-Sent Events",
    description=(
        "An event `progress` with the job (JSON) at every change, then one event named after "
        "the final state (`done`, `failed`, `cancelled`, `interrupted`), then the stream ends. "
        "503 with `Retry-After` while FINDALIKE_MAX_EVENT_WATCHERS streams are open."
    ),
    response_class=EventSourceResponse,
)
async def job_events(job_id: str, jobs: JobsDep, request: Request) -> EventSourceResponse:
    first = await anyio.to_thread.run_sync(jobs.get, job_id)  # 404 before the stream opens
    watchers: EventWatchers = request.app.state.event_watchers
    watchers.take()
    return _WatchedEvents(_events(jobs, first, request), watchers)


async def _events(jobs: JobManager, job: Job, request: Request) -> AsyncIterator[dict[str, str]]:
    # Polls the in-memory record from the event loop (a dict copy): no thread is held
    # per watcher, so many watchers cannot starve the worker threads.
    version = -1
    while True:
        if job.version != version:
            version = job.version
            event = job.state if job.finished else "progress"
            yield {"event": event, "data": json.dumps(job.model_dump(mode="json"))}
        if job.finished or await request.is_disconnected():
            return
        await anyio.sleep(POLL_S)
        current = jobs.version_of(job.id)  # an int read: hundreds of watchers stay cheap
        if current is None or current != job.version:
            job = await anyio.to_thread.run_sync(jobs.get, job.id)  # SQLite once evicted
