"""The set of undeliverable addresses each process keeps, on the real document store.

Two `KnownUndeliverable` stand for two replicas of the service on one database. The
commands their client sends are watched with PyMongo's command monitoring: an address
not in the set costs no query, one in it is looked up before its mail is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications import store
from diko_notifications.undeliverable import KnownUndeliverable
from diko_shared.store import mongo
from harness.stack import SessionStack


class Reads(monitoring.CommandListener):
    """The filter of every `find` on the addresses."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == store.ADDRESSES:
            self.seen.append(dict(event.command.get("filter", {})))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(stack: SessionStack) -> AsyncIterator[tuple[AsyncDatabase, Reads]]:
    reads = Reads()
    client: AsyncMongoClient = mongo.connect(stack.mongo_url, "undeliverable-test", [reads])
    try:
        yield client[stack.database(f"addresses-{uuid.uuid4().hex[:8]}")], reads
    finally:
        await client.close()


async def test_an_address_not_in_the_set_costs_no_query_and_one_in_it_is_looked_up(
    watched: tuple[AsyncDatabase, Reads],
) -> None:
    db, reads = watched
    here, there = KnownUndeliverable(), KnownUndeliverable()
    assert await here.among(db, {"a@x.example"}) == set()
    assert await there.among(db, {"a@x.example"}) == set()
    assert reads.seen == [{}, {}], "each replica reads the whole set once"

    reads.seen.clear()
    await here.mark(db, "gone@x.example", "550 5.1.1 unknown", datetime.now(UTC), "dlv_1")
    assert await here.among(db, {"gone@x.example", "a@x.example"}) == {"gone@x.example"}
    assert reads.seen == [{"_id": "gone@x.example"}], "a marked address is looked up"
    reads.seen.clear()
    for _ in range(5):
        assert await here.among(db, {"a@x.example", "b@x.example"}) == set()
    assert reads.seen == [], "addresses not in the set: no query"

    assert await there.among(db, {"gone@x.example"}) == set(), "not read again yet"
    there.reload_s = 0.0
    assert await there.among(db, {"gone@x.example"}) == {"gone@x.example"}


async def test_a_mark_lifted_elsewhere_does_not_stop_mail_here(
    watched: tuple[AsyncDatabase, Reads],
) -> None:
    db, reads = watched
    here, there = KnownUndeliverable(), KnownUndeliverable()
    assert await here.among(db, {"new@x.example"}) == set()
    await here.mark(db, "new@x.example", "550 5.1.1 unknown", datetime.now(UTC), "dlv_2")
    assert await there.among(db, {"new@x.example"}) == {"new@x.example"}

    await there.lift(db, "new@x.example")
    assert await there.among(db, {"new@x.example"}) == set()
    reads.seen.clear()
    assert await here.among(db, {"new@x.example"}) == set(), "the store says it is lifted"
    assert await here.among(db, {"new@x.example"}) == set()
    assert reads.seen == [{"_id": "new@x.example"}], "looked up once, then out of the set"


async def test_the_first_mark_stands_when_two_replicas_mark_one_address(
    watched: tuple[AsyncDatabase, Reads],
) -> None:
    db, _ = watched
    here, there = KnownUndeliverable(), KnownUndeliverable()
    first = await here.mark(db, "twice@x.example", "550 first", datetime.now(UTC), "dlv_a")
    second = await there.mark(db, "twice@x.example", "550 second", datetime.now(UTC), "dlv_b")
    assert (second["error"], second["delivery_id"], second["since"]) == (
        "550 first",
        "dlv_a",
        first["since"],
    )
    assert await there.among(db, {"twice@x.example"}) == {"twice@x.example"}
