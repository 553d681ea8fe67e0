"""Waiting until the services have nothing left to do: their queues, outboxes and due items.

A test that reads every service's records (the rights export, the chaos run's checks)
must not start while an event is still on its way: a record made a moment later is one
the export "left out" although no export could have held it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from diko_shared.due import DUE
from diko_shared.messaging import topology
from diko_shared.store.mongo import OUTBOX
from harness.stack import SessionStack
from harness.waiting import eventually

SERVICES = ("companies", "matching", "notifications", "media")
#: Due items due within this are work still to do (housekeeping waits an hour).
DUE_SOON = timedelta(minutes=1)


async def quiet(stack: SessionStack, timeout: float, services: tuple[str, ...] = SERVICES) -> float:
    """Seconds until no service queue holds a message (ready, being handled, or waiting in
    a retry queue), no outbox an entry and no due item is due (the placement mails:
    notifications sends them from one); `TimeoutError` naming what is left after `timeout`.
    Dead letters are not work to do."""
    started = time.monotonic()
    left: dict[str, int] = {}
    calm = 0
    async with AsyncMongoClient(stack.mongo_url, tz_aware=True) as client:

        async def nothing_left() -> bool:
            """Quiet at two looks in a row: one listing of the queues can miss a message
            on its way from a queue listed later to one listed earlier (a retry)."""
            nonlocal calm
            left.clear()
            left.update(await asyncio.to_thread(busy_queues, stack, services))
            soon = datetime.now(UTC) + DUE_SOON
            for service in services:
                db = client[stack.database(service)]
                for collection, query in ((OUTBOX, {}), (DUE, {"due_at": {"$lte": soon}})):
                    if count := await db[collection].count_documents(query):
                        left[f"{service}: {collection}"] = count
            calm = 0 if left else calm + 1
            return calm >= 2

        try:
            await eventually(nothing_left, timeout=timeout, interval=0.5, what="quiet")
        except TimeoutError:
            raise TimeoutError(f"after {timeout:g} s, work left: {left}") from None
    return time.monotonic() - started


def busy_queues(stack: SessionStack, services: tuple[str, ...] = SERVICES) -> dict[str, int]:
    """The services' queues (requests, reactions, retry waits) holding messages, with the
    ones delivered and not yet acknowledged, which a passive declare does not count. A
    queue whose count the broker cannot tell yet (a quorum queue still recovering after a
    restart) counts as busy, with -1."""
    listed = stack.ctl(
        "list_queues", "--vhost", stack.vhost, "name", "messages", "--quiet", "--no-table-headers"
    )
    busy: dict[str, int] = {}
    for line in listed.splitlines():
        name, _, count = line.strip().rpartition("\t")
        service = name.split(".", 1)[0]
        ours = service in services and name != topology.dead_letter_queue(service).name
        if ours and not count.isdigit():
            busy[name] = -1
        elif ours and int(count) > 0:
            busy[name] = int(count)
    return busy
