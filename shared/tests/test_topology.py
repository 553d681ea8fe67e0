"""Queues are computed from the catalogue, each with its dead-lettering and delivery limit."""

from __future__ import annotations

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.messaging import topology


def test_every_command_and_reaction_has_a_quorum_queue_that_dead_letters_by_its_name() -> None:
    bound = {b.queue.name: b for b in topology.bindings([1000, 5000])}
    expected = {f"{s.owner}.{s.type}" for s in CATALOGUE if s.is_request}
    expected |= {f"{svc}.on.{t}" for svc, t in CATALOGUE.all_reactions()}
    assert expected <= set(bound)
    for name in expected:
        arguments = bound[name].queue.arguments
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-dead-letter-exchange"] == "diko.dlx"
        assert arguments["x-dead-letter-routing-key"] == name
        assert arguments["x-delivery-limit"] == topology.DELIVERY_LIMIT


def test_each_service_has_a_dead_letter_queue_bound_to_its_queue_names() -> None:
    bound = {b.queue.name: b for b in topology.bindings([])}
    for service in CATALOGUE.services():
        binding = bound[f"{service}.dlq"]
        assert (binding.exchange.name, binding.routing_key) == ("diko.dlx", f"{service}.#")
    assert bound["diko.dlq"].routing_key == "diko.#"


def test_dead_letter_queues_keep_letters_however_often_they_are_looked_at() -> None:
    bound = {b.queue.name: b for b in topology.bindings([])}
    for name in [*(f"{s}.dlq" for s in CATALOGUE.services()), "diko.dlq"]:
        limit = bound[name].queue.arguments["x-delivery-limit"]
        assert limit == topology.DLQ_DELIVERY_LIMIT >= 100_000  # not -1: RabbitMQ 3 drops


def test_each_service_has_wait_queues_that_return_messages_after_their_delay() -> None:
    waits = [b for b in topology.bindings([200, 500, 200]) if b.exchange is topology.WAIT]
    expected = [f"{s}.wait.{d}ms" for s in CATALOGUE.services() for d in (200, 500)]
    assert [w.queue.name for w in waits] == expected
    for wait in waits:
        service, _, delay = wait.queue.name.removesuffix("ms").partition(".wait.")
        assert wait.queue.arguments["x-message-ttl"] == int(delay)
        assert wait.queue.arguments["x-dead-letter-exchange"] == ""
        assert wait.arguments == {"x-match": "all", **topology.retry_headers(service, int(delay))}
    for header in topology.retry_headers("companies", 200):
        assert not header.startswith("x-")  # headers exchanges ignore x-…


def test_a_service_declares_only_its_own_queues() -> None:
    for service in CATALOGUE.services():
        own = [b.queue.name for b in topology.own_bindings(service, [1000])]
        assert own
        assert all(topology.queue_service(name) == service for name in own)
        assert f"{service}.dlq" not in own  # provisioned: the service may not delete it


def test_commands_nobody_handles_go_to_the_unrouted_queue() -> None:
    assert topology.COMMANDS.arguments == {"alternate-exchange": "diko.unrouted"}
    assert topology.queue_service("companies.company.register") == "companies"
