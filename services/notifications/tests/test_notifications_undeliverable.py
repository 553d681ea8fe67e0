"""The set of undeliverable addresses each process keeps, on the real document store.

Two `KnownUndeliverable` stand for two replicas of the service on one database. The
commands their client sends are watched with PyMongo's command monitoring: an address
not in the set costs no query, one in it is looked up before its mail is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications.store import ADDRESSES
from diko_notifications.undeliverable import KnownUndeliverable
from harness.finds import Finds, watched
from harness.stack import SessionStack


@pytest.fixture
async def watched_db(stack: SessionStack) -> AsyncIterator[tuple[AsyncDatabase, Finds]]:
    async with watched(stack, "addresses") as db_and_finds:
        yield db_and_finds


async def test_an_address_not_in_the_set_costs_no_query_and_one_in_it_is_looked_up(
    watched_db: tuple[AsyncDatabase, Finds],
) -> None:
    db, finds = watched_db
    here, there = KnownUndeliverable(), KnownUndeliverable()
    assert await here.among(db, {"a@x.example"}) == set()
    assert await there.among(db, {"a@x.example"}) == set()
    assert finds.of(ADDRESSES) == [{}, {}], "each replica reads the whole set once"

    finds.clear()
    await here.mark(db, "gone@x.example", "550 5.1.1 unknown", datetime.now(UTC), "dlv_1")
    assert await here.among(db, {"gone@x.example", "a@x.example"}) == {"gone@x.example"}
    assert finds.of(ADDRESSES) == [{"_id": "gone@x.example"}], "a marked address is looked up"
    finds.clear()
    for _ in range(5):
        assert await here.among(db, {"a@x.example", "b@x.example"}) == set()
    assert finds.of(ADDRESSES) == [], "addresses not in the set: no query"

    assert await there.among(db, {"gone@x.example"}) == set(), "not read again yet"
    there.reload_s = 0.0
    assert await there.among(db, {"gone@x.example"}) == {"gone@x.example"}


async def test_a_mark_lifted_elsewhere_does_not_stop_mail_here(
    watched_db: tuple[AsyncDatabase, Finds],
) -> None:
    db, finds = watched_db
    here, there = KnownUndeliverable(), KnownUndeliverable()
    assert await here.among(db, {"new@x.example"}) == set()
    await here.mark(db, "new@x.example", "550 5.1.1 unknown", datetime.now(UTC), "dlv_2")
    assert await there.among(db, {"new@x.example"}) == {"new@x.example"}

    await there.lift(db, "new@x.example")
    assert await there.among(db, {"new@x.example"}) == set()
    finds.clear()
    assert await here.among(db, {"new@x.example"}) == set(), "the store says it is lifted"
    assert await here.among(db, {"new@x.example"}) == set()
    assert finds.of(ADDRESSES) == [{"_id": "new@x.example"}], "looked up once, then out of the set"


async def test_the_first_mark_stands_when_two_replicas_mark_one_address(
    watched_db: tuple[AsyncDatabase, Finds],
) -> None:
    db, _ = watched_db
    here, there = KnownUndeliverable(), KnownUndeliverable()
    first = await here.mark(db, "twice@x.example", "550 first", datetime.now(UTC), "dlv_a")
    second = await there.mark(db, "twice@x.example", "550 second", datetime.now(UTC), "dlv_b")
    assert (second["error"], second["delivery_id"], second["since"]) == (
        "550 first",
        "dlv_a",
        first["since"],
    )
    assert await there.among(db, {"twice@x.example"}) == {"twice@x.example"}
