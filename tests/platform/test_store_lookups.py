"""Documents read by a list of ids: the same answer as `$in`, in the form FerretDB indexes.

A few ids are read with filters of exactly `{"_id": …}` (FerretDB scans the whole
collection for anything else); the commands the client sends are watched with PyMongo's
command monitoring to show it. The services' database makes each collection object once.
"""

from __future__ import annotations

from diko_shared.store import mongo
from diko_shared.store.lookups import POINT_READS_UP_TO, find_by_ids
from harness.finds import watched
from harness.stack import SessionStack


async def test_a_few_ids_are_point_reads_and_many_one_query(stack: SessionStack) -> None:
    async with watched(stack, "lookups") as (db, finds):
        things = db["things"]
        await things.insert_many([{"_id": f"t{n}", "n": n, "big": "x" * 50} for n in range(100)])

        few = await find_by_ids(things, ["t3", "t7", "t3", "missing"], {"n": 1})
        assert few == {"t3": {"_id": "t3", "n": 3}, "t7": {"_id": "t7", "n": 7}}
        assert sorted(finds.of("things"), key=str) == [
            {"_id": "missing"},
            {"_id": "t3"},
            {"_id": "t7"},
        ]

        finds.clear()
        ids = [f"t{n}" for n in range(POINT_READS_UP_TO + 10)]
        many = await find_by_ids(things, ids)
        assert sorted(many) == sorted(ids)
        assert many["t40"]["big"] == "x" * 50
        assert finds.of("things") == [{"_id": {"$in": ids}}]

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
