"""Which documents a client looks up: PyMongo's command monitoring on a database of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.store import mongo
from harness.stack import SessionStack


class Finds(monitoring.CommandListener):
    """The collection and filter of every `find` the client sends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        #: Set once the first find of the client has been sent.
        self.sent = asyncio.Event()

    def of(self, collection: str) -> list[dict[str, Any]]:
        """The filters of the finds on `collection`, in the order they were sent."""
        return [found for name, found in self.seen if name == collection]

    def clear(self) -> None:
        self.seen.clear()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.seen.append((event.command["find"], dict(event.command.get("filter", {}))))
            self.sent.set()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@asynccontextmanager
async def watched(stack: SessionStack, name: str) -> AsyncIterator[tuple[AsyncDatabase, Finds]]:
    """A fresh database named after `name` (a service's, with its collection objects made
    once), and the finds its client sends."""
    finds = Finds()
    client = mongo.connect(stack.mongo_url, f"{name}-test", [finds])
    try:
        yield mongo.Database(client, stack.database(f"{name}-{uuid.uuid4().hex[:8]}")), finds
    finally:
        await client.close()
