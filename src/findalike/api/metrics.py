"""Operating findalike: ``GET /metrics`` in Prometheus' text format, and a request id
in every log line.

Metrics (``prometheus_client``, one registry per application):

- ``findalike_request_seconds``: latency histogram per method, route template and
  status class;
- ``findalike_encoder_batch_callers`` / ``findalike_search_batch_callers``: how many
  callers shared one model call / one Milvus request (``findalike.core.batching``), and
  ``findalike_encoder_queue_wait_seconds`` (sum and count): time queued for the model;
- ``findalike_jobs``: jobs queued and running now; ``findalike_jobs_finished_total``
  by final state;
- ``findalike_store_errors_total``: failed Milvus calls by method and error type;
- ``findalike_store_graph_searches_total``: query vectors answered through a big
  collection's HNSW graph on the embedded store (``findalike.store.ann``).

With several worker processes (``serve --workers N``, which sets
``PROMETHEUS_MULTIPROC_DIR`` to a folder of that run), any worker's ``/metrics`` adds
up all of them: the request histogram through ``prometheus_client``'s multiprocess
mode, the counters read from each process's own state through a snapshot each worker
writes to that folder every ``SNAPSHOT_S`` (and the scraping worker at the scrape);
the jobs gauge is read from the job records the workers share.

The request id (``X-Request-ID``: the caller's if it is a UUID, else a new one) is
answered in the response header and written in every log line of that request
(``asgi-correlation-id``); a load job's lines carry ``job-<id>`` instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from findalike.core.batching import BatchingEncoder, BatchStats

if TYPE_CHECKING:
    from fastapi import FastAPI

    from findalike.core.app import AppRuntime
    from findalike.store import VectorStore

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
SNAPSHOT_S = 1.0
LOG_FORMAT = "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"


class RequestMetrics:
    """ASGI middleware timing every HTTP request into ``findalike_request_seconds``,
    labelled by the route's template (``/api/{app}/items/{item_id}``, never the raw
    path, so ids do not explode the label set)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            label = route if route else ("(ui)" if scope.get("endpoint") else "(none)")
            self.histogram.labels(scope["method"], label, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )


class _FindalikeCollector(Collector):
    """What is read at scrape time: batching, jobs and store counters."""

    def __init__(self, app: FastAPI, runtimes: dict[str, AppRuntime], store: VectorStore):
        self.app = app
        self.runtimes = runtimes
        self.store = store

    def collect(self) -> Iterator[Metric]:
        yield from self.local()
        yield self.live_jobs()

    def local(self) -> Iterator[Metric]:
        """What this process counted: batching, finished jobs, store errors."""
        encoders = HistogramMetricFamily(
            "findalike_encoder_batch_callers",
            "Queries (callers) encoded together in one model call.",
            labels=["encoder"],
        )
        waits_sum = CounterMetricFamily(
            "findalike_encoder_queue_wait_seconds",
            "Seconds encode calls waited for the model thread (sum; count is the calls).",
            labels=["encoder"],
        )
        searches = HistogramMetricFamily(
            "findalike_search_batch_callers",
            "Searches sent to Milvus together as one request.",
            labels=["app"],
        )
        seen: set[int] = set()
        for rt in self.runtimes.values():
            stats = rt.search_stats
            if stats.batches:
                searches.add_metric([rt.name], *_histogram(stats))
            if not rt.encoder_loaded or not isinstance(rt.encoder, BatchingEncoder):
                continue
            if id(rt.encoder) in seen:
                continue
            seen.add(id(rt.encoder))
            stats = rt.encoder.stats
            encoders.add_metric([rt.encoder.name], *_histogram(stats))
            waits_sum.add_metric([rt.encoder.name], stats.waited_s)
        yield encoders
        yield waits_sum
        yield searches
        jobs = getattr(self.app.state, "jobs", None)
        ended = CounterMetricFamily(
            "findalike_jobs_finished", "Jobs ended since the start, by state.", labels=["state"]
        )
        if jobs is not None:
            for state, n in sorted(jobs.finished_counts.items()):
                ended.add_metric([state], n)
        yield ended
        errors = CounterMetricFamily(
            "findalike_store_errors", "Failed Milvus calls.", labels=["method", "error"]
        )
        for (method, kind), n in sorted(self.store.errors.items()):
            errors.add_metric([method, kind], n)
        yield errors
        graphs = CounterMetricFamily(
            "findalike_store_graph_searches",
            "Query vectors answered in memory, through a collection's HNSW graph or exact copy "
            "(the embedded store).",
        )
        graphs.add_metric([], self.store.graph_searches)
        yield graphs

    def live_jobs(self) -> Metric:
        """Jobs queued and running now, in every worker (from the shared records)."""
        live = GaugeMetricFamily("findalike_jobs", "Jobs queued or running.", labels=["state"])
        jobs = getattr(self.app.state, "jobs", None)
        if jobs is not None:
            for state, n in jobs.live_counts().items():
                live.add_metric([state], n)
        return live


class _SharedCollector(Collector):
    """Several workers: each one's ``local`` counters, summed from the snapshots in
    ``folder``, and the live jobs."""

    def __init__(self, own: _FindalikeCollector, folder: Path) -> None:
        self.own = own
        self.folder = folder
        self.path = folder / f"findalike_{os.getpid()}.json"
        self._stop = threading.Event()

    def write_snapshot(self) -> None:
        families = [
            {
                "name": f.name,
                "doc": f.documentation,
                "type": f.type,
                "samples": [[s.name, s.labels, s.value] for s in f.samples],
            }
            for f in self.own.local()
        ]
        tmp = self.folder / f".{self.path.name}.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(families))
        os.replace(tmp, self.path)

    def keep_writing(self) -> None:
        while not self._stop.wait(SNAPSHOT_S):
            try:
                self.write_snapshot()
            except OSError:  # the run's folder is gone: the server is stopping
                return

    def collect(self) -> Iterator[Metric]:
        self.write_snapshot()
        merged: dict[str, Metric] = {}
        totals: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        for path in sorted(self.folder.glob("findalike_*.json")):
            try:
                families = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # a worker that died while writing: its next file will do
            for fam in families:
                if fam["name"] not in merged:
                    merged[fam["name"]] = Metric(fam["name"], fam["doc"], fam["type"])
                    totals[fam["name"]] = {}
                sums = totals[fam["name"]]
                for name, labels, value in fam["samples"]:
                    key = (name, tuple(sorted(labels.items())))
                    sums[key] = sums.get(key, 0.0) + value
        for family_name, family in merged.items():
            for (name, labels), value in totals[family_name].items():
                family.add_sample(name, dict(labels), value)
            yield family
        yield self.own.live_jobs()


def _histogram(stats: BatchStats) -> tuple[list[tuple[str, float]], float]:
    """Cumulative buckets and the sum, from batches counted by size."""
    buckets = []
    for bound in BATCH_BUCKETS:
        buckets.append((str(bound), float(sum(n for k, n in stats.sizes.items() if k <= bound))))
    buckets.append(("+Inf", float(stats.batches)))
    return buckets, float(stats.calls)


def install_metrics(app: FastAPI, runtimes: dict[str, AppRuntime], store: VectorStore) -> Histogram:
    """``GET /metrics``; returns the request latency histogram for ``RequestMetrics``
    (added as a middleware outside the access guard, so refused requests count too)."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    registry = CollectorRegistry(auto_describe=True)
    own = _FindalikeCollector(app, runtimes, store)
    latency = Histogram(
        "findalike_request_seconds",
        "HTTP request latency by route template.",
        ["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=None if folder else registry,  # several workers: in the run's folder
    )
    if folder:
        shared = _SharedCollector(own, Path(folder))
        multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        registry.register(shared)
        threading.Thread(target=shared.keep_writing, name="findalike-metrics", daemon=True).start()
    else:
        registry.register(own)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        body = await anyio.to_thread.run_sync(generate_latest, registry)  # reads files
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return latency


_SECRET_QUERY = re.compile(
    r"([?&](?:api[_-]?key|key|token|access_token|password|secret)=)[^&#\s]*", re.IGNORECASE
)


class SecretQueryFilter(logging.Filter):
    """Masks the values of key-like query parameters (``?api_key=...``) in a log
    record's arguments: keys are refused in a URL, but uvicorn's access log would still
    write the URL a client sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration with the request id in every line (its access
    and error logs, and findalike's own loggers through the root logger)."""
    request_id = {"()": "asgi_correlation_id.CorrelationIdFilter", "default_value": "-"}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "filters": ["request_id", "secrets"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": request_id,
            "secrets": {"()": "findalike.api.metrics.SecretQueryFilter"},
        },
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"level": level.upper()},
        },
    }
