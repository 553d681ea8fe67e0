"""The change feed between two replicas' read models, on the real document store.

Two `Index` stand for two replicas on one database; PyMongo's command monitoring shows
which feed entries each one reads.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from diko_matching.index import FEED, PROPOSALS, Index, feed_id
from diko_shared.store import mongo
from harness.stack import SessionStack


class FeedReads(monitoring.CommandListener):
    """The `_id` of every feed entry read."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == FEED:
            self.seen.append(event.command.get("filter", {}).get("_id"))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(stack: SessionStack) -> AsyncIterator[tuple[AsyncDatabase, FeedReads]]:
    reads = FeedReads()
    client: AsyncMongoClient = mongo.connect(stack.mongo_url, "feed-test", [reads])
    try:
        yield client[stack.database(f"feed-{uuid.uuid4().hex[:8]}")], reads
    finally:
        await client.close()


async def proposal(db: AsyncDatabase, position_id: str) -> str:
    """A proposal document as matching writes it, before it is announced."""
    proposal_id = f"prp_{uuid.uuid4().hex[:20]}"
    await db[PROPOSALS].insert_one(
        {
            "_id": proposal_id,
            "position_id": position_id,
            "applicant_id": f"apl_{uuid.uuid4().hex[:20]}",
            "status": "proposed",
            "proposal": {"score": 0.8},
        }
    )
    return proposal_id


async def test_after_its_own_announcement_a_replica_reads_up_to_its_entry_only(
    watched: tuple[AsyncDatabase, FeedReads],
) -> None:
    db, reads = watched
    first, second = Index(), Index()
    await first.load(db)
    await second.load(db)

    earlier = await proposal(db, "pos_a")
    await first.announce(db, [("proposal", earlier)])
    later = await proposal(db, "pos_a")
    await second.announce(db, [("proposal", later)])
    reads.seen.clear()

    await second.catch_up(db, through_own=True)
    assert reads.seen == [feed_id(1)], "the later writer reads the earlier one's entry"
    assert set(second.proposals) == {earlier, later}

    reads.seen.clear()
    await first.catch_up(db, through_own=True)
    assert reads.seen == [], "the earlier writer's own entry is the last it needs"
    assert set(first.proposals) == {earlier}

    await first.catch_up(db)
    assert reads.seen == [feed_id(2), feed_id(3)], "a full catch-up reads to the feed's end"
    assert set(first.proposals) == {earlier, later}
