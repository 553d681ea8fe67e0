"""The outbox relay: publishes what was emitted outside a consumed message, after the commit.

A consumed message's emitted messages are published by the pipeline itself, before the
message is acknowledged (its processed-message record keeps them for a redelivery). What
HTTP requests and due items emit, and what the pipeline could not get confirmed, is
committed as an outbox entry and handed straight to the relay, which publishes its
messages in order, waits for the broker's confirms and then deletes the entry. Entries
are published side by side, up to `IN_FLIGHT` awaiting their confirms at once, and their
confirms are awaited concurrently: the broker confirms a stream of publishes as fast as
one. An entry whose process died before that stays in the outbox; when its lease runs
out, the sweep of any replica claims it with a conditional update and publishes it
again. Messages keep their ids, so a consumer that sees one twice drops the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pymongo import DeleteOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.messaging.profile import PhaseProfile
from diko_shared.messaging.publisher import Outgoing, Publisher, unpack
from diko_shared.service.metrics import Metrics
from diko_shared.store.mongo import OUTBOX, bulk_write_in_batches

log = logging.getLogger(__name__)

#: Outbox entries being published at once (each awaits its confirms).
IN_FLIGHT = 256
#: A confirm may take this long on a busy broker before the entry is left to the sweep.
CONFIRM_TIMEOUT_S = 120.0
SWEEP_BATCH = 500
#: Published entries are deleted in batches: at most this many, at least this often.
DELETE_BATCH = 500
DELETE_EVERY_S = 0.25
#: Up to this many entries in the outbox, published ones are deleted with one `$in`.
SMALL_OUTBOX = 1000


async def publish_confirmed(
    publisher: Publisher, metrics: Metrics, messages: Sequence[Outgoing], timeout: float
) -> None:
    """Publish the messages in order, each confirmed by the broker within `timeout`
    (`Publisher.publish` raises `TimeoutError` otherwise)."""
    for message in messages:
        await publisher.publish(message, timeout=timeout)
        metrics.published_of(message.type).inc()


class OutboxRelay:
    """Publishes outbox entries handed over by the pipeline and those left behind by a crash."""

    def __init__(
        self,
        db: AsyncDatabase,
        publisher: Publisher,
        metrics: Metrics,
        *,
        lease: timedelta,
        sweep_every: float,
    ) -> None:
        self._outbox = db[OUTBOX]
        self._publisher = publisher
        self._metrics = metrics
        self._lease = lease
        self._sweep_every = sweep_every
        self._queue: asyncio.Queue[tuple[str, Sequence[Outgoing], float]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._publishing: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._in_hand: set[str] = set()
        #: Published entries to delete (a dict: ordered, and a quick membership test).
        self._sent: dict[str, None] = {}
        #: Published entries being deleted now, and those deleted since the sweep began.
        self._deleting: set[str] = set()
        self._deleted_recently: set[str] = set()
        self._backlog = 0
        #: Wall time of `relay_wait` and `publish_confirm` (the pipeline benchmark).
        self.profile: PhaseProfile | None = None

    def lease_until(self) -> datetime:
        return datetime.now(UTC) + self._lease

    def hand_over(self, key: str, messages: Sequence[Outgoing]) -> None:
        """Publish a just-committed outbox entry as soon as a slot is free.

        An entry already in hand (a sweep took it over after a crash, and the redelivered
        message committed it again) or published and awaiting deletion is not published twice.
        """
        if key in self._in_hand or self._published(key):
            return
        self._in_hand.add(key)
        self._queue.put_nowait((key, messages, time.perf_counter()))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._dispatch())]
        self._tasks.append(asyncio.create_task(self._sweep_forever()))
        self._tasks.append(asyncio.create_task(self._delete_forever()))

    async def stop(self, timeout: float = 5.0) -> None:
        """Give the relay up to `timeout` to publish what was handed over, then stop it.

        Bounded even with the broker or the database away: an entry not published or not
        deleted stays in the outbox, and a sweep publishes it once more after its lease.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._delete_sent(), max(0.05, deadline - loop.time()))
        for task in (*self._tasks, *self._publishing):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._publishing, return_exceptions=True)
        self._tasks = []

    async def _dispatch(self) -> None:
        """Start a publishing task per entry while fewer than `IN_FLIGHT` are unconfirmed."""
        while True:
            key, messages, handed_at = await self._queue.get()
            await self._slots.acquire()
            task = asyncio.create_task(self._publish(key, messages, handed_at))
            self._publishing.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._publishing.discard(task)
        self._slots.release()
        self._queue.task_done()

    async def _publish(self, key: str, messages: Sequence[Outgoing], handed_at: float) -> None:
        began = time.perf_counter()
        try:
            await publish_confirmed(self._publisher, self._metrics, messages, CONFIRM_TIMEOUT_S)
            self._sent[key] = None
        except Exception as exc:  # noqa: BLE001 - the entry stays; the sweep retries it
            log.warning(
                "outbox entry not yet published; retrying after its lease",
                extra={"outbox_key": key, "error": repr(exc)},
            )
        finally:
            self._in_hand.discard(key)
            if self.profile is not None:
                self.profile.add("relay_wait", began - handed_at)
                self.profile.add("publish_confirm", time.perf_counter() - began)

    def _published(self, key: str) -> bool:
        return key in self._sent or key in self._deleting

    async def _delete_forever(self) -> None:
        """Delete published entries in batches; one left behind is only published once more."""
        while True:
            await asyncio.sleep(DELETE_EVERY_S)
            try:
                await self._delete_sent()
            except Exception as exc:  # noqa: BLE001 - kept for the next round
                log.warning("could not delete published outbox entries", extra={"error": repr(exc)})

    async def _delete_sent(self) -> None:
        """Delete published entries, the cheapest way for the outbox's current size.

        FerretDB serves `{"_id": …}` from its index but deletes each such document in a
        transaction of its own (~0.35 ms); an `$in` delete is one statement but scans the
        outbox. While the outbox is small (the usual case), `$in` is ten times cheaper;
        after an outage has filled it, single deletes keep the drain linear.
        """
        while self._sent:
            batch = list(itertools.islice(self._sent, DELETE_BATCH))
            for key in batch:
                del self._sent[key]
            self._deleting.update(batch)
            try:
                if self._backlog <= SMALL_OUTBOX:
                    await self._outbox.delete_many({"_id": {"$in": batch}})
                else:
                    deletes = [DeleteOne({"_id": k}) for k in batch]
                    await bulk_write_in_batches(self._outbox, deletes)
            except Exception:
                self._sent.update(dict.fromkeys(batch))
                raise
            finally:
                self._deleting.difference_update(batch)
            self._deleted_recently.update(batch)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                log.warning("outbox sweep failed", extra={"error": repr(exc)})

    async def sweep(self) -> int:
        """Publish entries whose lease has run out; returns how many were taken over.

        The lease is extended by `_id` alone rather than claimed with a conditional update:
        FerretDB scans the collection for any other filter (quadratic over a backlog) and
        does not apply conditional updates atomically anyway. Two replicas sweeping the
        same entry at once both publish it; the messages keep their ids, and consumers
        drop the repeat.
        """
        now = datetime.now(UTC)
        self._deleted_recently = set()
        stale = await self._outbox.find({"lease_until": {"$lt": now}}).to_list(SWEEP_BATCH)
        # Entries this relay has in hand, has published or has deleted meanwhile are done.
        stale = [
            entry
            for entry in stale
            if not (
                entry["_id"] in self._in_hand
                or self._published(entry["_id"])
                or entry["_id"] in self._deleted_recently
            )
        ]
        if stale:
            lease = self.lease_until()
            extend = [UpdateOne({"_id": e["_id"]}, {"$set": {"lease_until": lease}}) for e in stale]
            await bulk_write_in_batches(self._outbox, extend)
            for entry in stale:
                self.hand_over(entry["_id"], unpack(entry["messages"]))
        self._backlog = await self._outbox.estimated_document_count()
        self._metrics.outbox_backlog.set(self._backlog)
        return len(stale)
