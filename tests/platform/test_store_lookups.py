"""Documents read by a list of ids: one `$in`, which the store answers from its index.

Upstream FerretDB scans the whole collection for an `$in`; the local stack's is patched
to answer one of string ids from its `_id` index, as MongoDB does, and SQLite's plan
shows it. The commands the client sends are watched with PyMongo's command monitoring.
The services' database makes each collection object once.
"""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import OperationFailure

from diko_shared.store import mongo
from diko_shared.store.lookups import LINGER_TURNS, BatchedLookup, find_by_ids
from harness.finds import watched
from harness.stack import SessionStack


async def test_a_list_of_ids_is_one_query_and_one_id_a_point_read(stack: SessionStack) -> None:
    async with watched(stack, "lookups") as (db, finds):
        things = db["things"]
        await things.insert_many([{"_id": f"t{n}", "n": n, "big": "x" * 50} for n in range(100)])

        few = await find_by_ids(things, ["t3", "t7", "t3", "missing"], {"n": 1})
        assert few == {"t3": {"_id": "t3", "n": 3}, "t7": {"_id": "t7", "n": 7}}
        assert finds.of("things") == [{"_id": {"$in": ["t3", "t7", "missing"]}}]

        finds.clear()
        ids = [f"t{n}" for n in range(60)]
        many = await find_by_ids(things, ids)
        assert sorted(many) == sorted(ids)
        assert many["t40"]["big"] == "x" * 50
        assert finds.of("things") == [{"_id": {"$in": ids}}]

        finds.clear()
        assert await find_by_ids(things, ["t5", "t5"]) == {
            "t5": {"_id": "t5", "n": 5, "big": "x" * 50}
        }
        assert finds.of("things") == [{"_id": "t5"}]

        finds.clear()
        assert await find_by_ids(things, []) == {}
        assert finds.seen == []


async def test_the_services_database_makes_each_collection_once(stack: SessionStack) -> None:
    async with watched(stack, "collections") as (db, _):
        assert isinstance(db, mongo.Database)
        things = db["things"]
        assert db["things"] is things
        assert db.things is things
        assert (things.name, things.database) == ("things", db)
        await things.insert_one({"_id": "t1", "n": 1})
        assert await db["things"].find_one({"_id": "t1"}) == {"_id": "t1", "n": 1}
        assert db["other"] is not things


async def test_concurrent_lookups_are_one_query_and_each_caller_gets_its_document(
    stack: SessionStack,
) -> None:
    async with watched(stack, "batched") as (db, finds):
        things = db["things"]
        await things.insert_many([{"_id": f"t{n}", "n": n} for n in range(10)])
        lookup = BatchedLookup(things)
        asked = ["t1", "t5", "missing", "t1", "t9"]

        found = await asyncio.wait_for(
            asyncio.gather(*(lookup.find(id_) for id_ in asked)), timeout=10
        )

        assert found == [
            {"_id": "t1", "n": 1},
            {"_id": "t5", "n": 5},
            None,
            {"_id": "t1", "n": 1},
            {"_id": "t9", "n": 9},
        ]
        assert finds.of("things") == [{"_id": {"$in": ["t1", "t5", "missing", "t9"]}}]
        assert lookup.queries == 1


async def test_lookups_asked_in_the_next_few_turns_of_the_loop_join_the_first_query(
    stack: SessionStack,
) -> None:
    """Deliveries that reach the pipeline a turn later (the next read from the socket) are
    asked for with the first, not each in a query of its own."""
    async with watched(stack, "batched") as (db, finds):
        things = db["things"]
        await things.insert_many([{"_id": f"t{n}"} for n in range(LINGER_TURNS)])
        lookup = BatchedLookup(things)
        asking = []
        for n in range(LINGER_TURNS):
            asking.append(asyncio.create_task(lookup.find(f"t{n}")))
            await asyncio.sleep(0)

        found = await asyncio.wait_for(asyncio.gather(*asking), timeout=10)

        assert found == [{"_id": f"t{n}"} for n in range(LINGER_TURNS)]
        assert finds.of("things") == [{"_id": {"$in": [f"t{n}" for n in range(LINGER_TURNS)]}}]
        assert lookup.queries == 1


async def test_an_id_asked_while_a_query_runs_waits_for_the_next_and_sees_earlier_writes(
    stack: SessionStack,
) -> None:
    async with watched(stack, "batched") as (db, finds):
        things = db["things"]
        await things.insert_one({"_id": "t1"})
        lookup = BatchedLookup(things)
        first = asyncio.create_task(lookup.find("t1"))
        await asyncio.wait_for(finds.sent.wait(), timeout=10)
        # The first query has been sent: a document written now is not in its answer.
        await things.insert_one({"_id": "late"})

        late = await asyncio.wait_for(lookup.find("late"), timeout=10)

        assert late == {"_id": "late"}
        assert await first == {"_id": "t1"}
        assert finds.of("things") == [{"_id": "t1"}, {"_id": "late"}]


async def test_a_failed_query_fails_each_of_its_callers_and_the_next_one_is_asked_anew(
    stack: SessionStack,
) -> None:
    async with watched(stack, "batched") as (db, _):
        things = db["things"]
        await things.insert_one({"_id": "t1", "a": 1, "b": 2})
        refused = BatchedLookup(things, {"a": 1, "b": 0})  # inclusion and exclusion mixed

        answers = await asyncio.wait_for(
            asyncio.gather(refused.find("t1"), refused.find("t2"), return_exceptions=True),
            timeout=10,
        )
        assert [type(answer) for answer in answers] == [OperationFailure, OperationFailure]
        with pytest.raises(OperationFailure):
            await asyncio.wait_for(refused.find("t1"), timeout=10)
        assert refused.queries == 2


async def test_the_store_answers_an_in_of_string_ids_from_its_index(stack: SessionStack) -> None:
    async with watched(stack, "batched") as (db, _):
        things = db["things"]
        await things.insert_many([{"_id": f"t{n}", "n": n} for n in range(50)])
        plan = await db.command(
            "explain", {"find": "things", "filter": {"_id": {"$in": ["t1", "t7"]}}}
        )
        assert plan.get("filterPushdown") is True, plan
        # SQLite's own plan: a search of the `_id` index, not a scan of the table.
        details = str(plan["queryPlanner"])
        assert "USING INDEX" in details, details
        assert "SCAN" not in details, details
        # Ids of another type are not pushed down: the handler filters every document.
        mixed = await db.command(
            "explain", {"find": "things", "filter": {"_id": {"$in": [1, "t1"]}}}
        )
        assert mixed.get("filterPushdown") is False, mixed
