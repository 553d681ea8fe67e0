"""A service's consumers, straight on aio-pika's robust queues.

FastStream connects, reconnects and declares (`topology.prepare`); the deliveries go from
aio-pika to the pipeline without FastStream's subscriber stack. That stack (its logging
and Prometheus middlewares, context scopes and handler wrappers) took a fifth of a
service's CPU per message in bench/pipeline, for work the pipeline does itself: it
decodes, logs, counts and acknowledges each message. The publisher bypasses FastStream's
publisher stack for the same reason.

The queues are the ones FastStream declared, on its default channel (the prefetch of
the settings); aio-pika's robust channel declares them again (passively) and resumes
their consumers after a reconnection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from faststream.rabbit import RabbitBroker, RabbitQueue

log = logging.getLogger(__name__)

#: Called with each delivery. A plain function, not a coroutine function: aio-pika wraps
#: a coroutine function's call in a task, and the service starts one of its own anyway.
OnMessage = Callable[[AbstractIncomingMessage], None]


@dataclass(frozen=True)
class _Registration:
    queue: RabbitQueue
    on_message: OnMessage


class Consumers:
    """Consumes each registered queue once started; `stop` cancels them all."""

    def __init__(self, broker: RabbitBroker) -> None:
        self.broker = broker
        self._registered: list[_Registration] = []
        self._consuming: list[tuple[AbstractQueue, str]] = []

    def add(self, queue: RabbitQueue, on_message: OnMessage) -> None:
        """Consume `queue` (declared by then) with `on_message` from `start` on."""
        self._registered.append(_Registration(queue, on_message))

    async def start(self) -> None:
        for registration in self._registered:
            queue = await self.broker.declare_queue(registration.queue)
            tag = await queue.consume(registration.on_message, no_ack=False)
            self._consuming.append((queue, tag))

    async def stop(self) -> None:
        """Cancel every consumer: nothing more is delivered, what was delivered runs on.

        A channel that is closed has no consumer left to cancel; one that is reopening
        after a reconnection would wait for the broker, so the caller bounds this.
        """
        consuming, self._consuming = self._consuming, []
        for queue, tag in consuming:
            if not queue.channel.is_closed:
                await queue.cancel(tag)
