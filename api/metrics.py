"""Prometheus metrics: requests and latency by route template, and the service's own counts.

Labels are route templates, event names, schemes, states and reasons: never a reference
number, a username or anything from a request's body. Counters live in the process; the
workload gauges are counted from the database at each scrape, so every process reports the
same figures. With several worker processes, PROMETHEUS_MULTIPROC_DIR makes any of them answer
for all (see docs/operations.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from disclosure import timeliness
from disclosure.workflow import Workflow

PREFIX = "disclosure"

# Requests by route template, method and status, with their latency (Litestar's middleware,
# grouped by template so that reference numbers never become labels).
HTTP = PrometheusConfig(app_name=PREFIX, prefix=f"{PREFIX}_http", group_path=True)

TRANSITIONS = Counter(
    f"{PREFIX}_transitions", "Lifecycle events applied, by event", ["event"]
)
REFUSALS = Counter(
    f"{PREFIX}_refusals",
    "Requests refused: 403 not allowed, 409 the lifecycle refused, 412 a stale version",
    ["status", "reason"],
)
SIGN_IN_FAILURES = Counter(
    f"{PREFIX}_sign_in_failures", "Failed sign-ins, by reason", ["reason"]
)
REFUSAL_STATUSES = frozenset({403, 409, 412})


def refused(status: int, reason: str) -> None:
    """Count a refusal; `reason` is the problem's title, one of a fixed few."""
    if status in REFUSAL_STATUSES:
        REFUSALS.labels(status=str(status), reason=reason).inc()


class _Workload(Collector):
    def __init__(self, rows: Iterable[timeliness.Workload]) -> None:
        self.rows = list(rows)

    def collect(self) -> Iterable[Metric]:
        open_requests = GaugeMetricFamily(
            f"{PREFIX}_open_requests", "Open requests by area, scheme and state",
            labels=["area", "scheme", "state"],
        )
        queued = GaugeMetricFamily(
            f"{PREFIX}_queue_requests",
            "Open requests in the overdue and due-soon queues by area and scheme",
            labels=["area", "scheme", "queue"],
        )
        totals: dict[tuple[str, str, str], int] = {}
        for row in self.rows:
            open_requests.add_metric([row.area, row.scheme, row.state], row.open)
            for name, count in row.queues.items():
                key = (row.area, row.scheme, name)
                totals[key] = totals.get(key, 0) + count
        for labels, count in totals.items():
            queued.add_metric(list(labels), count)
        return [open_requests, queued]


def _process_metrics() -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # Every worker writes its counters to that folder; this adds them up.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@get("/metrics", media_type=CONTENT_TYPE_LATEST, include_in_schema=False)
async def metrics(workflow: NamedDependency[Workflow]) -> Response[bytes]:
    """Prometheus metrics in the text exposition format."""
    async with workflow.db.report() as session:
        rows = await timeliness.workload(session, now=workflow.now(), policy=workflow.policy)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Workload(rows))
    body = _process_metrics() + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
