"""Writes that a redelivered message may repeat without applying them twice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import InsertOne, UpdateOne

from diko_shared.store.group_commit import Write

#: The array in which guarded documents remember the message keys applied to them.
APPLIED = "_applied"
#: How many keys it keeps: a redelivery comes within minutes, not after a hundred later changes.
#: (MongoDB trims the array; FerretDB 1.24 ignores `$slice` and keeps every key.)
REMEMBERED = 100


def insert(collection: str, document: Mapping[str, Any]) -> Write:
    """Insert a document whose `_id` is derived from the message; a repeat finds it there."""
    return Write(collection, InsertOne(dict(document)))


def apply_once(
    collection: str,
    document_id: str,
    key: str,
    update: Mapping[str, Any],
    on_insert: Mapping[str, Any] | None = None,
) -> list[Write]:
    """Apply `update` to one document unless the message `key` was applied to it already.

    For changes that are not idempotent by themselves (`$inc`, `$push`, a later `$set`
    that an earlier message must not overwrite on redelivery). The document is created
    first if it does not exist (with the `on_insert` fields), so that the guarded update
    itself never needs an upsert: an upsert that the guard excludes would collide with
    the existing document.
    """
    ensure = {"$setOnInsert": {**(on_insert or {}), APPLIED: []}}
    guarded = dict(update)
    push = dict(guarded.get("$push", {}))
    push[APPLIED] = {"$each": [key], "$slice": -REMEMBERED}
    guarded["$push"] = push
    return [
        Write(collection, UpdateOne({"_id": document_id}, ensure, upsert=True), stage=0),
        Write(collection, UpdateOne({"_id": document_id, APPLIED: {"$ne": key}}, guarded)),
    ]


def was_applied(document: Mapping[str, Any] | None, key: str) -> bool:
    """Whether a guarded document has seen the message `key`."""
    return document is not None and key in document.get(APPLIED, ())
