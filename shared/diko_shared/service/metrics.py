"""The platform's Prometheus metrics, one registry per service process.

FastStream's middleware adds its own (`faststream_*`: received, processed, published,
in-flight); these say what the platform did with each message.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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
        self.due_backlog = Gauge(
            "diko_due_backlog",
            "Due items whose time had come at the last poll (at most one poll's batch)",
            registry=registry,
        )
