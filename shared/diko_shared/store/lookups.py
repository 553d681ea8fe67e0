"""Reading documents by a list of `_id`s in the form the store answers from its index.

FerretDB 1.24 (SQLite) serves only a filter of exactly `{"_id": <value>}` from its index;
`{"_id": {"$in": [...]}}` reads and decodes every document of the collection. Measured
in bench/stories: a two-id `$in` on 600 deliveries took FerretDB as long as 150 point
reads, and the story path made hundreds of them. A few ids are therefore read one by
one, concurrently over the client's pool (a round trip each, but no scan, on MongoDB
too); a long list (a digest run's thousand staff members) is one `$in`, whose single
scan is then cheaper than a thousand reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

#: Up to this many distinct ids are read by point reads; more go as one `$in`.
POINT_READS_UP_TO = 32


async def find_by_ids(
    collection: AsyncCollection,
    ids: Iterable[Any],
    projection: Mapping[str, Any] | None = None,
) -> dict[Any, dict[str, Any]]:
    """The documents with these ids that exist, by id (each id read once)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    if len(wanted) > POINT_READS_UP_TO:
        found = await collection.find({"_id": {"$in": wanted}}, projection).to_list(None)
    else:
        reads = (collection.find_one({"_id": id_}, projection) for id_ in wanted)
        found = [doc for doc in await asyncio.gather(*reads) if doc is not None]
    return {doc["_id"]: doc for doc in found}
