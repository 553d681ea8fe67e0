"""Prometheus with diko's configuration and alert rules, scraping real services and RabbitMQ.

Debian's Prometheus runs the scrape jobs of deploy/monitoring/prometheus/prometheus.yml
(the compose service names replaced by this session's processes, the virtual host by
the session's) and evaluates alerts.yml, while companies and notifications handle real
messages on the real broker: a position filled (an e-mail goes out), a malformed command
and a forged event. Then every rule evaluates without error, the dead-letter and the
forged-message alerts are raised, nothing is raised that should not be, and every query
of every dashboard runs, those of these two services and of the broker with data.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from monitoring.tools import (
    ALERTS,
    PROMETHEUS_YML,
    as_promql,
    binary,
    dashboards,
    queries,
)

from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import Address, Contact, OpenPosition, RegisterCompany
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import MatchAccepted
from diko_shared.contract.notifications import RegisterStaff, Subscribe
from harness.bus import Bus
from harness.mailpit import Mailpit
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

SCRAPE = "1s"
#: Panels that show nothing while nothing goes wrong.
EMPTY_WHEN_HEALTHY = {
    "Queues without a consumer",
    "Retries by queue",
    "Dead-lettered by the broker",
}
#: Nothing was dead-lettered in notifications in this test.
EMPTY_HERE = {("notifications.json", "Dead letters by reason")}


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10.0)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=promql)["result"]


@pytest.fixture(scope="module")
def services(stack: SessionStack) -> Iterator[dict[str, ServiceProcess]]:
    processes = {
        "companies": ServiceProcess(
            "companies-monitoring", "diko_companies", None, stack.service_env("companies")
        ),
        "notifications": ServiceProcess(
            "notifications-monitoring",
            "diko_notifications",
            None,
            stack.service_env(
                "notifications",
                DIKO_LINK_SECRET=secrets.token_urlsafe(32),
                DIKO_PUBLIC_BASE_URL="http://127.0.0.1:8003",
            ),
        ),
    }
    try:
        for process in processes.values():
            process.start()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def configuration(stack: SessionStack, services: dict[str, ServiceProcess], rules: Path) -> dict:
    """deploy's prometheus.yml, aimed at this session's processes and virtual host."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    config["global"] = {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE}
    config["rule_files"] = [str(rules)]
    broker = urlsplit(stack.base["DIKO_RABBITMQ_METRICS_URL"]).netloc
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"diko", "rabbitmq", "rabbitmq-queues"}
    diko = jobs["diko"]
    named = {entry["names"][0] for entry in diko.pop("dns_sd_configs")}
    assert named == {"companies", "matching", "notifications", "media"}
    assert diko.pop("relabel_configs") == [
        {"source_labels": ["__meta_dns_name"], "target_label": "service"}
    ]
    diko["static_configs"] = [
        {"targets": [f"127.0.0.1:{process.port}"], "labels": {"service": name}}
        for name, process in services.items()
    ]
    for name in ("rabbitmq", "rabbitmq-queues"):
        assert jobs[name]["static_configs"] == [{"targets": ["rabbitmq:15692"]}]
        jobs[name]["static_configs"] = [{"targets": [broker]}]
    assert jobs["rabbitmq-queues"]["params"]["vhost"] == ["diko"]
    jobs["rabbitmq-queues"]["params"]["vhost"] = [stack.vhost]
    return config


@pytest.fixture(scope="module")
def prometheus(
    stack: SessionStack, services: dict[str, ServiceProcess], tmp_path_factory
) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("prometheus")
    rules = directory / "alerts.yml"
    shutil.copy(ALERTS, rules)
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(configuration(stack, services, rules)))
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Prometheus(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (directory / "prometheus.log").read_text()
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(30)
        log.close()


async def fill_a_position_and_mail_it(bus: Bus, mailpit: Mailpit) -> str:
    """Staff subscribed to position.filled; a one-place position taken by match.accepted."""
    email = f"monitor-{uuid.uuid4().hex[:8]}@diko.example"
    staff = await bus.ok(RegisterStaff(name="Karin Schulze", email=email))
    await bus.ok(Subscribe(staff_id=staff["staff_id"], topics=["position.filled"]))
    company = await bus.ok(
        RegisterCompany(
            name=f"Bäckerei {uuid.uuid4().hex[:8]} GmbH",
            address=Address(street="Markt 1", postcode="39576", town="Stendal"),
            contact=Contact(name="Ole Brandt", email="ole@baeckerei.example", role="Inhaber"),
            industry="Handwerk",
        )
    )
    position = await bus.ok(
        OpenPosition(
            company_id=company["company_id"],
            occupation=Occupation(code="29212", name="Bäcker/in"),
            places=1,
            start_date=date(2027, 8, 1),
            town="Stendal",
            school_certificate="hauptschule",
        )
    )
    accepted = MatchAccepted(
        proposal_id=f"prp_{uuid.uuid4().hex[:20]}",
        position_id=position["position_id"],
        company_id=company["company_id"],
        applicant_id=f"apl_{uuid.uuid4().hex[:20]}",
    )
    body = json.dumps(new_envelope("match.accepted", accepted, source="matching")).encode()
    await bus.publish_raw("match.accepted", body, exchange="diko.events")  # as matching
    await mailpit.wait_for(f"to:{email}", timeout=60)
    return position["position_id"]


async def test_alerts_and_dashboards_work_against_real_services_and_the_broker(
    prometheus: Prometheus, services: dict[str, ServiceProcess], bus: Bus, mailpit: Mailpit
) -> None:
    await bus.drain("companies.dlq")
    await fill_a_position_and_mail_it(bus, mailpit)
    await bus.publish_raw("company.register", b"{not json")  # dead-lettered: malformed
    forged = new_envelope("match.accepted", {"position_id": "pos_x"}, source="matching")
    await bus.publish_raw(
        "companies.on.match.accepted", json.dumps(forged).encode(), exchange="", sender="media"
    )

    async def targets_up() -> bool:
        active = prometheus.get("/api/v1/targets")["activeTargets"]
        return len(active) == 4 and all(t["health"] == "up" for t in active)

    await eventually(targets_up, timeout=60, what="all four scrape targets up")

    async def raised() -> set[str]:
        alerts = prometheus.get("/api/v1/alerts")["alerts"]
        found = {
            (a["labels"]["alertname"], a["labels"].get("queue", "")): a["state"] for a in alerts
        }
        wanted = {
            ("DeadLettersWaiting", "companies.dlq"),
            ("ForgedOrForbiddenMessages", "companies.on.match.accepted"),
        }
        return set(found) if wanted <= set(found) else set()

    try:
        alerts = await eventually(raised, timeout=90, what="the dead-letter and forged alerts")
    except TimeoutError as exc:
        dlq = prometheus.query('rabbitmq_detailed_queue_messages{queue="companies.dlq"}')
        refused = prometheus.query("diko_dead_lettered_total")
        found = prometheus.get("/api/v1/alerts")["alerts"]
        raise AssertionError(
            f"{exc}\nalerts: {found}\ndlq: {dlq}\ndead letters: {refused}"
        ) from exc
    names = {name for name, _ in alerts}
    for quiet in ("ServiceDown", "ServiceNotReady", "BrokerDown", "MailDeliveryFailed"):
        assert quiet not in names, f"{quiet} raised on a healthy system: {alerts}"

    for group in prometheus.get("/api/v1/rules")["groups"]:
        for rule in group["rules"]:
            assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"

    # A rate() panel needs two samples of a series in its window; the alerts may be pending
    # after the first scrape of a target (Prometheus begins scraping a few seconds after
    # it starts), so the panels are asked again until the second scrape has come.
    async def panels_without_data() -> list[str]:
        answered = {}
        for name, document in dashboards().items():
            for title, expr in queries(document):
                answered[(name, title, expr)] = prometheus.query(as_promql(expr, "30s"))
        empty = []
        for name in ("companies.json", "notifications.json", "rabbitmq.json"):
            for title in sorted({t for (n, t, _) in answered if n == name}):
                if title in EMPTY_WHEN_HEALTHY or (name, title) in EMPTY_HERE:
                    continue
                results = [r for (n, t, _), r in answered.items() if n == name and t == title]
                if not any(results):
                    empty.append(f"{name}: {title} shows no data")
        return empty

    async def every_panel_shows_data() -> bool:
        return not await panels_without_data()

    try:
        await eventually(every_panel_shows_data, timeout=30, interval=1, what="every panel's data")
    except TimeoutError as exc:
        raise AssertionError("\n".join(await panels_without_data())) from exc
    mail = prometheus.query('sum by (outcome) (diko_mail_attempts_total{service="notifications"})')
    assert {r["metric"]["outcome"] for r in mail} >= {"sent"}
