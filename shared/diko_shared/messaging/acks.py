"""Acknowledgements per channel, in delivery order, many at once with `multiple`.

A message is acknowledged only once its work is committed; messages finish out of
order, and an ack frame per message costs the broker and this process as much as a
small write. So each finished message is marked, and at the end of the event loop's
turn the marks of a channel are sent: the run of finished messages that directly
follows the last settled delivery tag as one `basic.ack` with `multiple`, which covers
exactly those messages. A rejection (`nack`) sends that run first and then itself, so
the broker sees every settlement in delivery order. A finished message behind one still
running (a gap) waits a moment for the gap to close, then is acknowledged on its own,
so that a slow message never holds the prefetch window of the others.

A multiple ack always names a tag that is still unacknowledged, the last finished one of
the run: RabbitMQ answers a multiple ack whose own tag was settled before (behind a gap)
with PRECONDITION_FAILED and closes the channel, and 3.x acknowledges every outstanding
delivery on the way, so that a slow message among quick ones would cost the channel and
the prefetch window with it.

Not every delivery on a channel comes here: the replies to a service's own requests
(direct reply-to, without acknowledgement) arrive on the same channel and take delivery
tags, which then stay a gap for good. So whenever nothing received is outstanding, the
floor passes over the tags never received: each delivery's handling starts in delivery
order, so a later one that has finished means an earlier one never came here. Should
one of those still arrive, it is acknowledged on its own unless an ack with `multiple`
has covered it since.

The frames of a channel leave in the order they were decided. aiormq hands every frame
of a connection to its writer through a queue of ten places, and a writer waiting for a
place there does not keep its turn: under load (a service publishing its events on the
same connection) a later ack with `multiple` overtook an earlier single ack of a tag it
covered, the single ack then named a settled tag, and RabbitMQ closed the channel with
every message in flight on it. So each settlement frame of a channel is handed over only
once the one before it has been written (`_in_order`).

Delivery tags belong to one channel: a channel that is gone (a reconnection) takes its
marks with it, and the broker redelivers those messages, which find them processed.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError

log = logging.getLogger(__name__)

#: How long finished messages behind a gap wait for it before each is acknowledged alone.
GAP_WAIT_S = 0.02
#: Tags the floor passed over without receiving them, kept for a late arrival.
SKIPPED_KEPT = 1024


@dataclass
class _Mark:
    future: asyncio.Future[None]
    done: bool = False


@dataclass
class _ChannelAcks:
    channel: Any
    #: Every tag at or below this one is settled.
    floor: int = 0
    marks: dict[int, _Mark] = field(default_factory=dict)
    #: How many of `marks` are done: finished, waiting for their frame.
    finished: int = 0
    #: Tags above `floor` settled singly (behind a gap): the floor passes over them.
    settled_ahead: set[int] = field(default_factory=set)
    #: Tags the floor passed over unreceived, since the last ack with `multiple`.
    skipped: deque[int] = field(default_factory=lambda: deque(maxlen=SKIPPED_KEPT))
    flush_scheduled: bool = False
    gap_timer: asyncio.TimerHandle | None = None
    #: The last settlement frame handed to the channel, which the next one waits for.
    writing: asyncio.Future[None] | None = None


class Acknowledger:
    """Settles the messages of the pipeline: `ack` after commit, `nack` to give one back."""

    def __init__(self) -> None:
        self._channels: weakref.WeakKeyDictionary[Any, _ChannelAcks] = weakref.WeakKeyDictionary()
        #: Ack frames sent and messages they settled (how well the batching works).
        self.frames = 0
        self.acked = 0

    def receive(self, raw: AbstractIncomingMessage) -> None:
        """Note a delivery as it arrives, so that a later tag never passes over it."""
        try:
            state = self._state(raw.channel)
        except ChannelInvalidStateError:  # closed already: the broker redelivers it anyway
            return
        tag = raw.delivery_tag
        if tag is None or tag in state.marks:
            return
        if tag > state.floor:
            state.marks[tag] = _Mark(asyncio.get_running_loop().create_future())
        elif tag in state.skipped:  # passed over, yet it came: settled on its own
            state.skipped.remove(tag)
            state.marks[tag] = _Mark(asyncio.get_running_loop().create_future())

    async def ack(self, raw: AbstractIncomingMessage) -> None:
        """Acknowledge at the end of this turn of the loop, with its neighbours."""
        tag = raw.delivery_tag
        if tag is None:
            await raw.ack()
            return
        state = self._state(raw.channel)
        self.receive(raw)
        mark = state.marks.get(tag)
        if mark is None:  # at or below the floor and settled: a second ack closes the channel
            return
        if not mark.done:
            mark.done = True
            state.finished += 1
        self._schedule(state)
        await mark.future

    async def nack(self, raw: AbstractIncomingMessage, *, requeue: bool) -> None:
        """Reject one message after acknowledging the finished ones delivered before it."""
        state = self._state(raw.channel)
        tag = raw.delivery_tag
        mark = state.marks.pop(tag, None) if tag is not None else None
        if mark is None and tag is not None and tag <= state.floor and tag not in state.skipped:
            # A run's ack with `multiple` settled it while it ran: a rejection now would
            # name an unknown tag and close the channel, and it cannot come back anyway.
            log.warning("a message to reject was acknowledged with its neighbours already")
            return
        if mark is not None and mark.done:
            state.finished -= 1
        try:
            self._flush(state)
            await self._in_order(state, lambda: raw.nack(requeue=requeue))
        finally:
            if tag is not None:
                self._settled(state, tag)
            if mark is not None and not mark.future.done():
                mark.future.set_result(None)
            self._pass_unreceived(state)

    def _state(self, channel: Any) -> _ChannelAcks:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _ChannelAcks(weakref.proxy(channel))
        return state

    def _schedule(self, state: _ChannelAcks) -> None:
        """Flush at the end of this turn, or once the frame being written has left.

        Waiting for that frame costs nothing: it is written before the next one anyway
        (`_in_order`), and what finishes meanwhile joins the next run, one frame for all.
        """
        if state.flush_scheduled:
            return
        state.flush_scheduled = True
        if state.writing is not None and not state.writing.done():
            state.writing.add_done_callback(lambda _: self._flush(state))
        else:
            asyncio.get_running_loop().call_soon(self._flush, state)

    def _flush(self, state: _ChannelAcks) -> None:
        """Send the run of finished tags after the floor as one ack; arm the gap timer.

        The run passes over tags settled singly before; the ack names its last finished
        tag, never one of those.
        """
        state.flush_scheduled = False
        last = state.floor
        covered: list[int] = []
        while True:
            mark = state.marks.get(last + 1)
            if mark is not None and mark.done:
                covered.append(last + 1)
            elif last + 1 in state.settled_ahead:
                state.settled_ahead.discard(last + 1)
            else:
                break
            last += 1
        if covered:
            self._send(state, covered[-1], multiple=len(covered) > 1, tags=covered)
        state.floor = last
        if state.gap_timer is None and state.finished:
            state.gap_timer = asyncio.get_running_loop().call_later(
                GAP_WAIT_S, self._flush_singly, state
            )

    def _flush_singly(self, state: _ChannelAcks) -> None:
        """The gap stayed open: acknowledge each finished message behind it on its own."""
        state.gap_timer = None
        self._flush(state)
        for tag in sorted(t for t, m in state.marks.items() if m.done):
            self._send(state, tag, multiple=False, tags=[tag])
            self._settled(state, tag)
        if state.gap_timer is not None:  # armed by the flush above for what is now settled
            state.gap_timer.cancel()
            state.gap_timer = None
        self._pass_unreceived(state)

    def _pass_unreceived(self, state: _ChannelAcks) -> None:
        """Nothing received is outstanding: the floor passes over the tags never received."""
        if state.marks or not state.settled_ahead:
            return
        top = max(state.settled_ahead)
        state.skipped.extend(t for t in range(state.floor + 1, top) if t not in state.settled_ahead)
        state.floor = top
        state.settled_ahead.clear()

    def _settled(self, state: _ChannelAcks, tag: int) -> None:
        """Note a tag settled on its own; the floor passes over it once the gap closes."""
        if tag == state.floor + 1:
            state.floor = tag
            while state.floor + 1 in state.settled_ahead:
                state.settled_ahead.discard(state.floor + 1)
                state.floor += 1
        elif tag > state.floor:
            state.settled_ahead.add(tag)

    @staticmethod
    def _covered_below(state: _ChannelAcks, tag: int) -> list[_Mark]:
        """The marks of late arrivals below `tag`, which an ack with `multiple` settles too.

        A delivery the floor passed over that came after all has a mark below the floor.
        The broker applies the multiple ack to it as well; its own ack would then name an
        unknown tag, which closes the channel. A finished one is settled by this frame; one
        still running was acknowledged early by it (its handler's ack is then a no-op).
        """
        late = [t for t in state.marks if t < tag]
        below = [state.marks.pop(t) for t in late]
        if running := sum(not mark.done for mark in below):
            log.warning(
                "messages acknowledged with their neighbours before they finished: their "
                "deliveries reached the pipeline after the ack's floor had passed them",
                extra={"count": running},
            )
        return [mark for mark in below if mark.done]

    def _send(self, state: _ChannelAcks, tag: int, *, multiple: bool, tags: list[int]) -> None:
        """Send one ack frame; each covered message's waiter is told once it is written.

        Waiting for the write (as `IncomingMessage.ack` does) keeps what a finished handler
        means: its acknowledgement has left, so that a service stopping right after it
        does not close the connection with the frame still queued, and the broker does not
        deliver the message once more to the next process.
        """
        marks = [state.marks.pop(t) for t in tags if t in state.marks]
        if multiple:  # it covers the tags passed over too: none may be acknowledged again
            state.skipped.clear()
            marks.extend(self._covered_below(state, tag))
        state.finished -= sum(mark.done for mark in marks)
        self.frames += 1
        self.acked += len(marks)

        def settle(sent: asyncio.Future[Any]) -> None:
            error = asyncio.CancelledError() if sent.cancelled() else sent.exception()
            for mark in marks:
                if mark.future.done():
                    continue
                if error is None:
                    mark.future.set_result(None)
                else:
                    mark.future.set_exception(error)

        channel = state.channel
        sending = self._in_order(
            state, lambda: channel.basic_ack(delivery_tag=tag, multiple=multiple)
        )
        sending.add_done_callback(settle)

    @staticmethod
    def _in_order(state: _ChannelAcks, write: Callable[[], Awaitable[Any]]) -> asyncio.Future[None]:
        """Write a settlement frame once the channel's previous one is written (or failed).

        A frame whose channel is gone fails like its predecessor; the broker redelivers
        what it did not settle.
        """
        previous = state.writing

        async def after_previous() -> None:
            if previous is not None and not previous.done():
                await asyncio.wait((previous,))
            await write()

        sending = state.writing = asyncio.ensure_future(after_previous())
        return sending
