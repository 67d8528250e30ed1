"""Operating findalike: ``GET /metrics`` in Prometheus' text format, and a request id
in every log line.

Metrics (``prometheus_client``, one registry per application):

- ``findalike_request_seconds``: latency histogram per method, route template and
  status class;
- ``findalike_encoder_batch_callers`` / ``findalike_search_batch_callers``: how many
  callers shared one model call / one Milvus request (``findalike.batching``), and
  ``findalike_encoder_queue_wait_seconds`` (sum and count): time queued for the model;
- ``findalike_jobs``: jobs queued and running now; ``findalike_jobs_finished_total``
  by final state;
- ``findalike_store_errors_total``: failed Milvus calls by method and error type.

The request id (``X-Request-ID``: the caller's if it is a UUID, else a new one) is
answered in the response header and written in every log line of that request
(``asgi-correlation-id``); a load job's lines carry ``job-<id>`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
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

from findalike.batching import BatchingEncoder, BatchStats

if TYPE_CHECKING:
    from fastapi import FastAPI

    from findalike.app import AppRuntime
    from findalike.store import VectorStore

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
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
        live = GaugeMetricFamily("findalike_jobs", "Jobs queued or running.", labels=["state"])
        ended = CounterMetricFamily(
            "findalike_jobs_finished", "Jobs ended since the start, by state.", labels=["state"]
        )
        if jobs is not None:
            for state, n in jobs.live_counts().items():
                live.add_metric([state], n)
            for state, n in sorted(jobs.finished_counts.items()):
                ended.add_metric([state], n)
        yield live
        yield ended
        errors = CounterMetricFamily(
            "findalike_store_errors", "Failed Milvus calls.", labels=["method", "error"]
        )
        for (method, kind), n in sorted(self.store.errors.items()):
            errors.add_metric([method, kind], n)
        yield errors


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
    registry = CollectorRegistry(auto_describe=True)
    latency = Histogram(
        "findalike_request_seconds",
        "HTTP request latency by route template.",
        ["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    registry.register(_FindalikeCollector(app, runtimes, store))

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return latency


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration with the request id in every line (its access
    and error logs, and findalike's own loggers through the root logger)."""
    request_id = {"()": "asgi_correlation_id.CorrelationIdFilter", "default_value": "-"}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": request_id},
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"level": level.upper()},
        },
    }
