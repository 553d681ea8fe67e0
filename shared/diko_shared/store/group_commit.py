"""Group commit: the writes of concurrently handled messages, batched into bulk writes.

A handler's writes and the platform's outbox and processed-message records form one
*unit*, applied in *phases*: state changes first, then the outbox, then the record that
marks the message as processed. If the process dies between two phases, the message is
redelivered and handled again; the unit's writes are idempotent (deterministic ids,
guarded updates), so the repeat leaves one effect and one outgoing message.

While one flush runs, new units queue up; the next flush takes them all. Under load that
turns a write per message into a bulk write per collection and phase, without adding any
waiting time when the service is idle. Within a phase, each unit's writes reach the
store in the order its handler staged them (`_runs`), and a unit whose write failed
writes nothing after it: readers that trust a later write (a change mark, a due item)
find the earlier ones done. The requests of one step go to the store side by side: a
unit writes one collection per step, so they hold the writes of different units (under
load a flush then waits for two round trips instead of three).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from diko_shared.service.metrics import Metrics
from diko_shared.store.mongo import DUPLICATE_KEY, batches

WriteOp = InsertOne | UpdateOne | ReplaceOne | DeleteOne

#: Turns of the event loop a flush waits for units of concurrent messages to join it.
LINGER_TURNS = 2


@dataclass(frozen=True)
class Write:
    """One write to one collection of the service's database.

    `stage` orders a handler's writes: stage 0 prepares (e.g. makes sure a document
    exists), stage 1 changes state; the platform's outbox and processed-record writes follow.
    """

    collection: str
    op: WriteOp
    stage: int = 1


#: Called after each phase of a flush with its index and the tags of the units in it.
PhaseHook = Callable[[int, list[str]], Awaitable[None] | None]


@dataclass
class _Unit:
    phases: Sequence[Sequence[Write]]
    done: asyncio.Future[None]
    tag: str = ""
    error: BaseException | None = None
    existed: bool = False


def _runs(writes: Sequence[Write]) -> list[list[Write]]:
    """A unit's writes of one phase cut where the collection changes, in their order.

    The flush applies the first run of every unit, then the second, and so on: each
    unit's writes keep the order its handler staged them in (a mark after the data it
    marks, a due item after both), however the units of a batch order their collections.
    Units that write the same collections in the same order still cost one request per
    collection.
    """
    runs: list[list[Write]] = []
    for write in writes:
        if runs and runs[-1][0].collection == write.collection:
            runs[-1].append(write)
        else:
            runs.append([write])
    return runs


def _settle(unit: _Unit) -> None:
    """Tell the unit's waiter how it ended (once)."""
    if unit.done.done():
        return
    if unit.error is None:
        unit.done.set_result(None)
    else:
        unit.done.set_exception(unit.error)


@dataclass
class _Lane:
    """Units waiting for the next flush, and the task that flushes them one batch at a time."""

    pending: list[_Unit] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None


@dataclass
class _Batch:
    writes: list[Write] = field(default_factory=list)
    units: list[_Unit] = field(default_factory=list)


class GroupCommitter:
    """Applies units of phased writes, batching concurrent units into bulk writes."""

    def __init__(self, db: AsyncDatabase, metrics: Metrics | None = None) -> None:
        self._db = db
        self._metrics = metrics
        self._commits = _Lane()
        self.flushes = 0
        self.units = 0
        #: A fault-injection point for tests (e.g. SIGKILL between two phases); None here.
        self.after_phase: PhaseHook | None = None

    async def commit(self, *phases: Sequence[Write], tag: str = "") -> None:
        """Apply the phases in order; raises the first error that stopped this unit.

        Empty phases are skipped. `tag` (the message key) names the unit to `after_phase`.
        """
        await self._submit(phases, tag)

    async def claim(self, collection: str, document: dict[str, Any]) -> bool:
        """Insert a document under its `_id`; False if it existed already.

        Batched like any commit: many concurrent claims (companies' duplicate keys) cost
        one bulk insert.
        """
        unit = await self._submit([[Write(collection, InsertOne(document))]])
        return not unit.existed

    async def insert_after(self, before: Sequence[Write], insert: Write) -> bool:
        """Apply `before`, then the insert; False if the inserted `_id` existed already.

        A claim made while the handler runs (`Context.claim`): batched with the claims of
        concurrent messages, in the order the caller needs.
        """
        unit = await self._submit([before, [insert]])
        return not unit.existed

    async def _submit(self, phases: Sequence[Sequence[Write]], tag: str = "") -> _Unit:
        phases = tuple(phase for phase in phases if phase)
        unit = _Unit(phases, asyncio.get_running_loop().create_future(), tag)
        if not phases:
            return unit
        lane = self._commits
        lane.pending.append(unit)
        if lane.flusher is None or lane.flusher.done():
            lane.flusher = asyncio.create_task(self._flush_while_pending(lane))
        await unit.done
        return unit

    async def _flush_while_pending(self, lane: _Lane) -> None:
        while lane.pending:
            # Let the messages that are ready to run submit their units first: a turn of
            # the loop costs microseconds, a request of its own per unit far more.
            for _ in range(LINGER_TURNS):
                await asyncio.sleep(0)
            units, lane.pending = lane.pending, []
            settled = False
            try:
                await self._flush(units)
                settled = True
            except Exception as exc:  # noqa: BLE001 - handed to every waiting unit
                for unit in units:
                    unit.error = unit.error or exc
                settled = True
            finally:
                for unit in units:
                    if not settled and not unit.done.done():
                        unit.done.cancel()
                    else:
                        _settle(unit)

    async def _flush(self, units: list[_Unit]) -> None:
        self.flushes += 1
        self.units += len(units)
        if self._metrics is not None:
            self._metrics.commit_batch.observe(len(units))
        depth = max(len(unit.phases) for unit in units)
        for phase in range(depth):
            runs = {id(u): _runs(u.phases[phase]) for u in units if phase < len(u.phases)}
            for step in range(max((len(r) for r in runs.values()), default=0)):
                by_collection: dict[str, _Batch] = defaultdict(_Batch)
                for unit in units:
                    unit_runs = runs.get(id(unit), [])
                    if unit.error is None and step < len(unit_runs):
                        for write in unit_runs[step]:
                            batch = by_collection[write.collection]
                            batch.writes.append(write)
                            batch.units.append(unit)
                await asyncio.gather(
                    *(self._apply(name, batch) for name, batch in by_collection.items())
                )
            if self.after_phase is not None:
                tags = [u.tag for u in units if u.error is None and phase < len(u.phases)]
                if (pending := self.after_phase(phase, tags)) is not None:
                    await pending
            # A unit whose last phase this was is done: its message goes on now, not after
            # the later phases of the others (a claim need not wait for their records).
            for unit in units:
                if len(unit.phases) == phase + 1:
                    _settle(unit)

    async def _apply(self, collection: str, batch: _Batch) -> None:
        coll = self._db[collection]
        ops = [w.op for w in batch.writes]
        for offset, part in batches(ops):
            indexes = range(offset, offset + len(part))
            try:
                await coll.bulk_write(list(part), ordered=False)
            except BulkWriteError as exc:
                for error in exc.details.get("writeErrors", []):
                    self._fail(batch, offset + error["index"], error)
            except KeyError:
                # FerretDB 1.24 answers an update batch in which one write failed without
                # `nModified`, which PyMongo cannot read; the writes are then applied one by one.
                await self._apply_one_by_one(coll, batch, indexes)
            except Exception as exc:  # noqa: BLE001 - a failed request fails each of its units
                for index in indexes:
                    unit = batch.units[index]
                    unit.error = unit.error or exc

    async def _apply_one_by_one(self, coll: Any, batch: _Batch, indexes: range) -> None:
        for index in indexes:
            try:
                await coll.bulk_write([batch.writes[index].op], ordered=False)
            except BulkWriteError as exc:
                for error in exc.details.get("writeErrors", []):
                    self._fail(batch, index, error)
            except Exception as exc:  # noqa: BLE001 - this write's unit fails, the others go on
                unit = batch.units[index]
                unit.error = unit.error or exc

    @staticmethod
    def _fail(batch: _Batch, index: int, error: dict[str, Any]) -> None:
        """Fail the unit of one write, unless the error says the write was done before."""
        unit = batch.units[index]
        if error.get("code") == DUPLICATE_KEY and isinstance(batch.writes[index].op, InsertOne):
            unit.existed = True
            return  # the document is there already: an idempotent repeat
        unit.error = unit.error or BulkWriteError(
            {"writeErrors": [error], "nInserted": 0, "writeConcernErrors": []}
        )
