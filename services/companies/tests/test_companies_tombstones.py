"""Tombstones asked by many messages at once (`store.Tombstones`), on the real database.

Registrations ask whether their contact person was erased; concurrent questions share
one query. Each must still get its own answer, and see an erasure committed before it
asked.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_companies.store import Tombstones
from diko_shared.rights.participant import ERASED
from harness.stack import SessionStack


@pytest.fixture
async def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncIterator[AsyncDatabase]:
    database = mongo[stack.database(f"tombstones{uuid.uuid4().hex[:6]}")]
    yield database
    await mongo.drop_database(database.name)


def contact_id() -> str:
    return f"cnt_{uuid.uuid4().hex[:20]}"


async def test_many_questions_at_once_each_get_their_own_answer(db: AsyncDatabase) -> None:
    erased = [contact_id() for _ in range(5)]
    await db[ERASED].insert_many([{"_id": i, "kind": "contact"} for i in erased])
    alive = [contact_id() for _ in range(45)]
    tombstones = Tombstones()

    asked = [*alive[:20], *erased, *alive[20:], erased[0]]
    answers = await asyncio.gather(*(tombstones.erased(db, i) for i in asked))

    assert [i for i, answer in zip(asked, answers, strict=True) if answer] == [
        *erased,
        erased[0],
    ]


async def test_an_erasure_committed_before_the_question_is_seen(db: AsyncDatabase) -> None:
    tombstones = Tombstones()
    person = contact_id()
    assert await tombstones.erased(db, person) is False

    await db[ERASED].insert_one({"_id": person, "kind": "contact"})

    assert await tombstones.erased(db, person) is True
    first, second = await asyncio.gather(
        tombstones.erased(db, person), tombstones.erased(db, contact_id())
    )
    assert (first, second) == (True, False)
