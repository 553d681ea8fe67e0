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

Delivery tags belong to one channel: a channel that is gone (a reconnection) takes its
marks with it, and the broker redelivers those messages, which find them processed.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

log = logging.getLogger(__name__)

#: How long finished messages behind a gap wait for it before each is acknowledged alone.
GAP_WAIT_S = 0.02


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
    #: Tags above `floor` settled singly (behind a gap): the floor passes over them.
    settled_ahead: set[int] = field(default_factory=set)
    flush_scheduled: bool = False
    gap_timer: asyncio.TimerHandle | None = None


class Acknowledger:
    """Settles the messages of the pipeline: `ack` after commit, `nack` to give one back."""

    def __init__(self) -> None:
        self._channels: weakref.WeakKeyDictionary[Any, _ChannelAcks] = weakref.WeakKeyDictionary()
        #: Ack frames sent and messages they settled (how well the batching works).
        self.frames = 0
        self.acked = 0

    def receive(self, raw: AbstractIncomingMessage) -> None:
        """Note a delivery as it arrives, so that a later tag never passes over it."""
        state = self._state(raw.channel)
        tag = raw.delivery_tag
        if tag is not None and tag > state.floor and tag not in state.marks:
            state.marks[tag] = _Mark(asyncio.get_running_loop().create_future())

    async def ack(self, raw: AbstractIncomingMessage) -> None:
        """Acknowledge at the end of this turn of the loop, with its neighbours."""
        tag = raw.delivery_tag
        state = self._state(raw.channel)
        if tag is None:
            await raw.ack()
            return
        self.receive(raw)
        mark = state.marks.get(tag)
        if mark is None:  # settled before, or below the floor: nothing more to send
            await raw.ack()
            return
        mark.done = True
        self._schedule(state)
        await mark.future

    async def nack(self, raw: AbstractIncomingMessage, *, requeue: bool) -> None:
        """Reject one message after acknowledging the finished ones delivered before it."""
        state = self._state(raw.channel)
        tag = raw.delivery_tag
        mark = state.marks.pop(tag, None) if tag is not None else None
        try:
            self._flush(state)
            await raw.nack(requeue=requeue)
        finally:
            if tag is not None:
                self._settled(state, tag)
            if mark is not None and not mark.future.done():
                mark.future.set_result(None)

    def _state(self, channel: Any) -> _ChannelAcks:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _ChannelAcks(weakref.proxy(channel))
        return state

    def _schedule(self, state: _ChannelAcks) -> None:
        if not state.flush_scheduled:
            state.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush, state)

    def _flush(self, state: _ChannelAcks) -> None:
        """Send the run of finished tags after the floor as one ack; arm the gap timer."""
        state.flush_scheduled = False
        last = state.floor
        while (mark := state.marks.get(last + 1)) is not None and mark.done:
            last += 1
            while last + 1 in state.settled_ahead:
                state.settled_ahead.discard(last + 1)
                last += 1
        if last > state.floor:
            covered = [t for t in range(state.floor + 1, last + 1) if t in state.marks]
            self._send(state, last, multiple=True, tags=covered)
            state.floor = last
        behind_gap = any(m.done for m in state.marks.values())
        if behind_gap and state.gap_timer is None:
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

    def _settled(self, state: _ChannelAcks, tag: int) -> None:
        if tag == state.floor + 1:
            state.floor = tag
            while state.floor + 1 in state.settled_ahead:
                state.settled_ahead.discard(state.floor + 1)
                state.floor += 1
        elif tag > state.floor:
            state.settled_ahead.add(tag)

    def _send(self, state: _ChannelAcks, tag: int, *, multiple: bool, tags: list[int]) -> None:
        """Queue one ack frame on the connection; each covered message's waiter is told.

        Not waiting for the socket to drain: an ack lost with the connection only means a
        redelivery, which finds the message processed.
        """
        marks = [state.marks.pop(t) for t in tags if t in state.marks]
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

        try:
            sending = asyncio.ensure_future(
                state.channel.basic_ack(delivery_tag=tag, multiple=multiple, wait=False)
            )
        except Exception as exc:  # noqa: BLE001 - the channel is gone: the broker redelivers
            sending = asyncio.get_running_loop().create_future()
            sending.set_exception(exc)
        sending.add_done_callback(settle)
