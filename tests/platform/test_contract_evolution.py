"""Upgrades through the real broker: releases of one service's contract side by side.

The test service reads `stock.counted`, whose contract evolves over four releases
(`testsvc/stock.py`): three that only add fields, then one that raises the schema
version. Each test starts processes of chosen releases on the same queue and publishes
events as producers of each release would, through RabbitMQ, as the upgrade procedure
of deploy/README.md describes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.versions import schema_uri
from diko_shared.messaging import topology
from harness.bus import Bus
from harness.cli import diko
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually
from testsvc import stock

HERE = Path(__file__).resolve().parent
QUEUE = f"testsvc.on.{stock.TYPE}"
DLQ = "testsvc.dlq"

Start = Callable[..., ServiceProcess]


@pytest.fixture
def start(stack: SessionStack) -> Iterator[Start]:
    """Start a test-service process that speaks one release of the `stock.counted` contract."""
    started: list[ServiceProcess] = []

    def start_release(release: int, **settings: str) -> ServiceProcess:
        process = ServiceProcess(
            f"testsvc-release{release}",
            "testsvc",
            None,
            stack.service_env("testsvc", **settings),
            pythonpath=(HERE,),
        )
        started.append(process)
        process.start(extra_env={"TESTSVC_STOCK_RELEASE": str(release)})
        return process

    yield start_release
    for process in started:
        process.stop()


def item() -> str:
    return f"brett-{uuid.uuid4().hex[:8]}"


def event(release: int, **data: Any) -> tuple[str, bytes]:
    """An event as a producer of `release` sends it; release 1 predates `dataschema`."""
    model, version = stock.RELEASES[release]
    envelope = new_envelope(
        stock.TYPE,
        model(**data),
        source=f"stock-release{release}",
        dataschema=schema_uri(stock.TYPE, version),
    )
    if release == 1:
        del envelope["dataschema"]
    return envelope["id"], json.dumps(envelope).encode()


async def publish(bus: Bus, *events: tuple[str, bytes]) -> list[str]:
    for message_id, body in events:
        await bus.publish_raw(
            stock.TYPE, body, exchange=topology.EVENTS.name, message_id=message_id
        )
    return [message_id for message_id, _ in events]


async def seen(db: AsyncDatabase, ids: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """Wait until every event of `ids` was recorded by a reader; their records by id."""

    async def all_there() -> dict[str, Any]:
        found = {doc["_id"]: doc async for doc in db["stock_seen"].find({"_id": {"$in": ids}})}
        return found if len(found) == len(ids) else {}

    return await eventually(all_there, timeout=timeout, what=f"{len(ids)} events read")


async def test_a_consumer_reads_events_of_the_release_before_and_the_release_after(
    bus: Bus, start: Start, testsvc_db: AsyncDatabase
) -> None:
    """Release 2 reads release 1's events (defaults fill in) and release 3's (extras ignored)."""
    reader = start(2)
    await bus.drain(DLQ)
    older, same, newer = item(), item(), item()
    ids = await publish(
        bus,
        event(1, item=older, count=4),
        event(2, item=same, count=5, unit="kg", shelf={"aisle": 3}),
        event(3, item=newer, count=6, unit="m", shelf={"aisle": 2, "level": 1}, counted_by="Jo"),
    )
    records = await seen(testsvc_db, ids)
    assert [records[i]["data"] for i in ids] == [
        {"item": older, "count": 4, "unit": "Stück", "shelf": None},
        {"item": same, "count": 5, "unit": "kg", "shelf": {"aisle": 3}},
        {"item": newer, "count": 6, "unit": "m", "shelf": {"aisle": 2}},
    ]
    assert {records[i]["release"] for i in ids} == {2}
    assert records[ids[0]]["dataschema"] is None  # release 1 sent none: read as version 1
    assert records[ids[2]]["dataschema"] == schema_uri(stock.TYPE, 1)
    assert reader.metric("diko_unknown_fields_total", type=stock.TYPE, field="counted_by") == 1
    assert reader.metric("diko_unknown_fields_total", type=stock.TYPE, field="shelf.level") == 1
    assert reader.metric("diko_messages_total", queue=QUEUE, outcome="processed") == 3
    assert await bus.depth(DLQ) == 0


async def test_two_releases_side_by_side_on_one_queue_read_every_event_once(
    bus: Bus, start: Start, testsvc_db: AsyncDatabase
) -> None:
    """A rolling upgrade from release 2 to 3: both consume one queue; nothing is refused."""
    old, new = start(2), start(3)
    await bus.drain(DLQ)
    events = []
    for n in range(300):
        release = 1 + n % 3
        extra: dict[str, Any] = {"unit": "kg", "shelf": {"aisle": n}} if release > 1 else {}
        if release == 3:
            extra |= {"counted_by": "Jo", "shelf": {"aisle": n, "level": 2}}
        events.append(event(release, item=item(), count=n, **extra))
    ids = await publish(bus, *events)
    records = await seen(testsvc_db, ids, timeout=120)
    assert len(records) == 300
    readers = {record["pid"]: record["release"] for record in records.values()}
    assert sorted(readers.values()) == [2, 3]  # both processes took a share of the queue
    for message_id, record in records.items():
        sent = json.loads(dict(events)[message_id])["data"]
        read = record["data"]
        assert read["count"] == sent["count"]
        assert read["unit"] == sent.get("unit", "Stück")
        if record["release"] == 3:
            assert read.get("counted_by") == sent.get("counted_by")
        else:
            assert "counted_by" not in read
    for process in (old, new):
        assert process.metric("diko_dead_lettered_total", queue=QUEUE) == 0
    processed = sum(
        p.metric("diko_messages_total", queue=QUEUE, outcome="processed") for p in (old, new)
    )
    assert processed == 300
    assert await bus.depth(DLQ) == 0


async def test_a_raised_version_waits_in_the_dead_letters_until_its_reader_is_upgraded(
    bus: Bus, start: Start, testsvc_db: AsyncDatabase, stack: SessionStack
) -> None:
    """A producer upgraded before its readers: the event is kept, then replayed and read."""
    old = start(3)
    await bus.drain(DLQ)
    ahead = item()
    (message_id,) = await publish(bus, event(4, item=ahead, quantity=7, unit="kg"))

    async def dead_lettered() -> bool:
        return await bus.depth(DLQ) == 1

    await eventually(dead_lettered, what="the dead letter")
    shown = diko(stack, "dlq", "show", "testsvc")
    assert shown.returncode == 0, shown.stderr
    assert message_id in shown.stdout
    assert "unsupported_version" in shown.stdout
    assert "Version 2 des Schemas" in shown.stdout
    assert old.metric("diko_retried_total", queue=QUEUE) == 2  # offered to the queue again
    assert old.metric("diko_dead_lettered_total", queue=QUEUE, reason="unsupported_version") == 1

    old.stop()
    new = start(4)
    behind = item()
    (older_id,) = await publish(bus, event(3, item=behind, count=2, counted_by="Jo"))
    replayed = diko(stack, "dlq", "replay", "testsvc")
    assert replayed.returncode == 0, replayed.stderr
    records = await seen(testsvc_db, [message_id, older_id])
    assert records[message_id]["release"] == 4
    assert records[message_id]["data"]["quantity"] == 7
    assert records[older_id]["data"] == {
        "item": behind,
        "quantity": 2,
        "unit": "Stück",
        "shelf": None,
        "counted_by": "Jo",
    }
    assert records[older_id]["dataschema"] == schema_uri(stock.TYPE, 1)
    assert new.metric("diko_earlier_versions_total", type=stock.TYPE, version="1") == 1
    assert await bus.depth(DLQ) == 0


async def test_readers_first_a_breaking_change_rolls_one_replica_at_a_time(
    bus: Bus, start: Start, testsvc_db: AsyncDatabase
) -> None:
    """Release 3 and release 4 side by side: version 1 events go to either; version 2
    events that reach the old replica go back to the queue until the new one takes them."""
    old = start(3, DIKO_RETRY_DELAYS_MS=",".join(["100"] * 20))
    new = start(4)
    await bus.drain(DLQ)
    before = [event(3, item=item(), count=n) for n in range(20)]
    after = [event(4, item=item(), quantity=n, unit="kg") for n in range(20)]
    before_ids = await publish(bus, *before)
    after_ids = await publish(bus, *after)
    records = await seen(testsvc_db, before_ids + after_ids, timeout=120)
    assert {records[i]["release"] for i in before_ids} == {3, 4}  # either replica reads v1
    assert {records[i]["release"] for i in after_ids} == {4}  # only the new one reads v2
    assert [records[i]["data"]["quantity"] for i in after_ids] == list(range(20))
    assert old.metric("diko_retried_total", queue=QUEUE) > 0
    assert old.metric("diko_dead_lettered_total", queue=QUEUE) == 0
    assert await bus.depth(DLQ) == 0
    upgraded = new.metric("diko_earlier_versions_total", type=stock.TYPE, version="1")
    assert upgraded == sum(1 for i in before_ids if records[i]["release"] == 4)
