"""Replicas that start at the same moment write the same start-up documents without failing.

Two replicas of notifications started together in the chaos run both upserted the team's
staff record; FerretDB refused the loser's insert with a duplicate key (MongoDB retries
such an upsert itself), and that replica exited at start-up. Each caller here has a
connection of its own, so that their upserts of a missing `_id` really overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pymongo import AsyncMongoClient

from diko_notifications import store as notifications_store
from diko_shared import due
from diko_shared.store.mongo import upsert_by_id
from harness.stack import SessionStack

CALLERS = 6
ROUNDS = 15
BOUND_S = 60


@pytest.fixture
async def clients(stack: SessionStack) -> AsyncIterator[list[AsyncMongoClient]]:
    opened = [AsyncMongoClient(stack.mongo_url, tz_aware=True) for _ in range(CALLERS)]
    yield opened
    for client in opened:
        await client.close()


async def test_upserts_of_one_missing_id_at_once_all_succeed(
    clients: list[AsyncMongoClient], stack: SessionStack
) -> None:
    name = stack.database("startraces")

    async def upsert(caller: int, key: str) -> None:
        update = {"$set": {"last": caller}, "$setOnInsert": {"n": 0}}
        await upsert_by_id(clients[caller][name]["items"], key, update)

    for round_ in range(ROUNDS):
        key = f"start-{round_}"
        await asyncio.wait_for(
            asyncio.gather(*(upsert(caller, key) for caller in range(CALLERS))), BOUND_S
        )
        documents = await clients[0][name]["items"].find({"_id": key}).to_list(None)
        assert len(documents) == 1
        assert documents[0]["n"] == 0
        assert documents[0]["last"] in range(CALLERS)


async def test_the_team_record_is_written_by_replicas_starting_together(
    clients: list[AsyncMongoClient], stack: SessionStack
) -> None:
    name = stack.database("startraces_notifications")
    for round_ in range(ROUNDS):
        staff_id = f"stf_team{round_}"
        email = f"team{round_}@example.org"
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    notifications_store.ensure_team(client[name], staff_id, "Team", email)
                    for client in clients
                )
            ),
            BOUND_S,
        )
        db = clients[0][name]
        staff = await db[notifications_store.STAFF].find_one({"_id": staff_id})
        assert staff is not None
        assert (staff["team"], staff["active"], staff["email"]) == (True, True, email)
        holder = await db[notifications_store.STAFF_EMAILS].find_one({"_id": email})
        assert holder == {"_id": email, "staff_id": staff_id}


async def test_a_start_up_due_item_is_scheduled_by_replicas_starting_together(
    clients: list[AsyncMongoClient], stack: SessionStack
) -> None:
    name = stack.database("startraces_due")
    at = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    for round_ in range(ROUNDS):
        key = f"sweep{round_}"
        await asyncio.wait_for(
            asyncio.gather(
                *(due.schedule_now(client[name], "sweep", key, at, {}) for client in clients)
            ),
            BOUND_S,
        )
        item = await clients[0][name][due.DUE].find_one({"_id": due.item_id("sweep", key)})
        assert item is not None
        assert (item["kind"], item["due_at"], item["attempts"]) == ("sweep", at, 0)
