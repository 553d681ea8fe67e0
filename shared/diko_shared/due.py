"""Due items: "do this once when the time comes", the platform's one mechanism for time.

Follow-up reminders, digests, scheduled episodes and posts, retention and link expiry are
all the same thing: a document in the owning service's `due` collection that says what
to do (`kind`, `data`) and when (`due_at`). A handler schedules one by staging
`due.schedule(...)` with its other writes, so it exists exactly when the handler's
changes do. The service's due loop, part of its housekeeping, finds items whose time
has come, claims each with a lease and runs the service's due handler for its kind,
which stages writes and events like a message handler; the platform then commits them,
the outbox entry and the item's removal, in that order, and publishes.

- **Once.** A handler's writes must be repeatable (derived ids, guards) as for messages.
  Outgoing message ids are derived from the item's id, so a run repeated after a crash
  publishes the same ids and consumers drop the repeat. A kind registered with
  `each_scheduling` (the site build: one item that every change moves to now) keys its
  runs by the scheduling too, since each rescheduling asks for new work.
- **Lease.** A claim is an insert under `<item id>@<epoch>` for the current and the next
  epoch of `DIKO_DUE_LEASE_S` (the one decision that is atomic on MongoDB and FerretDB
  alike): of two replicas only one runs an item, and when its process dies, another
  takes the item over after one to two lease lengths. A runner that meets another's
  claim does not try that item again in the same epoch, where no claim can succeed (with
  two replicas, every poll had tried every item the other one was running).
- **Failures.** `DomainError` gives up at once; any other exception tries again after
  `DIKO_RETRY_DELAYS_MS`; a given-up item stays in `due` with `failed` set and its
  reason, out of the loop's way, for an operator to see.
- **Clock.** Everything due-related reads the service's `Clock`. In tests,
  `DIKO_TEST_CLOCK` names a document in the service's own `test_clock` collection whose
  `offset_s` moves the service's time; it is refused unless the broker virtual host is a
  test one (`diko-test-…`), so production cannot run on a test clock by accident.
- **Side by side.** Up to `DIKO_DUE_CONCURRENCY` items run at once, so that one slow
  item (a placement waiting for a service that is down) holds up nothing else: the loop
  claims an item only when a slot is free, and polls again as soon as one frees up. A run
  longer than its lease renews it every half lease, so no replica takes over an item
  that is still running.
- **No second scheduler.** The loop polls every `DIKO_DUE_POLL_S`; nothing sleeps
  until a due time. On FerretDB the poll scans the `due` collection, which holds only
  pending items (done ones are deleted); on MongoDB it uses the `due_at` index.
- **Due already.** A message handled or an item run that schedules an item whose time
  has come (a placement's e-mail, a site build) wakes the process's own loop once its
  commit is done (`Scheduled`, `due_already`), so that such an item runs at once rather
  than up to a poll interval later. Not while that item runs here: the poll would only
  find it running, and the end of every run polls again (the site build, moved to now
  by each change that arrives while it runs, cost a poll per change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DeleteOne, IndexModel, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.envelope import new_envelope
from diko_shared.messaging import topology
from diko_shared.messaging.derived import derived_id, derived_uuid
from diko_shared.messaging.errors import DomainError
from diko_shared.messaging.publisher import Outgoing, pack
from diko_shared.messaging.relay import OutboxRelay
from diko_shared.service.metrics import Metrics
from diko_shared.store.group_commit import GroupCommitter, Write
from diko_shared.store.mongo import OUTBOX, Indexes, bulk_write_in_batches, upsert_by_id

log = logging.getLogger(__name__)

#: Pending due items: `_id` = "<kind>|<key>".
DUE = "due"
#: Leases: `_id` = "<item id>@<epoch>", one per lease epoch a runner holds.
DUE_CLAIMS = "due_claims"
#: The test clock documents (`DIKO_TEST_CLOCK`): `_id` = the name, `offset_s`.
TEST_CLOCK = "test_clock"

INDEXES: Indexes = {DUE: [IndexModel("due_at")], DUE_CLAIMS: [IndexModel("at")]}

#: How many due items one poll takes at most.
POLL_BATCH = 100
#: Claims older than this many lease lengths are deleted by the hourly housekeeping.
CLAIMS_KEPT = 10


def item_id(kind: str, key: str) -> str:
    return f"{kind}|{key}"


def _scheduling(
    kind: str, due_at: datetime, data: dict[str, Any], correlation_id: str | None
) -> dict[str, Any]:
    """The update that creates a due item or moves an existing one.

    Each scheduling gets a token of its own (`scheduled`): a run deletes its item only if
    nobody scheduled it again meanwhile, also for the same moment (a digest's slot gets a
    new item queued while the slot's run is reading the queue)."""
    document = {
        "kind": kind,
        "due_at": due_at.astimezone(UTC),
        "data": data,
        "failed": None,
        "scheduled": uuid.uuid4().hex,
    }
    return {"$set": document, "$setOnInsert": {"attempts": 0, "correlation_id": correlation_id}}


#: The time of a `Scheduled` made without one (it never wakes the loop).
NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Scheduled(Write):
    """The staged write of a due item, with its time: one due already wakes the loop."""

    due_at: datetime = NEVER
    #: The item's id (`item_id`).
    item: str = ""


def schedule(
    kind: str,
    key: str,
    due_at: datetime,
    data: dict[str, Any],
    *,
    correlation_id: str | None = None,
) -> Scheduled:
    """Stage a due item: run the `kind` handler with `data` once `due_at` has come.

    Scheduling the same kind and key again (a redelivery, or a new date) moves the
    existing item instead of adding one.
    """
    update = _scheduling(kind, due_at, data, correlation_id)
    id_ = item_id(kind, key)
    op = UpdateOne({"_id": id_}, update, upsert=True)
    return Scheduled(DUE, op, due_at=due_at.astimezone(UTC), item=id_)


def due_already(writes: Iterable[Write]) -> list[str]:
    """The items these writes schedule whose time has come by the wall clock.

    A service on a test clock ahead of the wall clock is not woken by them; its loop finds
    such items at the next poll, as before.
    """
    now = datetime.now(UTC)
    return [w.item for w in writes if isinstance(w, Scheduled) and w.due_at <= now]


async def schedule_now(
    db: AsyncDatabase, kind: str, key: str, due_at: datetime, data: dict[str, Any]
) -> None:
    """Schedule outside a message, at start-up: every replica schedules the same item, and
    replicas that start together race to create it (`upsert_by_id`)."""
    await upsert_by_id(db[DUE], item_id(kind, key), _scheduling(kind, due_at, data, None))


def cancel(kind: str, key: str) -> Write:
    """Stage the removal of a due item that is no longer wanted (nothing if it is gone)."""
    return Write(DUE, DeleteOne({"_id": item_id(kind, key)}))


# -- the clock ---------------------------------------------------------------------------------


class Clock:
    """The service's time: the system clock, moved by a test clock's offset in tests."""

    def __init__(self, db: AsyncDatabase | None = None, test_clock: str = "") -> None:
        self._db = db
        self._name = test_clock

    @property
    def is_test(self) -> bool:
        return bool(self._name)

    def describe(self) -> str:
        return f"test clock {self._name!r}" if self._name else "system"

    async def now(self) -> datetime:
        real = datetime.now(UTC)
        if not self._name or self._db is None:
            return real
        document = await self._db[TEST_CLOCK].find_one({"_id": self._name})
        return real + timedelta(seconds=float((document or {}).get("offset_s", 0.0)))


async def set_test_clock(db: AsyncDatabase, name: str, now: datetime) -> None:
    """Move the test clock `name` of the service using `db` so that its time is `now`."""
    offset = (now - datetime.now(UTC)).total_seconds()
    await db[TEST_CLOCK].update_one({"_id": name}, {"$set": {"offset_s": offset}}, upsert=True)


# -- running due items -------------------------------------------------------------------------


@dataclass
class DueContext:
    """One due item being run, and what its handler stages (like a message's `Context`)."""

    id: str
    kind: str
    data: dict[str, Any]
    due_at: datetime
    now: datetime
    service: str
    db: AsyncDatabase
    correlation_id: str | None = None
    #: The scheduling's token, for a kind whose every scheduling is a run of its own
    #: (`DueRunner.on(..., each_scheduling=True)`); None for the others.
    scheduling: str | None = None
    writes: list[Write] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The key guarded writes (`guards.apply_once`) remember this run by, and that the
        ids it publishes derive from: the same when a crashed run is repeated."""
        if self.scheduling is None:
            return f"due|{self.id}"
        return f"due|{self.id}|{self.scheduling}"

    def new_id(self, prefix: str, *parts: str) -> str:
        name = "|".join((self.key, prefix, *parts))
        return derived_id(prefix, name)

    def write(self, *writes: Write | Iterable[Write]) -> None:
        for write in writes:
            if isinstance(write, Write):
                self.writes.append(write)
            else:
                self.writes.extend(write)

    def emit(self, payload: Payload, *, subject: str | None = None) -> str:
        """Stage an event; its id is derived from the item, so a repeated run repeats it."""
        spec = CATALOGUE.for_payload(type(payload))
        if spec.kind != "event":
            raise TypeError(f"{spec.type!r} is a {spec.kind}, not an event")
        message_id = derived_uuid(f"{self.key}|out|{len(self.outgoing)}")
        envelope = new_envelope(
            spec.type,
            payload,
            source=self.service,
            subject=subject,
            correlationid=self.correlation_id or message_id,
            id_=message_id,
            time=self.now,
        )
        self.outgoing.append(Outgoing.from_envelope(topology.EVENTS.name, envelope))
        return message_id


DueHandler = Callable[[DueContext], Awaitable[None]]


class DueRunner:
    """The service's due loop: poll, claim, run, commit, publish."""

    def __init__(
        self,
        service: str,
        db: AsyncDatabase,
        committer: GroupCommitter,
        relay: OutboxRelay,
        metrics: Metrics,
        clock: Clock,
        *,
        poll_every: float,
        lease: timedelta,
        retry_delays_ms: list[int],
        concurrency: int = 4,
    ) -> None:
        self.service = service
        self.db = db
        self.committer = committer
        self.relay = relay
        self.metrics = metrics
        self.clock = clock
        self.poll_every = poll_every
        self.lease = lease
        self.retry_delays_ms = retry_delays_ms
        if concurrency < 1:
            raise ValueError("due items need at least one slot")
        self.concurrency = concurrency
        self.handlers: dict[str, DueHandler] = {}
        #: Kinds whose every scheduling is a run of its own (see `on`).
        self.each_scheduling: set[str] = set()
        #: Items this runner has claimed or is claiming, with their runs once started.
        self._running: dict[str, asyncio.Task[int] | None] = {}
        #: Items another runner held when this one tried, by the lease epoch it tried in.
        self._held_elsewhere: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: A fault-injection point for tests: called with the item id before it is committed.
        self.before_commit: Callable[[str], None] | None = None

    def on(self, kind: str, handler: DueHandler, *, each_scheduling: bool = False) -> None:
        """Run `handler` for the items of `kind`.

        `each_scheduling`: one item that many handlers move to now (the site build every
        change asks for), where each scheduling is new work. Its runs are keyed by the
        scheduling, so a run after a rescheduling publishes ids of its own rather than the
        previous run's, which consumers would drop as repeats; one item instead of one
        per request keeps the poll's scan of `due` short.
        """
        if kind in self.handlers:
            raise ValueError(f"due kind {kind!r} has a handler already")
        if "|" in kind or "@" in kind:
            raise ValueError(f"due kind {kind!r} must not contain '|' or '@'")
        self.handlers[kind] = handler
        if each_scheduling:
            self.each_scheduling.add(kind)

    def start(self) -> None:
        if self.handlers:
            self._task = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        """Stop polling and cancel the runs in flight (as a crash would: another replica
        repeats them after the lease, and their writes are repeatable)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        runs = [run for run in self._running.values() if run is not None]
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    def wake(self, items: Collection[str] = ()) -> None:
        """Poll now instead of at the next interval; for `items` due now, unless every one
        of them is running here, as the end of its run polls anyway."""
        if items and all(item in self._running for item in items):
            return
        self._wake.set()

    async def _poll_forever(self) -> None:
        while True:
            self._wake.clear()  # before the poll: a run ending during it wakes the next one
            try:
                await self._dispatch()
            except Exception as exc:  # noqa: BLE001 - the next poll tries again
                log.warning("due poll failed", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_every)

    async def poll(self) -> int:
        """Run every item whose time has come, and wait for them; how many this runner ran.

        The loop does not wait: it starts what fits in the free slots and polls again when
        a run ends, so a slow item never stands in front of the others.
        """
        runs = set(await self._dispatch())
        ran = 0
        while runs:
            finished, runs = await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
            ran += sum(run.result() for run in finished)
            runs |= set(await self._dispatch())
        return ran

    async def _dispatch(self) -> list[asyncio.Task[int]]:
        """Claim due items while slots are free and start a run for each; the runs started."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return []
        now = await self.clock.now()
        due = (
            await self.db[DUE]
            .find({"due_at": {"$lte": now}, "kind": {"$in": list(self.handlers)}})
            .sort("due_at", 1)
            .to_list(POLL_BATCH)
        )
        self.metrics.due_backlog.set(len(due))
        epoch = self._epoch(now)
        self._held_elsewhere = {i: e for i, e in self._held_elsewhere.items() if e == epoch}
        started: list[asyncio.Task[int]] = []
        for item in due:
            if len(self._running) >= self.concurrency:
                break
            id_ = item["_id"]
            if id_ in self._running or id_ in self._held_elsewhere:
                continue
            self._running[id_] = None  # taken before the await: a parallel poll skips it
            if not await self._claim(id_, now):
                del self._running[id_]
                # Its holder has this epoch and the next: no claim can succeed before the
                # next epoch, so this runner does not try again in this one.
                self._held_elsewhere[id_] = epoch
                continue
            run = asyncio.create_task(self._run_claimed(id_, now), name=f"due {id_}")
            self._running[id_] = run
            started.append(run)
        return started

    async def _run_claimed(self, id_: str, now: datetime) -> int:
        """Run a claimed item under its lease (renewed while it runs), then give the lease back."""
        epochs = [self._epoch(now), self._epoch(now) + 1]
        renewing = asyncio.create_task(self._renew(id_, epochs))
        try:
            return await self._run(id_, now)
        except Exception as exc:  # noqa: BLE001 - the item stays due: the next poll tries again
            log.warning("due item not run", extra={"due": id_, "error": repr(exc)})
            return 0
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self._release(id_, epochs)
            self._running.pop(id_, None)
            self._wake.set()

    async def _renew(self, id_: str, epochs: list[int]) -> None:
        """Every half lease, claim the epoch after the current one, so that the lease never
        runs out under a run that is still going (a slow SMTP server, a big digest)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 2)
            nxt = self._epoch(await self.clock.now()) + 1
            if nxt in epochs:
                continue
            claim = {"_id": f"{id_}@{nxt}", "at": await self.clock.now(), "service": self.service}
            try:
                await self.db[DUE_CLAIMS].insert_one(claim)
            except DuplicateKeyError:
                log.warning("due lease taken over while running", extra={"due": id_})
                continue
            except Exception as exc:  # noqa: BLE001 - tried again at the next renewal
                log.warning("due lease not renewed", extra={"due": id_, "error": repr(exc)})
                continue
            epochs.append(nxt)

    def _epoch(self, now: datetime) -> int:
        return int(now.timestamp() // self.lease.total_seconds())

    async def _claim(self, id_: str, now: datetime) -> bool:
        """Hold the item for this epoch and the next: True if this runner got it."""
        epoch = self._epoch(now)
        claims = [
            {"_id": f"{id_}@{e}", "at": now, "service": self.service} for e in (epoch, epoch + 1)
        ]
        try:
            await self.db[DUE_CLAIMS].insert_many(claims, ordered=True)
        except BulkWriteError as exc:
            # Ordered: the current epoch's claim is the first document; if it went in, ours.
            return exc.details.get("nInserted", 0) >= 1
        except DuplicateKeyError:
            return False
        return True

    async def _release(self, id_: str, epochs: Iterable[int]) -> None:
        """Give the lease back: the item is done, or waits for its retry, which may come sooner.

        A release that fails leaves the lease to run out; the hourly prune deletes it.
        """
        deletes = [DeleteOne({"_id": f"{id_}@{e}"}) for e in epochs]
        with contextlib.suppress(Exception):
            await bulk_write_in_batches(self.db[DUE_CLAIMS], deletes, ordered=False)

    async def _run(self, id_: str, now: datetime) -> int:
        item = await self.db[DUE].find_one({"_id": id_})
        if item is None or item.get("failed") or item["due_at"] > now:
            return 0  # done by another runner meanwhile, or moved to a later time
        kind = item["kind"]
        ctx = DueContext(
            id=id_,
            kind=kind,
            data=item.get("data") or {},
            due_at=item["due_at"],
            now=now,
            service=self.service,
            db=self.db,
            correlation_id=item.get("correlation_id"),
            scheduling=item.get("scheduled") if kind in self.each_scheduling else None,
        )
        try:
            await self.handlers[kind](ctx)
        except DomainError as exc:
            await self._give_up(id_, kind, f"{exc.code.value}: {exc.message}")
            return 0
        except Exception as exc:  # noqa: BLE001 - may pass: tried again later
            await self._retry(item, now, exc)
            return 0
        if self.before_commit is not None:
            self.before_commit(id_)
        outbox: list[Write] = []
        if ctx.outgoing:
            entry = {
                "_id": ctx.key,
                "messages": pack(ctx.outgoing),
                "lease_until": self.relay.lease_until(),
                "created_at": now,
            }
            outbox.append(Write(OUTBOX, InsertOne(entry)))
        prepare = [w for w in ctx.writes if w.stage == 0]
        change = [w for w in ctx.writes if w.stage != 0]
        # not if scheduled again while it ran (items from before the token: by their time)
        since = (
            {"scheduled": item["scheduled"]} if "scheduled" in item else {"due_at": item["due_at"]}
        )
        done = [Write(DUE, DeleteOne({"_id": id_, **since}))]
        await self.committer.commit(prepare, change, outbox, done, tag=ctx.key)
        if ctx.outgoing:
            self.relay.hand_over(ctx.key, ctx.outgoing)
        if items := due_already(ctx.writes):
            self.wake(items)
        self.metrics.due.labels(kind, "done").inc()
        return 1

    async def _retry(self, item: dict[str, Any], now: datetime, exc: Exception) -> None:
        attempts = int(item.get("attempts", 0)) + 1
        error = f"{type(exc).__name__}: {exc}"
        if attempts > len(self.retry_delays_ms):
            await self._give_up(item["_id"], item["kind"], f"after {attempts} attempts: {error}")
            return
        later = now + timedelta(milliseconds=self.retry_delays_ms[attempts - 1])
        await self.db[DUE].update_one(
            {"_id": item["_id"]},
            {"$set": {"due_at": later, "attempts": attempts, "error": error[:2000]}},
        )
        self.metrics.due.labels(item["kind"], "retried").inc()
        log.warning(
            "due item failed; trying again later", extra={"due": item["_id"], "error": error}
        )

    async def _give_up(self, id_: str, kind: str, reason: str) -> None:
        await self.db[DUE].update_one(
            {"_id": id_},
            {"$set": {"failed": reason[:2000], "failed_at": datetime.now(UTC), "due_at": None}},
        )
        self.metrics.due.labels(kind, "failed").inc()
        log.error("due item given up", extra={"due": id_, "reason": reason})

    async def prune_claims(self) -> None:
        """Forget claims long past their lease (hourly housekeeping)."""
        cutoff = await self.clock.now() - self.lease * CLAIMS_KEPT
        await self.db[DUE_CLAIMS].delete_many({"at": {"$lt": cutoff}})
