"""The database's share of the work is measured per command and collection.

`diko_store_command_seconds` comes from PyMongo's command monitoring: these tests run
commands through a client made as the services make theirs, against the real store, and
read the histogram; then the same metric from a running service's /metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from pymongo.errors import OperationFailure

from diko_shared.service.metrics import Metrics
from diko_shared.store import mongo
from diko_shared.store.timings import NO_COLLECTION, StoreTimings
from harness.processes import ServiceProcess
from harness.stack import SessionStack


def _count(registry: CollectorRegistry, command: str, collection: str) -> float:
    labels = {"command": command, "collection": collection}
    return registry.get_sample_value("diko_store_command_seconds_count", labels) or 0.0


def _seconds(registry: CollectorRegistry, command: str, collection: str) -> float:
    labels = {"command": command, "collection": collection}
    return registry.get_sample_value("diko_store_command_seconds_sum", labels) or 0.0


async def test_each_command_is_timed_under_its_collection(stack: SessionStack) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    client = mongo.connect(
        stack.mongo_url, "timings-test", listeners=[StoreTimings(metrics.store_seconds_of)]
    )
    try:
        db = client[stack.database("timings")]
        await db["lamps"].insert_many([{"_id": f"l{n}", "on": n % 2 == 0} for n in range(250)])
        await db["lamps"].find_one({"_id": "l3"})
        await db["lamps"].update_one({"_id": "l3"}, {"$set": {"on": True}})
        assert len(await db["lamps"].find({}, batch_size=100).to_list(None)) == 250
        await db["switches"].delete_many({})
        await db.command("ping")
        try:
            await db.command({"find": "lamps", "filter": {"$nonsense": 1}})
        except OperationFailure:
            pass
        else:
            raise AssertionError("the store accepted an unknown operator")
    finally:
        await client.close()

    assert _count(registry, "insert", "lamps") == 1
    assert _count(registry, "find", "lamps") == 3  # find_one, the listing, the refused find
    assert _count(registry, "getMore", "lamps") >= 1  # the listing's later batches
    assert _count(registry, "update", "lamps") == 1
    assert _count(registry, "delete", "switches") == 1
    assert _count(registry, "ping", NO_COLLECTION) == 1
    assert _seconds(registry, "insert", "lamps") > 0


def test_a_service_exports_its_store_timings(testsvc: ServiceProcess) -> None:
    """The test service has written its indexes and polled its outbox by the time it is up."""
    assert testsvc.metric("diko_store_command_seconds_count") > 0
    assert testsvc.metric("diko_store_command_seconds_count", collection="outbox") > 0
