"""Reading documents by a list of `_id`s: one query, which the store answers from its index.

Upstream FerretDB 1.24 (SQLite) serves only a filter of exactly `{"_id": <value>}` from
its index and reads and decodes every document of the collection for `{"_id": {"$in":
[...]}}` (bench/stories: a two-id `$in` on 600 deliveries took it as long as 150 point
reads). The local stack's FerretDB is patched to answer an `$in` of up to 1,000 string
or ObjectID ids from the index (deploy/local/README.md), as MongoDB does, so a list of
ids costs one round trip instead of one each. Longer lists (a digest run's staff of
more than a thousand) are scanned, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

#: Turns of the event loop a query waits for the look-ups of concurrent messages to join
#: it. bench/pipeline: 3 turns made the look-ups of 5,000 messages 250 queries instead of
#: 335; a turn costs microseconds, a query some hundreds of this process's CPU.
LINGER_TURNS = 3


async def find_by_ids(
    collection: AsyncCollection,
    ids: Iterable[Any],
    projection: Mapping[str, Any] | None = None,
) -> dict[Any, dict[str, Any]]:
    """The documents with these ids that exist, by id (each id asked once)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    if len(wanted) == 1:
        one = await collection.find_one({"_id": wanted[0]}, projection)
        return {} if one is None else {one["_id"]: one}
    cursor = collection.find({"_id": {"$in": wanted}}, projection)
    return {document["_id"]: document async for document in cursor}


class BatchedLookup:
    """Point reads by `_id` in one collection, asked by many concurrent callers at once.

    Ids asked while a query runs, or in the few turns of the event loop before it starts,
    wait for the next, which asks for all of them with one `$in` (one id: a point read).
    A query starts after every call it answers was made, so, like a point read, it sees
    every write committed before the call.
    """

    def __init__(
        self, collection: AsyncCollection, projection: Mapping[str, Any] | None = None
    ) -> None:
        self.collection = collection
        self.projection = projection
        self._waiting: dict[Any, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        #: Queries sent (how well the batching works).
        self.queries = 0

    async def find(self, id_: Any) -> dict[str, Any] | None:
        """The document with this `_id`, or None."""
        answer: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(id_, []).append(answer)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_while_waiting())
        return await answer

    async def _read_while_waiting(self) -> None:
        while self._waiting:
            for _ in range(LINGER_TURNS):
                await asyncio.sleep(0)
            waiting, self._waiting = self._waiting, {}
            try:
                found = await self._query(list(waiting))
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for answers in waiting.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc)
                continue
            for id_, answers in waiting.items():
                for answer in answers:
                    if not answer.done():
                        answer.set_result(found.get(id_))

    async def _query(self, ids: list[Any]) -> dict[Any, dict[str, Any]]:
        self.queries += 1
        return await find_by_ids(self.collection, ids, self.projection)
