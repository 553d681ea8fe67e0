"""What a handler emits is confirmed before its message is acknowledged, or kept in the outbox."""

from __future__ import annotations

import uuid

from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.messaging import topology
from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.waiting import eventually
from testsvc.contract import AddToTally, GetTally

QUEUE = "testsvc.tally.add"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def outcomes(testsvc: ServiceProcess) -> dict[str, float]:
    return {
        outcome: testsvc.metric("diko_messages_total", queue=QUEUE, outcome=outcome)
        for outcome in ("processed", "requeued", "retried", "duplicate")
    }


async def test_a_processed_message_keeps_no_outbox_entry_and_its_record_holds_the_event(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    item = unique("confirmed")
    tap = await bus.tap(pattern="tally.added")
    message = bus.publisher.command(AddToTally(item=item, amount=1))

    assert await bus.publisher.request_raw(message) == {
        "ok": True,
        "data": {"item": item, "total": 1, "count": 1},
    }
    # The reply comes after the confirm: the event is on its way to the tap already.
    [event] = await tap.wait_for(lambda m: m.data["item"] == item)
    key = {"_id": {"$regex": f"\\|{message.message_id}$"}}
    record = await testsvc_db["processed"].find_one(key)
    assert event.message_id in record["messages"].decode()
    assert await testsvc_db["outbox"].count_documents(key) == 0


async def test_an_event_the_broker_refuses_waits_in_the_outbox_and_goes_out_once_it_may(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    """A queue that refuses every message makes the broker nack the event's publish."""
    assert bus.connection is not None
    item = unique("refused")
    tap = await bus.tap(pattern="tally.added")
    channel = await bus.connection.channel()
    refusing = await channel.declare_queue(
        f"tests.refusing-{uuid.uuid4().hex[:8]}",
        exclusive=True,
        arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
    )
    await refusing.bind(topology.EVENTS.name, "tally.added")
    before = outcomes(testsvc)
    message = bus.publisher.command(AddToTally(item=item, amount=6))
    key = {"_id": {"$regex": f"\\|{message.message_id}$"}}

    try:
        await bus.publisher.publish(message)
        await eventually(
            lambda: testsvc_db["outbox"].find_one(key), what="the refused event kept in the outbox"
        )

        async def settled_once() -> bool:
            return outcomes(testsvc)["processed"] == before["processed"] + 1

        await eventually(settled_once, what="the message acknowledged as processed")
        assert await testsvc_db["outbox"].count_documents(key) == 1  # the relay still tries
    finally:
        await refusing.delete(if_unused=False, if_empty=False)
        await channel.close()

    async def drained() -> bool:
        return await testsvc_db["outbox"].count_documents(key) == 0

    await eventually(drained, what="the relay published the kept event")
    await tap.fence()
    events = tap.matching(lambda m: m.data["item"] == item)
    assert len({m.message_id for m in events}) == 1  # one event, published once or again
    assert await bus.ok(GetTally(item=item)) == {"item": item, "total": 6, "count": 1}
    after = outcomes(testsvc)
    assert {k: after[k] - before[k] for k in after} == {
        "processed": 1,
        "requeued": 0,
        "retried": 0,
        "duplicate": 0,
    }
