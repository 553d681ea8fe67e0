"""The processed records' copies of emitted messages: kept a day, erased with the person."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.messaging.publisher import Outgoing, pack, unpack
from diko_shared.rights.holdings import REDACTED_REPLY, erase
from diko_shared.store.mongo import EMITTED_KEPT, INBOX, PROCESSED, forget_processed
from harness.stack import SessionStack

APL = "apl_5c0ffee5c0ffee5c0ffe"


def event(data: dict[str, str]) -> Outgoing:
    envelope = {"id": str(uuid.uuid4()), "type": "applicant.registered", "data": data}
    return Outgoing(
        exchange="diko.events",
        routing_key="applicant.registered",
        body=json.dumps(envelope).encode(),
        message_id=envelope["id"],
        type="applicant.registered",
        source="matching",
    )


def record(key: str, at: datetime, *messages: Outgoing, about: str = APL) -> dict[str, object]:
    return {
        "_id": key,
        "type": "applicant.register",
        "at": at,
        "reply": {"ok": True, "data": {"applicant_id": about}},
        "messages": pack(messages),
    }


async def database(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncDatabase:
    db = mongo[stack.database(f"processed-{uuid.uuid4().hex[:8]}")]
    await db[PROCESSED].insert_one({"_id": "probe", "at": datetime.now(UTC)})
    await db[PROCESSED].delete_one({"_id": "probe"})
    return db


async def test_records_keep_their_messages_a_day_and_themselves_the_retention(
    mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    db = await database(mongo, stack)
    now = datetime.now(UTC)
    retention = timedelta(days=30)
    ages = {"fresh": timedelta(hours=2), "day-old": EMITTED_KEPT + timedelta(minutes=1)}
    ages["expired"] = retention + timedelta(minutes=1)
    for key, age in ages.items():
        await db[PROCESSED].insert_one(record(key, now - age, event({"name": key})))
        await db[INBOX].insert_one({"_id": key, "at": now - age})

    await forget_processed(db, now, retention)

    kept = {doc["_id"]: doc async for doc in db[PROCESSED].find({})}
    assert sorted(kept) == ["day-old", "fresh"]
    assert [m.message_id for m in unpack(kept["fresh"]["messages"])]
    assert "messages" not in kept["day-old"]
    assert kept["day-old"]["reply"]["ok"] is True  # the record still answers a late repeat
    assert sorted([doc["_id"] async for doc in db[INBOX].find({})]) == ["day-old", "fresh"]


async def test_an_erasure_drops_the_persons_messages_from_processed_records(
    mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    db = await database(mongo, stack)
    someone = "apl_0123456789abcdef0123"
    about = event({"applicant_id": APL, "name": "Lena Schröder"})
    other = event({"applicant_id": someone, "name": "Jonas Weber"})
    await db[PROCESSED].insert_one(record("both", datetime.now(UTC), about, other))
    await db[PROCESSED].insert_one(record("other", datetime.now(UTC), other, about=someone))

    await erase(db, [], "applicant", [APL])

    both = await db[PROCESSED].find_one({"_id": "both"})
    assert [m.message_id for m in unpack(both["messages"])] == [other.message_id]
    assert both["reply"] == REDACTED_REPLY
    assert APL not in both["messages"].decode()
    untouched = await db[PROCESSED].find_one({"_id": "other"})
    assert [m.message_id for m in unpack(untouched["messages"])] == [other.message_id]
    assert untouched["reply"]["data"] == {"applicant_id": someone}
