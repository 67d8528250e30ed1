"""Load jobs: state, live progress (Server-Sent Events) and cancellation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from findalike.api.deps import JobsDep
from findalike.api.errors import ERROR_RESPONSES
from findalike.jobs import Job, JobManager

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

POLL_S = 0.2
KEEPALIVE_S = 15.0


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
        "the final state (`done`, `failed`, `cancelled`, `interrupted`), then the stream ends."
    ),
    response_class=EventSourceResponse,
)
async def job_events(job_id: str, jobs: JobsDep, request: Request) -> EventSourceResponse:
    first = await anyio.to_thread.run_sync(jobs.get, job_id)  # 404 before the stream opens
    return EventSourceResponse(_events(jobs, first, request), ping=int(KEEPALIVE_S))


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
