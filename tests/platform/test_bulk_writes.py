"""Many updates in one call never wedge the document store.

FerretDB 1.24 (SQLite) keeps one pooled connection per update or delete of a request
until the request ends, from a pool of 100 per database: one `bulk_write` of 100 or more
updates never returns, and every later request to that database waits with it (a digest
run of 1,000 staff members wedged FerretDB this way). The stores cut such writes with
`bulk_write_in_batches`; these tests write far more than a pool's worth through the
real store and expect each call back within a bound.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pymongo import AsyncMongoClient, InsertOne, UpdateOne

from diko_notifications import store as notifications_store
from diko_notifications.delivery import Fate
from diko_shared.store.mongo import bulk_write_in_batches
from harness.stack import SessionStack

MANY = 300
BOUND_S = 60


async def test_hundreds_of_updates_in_one_call_come_back(
    mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    db = mongo[stack.database("bulkwrites")]
    await db["items"].bulk_write([InsertOne({"_id": f"i{n}", "n": 0}) for n in range(MANY)])
    updates = [UpdateOne({"_id": f"i{n}"}, {"$set": {"n": n}}) for n in range(MANY)]
    await asyncio.wait_for(bulk_write_in_batches(db["items"], updates), BOUND_S)
    await asyncio.wait_for(db.command("dbStats"), BOUND_S)
    assert await db["items"].count_documents({"n": {"$gt": 0}}) == MANY - 1


async def test_a_digest_runs_worth_of_delivery_writes_comes_back(
    mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    db = mongo[stack.database("notifications_bulk")]
    ids = [f"dlv{n}" for n in range(MANY)]
    await db[notifications_store.DELIVERIES].bulk_write(
        [InsertOne({"_id": i, "status": "pending"}) for i in ids]
    )
    at = datetime.now(UTC)
    await asyncio.wait_for(
        notifications_store.record_attempts(db, [(i, Fate("sent", 1, None), at) for i in ids]),
        BOUND_S,
    )
    await asyncio.wait_for(
        notifications_store.set_statuses(db, [(ids, "sent", {"sent_at": at})]), BOUND_S
    )
    await asyncio.wait_for(db.command("dbStats"), BOUND_S)
    sent = await db[notifications_store.DELIVERIES].count_documents({"status": "sent"})
    assert sent == MANY
