"""How long the database took, per command and collection: the store's share of a handler.

A message's time is mostly round trips to the database, and on FerretDB (SQLite) a
filter other than `{"_id": …}` reads and decodes every document of the collection, so
one such query on a growing collection can cost a hundred point reads. Which collection
and which command that is shows in `diko_store_command_seconds{command, collection}`,
measured by PyMongo's command monitoring (no wrapper around our own calls: every
command of the client is seen, the platform's included).
"""

from __future__ import annotations

from prometheus_client import Histogram
from pymongo import monitoring

from diko_shared.service.metrics import Children

#: Commands whose first field names no collection (`{"ping": 1}`, `{"buildInfo": 1}`).
NO_COLLECTION = "-"


class StoreTimings(monitoring.CommandListener):
    """Observes every command's duration into `histogram` (labels: command, collection)."""

    def __init__(self, histogram: Children[Histogram]) -> None:
        self._histogram = histogram
        self._collections: dict[tuple[int, object], str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if event.command_name == "getMore":
            target = event.command.get("collection")
        collection = target if isinstance(target, str) else NO_COLLECTION
        self._collections[(event.request_id, event.connection_id)] = collection

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event)

    def _observe(
        self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent
    ) -> None:
        collection = self._collections.pop((event.request_id, event.connection_id), NO_COLLECTION)
        self._histogram(event.command_name, collection).observe(event.duration_micros / 1_000_000)
