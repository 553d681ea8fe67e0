"""The broker as a test sees it: commands, raw bodies, events and dead letters.

Each message goes out under the identity production would use, chosen by the bus so
that tests need not think about it: a command as `operator` (the `diko` command line,
which may send every command), an event as the service that owns it (as if that service
had sent it), anything else (fences, messages put straight into a queue no service
consumes) as the harness. Taps and dead-letter queues are read as the harness. A test
that means to send as someone else says so: `publish_raw(..., sender="media")`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from faststream.rabbit import Channel, RabbitBroker

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.senders import OPERATOR
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing, Publisher
from harness.stack import HARNESS_USER, url_as
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


def sender_for(exchange: str, routing_key: str) -> str:
    """Who production would have publish this: see the module docstring."""
    if routing_key.startswith(FENCE_PREFIX):
        return HARNESS_USER
    if exchange == topology.COMMANDS.name:
        return OPERATOR
    if exchange == topology.EVENTS.name:
        spec = CATALOGUE.get(routing_key)
        return spec.owner if spec is not None and spec.kind == "event" else HARNESS_USER
    if exchange == "":  # straight into the queue named by the routing key
        for spec in CATALOGUE:
            if spec.is_request and topology.request_queue(spec).name == routing_key:
                return OPERATOR
        _service, on, event_type = routing_key.partition(".on.")
        spec = CATALOGUE.get(event_type) if on else None
        if spec is not None and spec.kind == "event":
            return spec.owner
    return HARNESS_USER


def idle_safe(url: str) -> str:
    """`url` without AMQP heartbeats.

    The bus lives for the whole session, and synchronous tests (the engine's, say) keep
    its event loop from running for minutes on a busy machine: with heartbeats the broker
    would close its connections as dead, and the next test to use them would fail.
    """
    return f"{url}{'&' if '?' in url else '?'}heartbeat=0"


def _broker(url: str, source: str) -> RabbitBroker:
    return RabbitBroker(
        url,
        apply_types=False,
        default_channel=Channel(on_return_raises=True),
        log_level=10,
        app_id=source,
    )


class Senders:
    """One confirmed publisher per broker user, connected when first needed."""

    def __init__(self, amqp_url: str, source: str) -> None:
        self.amqp_url = amqp_url
        self.source = source
        self.publishers: dict[str, Publisher] = {}

    async def publisher(self, user: str) -> Publisher:
        if user not in self.publishers:
            broker = _broker(idle_safe(url_as(self.amqp_url, user)), self.source)
            await broker.connect()
            self.publishers[user] = Publisher(broker, self.source, user_id=user)
        return self.publishers[user]

    async def close(self) -> None:
        for publisher in self.publishers.values():
            await publisher.broker.stop()
        self.publishers.clear()


class IdentityPublisher(Publisher):
    """The bus's publisher: requests as `operator`, each other message as `sender_for` says."""

    def __init__(self, broker: RabbitBroker, source: str, senders: Senders) -> None:
        super().__init__(broker, source, user_id=OPERATOR)
        self.senders = senders

    async def publish(
        self, message: Outgoing, *, timeout: float = 10.0, mandatory: bool = True
    ) -> None:
        user = sender_for(message.exchange, message.routing_key)
        if user == OPERATOR:
            await super().publish(message, timeout=timeout, mandatory=mandatory)
            return
        sender = await self.senders.publisher(user)
        await sender.publish(message, timeout=timeout, mandatory=mandatory)


async def fence(bus: Bus, exchange: str, fences: set[str], timeout: float) -> None:
    """Publish a marker on `exchange` and wait until the consumer that collects `fences`
    has it: it went through the same queue behind every message confirmed earlier, so
    nothing published before it is still on its way."""
    key = f"{FENCE_PREFIX}{uuid.uuid4()}"
    await bus.publish_raw(key, b"{}", exchange=exchange)

    async def arrived() -> bool:
        return key in fences

    await eventually(arrived, timeout=timeout, what=f"the fence through {exchange}")


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
        """Wait until everything the broker accepted for this tap before now has arrived."""
        await fence(self.bus, self.exchange, self.fences, timeout)

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


class Bus:
    """A test's connection to the broker: FastStream for requests, aio-pika for raw access.

    `amqp_url` names the virtual host; the bus logs in as whoever each message needs
    (`harness.stack` keeps the passwords). `connection` and `channel` are the harness's.
    """

    def __init__(self, amqp_url: str, source: str = "tests") -> None:
        self.amqp_url = amqp_url
        self.broker = _broker(idle_safe(url_as(amqp_url, OPERATOR)), source)
        self.senders = Senders(amqp_url, source)
        self._tap_channels: list[aio_pika.abc.AbstractChannel] = []
        self.publisher: Publisher = IdentityPublisher(self.broker, source, self.senders)
        self.connection: AbstractRobustConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None
        self._channels: dict[str, aio_pika.abc.AbstractChannel] = {}
        self._connections: dict[str, AbstractRobustConnection] = {}

    async def start(self) -> None:
        await self.broker.connect()
        self.connection = await aio_pika.connect_robust(
            idle_safe(url_as(self.amqp_url, HARNESS_USER))
        )
        self.channel = await self.connection.channel(publisher_confirms=True)

    async def close(self) -> None:
        await self.broker.stop()
        await self.senders.close()
        for connection in self._connections.values():
            await connection.close()
        if self.connection is not None:
            await self.connection.close()

    async def _channel_as(self, user: str) -> aio_pika.abc.AbstractChannel:
        """A confirmed channel logged in as `user`, for raw publishes."""
        if user == HARNESS_USER:
            assert self.channel is not None
            return self.channel
        if user not in self._channels:
            connection = await aio_pika.connect_robust(idle_safe(url_as(self.amqp_url, user)))
            self._connections[user] = connection
            self._channels[user] = await connection.channel(publisher_confirms=True)
        return self._channels[user]

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
        sender: str | None = None,
    ) -> None:
        """Publish bytes exactly as given, as a careless integrator might.

        As `sender` (a broker user) if given, else as `sender_for` chooses; the AMQP
        `user_id` is the sender's, as every diko publisher sets it.
        """
        user = sender or sender_for(exchange, routing_key)
        channel = await self._channel_as(user)
        target = await channel.get_exchange(exchange) if exchange else channel.default_exchange
        await target.publish(
            aio_pika.Message(
                body,
                content_type=content_type,
                message_id=message_id or str(uuid.uuid4()),
                type=type_ or routing_key,
                reply_to=reply_to,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=user,
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
        sender: str = OPERATOR,
    ) -> dict[str, Any]:
        """Publish raw bytes as `sender` with a reply queue and return the decoded reply."""
        assert self.channel is not None
        reply_queue = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        correlation_id = str(uuid.uuid4())
        channel = await self._channel_as(sender)
        exchange = await channel.get_exchange(topology.COMMANDS.name)
        await exchange.publish(
            aio_pika.Message(
                body,
                content_type=content_type,
                message_id=str(uuid.uuid4()),
                correlation_id=correlation_id,
                reply_to=reply_queue.name,
                type=routing_key,
                user_id=sender,
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
        self._tap_channels.append(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, pattern)
        await queue.bind(exchange, FENCE_PREFIX + "#")
        tap = Tap(self, exchange)

        async def collect(message: AbstractIncomingMessage) -> None:
            tap._add(_seen(message))

        # Without acknowledgements: an ack still on its way when `close_taps` closed the
        # channel reached the broker on a closed channel number, and the broker closed the
        # harness's whole connection ("CHANNEL_ERROR - expected 'channel.open'").
        await queue.consume(collect, no_ack=True)
        return tap

    async def close_taps(self) -> None:
        """Delete the queues of every tap opened so far.

        The bus lives for the whole session; a tap left bound to `#` would take every
        later event, so no later test could see an event go unrouted.
        """
        channels, self._tap_channels = self._tap_channels, []
        for channel in channels:
            if not channel.is_closed:
                await channel.close()

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
