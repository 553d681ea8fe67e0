"""The site's copy of a position keeps every field's newest value, whatever order the
position's events reach media in, written by `_id` alone (FerretDB reads the whole
collection for any other filter). Checked against the real document store, in every
order of three events, and for documents stored in the earlier form."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_media.site import store as site_store
from harness.stack import SessionStack

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPENED = {
    "company_id": "cmp_" + "1" * 20,
    "occupation": {"code": "22342", "name": "Tischler/in"},
    "places": 2,
    "places_taken": 0,
    "start_date": "2027-08-01",
    "town": "Stendal",
    "status": "open",
}
EDITED = {"company_id": "cmp_" + "1" * 20, "places": 3, "places_taken": 0, "town": "Tangermünde"}
FILLED = {"company_id": "cmp_" + "1" * 20, "status": "filled"}
#: The events in the order they happened.
EVENTS = [(OPENED, T0), (EDITED, T0 + timedelta(hours=1)), (FILLED, T0 + timedelta(hours=2))]
EXPECTED = {**OPENED, **EDITED, **FILLED, "at": T0 + timedelta(hours=2)}


async def stored(db: AsyncDatabase, position_id: str) -> dict[str, Any]:
    document = await db[site_store.POSITIONS].find_one({"_id": position_id})
    assert document is not None
    return site_store.position_document(document)


async def test_every_order_of_arrival_gives_the_newest_state(
    mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    db = mongo[stack.database("media-site-positions")]
    for order in itertools.permutations(EVENTS):
        position_id = "pos_" + uuid.uuid4().hex[:20]
        for fields, at in [*order, order[0]]:  # the first once more: a redelivery
            write = site_store.set_position(position_id, fields, at)
            await db[write.collection].bulk_write([write.op])
        assert await stored(db, position_id) == {"_id": position_id, **EXPECTED}, order


async def test_a_document_in_the_earlier_form_takes_newer_events_only(
    mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    db = mongo[stack.database("media-site-positions")]
    position_id = "pos_" + uuid.uuid4().hex[:20]
    at = T0 + timedelta(hours=1)
    await db[site_store.POSITIONS].insert_one({"_id": position_id, **OPENED, "at": at})
    assert await stored(db, position_id) == {"_id": position_id, **OPENED, "at": at}

    older = site_store.set_position(position_id, {"town": "Gardelegen", "places": 5}, T0)
    newer = site_store.set_position(position_id, FILLED, T0 + timedelta(hours=2))
    for write in (older, newer):
        await db[write.collection].bulk_write([write.op])

    assert await stored(db, position_id) == {
        "_id": position_id,
        **OPENED,
        **FILLED,
        "at": T0 + timedelta(hours=2),
    }
