"""Typed dependencies, so endpoints read like signatures. Each is ``async def``: FastAPI
runs a plain ``def`` dependency in a worker thread, a trip per dependency per request,
for what is an attribute read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from findalike.config import Settings
from findalike.jobs import JobManager
from findalike.store import VectorStore


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


async def get_store(request: Request) -> VectorStore:
    store: VectorStore = request.app.state.store
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]
StoreDep = Annotated[VectorStore, Depends(get_store)]
