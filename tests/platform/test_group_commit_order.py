"""The group committer applies each message's writes in the order its handler staged them,
also when it batches them with the writes of other messages.

Handlers rely on that order: media writes a position's copy, then the mark that says it
changed, then the due item that has the site built. Batched by collection in the order
the collections first appeared among all units, a message's mark and due item could be
written before its data when an earlier unit of the same flush wrote marks first; a site
build that came between took the mark, read the old data and deleted the mark, and the
position never reached the site (media's site module, after the notifications tests).
The order is observed here on the real document store through PyMongo's command events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient, InsertOne, UpdateOne
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent

from diko_shared.store.group_commit import GroupCommitter, Write
from harness.stack import SessionStack

WRITES = ("insert", "update", "delete")


class WriteLog(CommandListener):
    """Which documents each write command sent to the store, in the order it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, set[str]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        name = event.command_name
        if name not in WRITES:
            return
        entries = event.command.get("documents") or event.command.get(f"{name}s") or []
        ids = {str((e.get("q") or e).get("_id")) for e in entries}
        self.sent.append((event.command[name], ids))

    def succeeded(self, event: object) -> None:
        return None

    def failed(self, event: CommandFailedEvent) -> None:
        return None

    def position(self, document_id: str) -> int:
        """The index of the first write command that carried this document."""
        return next(i for i, (_, ids) in enumerate(self.sent) if document_id in ids)


@pytest.fixture
async def watched(stack: SessionStack) -> AsyncIterator[tuple[AsyncMongoClient, WriteLog]]:
    log = WriteLog()
    client: AsyncMongoClient = AsyncMongoClient(
        stack.mongo_url, event_listeners=[log], timeoutMS=30_000
    )
    try:
        yield client, log
    finally:
        await client.close()


def unit(data_collection: str, id_: str) -> list[Write]:
    """A handler's writes as media's site handlers stage them: data, mark, due item."""
    return [
        Write(data_collection, UpdateOne({"_id": id_}, {"$set": {"v": 1}}, upsert=True)),
        Write("marks", UpdateOne({"_id": f"mark-{id_}"}, {"$set": {"t": id_}}, upsert=True)),
        Write("due", InsertOne({"_id": f"due-{id_}"})),
    ]


async def test_each_units_writes_keep_their_order_within_a_batch(
    watched: tuple[AsyncMongoClient, WriteLog], stack: SessionStack
) -> None:
    client, log = watched
    committer = GroupCommitter(client[stack.database("commit_order")])
    # Submitted in the same turn of the loop: one flush takes all three.
    await asyncio.gather(
        committer.commit(unit("companies", "c1")),
        committer.commit(unit("positions", "p1")),
        committer.commit(unit("fairs", "f1")),
    )
    assert committer.flushes == 1
    for id_ in ("c1", "p1", "f1"):
        data, mark, due = (log.position(i) for i in (id_, f"mark-{id_}", f"due-{id_}"))
        assert data < mark < due, f"{id_}: data, mark, due sent as #{data}, #{mark}, #{due}"
    # The units share an order of collections, so the batch still writes each one once.
    collections = [collection for collection, _ in log.sent]
    assert sorted(collections) == sorted(["companies", "positions", "fairs", "marks", "due"])


async def test_a_failed_write_stops_its_units_later_writes_not_the_others(
    watched: tuple[AsyncMongoClient, WriteLog], stack: SessionStack
) -> None:
    client, _ = watched
    db = client[stack.database("commit_order_failure")]
    await db["positions"].insert_one({"_id": "taken"})
    committer = GroupCommitter(db)
    # The first write fails (it would change `_id`); a duplicate insert would not fail
    # (the committer takes it for an idempotent repeat).
    failing = Write("positions", UpdateOne({"_id": "taken"}, {"$set": {"_id": "other"}}))
    broken = [failing, *unit("positions", "x")[1:]]
    results = await asyncio.gather(
        committer.commit(broken), committer.commit(unit("fairs", "f2")), return_exceptions=True
    )
    assert isinstance(results[0], Exception)
    assert results[1] is None
    assert await db["marks"].find_one({"_id": "mark-x"}) is None
    assert await db["due"].find_one({"_id": "due-x"}) is None
    assert await db["due"].find_one({"_id": "due-f2"}) is not None


async def test_a_unit_goes_on_once_its_last_phase_is_written(
    watched: tuple[AsyncMongoClient, WriteLog], stack: SessionStack
) -> None:
    """A unit of one phase batched with a commit of two does not wait for the commit's
    second phase: under load that wait cost every such unit a round trip of the others'."""
    client, _ = watched
    committer = GroupCommitter(client[stack.database("commit_settle")])
    short_done_after: list[bool] = []

    async def note(_phase: int, _tags: list[str]) -> None:
        for _ in range(3):  # turns for a waiter that was told to resume
            await asyncio.sleep(0)
        short_done_after.append(short.done())

    committer.after_phase = note
    commit = asyncio.create_task(
        committer.commit(
            [Write("data", InsertOne({"_id": "d1"}))], [Write("records", InsertOne({"_id": "r1"}))]
        )
    )
    short = asyncio.create_task(committer.commit([Write("marks", InsertOne({"_id": "m1"}))]))
    await short
    await commit
    assert committer.flushes == 1
    # Phase 0 wrote the short unit; while phase 1 writes the record, it has gone on.
    assert short_done_after == [False, True]


async def test_concurrent_claims_are_one_insert_and_each_learns_whether_it_was_first(
    watched: tuple[AsyncMongoClient, WriteLog], stack: SessionStack
) -> None:
    client, log = watched
    db = client[stack.database("commit_claims")]
    committer = GroupCommitter(db)
    await db["keys"].insert_one({"_id": "taken"})
    log.sent.clear()

    first = await asyncio.wait_for(
        asyncio.gather(*(committer.claim("keys", {"_id": k}) for k in ("a", "taken", "b"))),
        timeout=10,
    )

    assert first == [True, False, True]
    assert [ids for name, ids in log.sent if name == "keys"] == [{"a", "taken", "b"}]
    assert await asyncio.wait_for(committer.claim("keys", {"_id": "a"}), timeout=10) is False
