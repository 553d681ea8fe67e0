"""The broker as a test sees it: commands, raw bodies, events and dead letters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from faststream.rabbit import Channel, RabbitBroker

from diko_shared.contract.base import Payload
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Publisher
from harness.waiting import eventually


@dataclass
class Seen:
    """A message as the test received it."""

    body: bytes
    headers: dict[str, Any]
    routing_key: str
    message_id: str | None
    type: str | None
    app_id: str | None = None

    @property
    def envelope(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def data(self) -> dict[str, Any]:
        return self.envelope["data"]


def _seen(message: AbstractIncomingMessage) -> Seen:
    return Seen(
        message.body,
        dict(message.headers or {}),
        message.routing_key or "",
        message.message_id,
        message.type,
        message.app_id,
    )


FENCE_PREFIX = "diko.fence."


class Tap:
    """An exclusive queue bound to an exchange, collecting what arrives."""

    def __init__(self, bus: Bus, exchange: str) -> None:
        self.bus = bus
        self.exchange = exchange
        self.seen: list[Seen] = []
        self.fences: set[str] = set()

    def _add(self, message: Seen) -> None:
        if message.routing_key.startswith(FENCE_PREFIX):
            self.fences.add(message.routing_key)
        else:
            self.seen.append(message)

    async def fence(self, timeout: float = 30.0) -> None:
        """Wait until everything the broker accepted for this tap before now has arrived.

        A marker goes through the same queue behind every message confirmed earlier, so
        once it arrives, nothing published before it is still on its way.
        """
        key = f"{FENCE_PREFIX}{uuid.uuid4()}"
        await self.bus.publish_raw(key, b"{}", exchange=self.exchange)

        async def arrived() -> bool:
            return key in self.fences

        await eventually(arrived, timeout=timeout, what="the fence")

    def matching(self, predicate: Callable[[Seen], bool]) -> list[Seen]:
        return [m for m in self.seen if predicate(m)]

    def of_type(self, type_: str) -> list[Seen]:
        return self.matching(lambda m: m.routing_key == type_)

    async def wait_for(
        self, predicate: Callable[[Seen], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[Seen]:
        """Wait until at least `count` messages satisfy `predicate`."""

        async def enough() -> list[Seen]:
            found = self.matching(predicate)
            return found if len(found) >= count else []

        return await eventually(enough, timeout=timeout, what=f"{count} matching message(s)")

    async def wait_type(self, type_: str, *, count: int = 1, timeout: float = 30.0) -> list[Seen]:
        return await self.wait_for(lambda m: m.routing_key == type_, count=count, timeout=timeout)


def without_heartbeats(amqp_url: str) -> str:
    """The URL with AMQP heartbeats off (`heartbeat=0`).

    The session's bus lives on the session's event loop, which runs only while an async
    test does: a minute of synchronous tests in between (the matching engine's, on a
    loaded machine) would miss the broker's heartbeats, and the broker would close the
    connection under the next test. On loopback a dead peer shows as a closed socket.
    """
    parts = urlsplit(amqp_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "heartbeat"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("heartbeat", "0")])))


class Bus:
    """A test's connection to the broker: FastStream for requests, aio-pika for raw access."""

    def __init__(self, amqp_url: str, source: str = "tests") -> None:
        self.amqp_url = amqp_url = without_heartbeats(amqp_url)
        self.broker = RabbitBroker(
            amqp_url,
            apply_types=False,
            default_channel=Channel(on_return_raises=True),
            log_level=10,
            app_id=source,
        )
        self.publisher = Publisher(self.broker, source)
        self.connection: AbstractRobustConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None

    async def start(self) -> None:
        await self.broker.connect()
        await topology.declare(self.broker, [200, 500])
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        self.channel = await self.connection.channel(publisher_confirms=True)

    async def close(self) -> None:
        await self.broker.stop()
        if self.connection is not None:
            await self.connection.close()

    async def __aenter__(self) -> Bus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, payload: Payload, *, timeout: float = 30.0) -> dict[str, Any]:
        return await self.publisher.request(payload, timeout=timeout)

    async def ok(self, payload: Payload, *, timeout: float = 30.0) -> dict[str, Any]:
        """Request and return the reply's data; fail with the error reply if there is one."""
        reply = await self.request(payload, timeout=timeout)
        assert reply["ok"], f"{type(payload).__name__} answered with an error: {reply}"
        return reply["data"]

    async def send(self, payload: Payload) -> str:
        return await self.publisher.send(payload)

    async def publish_raw(
        self,
        routing_key: str,
        body: bytes,
        *,
        exchange: str = topology.COMMANDS.name,
        content_type: str | None = "application/json",
        reply_to: str | None = None,
        message_id: str | None = None,
        type_: str | None = None,
    ) -> None:
        """Publish bytes exactly as given, as a careless integrator might."""
        assert self.channel is not None
        target = (
            await self.channel.get_exchange(exchange) if exchange else self.channel.default_exchange
        )
        await target.publish(
            aio_pika.Message(
                body,
                content_type=content_type,
                message_id=message_id or str(uuid.uuid4()),
                type=type_ or routing_key,
                reply_to=reply_to,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )

    async def request_raw(
        self,
        routing_key: str,
        body: bytes,
        *,
        content_type: str | None = "application/json",
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Publish raw bytes with a reply queue and return the decoded reply."""
        assert self.channel is not None
        reply_queue = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        correlation_id = str(uuid.uuid4())
        exchange = await self.channel.get_exchange(topology.COMMANDS.name)
        await exchange.publish(
            aio_pika.Message(
                body,
                content_type=content_type,
                message_id=str(uuid.uuid4()),
                correlation_id=correlation_id,
                reply_to=reply_queue.name,
                type=routing_key,
            ),
            routing_key=routing_key,
        )
        async with reply_queue.iterator(timeout=timeout) as replies:
            async for message in replies:
                async with message.process():
                    if message.correlation_id == correlation_id:
                        return json.loads(message.body)
        raise TimeoutError("no reply")

    async def tap(self, exchange: str = topology.EVENTS.name, pattern: str = "#") -> Tap:
        """Collect what is published to `exchange` with a routing key matching `pattern`."""
        assert self.connection is not None
        channel = await self.connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, pattern)
        await queue.bind(exchange, FENCE_PREFIX + "#")
        tap = Tap(self, exchange)

        async def collect(message: AbstractIncomingMessage) -> None:
            tap._add(_seen(message))
            await message.ack()

        await queue.consume(collect)
        return tap

    async def drain(self, queue_name: str) -> list[Seen]:
        """Take every message currently in a queue (e.g. a dead-letter queue)."""
        assert self.channel is not None
        queue = await self.channel.get_queue(queue_name, ensure=False)
        taken: list[Seen] = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            taken.append(_seen(message))
        return taken

    async def depth(self, queue_name: str) -> int:
        """How many messages a queue holds, without taking any."""
        assert self.connection is not None
        channel = await self.connection.channel()
        try:
            queue = await channel.declare_queue(queue_name, passive=True)
            return queue.declaration_result.message_count or 0
        finally:
            await channel.close()

    async def wait_dead_letters(
        self, queue_name: str, count: int, *, timeout: float = 30.0
    ) -> list[Seen]:
        """Wait until `count` dead letters have arrived in `queue_name` and take them."""
        taken: list[Seen] = []

        async def enough() -> list[Seen]:
            taken.extend(await self.drain(queue_name))
            return taken if len(taken) >= count else []

        return await eventually(
            enough, timeout=timeout, what=f"{count} dead letter(s) in {queue_name}"
        )
