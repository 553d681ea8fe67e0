"""The service's database: client, indexes declared in code, and the platform's own collections.

Written to the subset that both MongoDB and FerretDB (SQLite) serve well: point reads and
writes by string `_id`, single-document atomic updates, bulk writes; no transactions,
no change streams, no `$lookup`. FerretDB serves only a filter of exactly `{"_id": <str>}`
from an index; any other filter scans the collection, so hot paths address documents
by `_id` and the platform's own collections keep small or insert-only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

Indexes = Mapping[str, Sequence[IndexModel]]

#: Processed-message records: `_id` = "<queue>|<source>|<id>", insert-only.
INBOX = "inbox"
#: Outgoing messages not yet confirmed by the broker: `_id` = the inbox key, deleted when sent.
OUTBOX = "outbox"

PLATFORM_INDEXES: Indexes = {
    INBOX: [IndexModel("at")],
    OUTBOX: [IndexModel("lease_until")],
}


def connect(url: str, app_name: str) -> AsyncMongoClient:
    """A client whose every operation ends within 30 s, server selection included.

    A database restart then looks like a pause to the handlers, and no operation can hang
    a handler (and with it a prefetch slot) forever; a timeout is retried like any fault.
    """
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        timeoutMS=30_000,
        connectTimeoutMS=5_000,
        uuidRepresentation="standard",
    )


async def create_indexes(db: AsyncDatabase, indexes: Indexes) -> None:
    """Create the indexes a service declares (idempotent; `_id` is always indexed).

    One index per command: FerretDB 1.24 panics and drops the connection on a
    `createIndexes` that lists two or more indexes which all exist already, so a service
    with two indexes on one collection could not restart.
    """
    for collection, models in indexes.items():
        for model in models:
            await db[collection].create_indexes([model])


async def ping(db: AsyncDatabase) -> None:
    await db.command("ping")
