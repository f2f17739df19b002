"""Prometheus metrics at `/metrics` (only when `AMFLOW_METRICS` is on; see docs/operations.md).

Two kinds of numbers:

- Counted in the processes themselves: requests by route and status with latency histograms, and engine
  steps (case advances: starts, task completions, fired timers). `amflow serve` runs several gunicorn
  workers and a separate timer worker, so these use prometheus-client's multiprocess mode: each process
  writes its counts to files in `PROMETHEUS_MULTIPROC_DIR` (set by `amflow serve` before anything forks) and a
  scrape, whichever worker answers it, adds up the files of all processes, dead ones included.
- Read from the database at scrape time (the same for every process, so never stored per process): open
  tasks by process, due timers, the outbox backlog, open incidents and the age of the newest worker
  heartbeat. Each is one small query on an index (tasks: ix_tasks_queue's leading `status`; case_timers:
  ix_case_timers_due; notifications: ix_notifications_status) except incidents, a table of the few things a
  person must look at, and worker_heartbeats, one row per live worker.

prometheus-client decides between in-memory and multiprocess values when it is first imported, from the
environment. `amflow serve` imports this package before it sets `PROMETHEUS_MULTIPROC_DIR`, so nothing here
imports prometheus_client until the first metric is counted or scraped, which is in a forked worker (a test
checks that importing the service and its command line does not load it).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response
from sqlalchemy.exc import SQLAlchemyError

import processes
from processes import Database
from service.extensions import get_database

logger = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class _Instruments:
    requests: Any
    latency: Any
    steps: Any


_CREATING = threading.Lock()
_made: list[_Instruments] = []


def _instruments() -> _Instruments:
    """The process's counters, created on first use (after `PROMETHEUS_MULTIPROC_DIR` is set, if it is).

    Under a lock: gunicorn's threads answer a new worker's first requests at once, and two threads creating
    the counters together register them twice (DuplicateTimeseries, a 500 for that request).
    """
    if _made:
        return _made[0]
    with _CREATING:
        if not _made:
            _made.append(_create_instruments())
    return _made[0]


def _create_instruments() -> _Instruments:
    from prometheus_client import Counter, Histogram  # noqa: PLC0415 — late on purpose, see the module doc

    return _Instruments(
        requests=Counter("amflow_http_requests", "HTTP requests answered, by route and status.",
                         ["method", "route", "status"]),
        latency=Histogram("amflow_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
                          ["method", "route"], buckets=LATENCY_BUCKETS),
        steps=Counter("amflow_engine_steps", "Case advances: start, complete (a user task) or timer (fired).",
                      ["kind"]),
    )


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request (route = the URL rule, never the raw path)."""
    instruments = _instruments()
    instruments.requests.labels(method, route, str(status)).inc()
    instruments.latency.labels(method, route).observe(seconds)


def count_steps(kind: str, amount: int = 1) -> None:
    """Count case advances: `start`, `complete`, `message` or `timer`.

    Called by the service layer around the use cases that advance a case (api/web start and complete,
    the worker loop's fired timers); when the engine gains one `advance_case` step function, this can move
    into a hook there.
    """
    if amount:
        _instruments().steps.labels(kind).inc(amount)


class DatabaseCollector:
    """Gauges read from the database at scrape time."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415 — late on purpose

        up = GaugeMetricFamily("amflow_database_up", "1 if the database answered this scrape's queries.")
        try:
            counts = processes.operational_counts(self.database, processes.utcnow())
        except SQLAlchemyError as error:
            logger.warning("metrics: the database did not answer: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        tasks = GaugeMetricFamily("amflow_open_tasks", "Open user tasks, by process and status.",
                                  labels=["process", "status"])
        for (process, status), count in counts.tasks.items():
            tasks.add_metric([process, status], count)
        yield tasks
        yield GaugeMetricFamily("amflow_timers_due", "Scheduled timers whose due time has passed.",
                                value=counts.due_timers)
        outbox = GaugeMetricFamily("amflow_outbox_messages", "E-mails in the outbox not yet delivered, by status.",
                                   labels=["status"])
        for status in processes.OUTBOX_STATUSES:
            outbox.add_metric([status], counts.outbox.get(status, 0))
        yield outbox
        incidents = GaugeMetricFamily("amflow_open_incidents", "Unresolved incidents, by kind.", labels=["kind"])
        for kind, count in counts.incidents.items():
            incidents.add_metric([kind], count)
        yield incidents
        if counts.heartbeat_age is not None:
            yield GaugeMetricFamily("amflow_worker_heartbeat_age_seconds",
                                    "Seconds since the newest timer-worker heartbeat.", value=counts.heartbeat_age)

class _ThisProcess:
    """The default registry's metrics (in-memory mode: one process, e.g. the development server or tests)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY  # noqa: PLC0415 — late on purpose

        yield from REGISTRY.collect()


def exposition(database: Database) -> tuple[bytes, str]:
    """The text of one scrape and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest  # noqa: PLC0415
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    _instruments()  # the counters exist (at zero) even before the first one is counted
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector(database))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def init_metrics(app: Flask) -> None:
    """`GET /metrics`, only when `METRICS` is on (otherwise there is no such page: 404)."""
    if not app.config["METRICS"]:
        return

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = exposition(get_database())
        return Response(body, content_type=content_type)
