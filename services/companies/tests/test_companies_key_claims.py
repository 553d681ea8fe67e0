"""Duplicate-key claims (`store.KeyClaims`) on the real database, as a handler makes them.

A claim is inserted at once; the message's inbox record lists it only if the handler
raises, which is the only time the pipeline reads the list (to give back the claims of a
message that failed for good). A registration that succeeds writes no inbox update.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_companies import store
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.companies import Address, RegisterCompany
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.messaging import topology
from diko_shared.messaging.handling import CLAIMED_BY, Context
from diko_shared.store.mongo import INBOX
from harness.stack import SessionStack

REGISTER = CATALOGUE.require("company.register")


@pytest.fixture
async def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncIterator[AsyncDatabase]:
    database = mongo[stack.database(f"keyclaims{uuid.uuid4().hex[:6]}")]
    yield database
    await mongo.drop_database(database.name)


async def received(db: AsyncDatabase) -> Context[Any]:
    """A registration's context with its inbox record, as the pipeline makes both."""
    company = RegisterCompany(
        name=f"Tischlerei {uuid.uuid4().hex[:8]}",
        address=Address(street="Breite Straße 1", postcode="39576", town="Stendal"),
    )
    body = new_envelope("company.register", company, source="website")
    envelope = Envelope[RegisterCompany].model_validate_json(json.dumps(body))
    queue = topology.request_queue(REGISTER).name
    ctx = Context(envelope, REGISTER, "companies", queue, db)
    await db[INBOX].insert_one({"_id": ctx.key, "at": datetime.now(UTC), "type": envelope.type})
    return ctx


async def listed(db: AsyncDatabase, ctx: Context[Any]) -> list[dict[str, Any]]:
    record = await db[INBOX].find_one({"_id": ctx.key})
    assert record is not None
    return list(record.get("claims", []))


def key() -> str:
    return f"tischlerei {uuid.uuid4().hex[:8]}|39576"


async def fail_after_claiming(
    claims: store.KeyClaims, ctx: Context[Any], claimed: str, company_id: str
) -> dict[str, Any]:
    """A handler that claims `claimed` and then raises; what the claim returned rides along."""
    async with claims.for_message(ctx) as held:
        holder = await held.claim(claimed, company_id)
        raise HandlerFailed(holder)


class HandlerFailed(Exception):
    def __init__(self, holder: dict[str, Any]) -> None:
        super().__init__("failed after the claim")
        self.holder = holder


async def test_a_handler_that_fails_after_claiming_lists_the_key_for_the_pipeline(
    db: AsyncDatabase,
) -> None:
    claims, ctx, claimed = store.KeyClaims(), await received(db), key()

    with pytest.raises(HandlerFailed) as failed:
        await fail_after_claiming(claims, ctx, claimed, "cmp_1")

    assert failed.value.holder[CLAIMED_BY] == ctx.key
    assert await listed(db, ctx) == [{"collection": store.COMPANY_KEYS, "_id": claimed}]
    document = await db[store.COMPANY_KEYS].find_one({"_id": claimed})
    assert document is not None
    assert (document["company_id"], document[CLAIMED_BY]) == ("cmp_1", ctx.key)


async def test_a_handler_that_succeeds_writes_nothing_into_its_inbox_record(
    db: AsyncDatabase,
) -> None:
    claims = store.KeyClaims()
    contexts = [await received(db) for _ in range(20)]
    keys = [key() for _ in contexts]

    async def handle(ctx: Context[Any], claimed: str, n: int) -> dict[str, Any]:
        async with claims.for_message(ctx) as held:
            return await held.claim(claimed, f"cmp_{n}")

    holders = await asyncio.gather(
        *(handle(c, k, n) for n, (c, k) in enumerate(zip(contexts, keys, strict=True)))
    )

    assert [h["company_id"] for h in holders] == [f"cmp_{n}" for n in range(20)]
    assert [await listed(db, c) for c in contexts] == [[] for _ in contexts]
    stored = [await db[store.COMPANY_KEYS].find_one({"_id": k}) for k in keys]
    assert [s and s[CLAIMED_BY] for s in stored] == [c.key for c in contexts]


async def test_a_key_another_message_holds_is_not_listed_when_the_handler_fails(
    db: AsyncDatabase,
) -> None:
    claims, claimed = store.KeyClaims(), key()
    first, second = await received(db), await received(db)
    async with claims.for_message(first) as held:
        await held.claim(claimed, "cmp_first")

    with pytest.raises(HandlerFailed) as failed:
        await fail_after_claiming(claims, second, claimed, "cmp_second")

    holder = failed.value.holder
    assert (holder["company_id"], holder[CLAIMED_BY]) == ("cmp_first", first.key)
    assert await listed(db, second) == []
    assert await listed(db, first) == []


async def test_a_redelivered_message_finds_its_own_claim_and_lists_it_when_it_fails(
    db: AsyncDatabase,
) -> None:
    """The first delivery claimed and died (nothing listed); the second fails for good."""
    claims, ctx, claimed = store.KeyClaims(), await received(db), key()
    async with claims.for_message(ctx) as held:
        await held.claim(claimed, "cmp_1")

    with pytest.raises(HandlerFailed) as failed:
        await fail_after_claiming(claims, ctx, claimed, "cmp_1")

    assert failed.value.holder[CLAIMED_BY] == ctx.key
    assert await listed(db, ctx) == [{"collection": store.COMPANY_KEYS, "_id": claimed}]
