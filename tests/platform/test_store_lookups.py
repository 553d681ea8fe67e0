"""Documents read by a list of ids: the same answer as `$in`, in the form FerretDB indexes.

A few ids are read with filters of exactly `{"_id": …}` (FerretDB scans the whole
collection for anything else); the commands the client sends are watched with PyMongo's
command monitoring to show it. The services' database makes each collection object once.
"""

from __future__ import annotations

from typing import Any

from pymongo import monitoring

from diko_shared.store import mongo
from diko_shared.store.lookups import POINT_READS_UP_TO, find_by_ids
from harness.stack import SessionStack


class Filters(monitoring.CommandListener):
    """The filter of every `find` the client sends."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.seen.append(dict(event.command.get("filter", {})))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_few_ids_are_point_reads_and_many_one_query(stack: SessionStack) -> None:
    filters = Filters()
    client = mongo.connect(stack.mongo_url, "lookups-test", listeners=[filters])
    try:
        things = client[stack.database("lookups")]["things"]
        await things.insert_many([{"_id": f"t{n}", "n": n, "big": "x" * 50} for n in range(100)])

        few = await find_by_ids(things, ["t3", "t7", "t3", "missing"], {"n": 1})
        assert few == {"t3": {"_id": "t3", "n": 3}, "t7": {"_id": "t7", "n": 7}}
        assert sorted(filters.seen, key=str) == [{"_id": "missing"}, {"_id": "t3"}, {"_id": "t7"}]

        filters.seen.clear()
        ids = [f"t{n}" for n in range(POINT_READS_UP_TO + 10)]
        many = await find_by_ids(things, ids)
        assert sorted(many) == sorted(ids)
        assert many["t40"]["big"] == "x" * 50
        assert filters.seen == [{"_id": {"$in": ids}}]

        filters.seen.clear()
        assert await find_by_ids(things, []) == {}
        assert filters.seen == []
    finally:
        await client.close()


async def test_the_services_database_makes_each_collection_once(stack: SessionStack) -> None:
    client = mongo.connect(stack.mongo_url, "collections-test")
    try:
        db = mongo.Database(client, stack.database("collections"))
        things = db["things"]
        assert db["things"] is things
        assert db.things is things
        assert (things.name, things.database) == ("things", db)
        await things.insert_one({"_id": "t1", "n": 1})
        assert await db["things"].find_one({"_id": "t1"}) == {"_id": "t1", "n": 1}
        assert db["other"] is not things
    finally:
        await client.close()
