"""The node's metrics: ``/metrics`` in the Prometheus text format (admin key), and optionally on a
local-only port (``BATPASS_METRICS_PORT``, bound to 127.0.0.1, no key).

One ``CollectorRegistry`` per app (never the process-global one). Request metrics come from the
HTTP edge (``batpass.http.MetricsMiddleware``), the federated questions through federation's
metrics port (:class:`batpass.federation.FederationMetrics`, which this class implements), and
the store's state is read at scrape time (:class:`_StoreCollector`): the outbox backlog, the
passport backup-copy lag and the ledger's event count, the same from every worker sharing the
database. No label carries a partner, lot, battery or operator id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from batpass.core.clock import utc_now
from batpass.http import HttpMetrics
from batpass.passport import BACKUP_KIND
from batpass.store import outbox_backlog

__all__ = ["CONTENT_TYPE_LATEST", "NodeMetrics"]

log = logging.getLogger("batpass.metrics")


class NodeMetrics:
    """The registry of one app and the metrics the node records as things happen."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry)
        self.questions = Histogram(
            "batpass_federation_question_duration_seconds",
            "Time to answer a federated question (direction up: trace, down: recall; asker operator or partner)",
            ("direction", "asker"),
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
            registry=self.registry,
        )
        self.tombstones = Counter(
            "batpass_federation_tombstones",
            "Branches of computed federated answers lost, by reason category",
            ("direction", "category"),
            registry=self.registry,
        )
        self._store: _StoreCollector | None = None
        self._server: Any = None

    # -- federation's metrics port (batpass.federation.FederationMetrics) ----------------------
    def question(self, direction: str, asker: str, seconds: float) -> None:
        self.questions.labels(direction, asker).observe(seconds)

    def tombstone(self, direction: str, category: str) -> None:
        self.tombstones.labels(direction, category).inc()

    # -- lifecycle (the app's lifespan) ---------------------------------------------------------
    def open(self, engine: Engine, ledger_events: Callable[[], int], port: int | None = None) -> None:
        """Read the store at each scrape; serve the local port if one is configured."""
        self._store = _StoreCollector(engine, ledger_events)
        self.registry.register(self._store)
        if port is not None:
            from prometheus_client import start_http_server

            try:
                self._server, _thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
            except OSError as exc:  # another worker of this node serves it
                log.warning("metrics port 127.0.0.1:%d not served by this worker: %s", port, exc)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._store is not None:
            self.registry.unregister(self._store)
            self._store = None

    def scrape(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    def __init__(self, engine: Engine, ledger_events: Callable[[], int]) -> None:
        self.engine = engine
        self.ledger_events = ledger_events

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("batpass_store_up", "1 when the store answered this scrape's queries")
        try:
            backlog = outbox_backlog(self.engine)
            events = self.ledger_events()
        except SQLAlchemyError as exc:
            log.warning("metrics: the store did not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = utc_now()
        depth = GaugeMetricFamily("batpass_outbox_depth", "Outbox messages waiting to be sent", labels=["kind"])
        retrying = GaugeMetricFamily(
            "batpass_outbox_retrying", "Waiting outbox messages whose last attempt failed", labels=["kind"]
        )
        dead = GaugeMetricFamily(
            "batpass_outbox_dead", "Outbox messages given up on (refused, or out of attempts)", labels=["kind"]
        )
        oldest = 0.0
        lag = 0.0
        for b in backlog:
            depth.add_metric([b.kind], b.pending)
            retrying.add_metric([b.kind], b.retrying)
            dead.add_metric([b.kind], b.dead)
            age = max(0.0, (now - b.oldest_pending_at).total_seconds()) if b.oldest_pending_at else 0.0
            oldest = max(oldest, age)
            if b.kind == BACKUP_KIND:
                lag = age
        yield from (depth, retrying, dead)
        yield GaugeMetricFamily(
            "batpass_outbox_oldest_age_seconds", "Age of the oldest waiting outbox message (0: none)", value=oldest
        )
        yield GaugeMetricFamily(
            "batpass_passport_backup_lag_seconds",
            "Age of the oldest passport version not yet copied to the backup node (0: all copied)",
            value=lag,
        )
        yield CounterMetricFamily(
            "batpass_ledger_events_recorded", "Events this node's ledger has recorded", value=events
        )
