"""Bulk writes are cut so that FerretDB never holds too many connections for one request."""

from __future__ import annotations

from pymongo import DeleteOne, InsertOne, UpdateOne

from diko_shared.store.mongo import MAX_UPDATES_PER_BATCH, batches


def test_inserts_stay_together_and_updates_are_cut_in_order() -> None:
    ops = (
        [InsertOne({"_id": i}) for i in range(40)]
        + [UpdateOne({"_id": i}, {"$set": {"n": 1}}) for i in range(40)]
        + [InsertOne({"_id": 100})]
        + [DeleteOne({"_id": 1})]
    )
    cut = list(batches(ops))
    assert [(offset, len(part)) for offset, part in cut] == [
        (0, 40),
        (40, MAX_UPDATES_PER_BATCH),
        (56, MAX_UPDATES_PER_BATCH),
        (72, 8),
        (80, 1),
        (81, 1),
    ]
    assert [op for _, part in cut for op in part] == ops
