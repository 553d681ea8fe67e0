"""Acknowledgements sent many at once keep the channel, and settle each message exactly once.

The pipeline's `Acknowledger` acknowledges finished messages in runs of delivery tags with
`multiple`, and on their own behind a message still running. Here it settles real
deliveries of a private queue on the local broker in the orders the services produce:
a slow message among quick ones, a rejection in the middle, a closed channel. Afterwards
the channel must still be open and every acknowledged message gone from the queue (a
channel closed by the broker would return them all).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelInvalidStateError

from diko_shared.messaging.acks import Acknowledger
from harness.stack import HARNESS_USER, SessionStack

pytestmark = pytest.mark.stack

WAIT_S = 10.0


@dataclass
class Deliveries:
    """A consuming channel on a private queue and the messages delivered to it, in order."""

    channel: AbstractChannel
    queue: AbstractQueue
    messages: list[AbstractIncomingMessage] = field(default_factory=list)
    more: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self, message: AbstractIncomingMessage) -> None:
        self.messages.append(message)
        self.more.set()

    async def arrived(self, count: int) -> list[AbstractIncomingMessage]:
        async with asyncio.timeout(WAIT_S):
            while len(self.messages) < count:
                self.more.clear()
                await self.more.wait()
        return self.messages[:count]

    async def still_open(self) -> bool:
        """A round trip after the acks: the broker closes the channel before answering it
        if one of them was wrong (frames of a channel are handled in order)."""
        await self.channel.declare_queue(self.queue.name, passive=True)
        return not self.channel.is_closed


@pytest.fixture
async def connection(stack: SessionStack) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    connection = await aio_pika.connect(stack.amqp_url_as(HARNESS_USER))
    yield connection
    await connection.close()


async def deliveries_of(
    connection: aio_pika.abc.AbstractConnection, count: int, prefetch: int = 16
) -> tuple[str, Deliveries]:
    """A new queue with `count` messages, consumed (unacknowledged) on a channel of its own."""
    name = f"tests.acks.{uuid.uuid4().hex[:12]}"
    setup = await connection.channel()
    await setup.declare_queue(name, arguments={"x-expires": 120_000})
    for seq in range(count):
        await setup.default_exchange.publish(aio_pika.Message(str(seq).encode()), name)
    await setup.close()
    return name, await consumed(connection, name, count, prefetch)


async def consumed(
    connection: aio_pika.abc.AbstractConnection, name: str, count: int, prefetch: int = 16
) -> Deliveries:
    """Consume the queue on a new channel until `count` messages have been delivered."""
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.get_queue(name)
    deliveries = Deliveries(channel, queue)
    await queue.consume(deliveries.collect)
    await deliveries.arrived(count)
    return deliveries


async def left_in(connection: aio_pika.abc.AbstractConnection, name: str) -> int:
    """Messages still in the queue once its consumer's channel is gone (unacked ones return)."""
    channel = await connection.channel()
    queue = await channel.declare_queue(name, passive=True)
    left = queue.declaration_result.message_count or 0
    await queue.delete(if_unused=False, if_empty=False)
    await channel.close()
    return left


async def settle_all(acks: Acknowledger, messages: Sequence[AbstractIncomingMessage]) -> None:
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(*(acks.ack(m) for m in messages))


async def test_a_slow_message_among_quick_ones_keeps_the_channel(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    name, deliveries = await deliveries_of(connection, 6)
    first, second, third, *rest = deliveries.messages
    acks = Acknowledger()
    for message in deliveries.messages:
        acks.receive(message)
    # The third finishes while the first two still run: acknowledged on its own after the
    # gap's wait. Then the first two finish together (one ack for both), then the rest.
    await settle_all(acks, [third])
    await settle_all(acks, [first, second])
    await settle_all(acks, rest)
    assert await deliveries.still_open()
    await deliveries.channel.close()
    assert await left_in(connection, name) == 0
    assert acks.acked == 6


async def test_only_the_run_is_acknowledged_and_the_slow_message_stays(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    name, deliveries = await deliveries_of(connection, 5)
    _slow, *quick = deliveries.messages
    acks = Acknowledger()
    for message in deliveries.messages:
        acks.receive(message)
    await settle_all(acks, quick[1:])
    await settle_all(acks, quick[:1])
    assert await deliveries.still_open()
    # The slow message was never acknowledged: it is the one the queue gets back.
    await deliveries.channel.close()
    assert await left_in(connection, name) == 1
    assert acks.acked == 4


async def test_a_rejection_between_finished_messages_settles_each_once(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    name, deliveries = await deliveries_of(connection, 5)
    one, two, three, four, five = deliveries.messages
    acks = Acknowledger()
    for message in deliveries.messages:
        acks.receive(message)
    await settle_all(acks, [four])  # behind a gap: on its own
    finishing = asyncio.gather(acks.ack(one), acks.ack(two))
    await acks.nack(three, requeue=True)  # back to the queue, after one and two
    await finishing
    await settle_all(acks, [five])
    assert await deliveries.still_open()
    await deliveries.channel.close()
    assert await left_in(connection, name) == 1  # the rejected one, requeued


async def test_a_delivery_that_never_comes_here_does_not_hold_the_others(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    # The replies to a service's own requests arrive on its consuming channel without
    # acknowledgement and never pass the pipeline: a gap in the delivery tags that never
    # closes. Once nothing is outstanding, later messages are acknowledged in runs again.
    name, deliveries = await deliveries_of(connection, 2)
    replies = await deliveries.channel.declare_queue(exclusive=True)
    heard: list[AbstractIncomingMessage] = []
    replied = asyncio.Event()

    async def on_reply(message: AbstractIncomingMessage) -> None:
        heard.append(message)
        replied.set()

    await replies.consume(on_reply, no_ack=True)
    publishing = await connection.channel()
    await publishing.default_exchange.publish(aio_pika.Message(b"reply"), replies.name)
    async with asyncio.timeout(WAIT_S):
        await replied.wait()
    for seq in range(6):
        await publishing.default_exchange.publish(aio_pika.Message(str(seq).encode()), name)
    messages = await deliveries.arrived(8)
    assert heard[0].delivery_tag == 3
    assert [m.delivery_tag for m in messages] == [1, 2, *range(4, 10)]
    acks = Acknowledger()
    before, after = messages[:4], messages[4:]
    for message in before:
        acks.receive(message)
    await settle_all(acks, before)
    frames = acks.frames
    for message in after:
        acks.receive(message)
    await settle_all(acks, after)
    assert acks.frames == frames + 1  # one ack with `multiple` for the four
    assert await deliveries.still_open()
    await publishing.close()
    await deliveries.channel.close()
    assert await left_in(connection, name) == 0


async def test_a_delivery_passed_over_that_comes_late_is_acknowledged_alone(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    name, deliveries = await deliveries_of(connection, 3)
    first, *others = deliveries.messages
    acks = Acknowledger()
    for message in others:
        acks.receive(message)
    await settle_all(acks, others)
    acks.receive(first)
    await settle_all(acks, [first])
    assert await deliveries.still_open()
    await deliveries.channel.close()
    assert await left_in(connection, name) == 0
    assert acks.acked == 3


async def test_a_late_delivery_that_a_later_run_covered_is_not_acknowledged_again(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    # The first delivery reaches the pipeline only after its neighbours were settled and
    # the floor passed over its tag; while it still runs, two later messages finish and
    # go with one ack with `multiple`, which the broker applies to the first one too. Its
    # own ack must not follow: RabbitMQ answers an unknown delivery tag by closing the
    # channel, and every message in flight on it comes again.
    name, deliveries = await deliveries_of(connection, 5)
    first, second, third, fourth, fifth = deliveries.messages
    acks = Acknowledger()
    for message in (second, third):
        acks.receive(message)
    await settle_all(acks, [second, third])  # alone, behind the gap, once it stays open
    acks.receive(first)  # late: its tag is below the floor now
    for message in (fourth, fifth):
        acks.receive(message)
    await settle_all(acks, [fourth, fifth])  # one ack with `multiple`, up to the fifth
    frames = acks.frames
    await settle_all(acks, [first])
    assert acks.frames == frames  # the first was acknowledged with the run already
    assert await deliveries.still_open()
    await deliveries.channel.close()
    assert await left_in(connection, name) == 0


async def test_a_closed_channel_takes_its_marks_and_the_next_one_is_acknowledged(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    # As after a reconnection: what was delivered on the old channel and not acknowledged
    # comes again on a new one, whose delivery tags start at 1 again.
    name, old = await deliveries_of(connection, 3)
    acks = Acknowledger()
    for message in old.messages:
        acks.receive(message)
    await settle_all(acks, old.messages[:1])
    await old.channel.close()
    with pytest.raises(ChannelInvalidStateError):
        await settle_all(acks, old.messages[1:])
    new = await consumed(connection, name, 2)
    assert [m.delivery_tag for m in new.messages] == [1, 2]
    for message in new.messages:
        acks.receive(message)
    await settle_all(acks, new.messages)
    assert await new.still_open()
    await new.channel.close()
    assert await left_in(connection, name) == 0


async def test_settlements_keep_their_order_while_the_connection_is_busy(
    connection: aio_pika.abc.AbstractConnection,
) -> None:
    # aiormq queues the frames of a connection for its writer in ten places, and a frame
    # waiting for a place can lose its turn to a frame handed over later. Here a channel
    # keeps handing over publishes, as a service's publisher does on the connection its
    # consumers acknowledge on, while the acknowledger settles, block after block, the
    # messages behind a gap one by one (more frames than places) and right after them
    # the run that covers their tags. Each single ack must reach the broker first: after
    # the run's ack with `multiple` it names a settled tag, and the broker closes the
    # channel with every message on it.
    blocks, size = 8, 64
    name, deliveries = await deliveries_of(connection, blocks * size, prefetch=blocks * size)
    messages = deliveries.messages
    sink = await deliveries.channel.declare_queue(exclusive=True, arguments={"x-max-length": 1})
    flooding = True

    async def publish_forever() -> None:
        channel = await (await connection.channel()).get_underlay_channel()
        while flooding:  # handed over without waiting for the write, as the publisher does
            await channel.basic_publish(bytes(4096), routing_key=sink.name, wait=False)

    publishers = [asyncio.create_task(publish_forever()) for _ in range(4)]
    acks = Acknowledger()
    for message in messages:
        acks.receive(message)
    try:
        for block in range(blocks):
            held, *behind, last = messages[block * size : (block + 1) * size]
            sent = acks.frames
            settling = [asyncio.ensure_future(acks.ack(m)) for m in behind]
            async with asyncio.timeout(WAIT_S):
                while acks.frames == sent:  # noqa: ASYNC110 - the gap's wait is over
                    await asyncio.sleep(0)
            settling += [asyncio.ensure_future(acks.ack(m)) for m in (held, last)]
            async with asyncio.timeout(WAIT_S):
                await asyncio.gather(*settling)
    finally:
        flooding = False
        async with asyncio.timeout(WAIT_S):
            await asyncio.gather(*publishers, return_exceptions=True)
    assert await deliveries.still_open()
    await deliveries.channel.close()
    assert await left_in(connection, name) == 0
