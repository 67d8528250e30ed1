"""The FastAPI application: ``create_app(settings)`` builds it; the lifespan opens
the job manager and closes it and the Milvus client in reverse order."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import anyio
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic_settings import BaseSettings
from starlette.exceptions import HTTPException
from starlette.types import Scope
from threadpoolctl import threadpool_limits

from findalike import __version__
from findalike.api.errors import install_error_handlers
from findalike.api.fallback import install_fallback_route
from findalike.api.limits import BodySizeLimit, annotate_body_limits
from findalike.api.metrics import RequestMetrics, install_metrics
from findalike.api.routes import jobs as jobs_routes
from findalike.api.routes import system
from findalike.api.routes.app_routes import make_app_router
from findalike.api.routes.jobs import EventWatchers
from findalike.api.security import AccessGuard, ApiKeys
from findalike.apps import discover
from findalike.config import Settings
from findalike.core.app import AppRuntime
from findalike.core.ingest import load_files
from findalike.encoders.base import Encoder
from findalike.errors import FindalikeError
from findalike.jobs import JobContext, JobManager, Work, process_token, remove_dead_spools
from findalike.store import VectorStore
from findalike.store.media import MediaStore

log = logging.getLogger("findalike")

BLAS_THREADS = 1
"""numpy's BLAS threads while the app serves (an encoder that wants more asks for them
around its own calls). OpenBLAS's threads spin after each call: with 2 of them, the exact
in-memory search of a small collection (``ann.FlatIndex``, a matrix product a search)
took text search at 16 connections from 274-298 req/s to 221-231 (2 cores, the
stdlib docstrings of bench_txtai.py, runs alternated); with 1, 317-346."""

DESCRIPTION = """
Similarity search over text, questions, images, video, audio, molecules, DNA and
ratings, on Milvus. Load data with `POST /api/{app}/load` (answers 202 with a job at
once), follow the job at `/api/jobs/{id}` or its `/events` stream, then search with
`POST /api/{app}/search`. Every error is JSON: `{status, title, detail, errors}`.
"""


def build_runtimes(
    settings: Settings,
    store: VectorStore,
    encoders: dict[str, Encoder] | None = None,
    app_settings: dict[str, BaseSettings] | None = None,
) -> tuple[dict[str, AppRuntime], list[object]]:
    """One runtime per enabled app (cheap: no model, no connection yet; each app's own
    settings are read and checked: pydantic's ``ValidationError`` if one is bad). Apps with
    the same shared encoder share one instance from ``encoders``; ``app_settings``
    replaces an app's own settings (by app name) instead of reading the environment."""
    specs, disabled = discover(settings.apps or None)
    media = MediaStore(settings.data_dir / "media")
    encoders = {} if encoders is None else encoders
    overrides = app_settings or {}
    runtimes = {
        s.name: AppRuntime(
            s,
            settings,
            store,
            media=media,
            encoder_cache=encoders,
            app_settings=overrides.get(s.name),
        )
        for s in specs
    }
    for rt in runtimes.values():  # a bad app setting fails here, not at the first request
        rt.app_settings  # noqa: B018
    return runtimes, list(disabled)


def create_app(
    settings: Settings | None = None,
    *,
    load_demo: bool | None = None,
    encoders: dict[str, Encoder] | None = None,
    app_settings: dict[str, BaseSettings] | None = None,
) -> FastAPI:
    """The application. ``encoders`` (by shared encoder key) lets several apps in one
    process share loaded models; ``load_demo`` (default: the ``load_demo`` setting)
    queues the bundled demo data."""
    settings = settings or Settings()
    load_demo = settings.load_demo if load_demo is None else load_demo
    store = VectorStore(
        settings.resolved_milvus_uri,
        token=settings.milvus_token,
        db_name=settings.milvus_db,
        timeout_s=settings.milvus_timeout_s,
        shared_dir=settings.data_dir,
        search_consistency=settings.resolved_search_consistency,
        ann_min_rows=settings.ann_min_rows if settings.index_type == "auto" else 0,
        flat_min_rows=(settings.flat_min_rows or None) if settings.index_type == "auto" else None,
        ann_ef=settings.ann_ef,
        half_min_dim=settings.half_vectors_min_dim,
    )
    runtimes, disabled = build_runtimes(settings, store, encoders, app_settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        blas = threadpool_limits(BLAS_THREADS, user_api="blas")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # spools of uploads whose job died with its process (no job outlives it)
        await anyio.to_thread.run_sync(remove_dead_spools, settings.data_dir)
        jobs = JobManager(settings.data_dir / "jobs.sqlite", workers=settings.job_workers)
        app.state.jobs = jobs
        try:
            version = await anyio.to_thread.run_sync(store.ping)
            log.info("Milvus %s at %s", version, store.uri)
        except FindalikeError as exc:  # serve anyway: requests answer 503 until it is back
            log.error("%s", exc.detail)
        if load_demo and (settings.workers == 1 or jobs.claim(_server_key("demo"))):
            await anyio.to_thread.run_sync(submit_demo_loads, runtimes, jobs)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(jobs.shutdown)
            await anyio.to_thread.run_sync(store.close)
            blas.restore_original_limits()

    app = FastAPI(
        title="findalike",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from local assets: no CDN, works offline
        redoc_url=None,
    )
    install_offline_docs(app)
    app.state.settings = settings
    app.state.store = store
    app.state.runtimes = runtimes
    app.state.disabled = disabled
    app.state.event_watchers = EventWatchers(settings.max_event_watchers)
    install_error_handlers(app)
    latency = install_metrics(app, runtimes, store)
    app.include_router(system.router)
    app.include_router(jobs_routes.router)
    for rt in runtimes.values():
        app.include_router(make_app_router(rt))

    install_fallback_route(app, runtimes)  # last API route: 405 with Allow, or a 404

    annotate_body_limits(app, settings)
    # the last added runs first: the guard refuses before any body is read
    app.add_middleware(
        BodySizeLimit,
        default_bytes=settings.max_json_bytes,
        timeout_s=settings.body_timeout_s,
        min_rate_bytes=settings.body_min_rate_bytes,
    )
    app.add_middleware(
        AccessGuard,
        keys=ApiKeys.parse(settings.api_keys.get_secret_value()),
        trusted_hosts=settings.trusted_hosts,
        allowed_origins=settings.allowed_origins,
    )
    app.add_middleware(RequestMetrics, histogram=latency)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")  # runs first

    ui_dir = Path(str(files("findalike") / "ui"))
    if (ui_dir / "index.html").exists():
        app.mount("/", UiFiles(ui_dir), name="ui")
    return app


class UiFiles(StaticFiles):
    """The web UI's files (``index.html`` for a folder). Which files exist is read once,
    at start: any other path is a 404 at once. ``StaticFiles`` looks every path up in a
    worker thread (twice for a miss, with ``html``: the path, then ``404.html``), which
    was ~40% of the time of a 404 for an unknown path."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True)
        self._known = frozenset(
            {".", *(os.path.normpath(p.relative_to(directory)) for p in directory.rglob("*"))}
        )

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] in ("GET", "HEAD") and path not in self._known:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def create_app_from_env() -> FastAPI:
    """The application as ``serve --workers N`` starts it in each worker process: all
    settings from the environment (``serve`` puts its options there)."""
    return create_app(Settings())


def _server_key(task: str) -> str:
    """A key naming ``task`` once per ``serve`` run with several workers: the workers
    share their parent (the supervisor), a restarted worker included."""
    return f"{task}:{process_token(os.getppid()) or os.getppid()}"


def install_offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their JavaScript and CSS served by findalike
    itself (from the package ``fastapi-offline``), never from a CDN."""
    static = Path(str(files("fastapi_offline") / "static"))
    app.mount("/static-docs", StaticFiles(directory=static), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url="/static-docs/swagger-ui-bundle.js",
            swagger_css_url="/static-docs/swagger-ui.css",
            swagger_favicon_url="/static-docs/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url="/static-docs/redoc.standalone.js",
            redoc_favicon_url="/static-docs/favicon.png",
            with_google_fonts=False,
        )


def _after(jobs: JobManager, first_id: str, work: Work) -> Work:
    """``work``, started once job ``first_id`` has ended."""

    def run(ctx: JobContext) -> str | None:
        while not jobs.wait_for_change(first_id, jobs.get(first_id).version, 1.0).finished:
            ctx.check_cancelled()
        return work(ctx)

    return run


def submit_demo_loads(runtimes: dict[str, AppRuntime], jobs: JobManager) -> list[str]:
    """Queue a load of each app's bundled demo data into apps that hold nothing yet."""
    submitted = []
    for rt in runtimes.values():
        if rt.spec.demo_files is None:
            continue
        try:
            if rt.count()[0] > 0:
                continue
            demo = rt.spec.demo_files(rt.settings.resolved_demo_data_dir)
        except FindalikeError as exc:
            log.error("demo data for %s not loaded: %s", rt.name, exc.detail)
            continue
        if not demo:
            continue
        job = jobs.submit(rt.name, load_files(rt, demo))
        log.info("loading %s demo data: job %s", rt.name, job.id)
        submitted.append(job.id)
        if rt.spec.follow_up is not None:
            submitted.append(
                jobs.submit(
                    rt.name, _after(jobs, job.id, rt.spec.follow_up(rt)), kind="follow-up"
                ).id
            )
    return submitted
