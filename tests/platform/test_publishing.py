"""Publishing never drops in silence: a message no queue takes raises, an event is counted."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiormq.exceptions import ChannelNotFoundEntity
from faststream.rabbit import Channel, RabbitBroker

from diko_shared.messaging import topology
from diko_shared.messaging.publisher import CHANNELS, Outgoing, Publisher, Unroutable
from harness.bus import Bus
from harness.plug import Plug
from harness.processes import ServiceProcess
from harness.stack import HARNESS_USER, SessionStack


@pytest.fixture
async def broker(stack: SessionStack, bus: Bus) -> AsyncIterator[RabbitBroker]:
    """A broker connection of the harness, which may publish any routing key anywhere."""
    broker = RabbitBroker(
        stack.amqp_url_as(HARNESS_USER),
        default_channel=Channel(on_return_raises=True),
        logger=None,
    )
    await broker.connect()
    yield broker
    await broker.stop()


def _message(exchange: str, routing_key: str) -> Outgoing:
    return Outgoing(
        exchange=exchange,
        routing_key=routing_key,
        body=b"{}",
        message_id=str(uuid.uuid4()),
        type=routing_key,
        source="tests",
    )


async def test_an_event_nobody_subscribes_to_is_reported_not_raised(broker: RabbitBroker) -> None:
    heard: list[str] = []
    publisher = Publisher(broker, "tests", on_unrouted_event=heard.append)
    await publisher.publish(_message(topology.EVENTS.name, "nobody.listens"))
    assert heard == ["nobody.listens"]


async def test_an_event_nobody_subscribes_to_is_logged_at_debug_only(
    broker: RabbitBroker, caplog: pytest.LogCaptureFixture
) -> None:
    # Events no service reacts to yet are usual: a line per return on the hot path, let
    # alone the returned message, would cost more than the publish.
    caplog.set_level(logging.DEBUG)
    heard: list[str] = []
    publisher = Publisher(broker, "tests", on_unrouted_event=heard.append)
    for _ in range(3):
        await publisher.publish(_message(topology.EVENTS.name, "nobody.listens"))
    assert heard == ["nobody.listens"] * 3
    assert [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG] == []
    notes = [r.getMessage() for r in caplog.records if r.name.startswith("diko_shared")]
    assert notes == ["event without subscriber: nobody.listens"] * 3


async def test_a_message_no_queue_takes_raises(broker: RabbitBroker) -> None:
    publisher = Publisher(broker, "tests")
    with pytest.raises(Unroutable, match=r"no\.such\.queue"):
        await publisher.publish(_message("", f"no.such.queue.{uuid.uuid4().hex[:6]}"))


async def test_a_publish_while_the_broker_reopens_its_channel_waits_for_it(
    broker: RabbitBroker,
) -> None:
    # After a reconnection the robust channels are opened again one by one, in the
    # background; a consumer's may deliver before the publisher's is back. A publish must
    # wait for its channel then: failing at once, the pipeline's every settlement failed,
    # its message went straight back to the queue, and 20 deliveries in a second ended it
    # as a `delivery_limit` dead letter (seen in the chaos run after a broker cut).
    heard: list[str] = []
    publisher = Publisher(broker, "tests", on_unrouted_event=heard.append)
    # The broker closes a channel that publishes to a missing exchange; aio-pika reopens it.
    with pytest.raises(ChannelNotFoundEntity):
        await publisher.publish(_message(f"no.such.exchange.{uuid.uuid4().hex[:6]}", "x"))
    await publisher.publish(_message(topology.EVENTS.name, "nobody.listens"), timeout=5.0)
    assert heard == ["nobody.listens"]


async def test_a_publish_the_broker_never_confirms_fails_within_its_timeout(
    stack: SessionStack,
) -> None:
    # The pipeline counts on this bound (`PUBLISH_TIMEOUT_S`) to leave a message's events
    # to the outbox relay when the broker takes them and does not confirm; nothing else
    # around the publish bounds the wait for the confirm.
    url = stack.amqp_url_as(HARNESS_USER)
    with Plug.to(url) as plug:
        broker = RabbitBroker(
            plug.url(url), default_channel=Channel(on_return_raises=True), logger=None
        )
        await broker.connect()
        try:
            publisher = Publisher(broker, "tests")
            for _ in range(CHANNELS):  # every channel open: only the confirm is awaited
                await publisher.publish(_message(topology.EVENTS.name, "nobody.listens"))
            plug.hold_answers()
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(10):  # without a bound of its own, it fails here
                    await publisher.publish(
                        _message(topology.EVENTS.name, "nobody.listens"), timeout=0.5
                    )
            assert time.monotonic() - started < 3
        finally:
            plug.answer()
            await broker.stop()


def test_a_service_exports_the_count_of_unrouted_events(testsvc: ServiceProcess) -> None:
    assert "# TYPE diko_events_unrouted_total counter" in testsvc.get("/metrics").text


async def test_a_queue_declared_otherwise_by_another_version_is_named_at_start() -> None:
    # A virtual host of its own with the users, but no topology yet.
    with SessionStack.create(provision=False) as fresh:
        harness = RabbitBroker(fresh.amqp_url_as(HARNESS_USER), logger=None)
        service = RabbitBroker(fresh.amqp_url_as("notifications"), logger=None)
        await harness.connect()
        try:
            channel = await harness.config.channel_manager.get_channel(Channel())
            await channel.declare_queue(  # as a version without a delivery limit did
                "notifications.on.match.proposed",
                durable=True,
                arguments={"x-queue-type": "quorum"},
            )
            fresh.import_definitions()  # keeps the queue that is there
            await service.connect()
            with pytest.raises(
                topology.TopologyMismatch,
                match=r"'notifications\.on\.match\.proposed'.*delete_queue",
            ):
                await topology.prepare(service, "notifications", [200, 500])
        finally:
            await harness.stop()
            await service.stop()


async def test_a_broker_without_the_provisioned_topology_is_named_at_start() -> None:
    with SessionStack.create(provision=False) as fresh:
        service = RabbitBroker(fresh.amqp_url_as("notifications"), logger=None)
        await service.connect()
        try:
            with pytest.raises(topology.TopologyMissing, match=r"no exchange 'diko\.unrouted'"):
                await topology.prepare(service, "notifications", [200, 500])
        finally:
            await service.stop()
