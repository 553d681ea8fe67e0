"""The shape of every diko service: broker, database, subscriptions, relay and HTTP side.

A service's `app.py` is its composition root: it creates a `Service`, lists every
subscription (`on_request`, `on_event`) in one place, adds its own HTTP routes and
indexes, and runs. Everything else (topology, the pipeline, the outbox relay, metrics,
health) comes from here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage, RabbitQueue
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from faststream.specification.base import Specification
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from diko_shared import due, logs
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.messaging import topology
from diko_shared.messaging.handling import (
    Handler,
    Subscription,
    reaction_subscription,
    request_subscription,
)
from diko_shared.messaging.pipeline import Hooks, Pipeline
from diko_shared.messaging.publisher import Publisher
from diko_shared.messaging.relay import OutboxRelay
from diko_shared.service import asyncapi
from diko_shared.service.http import platform_routes
from diko_shared.service.metrics import Metrics
from diko_shared.settings import ServiceSettings
from diko_shared.store import mongo
from diko_shared.store.group_commit import GroupCommitter
from diko_shared.store.mongo import Indexes

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 120.0
READY_PING_S = 1.5
CHORES_EVERY_S = 3600.0
STOP_TIMEOUT_S = 15.0


_EXCHANGES = {x.name: x for x in (topology.COMMANDS, topology.EVENTS, topology.UNROUTED)}


async def _passthrough(message: RabbitMessage) -> RabbitMessage:
    """FastStream decoder that hands the handler the raw message: the pipeline reads it."""
    return message


class Service:
    """One diko service process."""

    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        *,
        description: str = "",
        version: str = "0.1.0",
        indexes: Indexes | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.description = description
        self.version = version
        self.indexes: dict[str, Any] = dict(indexes or {})
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.hooks = Hooks()
        self.broker = RabbitBroker(
            settings.amqp_url,
            app_id=name,
            apply_types=False,
            default_channel=Channel(prefetch_count=settings.prefetch, on_return_raises=True),
            logger=None,  # the pipeline logs what matters; FastStream's per-message logs cost CPU
            log_level=logging.DEBUG,
            graceful_timeout=STOP_TIMEOUT_S,
            reconnect_interval=2.0,
            middlewares=[RabbitPrometheusMiddleware(registry=self.registry, app_name=name)],
        )
        self.client = mongo.connect(settings.mongo_url, app_name=f"diko-{name}")
        self.db: AsyncDatabase = self.client[settings.mongo_database or f"diko_{name}"]
        self.publisher = Publisher(
            self.broker,
            source=name,
            on_unrouted_event=lambda type_: self.metrics.unrouted_events.labels(type_).inc(),
        )
        self.committer = GroupCommitter(self.db, self.metrics)
        self.relay = OutboxRelay(
            self.db,
            self.publisher,
            self.metrics,
            lease=timedelta(seconds=settings.outbox_lease_s),
            sweep_every=settings.outbox_sweep_s,
        )
        self.clock = due.Clock(self.db, settings.test_clock)
        self.due = due.DueRunner(
            name,
            self.db,
            self.committer,
            self.relay,
            self.metrics,
            self.clock,
            poll_every=settings.due_poll_s,
            lease=timedelta(seconds=settings.due_lease_s),
            retry_delays_ms=settings.retry_delays_ms,
        )
        self.pipeline = Pipeline(
            name,
            settings,
            self.db,
            self.publisher,
            self.committer,
            self.relay,
            self.metrics,
            self.hooks,
        )
        if settings.test_kill_after_phase:
            self._kill_after_phase(settings.test_kill_after_phase)
        self.subscriptions: list[Subscription] = []
        self.routes: list[BaseRoute] = []
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._chores: list[Callable[[], Awaitable[None]]] = [
            self._prune_inbox,
            self.due.prune_claims,
        ]
        self._janitor: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._subscribe_unrouted()

    def _kill_after_phase(self, spec: str) -> None:
        """Tests only (`DIKO_TEST_KILL_AFTER_PHASE`): die like a crash inside a commit."""
        phase, _, message_id = spec.partition(":")

        def kill(done: int, tags: list[str]) -> None:
            if done == int(phase) and any(tag.endswith(f"|{message_id}") for tag in tags):
                os.kill(os.getpid(), signal.SIGKILL)

        self.committer.after_phase = kill

    # -- composition ---------------------------------------------------------------------

    def on_request(self, type_: str, handler: Handler) -> None:
        """Consume a command or query this service owns."""
        self._subscribe(request_subscription(self.name, type_, handler))

    def on_event(self, type_: str, handler: Handler) -> None:
        """Consume an event this service reacts to (listed in the catalogue)."""
        self._subscribe(reaction_subscription(self.name, type_, handler))

    def add_routes(self, *routes: BaseRoute) -> None:
        self.routes.extend(routes)

    def on_start(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run after the database and broker are connected, before messages flow."""
        self._on_start.append(callback)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(callback)

    def hourly(self, chore: Callable[[], Awaitable[None]]) -> None:
        """Run `chore` at start-up and every hour after (e.g. forgetting expired records)."""
        self._chores.append(chore)

    def on_due(self, kind: str, handler: due.DueHandler) -> None:
        """Run `handler` once for each due item of `kind` when its time comes (see `due`)."""
        self.due.on(kind, handler)

    def _subscribe(self, subscription: Subscription) -> None:
        if any(s.queue.name == subscription.queue.name for s in self.subscriptions):
            raise ValueError(f"{subscription.spec.type!r} is subscribed twice")
        self.subscriptions.append(subscription)
        pipeline = self.pipeline

        async def consume(message: RabbitMessage) -> None:
            await self._shielded(pipeline.handle(subscription, message))

        self._register(consume, subscription.queue, subscription.exchange)

    async def _shielded(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a message's handling in its own task, shielded from the consumer's cancellation.

        When the broker connection drops, aio-pika cancels the consumer callbacks; a handler
        cancelled in the middle of a database call could leave a connection or a commit
        half done. The shielded task finishes its writes; its acknowledgement then fails
        with the channel, and the broker redelivers the message, which finds it processed.
        """
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            # The consumer was torn down with its channel; the work finishes on its own.

    def _register(
        self,
        consume: Callable[[RabbitMessage], Awaitable[None]],
        queue: RabbitQueue,
        exchange: str,
    ) -> None:
        subscriber = self.broker.subscriber(
            queue,
            _EXCHANGES[exchange],
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,
            decoder=_passthrough,
            title=queue.name,
            include_in_schema=False,
        )
        subscriber(consume)

    def _subscribe_unrouted(self) -> None:
        """Answer (or dead-letter) commands whose type no service handles: `unknown_type`."""
        pipeline = self.pipeline
        queue = topology.unrouted_queue()

        async def consume(message: RabbitMessage) -> None:
            await self._shielded(pipeline.handle_unrouted(message, queue.name))

        self._register(consume, queue, topology.UNROUTED.name)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (waiting for broker and database), declare, and start consuming."""
        self._check_coverage()
        await self._wait_for("database", self.database_ready)
        await mongo.create_indexes(
            self.db, {**mongo.PLATFORM_INDEXES, **due.INDEXES, **self.indexes}
        )
        await self._wait_for("broker", self.broker.connect)
        await topology.declare(self.broker, self.settings.retry_delays_ms)
        for callback in self._on_start:
            await callback()
        await self.broker.start()
        self.relay.start()
        self.due.start()
        self._janitor = asyncio.create_task(self._chores_forever())
        log.info(
            "service started",
            extra={
                "subscriptions": [s.spec.type for s in self.subscriptions],
                "due_kinds": sorted(self.due.handlers),
                "clock": self.clock.describe(),
            },
        )

    async def stop(self) -> None:
        await self.broker.stop()
        if self._running:
            await asyncio.wait(self._running, timeout=STOP_TIMEOUT_S)
        await self.due.stop()
        await self.relay.stop()
        if self._janitor is not None:
            self._janitor.cancel()
        for callback in self._on_stop:
            await callback()
        await self.client.close()
        log.info("service stopped")

    def _check_coverage(self) -> None:
        """The catalogue is the contract: every message it gives this service needs a handler."""
        handled = {s.spec.type for s in self.subscriptions}
        owned = {spec.type for spec in CATALOGUE.owned_by(self.name) if spec.is_request}
        missing = (owned | CATALOGUE.reactions(self.name)) - handled
        if missing:
            raise RuntimeError(f"{self.name} has no handler for {sorted(missing)}")

    async def _chores_forever(self) -> None:
        while True:
            for chore in self._chores:
                try:
                    await chore()
                except Exception as exc:  # noqa: BLE001 - the next round tries again
                    log.warning("housekeeping failed", extra={"error": repr(exc)})
            await asyncio.sleep(CHORES_EVERY_S)

    async def _prune_inbox(self) -> None:
        """Forget processed-message records older than the retention: no redelivery is that late."""
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.inbox_retention_days)
        for collection in (mongo.INBOX, mongo.PROCESSED):
            await self.db[collection].delete_many({"at": {"$lt": cutoff}})

    async def _wait_for(self, what: str, connect: Callable[[], Awaitable[Any]]) -> None:
        """Retry `connect` with back-off, so that start-up order does not matter."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_TIMEOUT_S
        delay = 0.5
        while True:
            try:
                await connect()
                return
            except Exception as exc:
                if loop.time() + delay > deadline:
                    raise RuntimeError(f"{what} unreachable for {CONNECT_TIMEOUT_S:.0f} s") from exc
                log.warning(f"waiting for the {what}", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def broker_ready(self) -> None:
        if not await self.broker.ping(timeout=READY_PING_S):
            raise ConnectionError("RabbitMQ does not answer")

    async def database_ready(self) -> None:
        await mongo.ping(self.db)

    # -- documents and HTTP --------------------------------------------------------------

    def asyncapi_specification(self) -> Specification:
        return asyncapi.specification(self.name, version=self.version, description=self.description)

    def asyncapi_document(self) -> dict[str, Any]:
        return asyncapi.document(self.name, version=self.version, description=self.description)

    def asgi(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        return Starlette(routes=[*platform_routes(self), *self.routes], lifespan=lifespan)

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM: the entry point of `python -m diko_<service>`."""
        logs.configure(self.name, self.settings.log_level)
        host = urlsplit(self.settings.amqp_url).hostname
        log.info("starting", extra={"http_port": self.settings.http_port, "amqp_host": host})
        uvicorn.run(
            self.asgi(),
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=20,
            loop="uvloop",  # libuv's event loop: a third less CPU per message than asyncio's
        )
