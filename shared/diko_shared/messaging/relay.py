"""The outbox relay: publishes what handlers emitted, after their writes are committed.

The pipeline hands each committed outbox entry straight to the relay, which publishes its
messages in order, waits for the broker's confirms and then deletes the entry. An entry
whose process died before that stays in the outbox; when its lease runs out, the sweep
of any replica claims it with a conditional update and publishes it again. Messages keep
their ids, so a consumer that sees one twice drops the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pymongo import DeleteOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.messaging.publisher import Outgoing, Publisher
from diko_shared.service.metrics import Metrics
from diko_shared.store.group_commit import GroupCommitter, Write
from diko_shared.store.mongo import OUTBOX

log = logging.getLogger(__name__)

WORKERS = 16
SWEEP_BATCH = 500


class OutboxRelay:
    """Publishes outbox entries handed over by the pipeline and those left behind by a crash."""

    def __init__(
        self,
        db: AsyncDatabase,
        publisher: Publisher,
        committer: GroupCommitter,
        metrics: Metrics,
        *,
        lease: timedelta,
        sweep_every: float,
    ) -> None:
        self._outbox = db[OUTBOX]
        self._publisher = publisher
        self._committer = committer
        self._metrics = metrics
        self._lease = lease
        self._sweep_every = sweep_every
        self._queue: asyncio.Queue[tuple[str, Sequence[Outgoing]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def lease_until(self) -> datetime:
        return datetime.now(UTC) + self._lease

    def hand_over(self, key: str, messages: Sequence[Outgoing]) -> None:
        """Publish a just-committed outbox entry as soon as a worker is free."""
        self._queue.put_nowait((key, messages))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(WORKERS)]
        self._tasks.append(asyncio.create_task(self._sweep_forever()))

    async def stop(self, timeout: float = 5.0) -> None:
        """Give the workers a moment to publish what was handed over, then stop them."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            key, messages = await self._queue.get()
            try:
                await self._publish(key, messages)
            finally:
                self._queue.task_done()

    async def _publish(self, key: str, messages: Sequence[Outgoing]) -> None:
        try:
            for message in messages:
                await self._publisher.publish(message)
                self._metrics.published.labels(message.type).inc()
            await self._committer.commit([Write(OUTBOX, DeleteOne({"_id": key}))])
        except Exception as exc:  # noqa: BLE001 - the entry stays; the sweep retries it
            log.warning(
                "outbox entry not yet published; retrying after its lease",
                extra={"outbox_key": key, "error": repr(exc)},
            )

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                log.warning("outbox sweep failed", extra={"error": repr(exc)})

    async def sweep(self) -> int:
        """Claim and publish entries whose lease has run out; returns how many were claimed."""
        now = datetime.now(UTC)
        stale = await self._outbox.find(
            {"lease_until": {"$lt": now}}, {"_id": 1, "lease_until": 1}
        ).to_list(SWEEP_BATCH)
        claimed = 0
        for entry in stale:
            doc = await self._outbox.find_one_and_update(
                {"_id": entry["_id"], "lease_until": entry["lease_until"]},
                {"$set": {"lease_until": self.lease_until()}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                claimed += 1
                messages = [Outgoing.from_document(m) for m in doc["messages"]]
                self.hand_over(doc["_id"], messages)
        self._metrics.outbox_backlog.set(await self._outbox.estimated_document_count())
        return claimed
