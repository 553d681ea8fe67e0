"""A message handled twice, or by a process that dies mid-way, has one effect and one event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.messaging.handling import key_of
from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.waiting import eventually
from testsvc.app import KILL_AFTER_COMMIT, KILL_AFTER_PHASE
from testsvc.contract import AddToTally, GetTally


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def settled(db: AsyncDatabase, message_id: str) -> bool:
    """The message is processed and everything it emitted is confirmed by the broker."""
    done = await db["processed"].count_documents({"_id": {"$regex": f"\\|{message_id}$"}}) == 1
    return done and await db["outbox"].count_documents({}) == 0


async def test_same_message_twice_has_one_effect_and_one_event(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    item = unique("twice")
    tap = await bus.tap(pattern="tally.added")
    message = bus.publisher.command(AddToTally(item=item, amount=5))
    duplicates_before = testsvc.metric(
        "diko_messages_total", queue="testsvc.tally.add", outcome="duplicate"
    )

    await bus.publisher.publish(message)
    await bus.publisher.publish(message)

    async def duplicate_seen() -> bool:
        labels = {"queue": "testsvc.tally.add", "outcome": "duplicate"}
        return testsvc.metric("diko_messages_total", **labels) == duplicates_before + 1

    await eventually(duplicate_seen, what="the second delivery handled as a duplicate")
    await eventually(lambda: settled(testsvc_db, message.message_id), what="outbox drained")
    await tap.fence()
    events = tap.matching(lambda m: m.data["item"] == item)
    assert len(events) == 1
    assert events[0].envelope["causationid"] == message.message_id
    total = await bus.ok(GetTally(item=item))
    assert total == {"item": item, "total": 5, "count": 1}
    # The duplicate was recognised by the processed record alone: a message that claims
    # nothing writes no inbox record.
    key = key_of("testsvc.tally.add", message.source, message.message_id)
    assert await testsvc_db["processed"].count_documents({"_id": key}) == 1
    assert await testsvc_db["inbox"].count_documents({"_id": key}) == 0


async def test_killed_after_commit_before_ack_has_one_effect_and_one_event(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    item = unique("killed")
    tap = await bus.tap(pattern="tally.added")
    message = bus.publisher.command(AddToTally(item=item, amount=7))
    testsvc.stop()
    testsvc.start(extra_env={KILL_AFTER_COMMIT: message.message_id})

    await bus.publisher.publish(message)
    assert testsvc.wait_exit(timeout=30) == -9  # SIGKILL after the write, before the ack

    testsvc.start()
    await eventually(lambda: settled(testsvc_db, message.message_id), what="redelivery settled")
    await tap.fence()
    assert len(tap.matching(lambda m: m.data["item"] == item)) == 1
    assert await bus.ok(GetTally(item=item)) == {"item": item, "total": 7, "count": 1}
    assert await testsvc_db["effects"].count_documents({"item": item}) == 1


@pytest.mark.parametrize(
    "phase", [0, 1, 2], ids=["after-prepare", "after-state-change", "after-processed-record"]
)
async def test_killed_between_commit_phases_has_one_effect_one_event_and_a_true_reply(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase, phase: int
) -> None:
    """Phase 2 dies after the record, before the event: the redelivery publishes the record's."""
    item = unique(f"phase{phase}")
    tap = await bus.tap(pattern="tally.added")
    message = bus.publisher.command(AddToTally(item=item, amount=4))
    testsvc.stop()
    testsvc.start(extra_env={KILL_AFTER_PHASE: f"{phase}:{message.message_id}"})

    await bus.publisher.publish(message)
    assert testsvc.wait_exit(timeout=30) == -9
    processed = {"_id": {"$regex": f"\\|{message.message_id}$"}}
    recorded = await testsvc_db["processed"].count_documents(processed)
    assert recorded == (1 if phase == 2 else 0)  # died after it, or before it
    await tap.fence()
    assert tap.matching(lambda m: m.data["item"] == item) == []  # nothing published yet
    done = {"item": item, "total": 4, "count": 1}
    changed = await testsvc_db["totals"].count_documents({"_id": item, "count": 1})
    assert changed == (1 if phase >= 1 else 0)  # ...and after the phase it was told to

    testsvc.start()
    await eventually(lambda: settled(testsvc_db, message.message_id), what="redelivery settled")
    await tap.fence()
    assert len(tap.matching(lambda m: m.data["item"] == item)) == 1
    assert await bus.ok(GetTally(item=item)) == done
    assert await testsvc_db["effects"].count_documents({"item": item}) == 1
    record = await testsvc_db["processed"].find_one(processed)
    # Kept as the JSON it was sent as; it does not count its own change twice.
    assert json.loads(record["reply"])["data"] == done


async def test_killed_in_the_handler_after_a_write_has_one_effect_and_one_event(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    item = unique("crash")
    tap = await bus.tap(pattern="tally.added")
    message = bus.publisher.command(AddToTally(item=item, amount=2, crash=True))

    await bus.publisher.publish(message)
    assert testsvc.wait_exit(timeout=30) == -9

    testsvc.start()
    await eventually(lambda: settled(testsvc_db, message.message_id), what="redelivery settled")
    await tap.fence()
    assert len(tap.matching(lambda m: m.data["item"] == item)) == 1
    assert await bus.ok(GetTally(item=item)) == {"item": item, "total": 2, "count": 1}
    mark = await testsvc_db["crash_marks"].find_one({"_id": message.message_id})
    assert mark["crashes"] == 2  # it really died once and ran again


async def test_reply_to_a_redelivered_command_is_the_stored_reply(
    bus: Bus, testsvc: ServiceProcess
) -> None:
    item = unique("reply")
    message = bus.publisher.command(AddToTally(item=item, amount=3))
    first = await bus.publisher.request_raw(message)
    second = await bus.publisher.request_raw(message)
    assert first == second == {"ok": True, "data": {"item": item, "total": 3, "count": 1}}


async def test_a_record_kept_before_replies_were_stored_as_json_still_answers_a_repeat(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    """Records written before 6 December 2026 hold the reply as a document, not its JSON."""
    item = unique("old-record")
    message = bus.publisher.command(AddToTally(item=item, amount=4))
    key = key_of("testsvc.tally.add", message.source, message.message_id)
    kept = {"ok": True, "data": {"item": item, "total": 99, "count": 9}}  # not the handler's
    now = datetime.now(UTC)
    await testsvc_db["processed"].insert_one(
        {"_id": key, "type": message.type, "at": now, "reply": kept}
    )

    assert await bus.publisher.request_raw(message) == kept
    # A duplicate: the handler did not run, so no tally was added.
    assert await testsvc_db["totals"].count_documents({"_id": item}) == 0
