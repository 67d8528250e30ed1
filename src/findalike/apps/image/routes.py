"""The image app's own route: label the images stored before labels existed."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request

from findalike.apps.image.labels import label_stored_images
from findalike.core.app import AppRuntime
from findalike.core.request_types import CollectionQuery
from findalike.jobs import Job, JobContext, JobManager


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/labels",
        status_code=202,
        response_model=Job,
        summary="Label the stored images that have no labels (a job)",
        description="Images loaded before text search existed have no ImageNet labels, so "
        "a text query cannot find them; this job classifies them from their stored "
        "originals. Answers 202 with the job.",
    )
    async def label(request: Request, collection: CollectionQuery = None) -> Job:
        jobs: JobManager = request.app.state.jobs
        target = await anyio.to_thread.run_sync(rt.target, collection)

        def work(job: JobContext) -> str | None:
            return f"{label_stored_images(target, job=job)} image(s) labelled"

        return jobs.submit(rt.name, work, kind="labels")

    return router
