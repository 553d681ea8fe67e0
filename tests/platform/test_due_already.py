"""An item scheduled due already runs at once, not at the due loop's next poll.

The service polls every ten minutes here, on the wall clock; a reminder scheduled for a
moment already past must run within seconds all the same, because the commit of the
message that scheduled it wakes the loop. An item scheduled again while it runs here
wakes nobody: the end of its run polls and runs it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared import due
from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually
from testsvc.contract import Remind

HERE = Path(__file__).resolve().parent
POLL_S = 600


@pytest.fixture
def sleepy(stack: SessionStack) -> Iterator[ServiceProcess]:
    env = {**stack.service_env("testsvc"), "DIKO_DUE_POLL_S": str(POLL_S)}
    process = ServiceProcess("testsvc-sleepy", "testsvc", None, env, pythonpath=(HERE,))
    process.start()
    yield process
    process.stop()


async def test_an_item_due_already_runs_at_once_between_two_polls(
    bus: Bus, sleepy: ServiceProcess, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    db: AsyncDatabase = mongo[stack.database("testsvc")]
    tap = await bus.tap(pattern="tally.reminded")
    for name in ("first", "second"):
        # The second is scheduled while the loop waits out its interval: only a wake runs it.
        item = f"{name}-{uuid.uuid4().hex[:8]}"
        await bus.ok(Remind(item=item, at=datetime.now(UTC) - timedelta(seconds=1)))
        await tap.wait_for(lambda m, item=item: m.data["item"] == item, timeout=15)

        async def ran(item: str = item) -> bool:
            return await db["reminded"].count_documents({"_id": item}) == 1

        await eventually(ran, timeout=15, what=f"the {name} reminder's effect")
    assert sleepy.metric("diko_due_total", kind="reminder", outcome="done") == 2


async def test_an_item_scheduled_again_while_it_runs_here_runs_again_when_its_run_ends(
    bus: Bus, sleepy: ServiceProcess, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    # Like the site build, which every change arriving during a build moves to now: a
    # poll for each of those changes would only find the item running.
    db: AsyncDatabase = mongo[stack.database("testsvc")]
    item = f"busy-{uuid.uuid4().hex[:8]}"

    def past() -> datetime:
        return datetime.now(UTC) - timedelta(seconds=1)

    async def runs() -> int:
        return await db["due_runs"].count_documents({"item": item})

    def polls() -> float:
        return sleepy.metric("diko_store_command_seconds_count", command="find", collection="due")

    await bus.ok(Remind(item=item, at=past(), fail="hold"))
    await eventually(runs, timeout=15, what="the held reminder started")
    before = polls()
    for _ in range(3):
        await bus.ok(Remind(item=item, at=past(), fail="hold"))
    await db["released"].insert_one({"_id": item})

    async def ran_again_and_done() -> bool:
        left = await db[due.DUE].count_documents({"_id": due.item_id("reminder", item)})
        return await runs() == 2 and left == 0

    await eventually(ran_again_and_done, timeout=15, what="the reminder run again at once")
    # The end of the first run polls (and finds the item due again), the second run reads
    # its item, the end of the second run polls (perhaps after this line); the three
    # schedulings in between asked for no poll.
    assert polls() - before <= 3
