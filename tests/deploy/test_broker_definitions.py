"""deploy/rabbitmq/definitions.json: the broker's users, their rights and the topology.

The file is generated from the contract (`python -m diko_shared.messaging.access`) and
must be current. Its rights are checked here the way RabbitMQ applies them (each
pattern is a regular expression matched against a resource name or routing key), over
every exchange, queue and message type there is: who may create, publish, read and bind
what. The same rights are in force in every test session (`harness.stack`), where the
tests in tests/identity try them against the real broker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.senders import INTEGRATOR, OPERATOR
from diko_shared.messaging import access, topology

REPO = Path(__file__).resolve().parents[2]
DEFINITIONS = REPO / "deploy" / "rabbitmq" / "definitions.json"
SERVICES = ("companies", "matching", "notifications", "media")


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


def permission(definitions: dict[str, Any], user: str) -> dict[str, str]:
    (found,) = [p for p in definitions["permissions"] if p["user"] == user]
    return found


def topic(definitions: dict[str, Any], user: str, exchange: str) -> dict[str, str]:
    (found,) = [
        p
        for p in definitions["topic_permissions"]
        if p["user"] == user and p["exchange"] == exchange
    ]
    return found


def matches(pattern: str, name: str) -> bool:
    """As RabbitMQ matches a permission: the pattern found anywhere in the name."""
    return re.search(pattern, name) is not None


def queues(definitions: dict[str, Any]) -> list[str]:
    return [q["name"] for q in definitions["queues"]]


def test_the_committed_definitions_are_current() -> None:
    assert DEFINITIONS.read_text(encoding="utf-8") == access.deployment_definitions(), (
        "deploy/rabbitmq/definitions.json is stale: run `make generated`"
    )


def test_every_user_has_a_password_placeholder_and_none_is_an_administrator(
    definitions,
) -> None:
    users = {u["name"]: u for u in definitions["users"]}
    assert set(users) == {*SERVICES, OPERATOR, access.MONITOR}
    for name, user in users.items():
        assert user["password"] == f"@@password:{name}@@"
        assert "administrator" not in user["tags"]
    assert users[access.MONITOR]["tags"] == ["monitoring"]
    assert "guest" not in users


def test_the_definitions_hold_the_whole_topology(definitions) -> None:
    assert [x["name"] for x in definitions["exchanges"]] == [
        "diko.unrouted",
        "diko.commands",
        "diko.events",
        "diko.dlx",
        "diko.wait",
    ]
    names = set(queues(definitions))
    assert {f"{s}.dlq" for s in SERVICES} | {"diko.dlq", "diko.unrouted"} <= names
    deployed = [s for s in CATALOGUE if s.owner in SERVICES]  # not a test's own service
    assert {f"{s.owner}.{s.type}" for s in deployed if s.is_request} <= names
    assert {f"{svc}.{d}" for svc in SERVICES for d in ("wait.1000ms", "wait.300000ms")} <= names


def test_a_service_creates_and_reads_only_its_own_queues(definitions, service) -> None:
    rights = permission(definitions, service)
    for queue in queues(definitions):
        own = topology.queue_service(queue) == service and not queue.endswith(".dlq")
        assert matches(rights["configure"], queue) == own, queue
        consumed = own or queue == "diko.unrouted"
        assert matches(rights["read"], queue) == consumed, queue
    for exchange in ("diko.commands", "diko.events", "diko.dlx", "diko.wait", "diko.unrouted"):
        assert not matches(rights["configure"], exchange), f"{service} may delete {exchange}"


def test_a_service_publishes_only_its_own_events_and_the_commands_granted_to_it(
    definitions, service
) -> None:
    events = topic(definitions, service, "diko.events")
    commands = topic(definitions, service, "diko.commands")
    for spec in CATALOGUE:
        if spec.kind == "event":
            assert matches(events["write"], spec.type) == (spec.owner == service), spec.type
            consumed = spec.type in CATALOGUE.reactions(service)
            assert matches(events["read"], spec.type) == consumed, spec.type
        else:
            assert matches(commands["write"], spec.type) == (service in spec.senders), spec.type
            assert matches(commands["read"], spec.type) == (spec.owner == service), spec.type
    assert not matches(events["read"], "#"), "a service may not bind to every event"
    dead_letters = topic(definitions, service, "diko.dlx")["write"]
    assert matches(dead_letters, f"{service}.on.position.opened")
    assert not matches(dead_letters, "companies.company.register") or service == "companies"


def test_only_notifications_and_the_operator_may_send_match_decide(definitions) -> None:
    spec = CATALOGUE.require("match.decide")
    assert spec.senders == ("notifications", OPERATOR)
    for service in SERVICES:
        rights = topic(definitions, service, "diko.commands")["write"]
        assert matches(rights, "match.decide") == (service == "notifications")
    assert "match.decide" not in access.sendable(INTEGRATOR)
    integrator = access.integrator_grant("website")
    (commands,) = [t for t in integrator.topics if t.exchange == "diko.commands"]
    assert not matches(commands.write, "match.decide")
    assert matches(commands.write, "company.register")


def test_the_operator_sends_commands_watches_events_and_handles_dead_letters(definitions) -> None:
    rights = permission(definitions, OPERATOR)
    for queue in queues(definitions):
        assert matches(rights["read"], queue) == queue.endswith(".dlq"), queue
        assert not matches(rights["configure"], queue), queue
    assert matches(rights["write"], "diko.commands")
    assert not matches(rights["write"], "diko.events")
    assert topic(definitions, OPERATOR, "diko.events")["read"] == ".*"
    assert matches(rights["configure"], "amq.gen-JzTY20BRgKO-HjmUJj0wLg")
    assert matches(rights["configure"], "amq_0123456789abcdef0123456789abcdef")


def test_the_monitor_may_look_at_nothing_but_the_management_ui(definitions) -> None:
    rights = permission(definitions, access.MONITOR)
    assert (rights["configure"], rights["write"], rights["read"]) == ("^$", "^$", "^$")


def test_the_contract_document_says_who_may_send_what() -> None:
    committed = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    assert "| `match.decide` | command | matching | `notifications`, `operator` |" in committed
