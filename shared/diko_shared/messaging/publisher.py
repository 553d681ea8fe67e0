"""Publishing with the guarantees of the contract: persistent, confirmed, and never lost in silence.

Every publish waits for the broker's confirm. A publish the broker returns as
unroutable raises `Unroutable`, except an event, which may legitimately have no
subscriber yet and is only counted. Faults of the connection raise, so the caller
(the consumer pipeline or the outbox relay) keeps the message and tries again.

Every publish carries the AMQP `user_id` of its connection's broker user. RabbitMQ
refuses a `user_id` that is not the login's, so consumers can trust it as the sender
(`diko_shared.messaging.identity`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from aio_pika.abc import AbstractChannel as AbstractPikaChannel
from aio_pika.abc import AbstractRobustChannel
from aiormq import spec
from aiormq.abc import AbstractChannel
from aiormq.exceptions import PublishError
from faststream.rabbit import Channel, RabbitBroker, RabbitExchange
from pydantic_core import to_json

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.envelope import new_envelope
from diko_shared.messaging import topology

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
NO_ROUTE = 312
PERSISTENT = 2


class Unroutable(Exception):
    """The broker returned the message: no queue is bound for its routing key."""


@dataclass(frozen=True)
class Outgoing:
    """A message ready to publish: where it goes and its AMQP properties."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    type: str
    source: str
    correlation_id: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_envelope(cls, exchange: str, envelope: Mapping[str, Any], **extra: Any) -> Outgoing:
        """The envelope as compact UTF-8 JSON (pydantic-core's encoder: a sixth of the time
        `json.dumps` takes, on every message a handler emits)."""
        return cls(
            exchange=exchange,
            routing_key=envelope["type"],
            body=to_json(envelope),
            message_id=envelope["id"],
            type=envelope["type"],
            source=envelope["source"],
            correlation_id=envelope.get("correlationid"),
            **extra,
        )

    def to_document(self) -> dict[str, Any]:
        """The form kept in the outbox until the broker confirms it."""
        return {
            "exchange": self.exchange,
            "routing_key": self.routing_key,
            "body": self.body.decode(),
            "message_id": self.message_id,
            "type": self.type,
            "source": self.source,
            "correlation_id": self.correlation_id,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Outgoing:
        return cls(**{**doc, "body": doc["body"].encode()})


def pack(messages: Sequence[Outgoing]) -> bytes:
    """Outgoing messages as one opaque value for the outbox.

    One binary field instead of a list of documents: FerretDB decodes every document it
    scans field by field, and the outbox is scanned to delete what was sent.
    """
    return to_json([m.to_document() for m in messages])


def unpack(packed: bytes) -> list[Outgoing]:
    return [Outgoing.from_document(doc) for doc in json.loads(packed)]


_EXCHANGES = {
    x.name: x
    for x in (topology.COMMANDS, topology.EVENTS, topology.DLX, topology.WAIT, topology.UNROUTED)
}
_EXCHANGES[""] = RabbitExchange()


def broker_user(url: str) -> str | None:
    """The broker user an AMQP URL logs in as (percent-decoded), or None."""
    username = urlsplit(url).username
    return unquote(username) if username else None


def _connection_user(broker: RabbitBroker) -> str | None:
    """The user of the broker's connection URL (FastStream keeps it among its arguments)."""
    url = getattr(broker, "_connection_kwargs", {}).get("url")
    return broker_user(str(url)) if url else None


#: Confirmed channels a publisher spreads its messages over. aiormq publishes on one
#: channel at a time (a lock that passes to the next waiter once per turn of the event
#: loop), so a single channel caps a busy service at one publish a turn.
CHANNELS = 4


@dataclass
class _Lane:
    settings: Channel
    open: AbstractChannel | None = None
    opening: asyncio.Lock = field(default_factory=asyncio.Lock)


class Publisher:
    """Publishes envelopes and raw messages on a confirmed channel of its own.

    The channel is opened on the broker's connection (so it follows its reconnections) but
    bypasses FastStream's publisher stack: the outbox relay publishes every event through
    here, and per-message middleware would cost a third of its CPU.
    """

    def __init__(
        self,
        broker: RabbitBroker,
        source: str,
        on_unrouted_event: Callable[[str], None] | None = None,
        *,
        user_id: str | None = None,
    ) -> None:
        """`on_unrouted_event(type)` hears of each event no queue was bound for.

        `user_id` is the broker user of `broker`'s connection; by default the user of
        the URL the broker was created with.
        """
        self.broker = broker
        self.source = source
        self.on_unrouted_event = on_unrouted_event
        self.user_id = user_id or _connection_user(broker)
        # Channel settings compare by identity: each instance is a channel of its own.
        self._lanes = [
            _Lane(Channel(publisher_confirms=True, on_return_raises=True)) for _ in range(CHANNELS)
        ]
        self._turn = itertools.cycle(self._lanes)

    async def _channel(self, timeout: float) -> AbstractChannel:
        """The next confirmed channel of the broker's connection (reopened after a reconnect).

        Each is kept while it is open: looking it up through FastStream costs more than a
        publish. Opening one, or waiting for one aio-pika is reopening (`_reopened`),
        takes at most `timeout`.
        """
        lane = next(self._turn)
        if lane.open is None or lane.open.is_closed:
            async with asyncio.timeout(timeout), lane.opening:  # one channel, not many
                if lane.open is None or lane.open.is_closed:
                    manager = self.broker.config.channel_manager
                    channel = await manager.get_channel(lane.settings)
                    await _reopened(channel, timeout)
                    lane.open = await channel.get_underlay_channel()
        return lane.open

    async def publish(
        self, message: Outgoing, *, timeout: float = 10.0, mandatory: bool = True
    ) -> None:
        """Publish and wait for the confirm; events without a subscriber are counted, not raised.

        Raises `TimeoutError` when the message is not confirmed within `timeout`, a channel
        to open first included. The frames are handed to the connection without waiting
        for the socket to drain, so that concurrent publishes do not queue behind each
        other's writes; the broker's confirm is what says the message is safe.
        """
        properties = spec.Basic.Properties(
            content_type=CONTENT_TYPE,
            message_id=message.message_id,
            message_type=message.type,
            app_id=message.source or self.source,  # a dead-lettered copy keeps its producer
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            headers=dict(message.headers) or None,
            delivery_mode=PERSISTENT,
            user_id=self.user_id,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        channel = await self._channel(timeout)
        try:
            # What is left of `timeout` bounds the write and the confirm: aiormq 7 awaits the
            # confirm inside the same `asyncio.timeout` (tests/platform/test_publishing.py).
            await channel.basic_publish(
                message.body,
                exchange=message.exchange,
                routing_key=message.routing_key,
                properties=properties,
                mandatory=mandatory,
                timeout=deadline - loop.time(),
                wait=False,
            )
        except PublishError as exc:
            returned = getattr(exc.frame, "reply_code", None) == NO_ROUTE
            if returned and message.exchange == topology.EVENTS.name:
                # Usual for an event no service reacts to yet: a short note, never the body.
                log.debug("event without subscriber: %s", message.type)
                if self.on_unrouted_event is not None:
                    self.on_unrouted_event(message.type)
                return
            where = message.exchange or "the default exchange"
            raise Unroutable(f"no queue is bound for {message.routing_key!r} on {where}") from exc

    def command(
        self,
        payload: Payload,
        *,
        subject: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> Outgoing:
        """A command (or query) in its envelope, addressed through `diko.commands`."""
        spec = CATALOGUE.for_payload(type(payload))
        envelope = new_envelope(
            spec.type, payload, source=self.source, subject=subject, correlationid=correlation_id
        )
        return Outgoing.from_envelope(topology.COMMANDS.name, envelope, reply_to=reply_to)

    async def send(self, payload: Payload, *, subject: str | None = None) -> str:
        """Send a command without waiting for an answer; returns its message id."""
        message = self.command(payload, subject=subject)
        await self.publish(message)
        return message.message_id

    async def request(
        self, payload: Payload, *, subject: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send a command or query and wait for the reply envelope (`{"ok": ..., ...}`)."""
        message = self.command(payload, subject=subject)
        return await self.request_raw(message, timeout=timeout)

    async def request_raw(self, message: Outgoing, *, timeout: float = 30.0) -> dict[str, Any]:
        """Send any prepared message with direct reply-to and wait for the reply body."""
        correlation_id = message.correlation_id or str(uuid.uuid4())
        response = await self.broker.request(
            message.body,
            exchange=_EXCHANGES[message.exchange],
            routing_key=message.routing_key,
            mandatory=True,
            persist=True,
            timeout=timeout,
            content_type=CONTENT_TYPE,
            message_id=message.message_id,
            message_type=message.type,
            correlation_id=correlation_id,
            headers=dict(message.headers) or None,
            user_id=self.user_id,
        )
        return json.loads(response.body)


async def _reopened(channel: AbstractPikaChannel, timeout: float) -> None:
    """Wait (at most `timeout`) for `channel` if aio-pika is reopening it.

    After a reconnection the robust channels are opened again one by one in the
    background, and the broker closes a channel for a channel error, which aio-pika then
    reopens; a consumer's channel may deliver before the publisher's is back. Failing at
    once there would send the caller's message straight back to its queue, round and
    round until its delivery limit. (`RobustChannel.ready()` does not wait for a reopen
    after a channel error, its reopen callbacks do.) A channel still closed after
    `timeout` makes the publish raise as before.
    """
    if not (channel.is_closed and isinstance(channel, AbstractRobustChannel)):
        return
    reopened = asyncio.Event()

    def note(*_: object) -> None:
        reopened.set()

    channel.reopen_callbacks.add(note)
    try:
        if channel.is_closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reopened.wait(), timeout)
    finally:
        channel.reopen_callbacks.discard(note)
