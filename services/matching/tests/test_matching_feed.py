"""The change feed between two replicas' read models, on the real document store.

Two `Index` stand for two replicas on one database; PyMongo's command monitoring shows
which feed entries each one reads.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DocumentTooLarge

from diko_matching.index import FEED, PROPOSALS, Index, feed_id
from harness.finds import Finds, watched
from harness.stack import SessionStack


@pytest.fixture
async def watched_db(stack: SessionStack) -> AsyncIterator[tuple[AsyncDatabase, Finds]]:
    async with watched(stack, "feed") as db_and_finds:
        yield db_and_finds


def feed_reads(finds: Finds) -> list[str]:
    """The feed entries read, by number."""
    return [found["_id"] for found in finds.of(FEED)]


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
    watched_db: tuple[AsyncDatabase, Finds],
) -> None:
    db, finds = watched_db
    first, second = Index(), Index()
    await first.load(db)
    await second.load(db)

    earlier = await proposal(db, "pos_a")
    await first.announce(db, [("proposal", earlier)])
    later = await proposal(db, "pos_a")
    await second.announce(db, [("proposal", later)])
    finds.clear()

    await second.catch_up(db, through_own=True)
    assert feed_reads(finds) == [feed_id(1)], "the later writer reads the earlier one's entry"
    assert set(second.proposals) == {earlier, later}

    finds.clear()
    await first.catch_up(db, through_own=True)
    assert feed_reads(finds) == [], "the earlier writer's own entry is the last it needs"
    assert set(first.proposals) == {earlier}

    await first.catch_up(db)
    assert feed_reads(finds) == [feed_id(2), feed_id(3)], "a full catch-up reads to the feed's end"
    assert set(first.proposals) == {earlier, later}


async def test_announcements_made_together_share_an_entry_that_the_other_replica_reads(
    watched_db: tuple[AsyncDatabase, Finds],
) -> None:
    db, _ = watched_db
    first, second = Index(), Index()
    await first.load(db)
    await second.load(db)
    ids = [await proposal(db, "pos_b") for _ in range(5)]

    await asyncio.gather(*(first.announce(db, [("proposal", i)]) for i in ids))
    entries = await db[FEED].find({}).sort("_id", 1).to_list(None)
    # The first takes the free lock and appends alone; the four behind it share the next.
    assert [e["_id"] for e in entries] == [feed_id(1), feed_id(2)]
    assert sorted(c for e in entries for c in e["changes"]) == sorted(f"proposal|{i}" for i in ids)
    assert first.appended == 2

    await second.catch_up(db)
    assert set(second.proposals) == set(ids)


async def test_an_entry_the_store_refuses_fails_every_announcement_it_carried(
    watched_db: tuple[AsyncDatabase, Finds],
) -> None:
    db, _ = watched_db
    index = Index()
    await index.load(db)
    too_long = "x" * (17 * 1024 * 1024)  # the entry would pass MongoDB's 16 MiB

    results = await asyncio.gather(
        index.announce(db, [("proposal", "prp_first")]),
        index.announce(db, [("proposal", too_long)]),
        index.announce(db, [("proposal", "prp_beside_it")]),
        return_exceptions=True,
    )
    assert results[0] is None
    assert [type(r) for r in results[1:]] == [DocumentTooLarge, DocumentTooLarge]

    await index.announce(db, [("proposal", "prp_after")])
    entries = await db[FEED].find({}).sort("_id", 1).to_list(None)
    assert [(e["_id"], e["changes"]) for e in entries] == [
        (feed_id(1), ["proposal|prp_first"]),
        (feed_id(2), ["proposal|prp_after"]),
    ], "numbers stay without gaps"
