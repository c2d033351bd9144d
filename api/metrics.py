"""Prometheus metrics of one app: request latency per route, search stages, items and jobs.

Each app owns its registry (several apps live in one test process). Item and job counts are read
from the database at scrape time, so they are right whoever indexed (this process or workers).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anyseek.db.models import IndexJob, Item
from anyseek.db.session import Database

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _DatabaseCounts(Collector):
    """Items per collection status and jobs per state, counted when scraped."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        items = GaugeMetricFamily(
            "anyseek_items", "Items in the database by status", labels=["status"]
        )
        jobs = GaugeMetricFamily("anyseek_jobs", "Index jobs by state", labels=["state"])
        try:
            with self.database.session() as session:
                for status, count in session.execute(
                    select(Item.status, func.count()).group_by(Item.status)
                ):
                    items.add_metric([str(status.value)], count)
                for status, count in session.execute(
                    select(IndexJob.status, func.count()).group_by(IndexJob.status)
                ):
                    jobs.add_metric([str(status.value)], count)
        except Exception:  # a scrape must not fail because the database is away: readyz says so
            return
        yield items
        yield jobs


class Metrics:
    """The metrics of one app and the helpers that record them."""

    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "anyseek_request_seconds",
            "HTTP request latency by route and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stages = Histogram(
            "anyseek_search_stage_seconds",
            "Time per search stage (resolve, transform, queue, model, store, fuse, page, total)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batches = Histogram(
            "anyseek_search_batch_size",
            "Searches answered per model call (micro-batching)",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.searches = Counter(
            "anyseek_searches", "Searches answered, by outcome", ["outcome"], registry=self.registry
        )
        self.registry.register(_DatabaseCounts(database))
        self._stage_children: dict[str, Any] = {}

    def observe_stages(self, timings_ms: Mapping[str, float]) -> None:
        """Record one search's stage timings (each stage's child histogram looked up once: a
        ``labels()`` call per stage and search was a tenth of the app's CPU per search)."""
        children = self._stage_children
        for stage, ms in timings_ms.items():
            child = children.get(stage)
            if child is None:
                child = children[stage] = self.stages.labels(stage)
            child.observe(ms / 1000)

    def render(self) -> Response:
        """The text exposition format."""
        return Response(generate_latest(self.registry), media_type="text/plain; version=0.0.4")

    def observe_request(self, scope: Scope, status: int, seconds: float) -> None:
        """Record one request under its route template (``/v1/collections/{name}``)."""
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.requests.labels(scope["method"], path, str(status)).observe(seconds)


class RequestTimer:
    """ASGI middleware timing every HTTP request into :class:`Metrics` (plain ASGI: Starlette's
    ``BaseHTTPMiddleware`` costs a task and a body stream per request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.observe_request(scope, status, time.perf_counter() - start)
