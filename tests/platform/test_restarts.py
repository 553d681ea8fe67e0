"""Broker and database restarted mid-stream: of 2,000 messages none is lost, none applied twice."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.messaging.publisher import Outgoing
from harness import stack as local_stack
from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.waiting import eventually
from testsvc.contract import AddToTally

MESSAGES = 2_000
ITEMS = [f"stream-{n:02d}" for n in range(20)]


async def publish_until_confirmed(bus: Bus, message: Outgoing, deadline: float) -> None:
    """Publish, and again after a connection fault: a repeat is a duplicate the service drops."""
    while True:
        try:
            await bus.publisher.publish(message, timeout=5.0)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)  # back-off while the broker is away


@pytest.mark.slow
async def test_restarts_mid_stream_lose_nothing_and_apply_nothing_twice(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    rng = random.Random(7)
    messages = []
    expected = dict.fromkeys(ITEMS, 0)
    for _ in range(MESSAGES):
        item, amount = rng.choice(ITEMS), rng.randint(1, 9)
        expected[item] += amount
        messages.append(bus.publisher.command(AddToTally(item=item, amount=amount)))
    deadline = time.monotonic() + 300
    processed_before = testsvc.metric(
        "diko_messages_total", queue="testsvc.tally.add", outcome="processed"
    )

    async def publish(batch: list[Outgoing]) -> None:
        await asyncio.gather(*(publish_until_confirmed(bus, m, deadline) for m in batch))

    await publish(messages[:600])
    broker_restart = asyncio.create_task(_restart_broker(testsvc))
    await publish(messages[600:1200])
    await broker_restart
    database_restart = asyncio.to_thread(local_stack.restart, "ferretdb")
    await asyncio.gather(database_restart, publish(messages[1200:]))

    async def all_applied() -> bool:
        totals = await testsvc_db["totals"].find({"_id": {"$in": ITEMS}}).to_list(None)
        return sum(t["count"] for t in totals) >= MESSAGES

    async def all_received() -> bool:
        received = await testsvc_db["received"].find({"_id": {"$in": ITEMS}}).to_list(None)
        return sum(r["count"] for r in received) >= MESSAGES

    await eventually(all_applied, timeout=240, interval=0.5, what="every message applied")
    await eventually(all_received, timeout=240, interval=0.5, what="every event received")

    totals = {t["_id"]: t async for t in testsvc_db["totals"].find({"_id": {"$in": ITEMS}})}
    assert sum(t["count"] for t in totals.values()) == MESSAGES
    assert {item: totals[item]["total"] for item in ITEMS if item in totals} == {
        item: total for item, total in expected.items() if total
    }
    received = testsvc_db["received"].find({"_id": {"$in": ITEMS}})
    assert sum([r["count"] async for r in received]) == MESSAGES
    ids = [m.message_id for m in messages]
    assert await testsvc_db["effects"].count_documents({"_id": {"$in": ids}}) == MESSAGES
    # The guards above would hide a handler that ran to its commit twice; the service's
    # own count would not. (Fewer is possible: a commit that the database applied but
    # did not confirm is retried, and the retry finds it done.)
    processed = testsvc.metric(
        "diko_messages_total", queue="testsvc.tally.add", outcome="processed"
    )
    assert processed - processed_before <= MESSAGES


async def _restart_broker(service: ServiceProcess) -> None:
    """Stop and start the broker; meanwhile the service says it is not ready, and why."""

    async def readiness() -> dict:
        response = await asyncio.to_thread(service.get, "/readyz")
        return {"code": response.status_code, **response.json()}

    async def not_ready() -> dict | None:
        state = await readiness()
        return state if state["code"] == 503 else None

    async def ready() -> bool:
        return (await readiness())["code"] == 200

    await asyncio.to_thread(local_stack.ctl, "stop_app")
    state = await eventually(not_ready, timeout=30, what="/readyz 503 while the broker is away")
    assert state["broker"].startswith("unavailable")
    assert state["database"] == "ok"
    await asyncio.to_thread(local_stack.ctl, "start_app")
    await eventually(ready, timeout=60, what="/readyz 200 once the broker is back")
