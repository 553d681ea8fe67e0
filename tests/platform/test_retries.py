"""Transient failures are retried with delay; permanent ones are dead-lettered and replayable."""

from __future__ import annotations

import asyncio
import uuid

from pymongo.asynchronous.database import AsyncDatabase

from harness.bus import Bus
from harness.cli import diko
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually
from testsvc.contract import FlakyWork


async def test_transient_failure_is_retried_after_a_delay_and_then_processed(
    bus: Bus, testsvc: ServiceProcess
) -> None:
    retried = testsvc.metric("diko_retried_total", queue="testsvc.tally.flaky")
    started = asyncio.get_running_loop().time()
    reply = await bus.ok(FlakyWork(item=f"flaky-{uuid.uuid4().hex[:6]}", fail_times=2))
    elapsed = asyncio.get_running_loop().time() - started
    assert reply["attempts"] == 3
    assert testsvc.metric("diko_retried_total", queue="testsvc.tally.flaky") == retried + 2
    assert elapsed >= 0.7  # the retries waited 200 ms and 500 ms in the wait queues


async def test_permanent_failure_is_dead_lettered_and_replay_delivers_it_again(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase, stack: SessionStack
) -> None:
    item = f"broken-{uuid.uuid4().hex[:6]}"
    await testsvc_db["switches"].insert_one({"_id": item, "broken": True})
    await bus.drain("testsvc.dlq")
    message_id = await bus.send(FlakyWork(item=item, fail_times=0))

    async def dead_lettered() -> bool:
        return await bus.depth("testsvc.dlq") == 1

    await eventually(dead_lettered, what="the dead letter")
    attempts = await testsvc_db["attempts"].find_one({"_id": message_id})
    assert attempts["n"] == 3  # the first delivery and one retry per configured delay

    for _ in range(2):  # looking returns the letter to its queue: it is still there after
        shown = diko(stack, "dlq", "show", "testsvc")
        assert shown.returncode == 0, shown.stderr
        assert "retries_exhausted" in shown.stdout
        assert "testsvc.tally.flaky" in shown.stdout
        assert f"flaky failure 3 of {item}" in shown.stdout
        assert "1 dead letter(s) in testsvc.dlq" in shown.stdout

    await testsvc_db["switches"].update_one({"_id": item}, {"$set": {"broken": False}})
    replayed = diko(stack, "dlq", "replay", "testsvc")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1" in replayed.stdout

    async def processed() -> dict | None:
        return await testsvc_db["flaky_done"].find_one({"_id": message_id})

    done = await eventually(processed, what="the replayed message processed")
    assert done["attempts"] == 4
    assert await bus.depth("testsvc.dlq") == 0


async def test_a_request_that_keeps_failing_is_answered_internal_and_dead_lettered(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    item = f"broken-{uuid.uuid4().hex[:6]}"
    await testsvc_db["switches"].insert_one({"_id": item, "broken": True})
    await bus.drain("testsvc.dlq")
    reply = await bus.request(FlakyWork(item=item, fail_times=0))
    assert reply["ok"] is False
    assert reply["error"]["code"] == "internal"
    assert "testsvc.dlq" in reply["error"]["message"]
    (letter,) = await bus.wait_dead_letters("testsvc.dlq", 1)
    assert letter.headers["x-diko-reason"] == "retries_exhausted"
    assert letter.app_id == "tests"  # the copy names who sent the message, not who failed it
