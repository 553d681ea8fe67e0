"""Due items against the real stack: run once when their time comes, on a clock the test moves.

The test service schedules a reminder with `tally.remind` (a due item staged by its
handler); its due handler counts every run in `due_runs` (unstaged, so that a second run
would show), stages its effect and emits `tally.reminded`. Reminders are scheduled in
2040, so nothing runs until a test moves the services' test clock there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared import due
from diko_shared.store.mongo import OUTBOX
from harness.bus import Bus, Seen, Tap
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually
from testsvc.app import KILL_DUE
from testsvc.contract import Remind

HERE = Path(__file__).resolve().parent
CLOCK = "due-tests"
LEASE_S = 60
#: Each test schedules its reminders on a day of its own, later than every earlier test's.
DAYS = iter(range(1, 10_000))


def service_env(stack: SessionStack) -> dict[str, str]:
    return {
        **stack.service_env("testsvc"),
        "DIKO_TEST_CLOCK": CLOCK,
        "DIKO_DUE_POLL_S": "0.2",
        "DIKO_DUE_LEASE_S": str(LEASE_S),
        "DIKO_RETRY_DELAYS_MS": "1000,1000",
    }


@pytest.fixture(scope="module")
def first(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess("testsvc-due", "testsvc", None, service_env(stack), pythonpath=(HERE,))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def second(stack: SessionStack, first: ServiceProcess) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "testsvc-due-2", "testsvc", None, service_env(stack), pythonpath=(HERE,)
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncDatabase:
    return mongo[stack.database("testsvc")]


def day() -> datetime:
    """A moment no earlier test has moved the clock past."""
    return datetime(2040, 1, 1, 8, tzinfo=UTC) + timedelta(days=next(DAYS))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def schedule(bus: Bus, item: str, at: datetime, fail: str = "") -> None:
    await bus.ok(Remind(item=item, at=at, fail=fail))


async def runs(db: AsyncDatabase, item: str) -> int:
    return await db["due_runs"].count_documents({"item": item})


def reminded(tap: Tap, item: str) -> list[Seen]:
    """Distinct `tally.reminded` events of `item` (a repeat keeps its id)."""
    found = tap.matching(lambda m: m.routing_key == "tally.reminded" and m.data["item"] == item)
    return list({m.message_id: m for m in found}.values())


async def done(db: AsyncDatabase, *items: str) -> bool:
    """Every item ran, is gone from `due`, and what it emitted is confirmed by the broker."""
    ids = [due.item_id("reminder", item) for item in items]
    left = await db[due.DUE].count_documents({"_id": {"$in": ids}})
    effects = await db["reminded"].count_documents({"_id": {"$in": list(items)}})
    return left == 0 and effects == len(items) and await db[OUTBOX].count_documents({}) == 0


async def test_an_item_runs_once_when_its_time_comes_and_not_before(
    bus: Bus, first: ServiceProcess, db: AsyncDatabase
) -> None:
    tap = await bus.tap(pattern="tally.reminded")
    at = day()
    early, late = unique("early"), unique("late")
    await schedule(bus, early, at)
    await schedule(bus, late, at + timedelta(hours=1))
    await schedule(bus, early, at)  # scheduled again: still one item

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))
    [event] = await tap.wait_for(lambda m: m.data["item"] == early)

    assert event.data["due_at"].startswith(at.isoformat().replace("+00:00", ""))
    assert event.envelope["source"] == "testsvc"
    await eventually(lambda: done(db, early), what="the early reminder done")
    assert await runs(db, early) == 1
    assert await runs(db, late) == 0  # its time has not come
    assert await db[due.DUE].count_documents({"_id": due.item_id("reminder", late)}) == 1

    await due.set_test_clock(db, CLOCK, at + timedelta(hours=2))
    await eventually(lambda: done(db, late), what="the late reminder done")
    await tap.fence()
    assert len(reminded(tap, early)) == 1
    assert len(reminded(tap, late)) == 1
    assert await runs(db, early) == 1
    assert await runs(db, late) == 1
    assert first.metric("diko_due_total", kind="reminder", outcome="done") >= 2


async def test_a_leased_item_waits_until_its_lease_runs_out(
    bus: Bus, first: ServiceProcess, db: AsyncDatabase
) -> None:
    """Another runner holds the item (its claims exist): the loop leaves it alone meanwhile."""
    tap = await bus.tap(pattern="tally.reminded")
    at = day()
    held, fence = unique("held"), unique("fence")
    await schedule(bus, held, at)
    await schedule(bus, fence, at)
    epoch = int((at + timedelta(seconds=1)).timestamp() // LEASE_S)
    await db[due.DUE_CLAIMS].insert_many(
        [{"_id": f"{due.item_id('reminder', held)}@{e}", "at": at} for e in (epoch, epoch + 1)]
    )

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))
    await eventually(lambda: done(db, fence), what="the unclaimed reminder done")
    assert await runs(db, held) == 0  # polled together with the fence, but leased

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=3 * LEASE_S))
    await eventually(lambda: done(db, held), what="the reminder taken over after its lease")
    await tap.fence()
    assert await runs(db, held) == 1
    assert len(reminded(tap, held)) == 1


async def test_two_replicas_run_each_item_once(
    bus: Bus, first: ServiceProcess, second: ServiceProcess, db: AsyncDatabase
) -> None:
    tap = await bus.tap(pattern="tally.reminded")
    at = day()
    items = [unique(f"pair{n}") for n in range(30)]
    for item in items:
        await schedule(bus, item, at)

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))
    await eventually(lambda: done(db, *items), timeout=60, what="every reminder done")
    await tap.fence()

    assert [await runs(db, item) for item in items] == [1] * len(items)
    assert all(len(reminded(tap, item)) == 1 for item in items)
    totals = await db["reminder_totals"].find({"_id": {"$in": items}}).to_list(None)
    assert sorted(t["count"] for t in totals) == [1] * len(items)
    pids = {r["pid"] for r in await db["due_runs"].find({"item": {"$in": items}}).to_list(None)}
    assert 1 <= len(pids) <= 2


async def test_a_replica_tries_an_item_another_one_holds_once_a_lease_not_every_poll(
    bus: Bus, first: ServiceProcess, second: ServiceProcess, db: AsyncDatabase
) -> None:
    """While one replica runs a held item, the other polls every 0.2 s: it meets the claim
    once and leaves the item alone for the rest of the lease (60 s here), where every
    poll had tried to claim it again."""
    at = day()
    held = unique("busy")
    await schedule(bus, held, at, fail="hold")
    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))
    await eventually(lambda: runs(db, held), what="the held reminder started")

    def count(process: ServiceProcess, command: str, collection: str) -> float:
        return process.metric(
            "diko_store_command_seconds_count", command=command, collection=collection
        )

    replicas = (first, second)
    claims = sum(count(p, "insert", due.DUE_CLAIMS) for p in replicas)
    polls = [count(p, "find", due.DUE) for p in replicas]

    async def polled_ten_times_each() -> bool:
        return all(
            count(p, "find", due.DUE) >= n + 10 for p, n in zip(replicas, polls, strict=True)
        )

    await eventually(polled_ten_times_each, what="ten polls of each replica")
    # the other replica's one claim, at most one more at an epoch's turn, a renewal
    assert sum(count(p, "insert", due.DUE_CLAIMS) for p in replicas) - claims <= 3

    await db["released"].insert_one({"_id": held})
    await eventually(lambda: done(db, held), what="the held reminder done once released")
    assert await runs(db, held) == 1


@pytest.mark.parametrize("step", ["run", "1", "2"])
async def test_killed_mid_way_the_item_completes_once_after_a_restart(
    bus: Bus, first: ServiceProcess, db: AsyncDatabase, step: str
) -> None:
    """SIGKILL after the handler ran, after its writes, after its outbox entry."""
    tap = await bus.tap(pattern="tally.reminded")
    at = day()
    item = unique(f"kill{step}")
    first.stop()
    first.start(extra_env={KILL_DUE: f"{step}:{item}"})
    await schedule(bus, item, at)

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))
    assert first.wait_exit(timeout=60) == -9
    assert await runs(db, item) == 1
    assert await db[due.DUE].count_documents({"_id": due.item_id("reminder", item)}) == 1

    first.start()
    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=3 * LEASE_S))
    await eventually(lambda: done(db, item), timeout=60, what="the reminder done after restart")
    await tap.fence()
    assert len(reminded(tap, item)) == 1
    assert await runs(db, item) == 2  # the second run repeated the first one's effect...
    total = await db["reminder_totals"].find_one({"_id": item})
    assert total is not None
    assert total["count"] == 1  # ...which was applied once


async def test_a_failing_item_is_tried_again_and_a_final_error_is_kept(
    bus: Bus, first: ServiceProcess, db: AsyncDatabase
) -> None:
    at = day()
    flaky, broken = unique("flaky"), unique("broken")
    await schedule(bus, flaky, at, fail="1")
    await schedule(bus, broken, at, fail="domain")

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))

    async def failed() -> dict | None:
        item = await db[due.DUE].find_one({"_id": due.item_id("reminder", broken)})
        return item if item and item.get("failed") else None

    kept = await eventually(failed, what="the broken reminder given up")
    assert "validation_error" in kept["failed"]
    assert "kann nicht erinnert werden" in kept["failed"]
    assert kept["due_at"] is None
    # the flaky one failed once; its retry is due a second later on the service's clock
    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=10))
    await eventually(lambda: done(db, flaky), what="the flaky reminder done on its retry")
    assert await runs(db, flaky) == 2
    assert await runs(db, broken) == 1
    assert first.metric("diko_due_total", kind="reminder", outcome="failed") >= 1


async def test_a_held_item_holds_up_no_other(
    bus: Bus, first: ServiceProcess, db: AsyncDatabase
) -> None:
    """A run that hangs (a placement waiting for matching, which is down) takes one of the
    loop's slots; the items due after it run meanwhile, more of them than there are slots."""
    tap = await bus.tap(pattern="tally.reminded")
    at = day()
    held = unique("held")
    others = [unique(f"behind{n}") for n in range(7)]
    await schedule(bus, held, at, fail="hold")
    for item in others:
        await schedule(bus, item, at + timedelta(seconds=1))

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=2))
    await eventually(lambda: done(db, *others), what="the reminders behind the held one done")
    assert await runs(db, held) == 1  # running all along...
    assert await db["reminded"].count_documents({"_id": held}) == 0  # ...and not finished

    await db["released"].insert_one({"_id": held})
    await eventually(lambda: done(db, held), what="the held reminder done once released")
    await tap.fence()
    assert await runs(db, held) == 1
    assert len(reminded(tap, held)) == 1
    assert all(len(reminded(tap, item)) == 1 for item in others)


async def test_an_item_scheduled_again_while_it_runs_runs_again(
    bus: Bus, first: ServiceProcess, db: AsyncDatabase
) -> None:
    """Scheduled again for the same moment while it runs (a digest's slot gets another
    queued mail while its run reads the queue): the run must not delete the new one."""
    tap = await bus.tap(pattern="tally.reminded")
    at = day()
    item = unique("again")
    await schedule(bus, item, at, fail="hold")
    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))
    await eventually(lambda: runs(db, item), what="the held reminder started")
    await schedule(bus, item, at, fail="hold")  # the same moment, while the first run holds

    await db["released"].insert_one({"_id": item})

    async def ran_twice() -> bool:
        return await runs(db, item) == 2 and await done(db, item)

    await eventually(ran_twice, what="the reminder run again, then done")
    await tap.fence()
    assert len(reminded(tap, item)) == 1  # the effect once: the second run repeats it


async def test_a_long_run_keeps_its_lease_and_runs_once_with_two_replicas(
    bus: Bus, stack: SessionStack, first: ServiceProcess, db: AsyncDatabase
) -> None:
    """Two replicas with a 2-second lease: the one running a held item renews the lease while
    it runs, so the other never takes the item over, however often it polls."""
    lease_s = 2
    first.stop()
    short = {**service_env(stack), "DIKO_DUE_LEASE_S": str(lease_s)}
    replicas = [
        ServiceProcess(f"testsvc-lease-{n}", "testsvc", None, short, pythonpath=(HERE,))
        for n in (1, 2)
    ]
    try:
        for replica in replicas:
            replica.start()
        tap = await bus.tap(pattern="tally.reminded")
        at = day()
        held = unique("long")
        await schedule(bus, held, at, fail="hold")
        start = at + timedelta(seconds=1)
        await due.set_test_clock(db, CLOCK, start)
        await eventually(lambda: runs(db, held), what="the held reminder started")
        later = f"{due.item_id('reminder', held)}@{int(start.timestamp()) // lease_s + 4}"

        async def renewed() -> bool:
            return await db[due.DUE_CLAIMS].count_documents({"_id": later}) == 1

        # past two whole leases of the first claim: the lease was renewed all along
        await eventually(renewed, what="the lease renewed two leases on")
        assert await runs(db, held) == 1

        await db["released"].insert_one({"_id": held})
        await eventually(lambda: done(db, held), what="the held reminder done once released")
        await tap.fence()
        assert await runs(db, held) == 1
        assert len(reminded(tap, held)) == 1
        # escaped: an item id holds a `|`, which a pattern reads as "or"
        claims = {"_id": {"$regex": f"^{re.escape(due.item_id('reminder', held))}@"}}
        await eventually(lambda: _none_left(db, claims), what="the lease given back after the run")
    finally:
        for replica in replicas:
            replica.stop()
        first.start()


async def _none_left(db: AsyncDatabase, query: dict) -> bool:
    return await db[due.DUE_CLAIMS].count_documents(query) == 0


def test_a_test_clock_outside_a_test_virtual_host_stops_the_service(stack: SessionStack) -> None:
    env = {**service_env(stack), "DIKO_AMQP_URL": stack.base["DIKO_AMQP_URL"]}
    process = ServiceProcess("testsvc-prod-clock", "testsvc", None, env, pythonpath=(HERE,))
    with pytest.raises(RuntimeError):
        process.start(timeout=30)
    assert process.wait_exit(timeout=30) == 1
    assert "DIKO_TEST_CLOCK" in process.tail()
    assert "test virtual host" in process.tail()
