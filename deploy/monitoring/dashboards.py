#!/usr/bin/env python3
"""Write diko's Grafana dashboards: one per service and one for the broker.

    python3 deploy/monitoring/dashboards.py     # writes deploy/monitoring/grafana/dashboards/

Standard library only. The dashboards are Grafana's classic JSON model, provisioned from
files (grafana/provisioning/dashboards/diko.yml) with the data source `prometheus`
(grafana/provisioning/datasources/prometheus.yml). Every query uses the metrics the
services export (diko_shared/service/metrics.py) and RabbitMQ's Prometheus plugin, with
the labels deploy/monitoring/prometheus/prometheus.yml gives them; tests/monitoring runs
each query against a real Prometheus scraping real services and a real broker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SERVICES = ("companies", "matching", "notifications", "media")
SCHEMA_VERSION = 39
WIDTH = 24


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": True,
        "refId": ref,
    }


def panel(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    kind: str = "timeseries",
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    thresholds: list[dict[str, Any]] | None = None,
    stack: bool = False,
) -> dict[str, Any]:
    """A panel; its position is filled in by `layout`."""
    defaults: dict[str, Any] = {"unit": unit}
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["color"] = {"mode": "thresholds"}
    if kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        }
    options: dict[str, Any] = (
        {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    )
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "gridPos": {"w": width, "h": height, "x": 0, "y": 0},
    }


def row(title: str) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"w": WIDTH, "h": 1, "x": 0, "y": 0},
    }


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place panels left to right, wrapping at Grafana's 24 columns; ids in order."""
    x = y = line = 0
    for number, item in enumerate(panels, 1):
        box = item["gridPos"]
        if item["type"] == "row" or x + box["w"] > WIDTH:
            x, y = 0, y + line
            line = 0
        box["x"], box["y"] = x, y
        item["id"] = number
        x += box["w"]
        line = max(line, box["h"])
        if item["type"] == "row":
            x, y, line = 0, y + box["h"], 0
    return panels


def dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]]) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["diko"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "annotations": {"list": []},
        "templating": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "title": "diko",
                "tags": ["diko"],
                "asDropdown": True,
                "icon": "external link",
                "includeVars": False,
                "keepTime": True,
                "targetBlank": False,
                "tooltip": "",
            }
        ],
        "panels": layout(panels),
    }


OK = {"color": "red", "value": None}
GREEN_AT_1 = [OK, {"color": "green", "value": 1}]
RED_ABOVE_0 = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def service_dashboard(service: str) -> dict[str, Any]:
    """Messages by outcome, latency, dead letters, retries, outbox, queues of one service."""
    own = f'service="{service}"'
    queues = f'queue=~"{service}\\\\..+"'
    panels = [
        row("Health"),
        panel(
            "Ready",
            "What /readyz answers now, per check: 1 ready, 0 not (diko_ready).",
            [target(f"min by (check) (diko_ready{{{own}}})", "{{check}}")],
            kind="stat",
            width=6,
            height=4,
            thresholds=GREEN_AT_1,
        ),
        panel(
            "Instances up",
            "Processes answering /metrics (replicas of a scaled service count each).",
            [target(f'sum(up{{job="diko", {own}}})', "up")],
            kind="stat",
            width=6,
            height=4,
            thresholds=GREEN_AT_1,
        ),
        panel(
            "Dead letters waiting",
            f"Messages in {service}.dlq: `diko dlq show {service}` tells why.",
            [target(f'max(rabbitmq_detailed_queue_messages{{queue="{service}.dlq"}})', "dlq")],
            kind="stat",
            width=6,
            height=4,
            thresholds=RED_ABOVE_0,
        ),
        panel(
            "Outbox backlog",
            "Events committed but not yet confirmed by the broker (diko_outbox_backlog).",
            [target(f"sum(diko_outbox_backlog{{{own}}})", "entries")],
            kind="stat",
            width=6,
            height=4,
        ),
        row("Messages"),
        panel(
            "Messages by outcome",
            "Messages taken off the service's queues per second: processed, duplicate, "
            "answered_error, dead_lettered, retried, requeued (diko_messages_total).",
            [
                target(
                    f"sum by (outcome) (rate(diko_messages_total{{{own}}}[$__rate_interval]))",
                    "{{outcome}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        panel(
            "Handler latency",
            "From taking a message to acknowledging it: validation, handler, commit "
            "(diko_handler_seconds).",
            [
                target(
                    f"histogram_quantile({q}, sum by (le) "
                    f"(rate(diko_handler_seconds_bucket{{{own}}}[$__rate_interval])))",
                    f"p{int(q * 100)}",
                )
                for q in (0.5, 0.95, 0.99)
            ],
            unit="s",
        ),
        panel(
            "Latency by queue (p95)",
            "The 95th percentile per queue: which message type is slow.",
            [
                target(
                    "histogram_quantile(0.95, sum by (queue, le) "
                    f"(rate(diko_handler_seconds_bucket{{{own}}}[$__rate_interval])))",
                    "{{queue}}",
                )
            ],
            unit="s",
        ),
        panel(
            "Messages by queue",
            "Messages per second, per queue of the service.",
            [
                target(
                    f"sum by (queue) (rate(diko_messages_total{{{own}}}[$__rate_interval]))",
                    "{{queue}}",
                )
            ],
            unit="reqps",
        ),
        row("Failures"),
        panel(
            "Dead letters by reason",
            "Messages sent to the dead-letter exchange, by reason (validation_error, "
            "forged, forbidden, retries_exhausted, …; diko_dead_lettered_total).",
            [
                target(
                    "sum by (reason) "
                    f"(increase(diko_dead_lettered_total{{{own}}}[$__rate_interval]))",
                    "{{reason}}",
                )
            ],
            stack=True,
        ),
        panel(
            "Retries by queue",
            "Messages put back for a delayed retry (diko_retried_total).",
            [
                target(
                    f"sum by (queue) (increase(diko_retried_total{{{own}}}[$__rate_interval]))",
                    "{{queue}}",
                )
            ],
            stack=True,
        ),
        row("Publishing"),
        panel(
            "Events published by type",
            "Events the outbox relay published and the broker confirmed, per second.",
            [
                target(
                    f"sum by (type) (rate(diko_outbox_published_total{{{own}}}[$__rate_interval]))",
                    "{{type}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "Outbox backlog",
            "Outbox entries over time: a backlog that keeps growing means the broker does "
            "not take what the service emits.",
            [target(f"sum(diko_outbox_backlog{{{own}}})", "entries")],
        ),
        row("Queues in RabbitMQ"),
        panel(
            "Queue depth",
            "Messages in the service's queues (ready and unacknowledged).",
            [target(f"max by (queue) (rabbitmq_detailed_queue_messages{{{queues}}})", "{{queue}}")],
        ),
        panel(
            "Consumers",
            "Consumers per queue: 0 on a queue the service consumes means its messages wait.",
            [
                target(
                    f"max by (queue) (rabbitmq_detailed_queue_consumers{{{queues}}})", "{{queue}}"
                )
            ],
        ),
    ]
    if service == "notifications":
        panels += [
            row("E-mail"),
            panel(
                "E-mails by outcome",
                "E-mails handed to the mail relay: sent, retry (a temporary failure) or "
                "failed (refused for good or out of retries; diko_mail_attempts_total).",
                [
                    target(
                        "sum by (outcome) "
                        f"(increase(diko_mail_attempts_total{{{own}}}[$__rate_interval]))",
                        "{{outcome}}",
                    )
                ],
                width=24,
                stack=True,
            ),
        ]
    return dashboard(
        f"diko-{service}",
        f"diko · {service}",
        f"The {service} service: health, messages by outcome, handler latency, dead "
        "letters by reason, retries, outbox and its queues in RabbitMQ.",
        panels,
    )


def broker_dashboard() -> dict[str, Any]:
    """The broker as a whole: throughput, queues, dead letters, consumers, resources."""
    panels = [
        row("Health"),
        panel(
            "Broker up",
            "RabbitMQ's Prometheus endpoint answers.",
            [target('max(up{job="rabbitmq"})', "up")],
            kind="stat",
            width=6,
            height=4,
            thresholds=GREEN_AT_1,
        ),
        panel(
            "Memory alarm",
            "1: the broker blocks publishers until memory use drops below its watermark.",
            [target("max(rabbitmq_alarms_memory_used_watermark)", "memory")],
            kind="stat",
            width=6,
            height=4,
            thresholds=RED_ABOVE_0,
        ),
        panel(
            "Disk alarm",
            "1: the broker blocks publishers until more disk is free (disk_free_limit).",
            [target("max(rabbitmq_alarms_free_disk_space_watermark)", "disk")],
            kind="stat",
            width=6,
            height=4,
            thresholds=RED_ABOVE_0,
        ),
        panel(
            "Dead letters waiting",
            "Messages in all dead-letter queues (<service>.dlq, diko.dlq).",
            [target('sum(rabbitmq_detailed_queue_messages{queue=~".+\\\\.dlq"})', "dead letters")],
            kind="stat",
            width=6,
            height=4,
            thresholds=RED_ABOVE_0,
        ),
        row("Messages"),
        panel(
            "Messages per second",
            "Published to the broker, routed to queues, delivered to consumers, "
            "acknowledged; unroutable ones returned or dropped.",
            [
                target(f"sum(rate(rabbitmq_global_messages_{name}_total[$__rate_interval]))", name)
                for name in (
                    "received",
                    "routed",
                    "delivered",
                    "acknowledged",
                    "unroutable_returned",
                    "unroutable_dropped",
                )
            ],
            unit="reqps",
        ),
        panel(
            "Dead-lettered by the broker",
            "Messages the broker dead-lettered itself: delivery limit reached (a consumer "
            "died on them 20 times), expired (retry waits: normal), rejected.",
            [
                target(
                    f"sum(rate(rabbitmq_global_messages_dead_lettered_{name}_total[$__rate_interval]))",
                    name,
                )
                for name in ("delivery_limit", "expired", "rejected")
            ],
            unit="reqps",
        ),
        row("Queues"),
        panel(
            "Queue depth (top 15)",
            "Messages per queue, ready and unacknowledged.",
            [target("topk(15, max by (queue) (rabbitmq_detailed_queue_messages))", "{{queue}}")],
        ),
        panel(
            "Dead-letter queues",
            "Messages waiting in each dead-letter queue.",
            [
                target(
                    'max by (queue) (rabbitmq_detailed_queue_messages{queue=~".+\\\\.dlq"})',
                    "{{queue}}",
                )
            ],
        ),
        panel(
            "Queues without a consumer",
            "Queues that a service should consume but nobody does (dead-letter and retry "
            "wait queues never have one).",
            [
                target(
                    "max by (queue) (rabbitmq_detailed_queue_consumers"
                    '{queue!~".+\\\\.dlq|.+\\\\.wait\\\\.[0-9]+ms"}) == 0',
                    "{{queue}}",
                )
            ],
        ),
        panel(
            "Consumers, connections, channels",
            "Connections are one or two per service process, plus the CLI's.",
            [
                target("sum(rabbitmq_consumers)", "consumers"),
                target("sum(rabbitmq_connections)", "connections"),
                target("sum(rabbitmq_channels)", "channels"),
            ],
        ),
        row("Resources"),
        panel(
            "Memory",
            "Memory used by the node and its high watermark.",
            [
                target("sum(rabbitmq_process_resident_memory_bytes)", "used"),
                target("sum(rabbitmq_resident_memory_limit_bytes)", "watermark"),
            ],
            unit="bytes",
        ),
        panel(
            "Free disk",
            "Free disk space and the limit below which the broker blocks publishers.",
            [
                target("min(rabbitmq_disk_space_available_bytes)", "free"),
                target("max(rabbitmq_disk_space_available_limit_bytes)", "limit"),
            ],
            unit="bytes",
        ),
    ]
    return dashboard(
        "diko-rabbitmq",
        "diko · RabbitMQ",
        "The broker: messages per second, queue depths, dead letters, consumers, "
        "connections, memory and disk with their alarms.",
        panels,
    )


def dashboards() -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, dashboard) of every dashboard."""
    for service in SERVICES:
        yield f"{service}.json", service_dashboard(service)
    yield "rabbitmq.json", broker_dashboard()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, document in dashboards():
        (OUT / name).write_text(render(document), encoding="utf-8")
        print(f"wrote {(OUT / name).relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
