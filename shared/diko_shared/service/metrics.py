"""The platform's Prometheus metrics, one registry per service process.

They say what the platform did with each message; FastStream's middleware, which added
its own `faststream_*` metrics, is not on the consuming path (`messaging.consuming`).
"""

from __future__ import annotations

import logging
import re
from typing import Generic, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
)
from prometheus_client.metrics import MetricWrapperBase

from diko_shared.service.collector import CollectorSettings

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    """A labelled metric's children, each looked up once.

    `labels()` checks and converts its values on every call, which costs more than the
    update itself; the per-message path calls `Children(...)(*values)` instead. Label
    values here come from the catalogue and the service's own queues, a bounded set.
    """

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class Metrics:
    """Counters and histograms of the consumer pipeline, the outbox relay and the store."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.handled = Counter(
            "diko_messages_total",
            "Messages taken off a queue, by queue and what became of them",
            ["queue", "outcome"],
            registry=registry,
        )
        self.handler_seconds = Histogram(
            "diko_handler_seconds",
            "Time from taking a message to acknowledging it (validation, handler, commit)",
            ["queue"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "diko_messages_in_progress",
            "Messages taken off a queue and not yet acknowledged, by queue",
            ["queue"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "diko_dead_lettered_total",
            "Messages sent to the dead-letter exchange, by queue and reason",
            ["queue", "reason"],
            registry=registry,
        )
        self.retried = Counter(
            "diko_retried_total",
            "Messages put back for a delayed retry, by queue",
            ["queue"],
            registry=registry,
        )
        self.published = Counter(
            "diko_outbox_published_total",
            "Messages the outbox relay published and the broker confirmed, by type",
            ["type"],
            registry=registry,
        )
        self.unrouted_events = Counter(
            "diko_events_unrouted_total",
            "Events the broker returned because no queue is bound for their type (no subscriber)",
            ["type"],
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "diko_outbox_backlog",
            "Outbox entries written but not yet confirmed by the broker",
            registry=registry,
        )
        self.ready = Gauge(
            "diko_ready",
            "1 while the check (broker, database) answers, 0 while not; set at each scrape",
            ["check"],
            registry=registry,
        )
        self.mail_attempts = Counter(
            "diko_mail_attempts_total",
            "E-mails handed to the SMTP server, by outcome: sent, retry (a temporary "
            "failure, tried again later) or failed (refused for good, or out of retries)",
            ["outcome"],
            registry=registry,
        )
        self.store_seconds = Histogram(
            "diko_store_command_seconds",
            "Time the database took for each command, by command and collection",
            ["command", "collection"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.commit_batch = Histogram(
            "diko_group_commit_units",
            "Messages whose writes went to the database in one group commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=registry,
        )
        self.due = Counter(
            "diko_due_total",
            "Due items run, by kind and outcome (done, retried, failed)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.retention_deleted = Counter(
            "diko_retention_deleted_total",
            "Records deleted because their retention ran out, by kind (the housekeeping)",
            ["kind"],
            registry=registry,
        )
        self.due_backlog = Gauge(
            "diko_due_backlog",
            "Due items whose time had come at the last poll (at most one poll's batch)",
            registry=registry,
        )
        self.unknown_fields = Counter(
            "diko_unknown_fields_total",
            "Fields of events this version does not know and ignored, by type and field path",
            ["type", "field"],
            registry=registry,
        )
        self.earlier_versions = Counter(
            "diko_earlier_versions_total",
            "Messages read in an earlier schema version and upgraded, by type and version",
            ["type", "version"],
            registry=registry,
        )
        # The process's CPU and memory, and what the cycle collector does (`collector`).
        ProcessCollector(registry=registry)
        GCCollector(registry=registry)
        registry.register(CollectorSettings())
        self._unknown_seen: set[tuple[str, str]] = set()
        self.handled_as = Children(self.handled)
        self.handler_seconds_of = Children(self.handler_seconds)
        self.in_progress_on = Children(self.in_progress)
        self.published_of = Children(self.published)
        self.store_seconds_of = Children(self.store_seconds)

    def unknown_field(self, type_: str, field: str) -> None:
        """Count an ignored field of an event; say so in the log the first time.

        Field names come from the sender: a name that is not a plain identifier path is
        counted as `(other)`, and so is every name beyond the first `MAX_UNKNOWN_FIELDS`,
        so that no sender can grow the metric without bound.
        """
        key = (type_, field if FIELD_PATH.fullmatch(field) else OTHER_FIELD)
        if key not in self._unknown_seen:
            if len(self._unknown_seen) >= MAX_UNKNOWN_FIELDS:
                key = (type_, OTHER_FIELD)
            if key not in self._unknown_seen:
                self._unknown_seen.add(key)
                log.info(
                    "an event carries a field this version does not know; it is ignored",
                    extra={"type": type_, "field": key[1]},
                )
        self.unknown_fields.labels(*key).inc()

    def earlier_version(self, type_: str, version: int) -> None:
        self.earlier_versions.labels(type_, str(version)).inc()


#: Distinct (type, field) series of `diko_unknown_fields_total` before the rest is `(other)`.
MAX_UNKNOWN_FIELDS = 200
OTHER_FIELD = "(other)"
#: `proposals[].position.floor`: identifiers joined by dots, `[]` or `{}` for collections.
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
FIELD_PATH = re.compile(rf"{_NAME}(?:(?:\[\]|\{{\}})?\.{_NAME}){{0,9}}")
