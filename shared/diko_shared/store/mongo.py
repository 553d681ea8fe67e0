"""The service's database: client, indexes declared in code, and the platform's own collections.

Written to the subset that both MongoDB and FerretDB (SQLite) serve well: point reads and
writes by string `_id`, single-document atomic updates, bulk writes; no transactions,
no change streams, no `$lookup`. FerretDB serves only a filter of exactly `{"_id": <str>}`
from an index (and, patched in the local stack, `{"_id": {"$in": [<str>, ...]}}`); any
other filter scans the collection, so hot paths address documents by `_id` and the
platform's own collections keep small or insert-only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, InsertOne, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

Indexes = Mapping[str, Sequence[IndexModel]]

#: Processed messages with their reply and (for `EMITTED_KEPT`) the messages their handler
#: emitted, written after the handler's changes: `_id` = the message key,
#: "<queue>|<source>|<id>" (`handling.message_key`). Looked up before each message's handler.
PROCESSED = "processed"
#: What a message claimed while its handler ran (`Context.claim`), to give back if it fails
#: for good: same `_id`, made by its first claim.
INBOX = "inbox"
#: Outgoing messages not yet confirmed by the broker: `_id` = the message key, deleted when
#: sent.
OUTBOX = "outbox"

PLATFORM_INDEXES: Indexes = {
    INBOX: [IndexModel("at")],
    PROCESSED: [IndexModel("at")],
    OUTBOX: [IndexModel("lease_until")],
}


#: How long a processed record keeps the messages its handler emitted, which a redelivered
#: message publishes again. A redelivery comes within the broker's consumer timeout (30
#: minutes), the last retry within the retry delays (about six minutes by default); a day
#: also covers a dead letter replayed the same day whose commit had gone through.
EMITTED_KEPT = timedelta(days=1)

#: The server's code for a write that a unique index refused.
DUPLICATE_KEY = 11000

#: FerretDB 1.24 (SQLite) holds one pooled connection for every update or delete of a batch
#: until the whole batch is done, from a pool of 100 per database: a batch of 100 updates,
#: or two of 50 at once, deadlocks that database for good. Batches are cut so that no
#: request holds more than this many (inserts are written in one statement and are not cut).
MAX_UPDATES_PER_BATCH = 16


def batches(ops: Sequence[Any]) -> Iterator[tuple[int, Sequence[Any]]]:
    """Cut a list of bulk operations into safe requests, in order: `(offset, operations)`.

    Consecutive inserts stay together; other writes go at most MAX_UPDATES_PER_BATCH at a time.
    """
    start = 0
    while start < len(ops):
        end = start
        if isinstance(ops[start], InsertOne):
            while end < len(ops) and isinstance(ops[end], InsertOne):
                end += 1
        else:
            limit = start + MAX_UPDATES_PER_BATCH
            while end < len(ops) and end < limit and not isinstance(ops[end], InsertOne):
                end += 1
        yield start, ops[start:end]
        start = end


async def insert_new(collection: AsyncCollection, documents: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the documents in one unordered request; the positions of those whose `_id`
    was taken already.

    A taken `_id` is an answer (a claim another message holds, a record that exists);
    any other write error raises.
    """
    if not documents:
        return []
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return sorted(e["index"] for e in errors)
    return []


async def bulk_write_in_batches(
    collection: AsyncCollection, ops: Sequence[Any], *, ordered: bool = True
) -> None:
    """`collection.bulk_write(ops)`, cut by `batches`: the only safe way to write many updates."""
    for _, part in batches(ops):
        await collection.bulk_write(list(part), ordered=ordered)


async def upsert_by_id(collection: AsyncCollection, id_: str, update: Mapping[str, Any]) -> None:
    """An upsert of `id_` that another process may make at the same moment (two replicas
    starting at once write the same start-up documents).

    Of two upserts of a missing `_id`, both can decide to insert and one then fails on the
    unique index. MongoDB retries that upsert itself; FerretDB reports the duplicate key.
    The document is there by then, so one more attempt updates it.
    """
    try:
        await collection.update_one({"_id": id_}, update, upsert=True)
    except DuplicateKeyError:
        await collection.update_one({"_id": id_}, update, upsert=True)


class Database(AsyncDatabase):
    """A database that makes each collection object once.

    PyMongo builds a new `AsyncCollection` (name checks, options: 3.5 µs here) on every
    `db[name]`, and the handlers say `db[name]` for every command: 2 to 3 % of each
    service's samples in a profile of the story benchmark.
    """

    def __init__(self, client: AsyncMongoClient, name: str) -> None:
        self._collections: dict[str, AsyncCollection] = {}
        super().__init__(client, name)

    def __getitem__(self, name: str) -> AsyncCollection:
        collection = self._collections.get(name)
        if collection is None:
            collection = self._collections[name] = super().__getitem__(name)
        return collection


def connect(
    url: str, app_name: str, listeners: Sequence[monitoring.CommandListener] = ()
) -> AsyncMongoClient:
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
        event_listeners=list(listeners),
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


async def forget_processed(db: AsyncDatabase, now: datetime, retention: timedelta) -> None:
    """Forget inbox and processed records older than `retention`: no redelivery is that late.

    The messages a record keeps go after `EMITTED_KEPT`: the record stays to recognise a
    late repeat, but need not hold copies of what went out, personal data among them,
    for the whole retention.
    """
    for collection in (INBOX, PROCESSED):
        await db[collection].delete_many({"at": {"$lt": now - retention}})
    await db[PROCESSED].update_many(
        {"at": {"$lt": now - EMITTED_KEPT}, "messages": {"$exists": True}},
        {"$unset": {"messages": ""}},
    )
