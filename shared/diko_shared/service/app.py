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

import pymongo
import uvicorn
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from faststream.rabbit import Channel, RabbitBroker
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from diko_shared import due, logs
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.messaging import topology
from diko_shared.messaging.consuming import Consumers
from diko_shared.messaging.handling import (
    Handler,
    Subscription,
    reaction_subscription,
    request_subscription,
)
from diko_shared.messaging.pipeline import Hooks, Pipeline
from diko_shared.messaging.publisher import Publisher
from diko_shared.messaging.relay import OutboxRelay
from diko_shared.service import asyncapi, collector
from diko_shared.service.http import platform_routes
from diko_shared.service.metrics import Metrics
from diko_shared.service.readiness import NotReady, short_error
from diko_shared.settings import ServiceSettings
from diko_shared.store import mongo
from diko_shared.store.group_commit import GroupCommitter
from diko_shared.store.mongo import Indexes
from diko_shared.store.timings import StoreTimings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 120.0
#: One attempt to reach the database at start-up; then the next after a back-off.
CONNECT_ATTEMPT_S = 5.0
#: The readiness probe of the database: /readyz answers within about this long.
READY_PROBE_S = 1.0
CHORES_EVERY_S = 3600.0
#: The first round of chores waits this long after the start. A restarted service first
#: works off the messages that waited for it; a chore that scans would compete with them
#: (FerretDB scans for every filter but `_id`: forgetting nothing among 15,000 inbox and
#: 15,000 processed records took it 2 s of CPU, measured).
CHORES_FIRST_AFTER_S = 300.0
#: After SIGTERM, messages being handled may finish for this long. Then they are
#: abandoned unacknowledged: the broker delivers them again and the handlers, idempotent
#: and safe to stop at any line, finish them in the next process.
DRAIN_S = 6.0
#: The whole shutdown ends within this, whatever is away (broker, database, both), so
#: that `make down` (20 s), the test harness (30 s) and compose (40 s) never kill.
SHUTDOWN_S = 10.0
#: What one closing step (a connection, a callback) may take of what is left.
CLOSE_STEP_S = 2.0


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
            reconnect_interval=2.0,
        )
        self.consumers = Consumers(self.broker)
        self.client = mongo.connect(
            settings.mongo_url,
            app_name=f"diko-{name}",
            listeners=[StoreTimings(self.metrics.store_seconds_of)],
        )
        self.db: AsyncDatabase = mongo.Database(
            self.client, settings.mongo_database or f"diko_{name}"
        )
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
            concurrency=settings.due_concurrency,
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
        self.pipeline.on_due_already = self.due.wake
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
        self._starting: asyncio.Task[None] | None = None
        self._connection: AbstractRobustConnection | None = None
        self._broker_lost = ""
        self.started = False
        #: What start-up is doing now and the last error it met, for /readyz.
        self.start_stage = "not started"
        self.start_error = ""
        self.start_failure: BaseException | None = None
        self._on_start_failure: Callable[[], None] = lambda: None
        #: Set by `run`: the process is the service's own, and so is its cycle collector.
        self._owns_process = False
        self._young_collections: asyncio.Task[None] | None = None
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
        """Run `chore` five minutes after start-up, then hourly (e.g. forgetting old records)."""
        self._chores.append(chore)

    def on_due(self, kind: str, handler: due.DueHandler, *, each_scheduling: bool = False) -> None:
        """Run `handler` once for each due item of `kind` when its time comes (see `due`;
        `each_scheduling`: `DueRunner.on`)."""
        self.due.on(kind, handler, each_scheduling=each_scheduling)

    def _subscribe(self, subscription: Subscription) -> None:
        if any(s.queue.name == subscription.queue.name for s in self.subscriptions):
            raise ValueError(f"{subscription.spec.type!r} is subscribed twice")
        self.subscriptions.append(subscription)
        pipeline = self.pipeline

        def consume(message: AbstractIncomingMessage) -> None:
            self._spawn(pipeline.handle(subscription, message))

        self.consumers.add(subscription.queue, consume)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Handle a message in a task of the service's own, which no broker event cancels.

        A handler cancelled in the middle of a database call could leave a connection or a
        commit half done. When the broker connection drops, the task finishes its writes;
        its acknowledgement then fails with the channel, and the broker redelivers the
        message, which finds it processed. `stop` waits for these tasks (`_running`)
        before it closes the connection.
        """
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _subscribe_unrouted(self) -> None:
        """Answer (or dead-letter) commands whose type no service handles: `unknown_type`."""
        pipeline = self.pipeline
        queue = topology.provisioned(topology.unrouted_queue())

        def consume(message: AbstractIncomingMessage) -> None:
            self._spawn(pipeline.handle_unrouted(message, queue.name))

        self.consumers.add(queue, consume)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (waiting for broker and database), declare, and start consuming."""
        self._check_coverage()
        self._check_broker_user()
        await self._wait_for("database", self._ping_database_once)
        self._stage("creating the indexes")
        await mongo.create_indexes(
            self.db, {**mongo.PLATFORM_INDEXES, **due.INDEXES, **self.indexes}
        )
        await self._wait_for("broker", self._connect_broker)
        self._stage("declaring the queues")
        await topology.prepare(self.broker, self.name, self.settings.retry_delays_ms)
        self._stage("running the start-up callbacks")
        for callback in self._on_start:
            await self._wait_for("database", callback, retry_on=ConnectionFailure, stage=False)
        self._stage("subscribing")
        if self._owns_process:
            collector.freeze_startup()
            self._young_collections = asyncio.create_task(collector.collect_young_forever())
        await self.broker.start()
        await self.consumers.start()
        self.relay.start()
        self.due.start()
        self._janitor = asyncio.create_task(self._chores_forever())
        self.started = True
        self._stage("started")
        log.info(
            "service started",
            extra={
                "subscriptions": [s.spec.type for s in self.subscriptions],
                "due_kinds": sorted(self.due.handlers),
                "clock": self.clock.describe(),
            },
        )

    def start_in_background(self) -> None:
        """Start while the HTTP side already answers: /healthz and /readyz say how far it is.

        A start-up that fails (a broker unreachable for CONNECT_TIMEOUT_S, queues declared
        with other arguments) is logged and ends the process through `_on_start_failure`.
        """
        self._check_coverage()  # a programming error: fail before serving anything

        async def starting() -> None:
            try:
                await self.start()
            except asyncio.CancelledError:
                log.info("start-up interrupted by shutdown", extra={"stage": self.start_stage})
                raise
            except Exception as exc:
                self.start_failure = exc
                self.start_error = f"{type(exc).__name__}: {exc}"
                log.error(
                    "start-up failed",
                    extra={"stage": self.start_stage, "error": self.start_error},
                    exc_info=exc,
                )
                self._on_start_failure()

        self._starting = asyncio.create_task(starting())

    async def stop(self) -> None:
        """Stop promptly in every state: starting, running, mid-message, broker or database away.

        Each step gets what is left of SHUTDOWN_S. Nothing here is needed for correctness:
        a message not acknowledged is delivered again, an outbox entry not deleted is
        published again after its lease, and both are deduplicated by their ids.
        """
        loop = asyncio.get_running_loop()
        began = loop.time()
        deadline = began + SHUTDOWN_S

        def left(cap: float) -> float:
            return max(0.05, min(cap, deadline - loop.time()))

        def drain_left() -> float:  # one drain time for cancelling consumers and handlers
            return left(began + DRAIN_S - loop.time())

        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            await asyncio.wait({self._starting}, timeout=left(CLOSE_STEP_S))
        await self._stop_consuming(left, drain_left)
        if self._running:
            await asyncio.wait(self._running, timeout=drain_left())
        if self._running:
            log.warning("abandoning unfinished messages", extra={"count": len(self._running)})
            for task in self._running:
                task.cancel()
            await asyncio.wait(self._running, timeout=left(CLOSE_STEP_S))
        await self._close_broker(left)
        await self._bounded("stopping the due items", self.due.stop(), left(CLOSE_STEP_S))
        await self.relay.stop(timeout=left(CLOSE_STEP_S))
        if self._janitor is not None:
            self._janitor.cancel()
        if self._young_collections is not None:
            self._young_collections.cancel()
        for callback in self._on_stop:
            await self._bounded("an on_stop callback", callback(), left(CLOSE_STEP_S))
        await self._bounded("closing the database client", self.client.close(), left(1.0))
        log.info("service stopped", extra={"seconds": round(loop.time() - began, 2)})

    async def _stop_consuming(
        self, left: Callable[[float], float], drain_left: Callable[[], float]
    ) -> None:
        """Cancel the consumers, so that the messages in flight can finish and nothing follows.

        Over a connection that is down nothing arrives, and cancelling a consumer would
        wait for the broker to come back: such a connection is closed instead (its
        messages in flight are delivered again anyway).
        """
        connection = self._connection
        if connection is not None and not connection.connected.is_set():
            await self._bounded("closing the broker connection", connection.close(), left(1.0))
            return
        await self._bounded("stopping the consumers", self.consumers.stop(), drain_left())

    async def _close_broker(self, left: Callable[[float], float]) -> None:
        stopped = await self._bounded(
            "closing the broker connection", self.broker.stop(), left(1.0)
        )
        connection = self._connection
        if not stopped and connection is not None and not connection.is_closed:
            await self._bounded("closing the broker connection", connection.close(), left(1.0))

    @staticmethod
    async def _bounded(what: str, work: Awaitable[Any], timeout: float) -> bool:
        """Await `work` for at most `timeout`; a failure or timeout is logged, not raised."""
        try:
            await asyncio.wait_for(work, timeout)
            return True
        except TimeoutError:
            log.warning(f"{what} took longer than {timeout:.1f} s; going on")
        except Exception as exc:  # noqa: BLE001 - shutting down: note it, carry on
            log.warning(f"{what} failed", extra={"error": repr(exc)})
        return False

    def _check_broker_user(self) -> None:
        """A service logs in as the broker user of its name: that is how others know it."""
        user = self.publisher.user_id
        if user != self.name:
            raise RuntimeError(
                f"DIKO_AMQP_URL logs in as {user!r}, but the {self.name} service must log in "
                f"as its own broker user {self.name!r}: its events are believed only from "
                "that user (deploy/README.md, Users and permissions)"
            )

    def _check_coverage(self) -> None:
        """The catalogue is the contract: every message it gives this service needs a handler."""
        handled = {s.spec.type for s in self.subscriptions}
        owned = {spec.type for spec in CATALOGUE.owned_by(self.name) if spec.is_request}
        missing = (owned | CATALOGUE.reactions(self.name)) - handled
        if missing:
            raise RuntimeError(f"{self.name} has no handler for {sorted(missing)}")

    async def _chores_forever(self) -> None:
        await asyncio.sleep(CHORES_FIRST_AFTER_S)
        while True:
            for chore in self._chores:
                try:
                    await chore()
                except Exception as exc:  # noqa: BLE001 - the next round tries again
                    log.warning("housekeeping failed", extra={"error": repr(exc)})
            await asyncio.sleep(CHORES_EVERY_S)

    async def _prune_inbox(self) -> None:
        retention = timedelta(days=self.settings.inbox_retention_days)
        await mongo.forget_processed(self.db, datetime.now(UTC), retention)

    def _stage(self, stage: str) -> None:
        self.start_stage = stage
        self.start_error = ""

    async def _wait_for(
        self,
        what: str,
        connect: Callable[[], Awaitable[Any]],
        *,
        retry_on: type[Exception] = Exception,
        stage: bool = True,
    ) -> None:
        """Retry `connect` with back-off, so that start-up order does not matter.

        Start-up callbacks go through here too, retried only when the store went away
        under them (`retry_on`, a restart of the store as the service starts): they are
        repeatable, and ending the process would only have it started again.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_TIMEOUT_S
        delay = 0.5
        if stage:
            self._stage(f"waiting for the {what}")
        while True:
            try:
                await connect()
                return
            except retry_on as exc:
                self.start_error = short_error(exc)
                if loop.time() + delay > deadline:
                    raise RuntimeError(f"{what} unreachable for {CONNECT_TIMEOUT_S:.0f} s") from exc
                log.warning(
                    f"waiting for the {what}",
                    extra={"stage": self.start_stage, "error": self.start_error},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _ping_database_once(self) -> None:
        with pymongo.timeout(CONNECT_ATTEMPT_S):
            await mongo.ping(self.db)

    async def _connect_broker(self) -> None:
        connection = await self.broker.connect()
        if connection is not self._connection:
            self._connection = connection
            connection.close_callbacks.add(self._note_broker_lost)
            connection.reconnect_callbacks.add(self._note_broker_back)

    def _note_broker_lost(self, _sender: Any, exc: BaseException | None = None) -> None:
        self._broker_lost = short_error(exc) if exc is not None else "connection closed"

    def _note_broker_back(self, _sender: Any) -> None:
        self._broker_lost = ""

    async def broker_ready(self) -> None:
        """The broker connection is up now: read from its state, never waited for."""
        connection = self._connection
        if connection is None:
            raise NotReady("not connected yet")
        if not connection.connected.is_set():
            reason = f" ({self._broker_lost})" if self._broker_lost else ""
            raise NotReady(f"connection lost{reason}; reconnecting")

    async def database_ready(self) -> None:
        """The database answers a ping within READY_PROBE_S."""
        with pymongo.timeout(READY_PROBE_S):
            await mongo.ping(self.db)

    # -- documents and HTTP --------------------------------------------------------------

    def asyncapi_document(self) -> dict[str, Any]:
        """This service's document, naming the broker it is connected to (without credentials)."""
        return asyncapi.document(
            self.name,
            version=self.version,
            description=self.description,
            broker_url=self.settings.amqp_url,
        )

    def asgi(self) -> Starlette:
        """The HTTP side; its lifespan starts the service in the background and stops it."""

        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            self.start_in_background()
            try:
                yield
            finally:
                await self.stop()

        return Starlette(routes=[*platform_routes(self), *self.routes], lifespan=lifespan)

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM: the entry point of `python -m diko_<service>`.

        The HTTP side answers from the first moment (/healthz 503 "starting" until the
        service has started); a failed start-up ends the process with exit status 1.
        """
        logs.configure(self.name, self.settings.log_level)
        host = urlsplit(self.settings.amqp_url).hostname
        log.info("starting", extra={"http_port": self.settings.http_port, "amqp_host": host})
        server = uvicorn.Server(
            uvicorn.Config(
                self.asgi(),
                host=self.settings.http_host,
                port=self.settings.http_port,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=2,  # a request in flight; the service stops after
                loop="uvloop",  # libuv's event loop: a third less CPU per message than asyncio's
            )
        )

        def exit_after_failed_start() -> None:
            server.should_exit = True

        self._on_start_failure = exit_after_failed_start
        collector.tune()
        self._owns_process = True
        server.run()
        if self.start_failure is not None or not server.started:
            raise SystemExit(1)
