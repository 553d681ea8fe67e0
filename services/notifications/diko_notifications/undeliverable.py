"""Which addresses refused mail for good, known without a query for every e-mail.

Every e-mail, and every event for the staff, asks whether its addresses are marked
undeliverable (`store.ADDRESSES`, a small collection): one point read an address, seven
in a story of the load benchmark, one for each staff member in every event. Each process
keeps the marked addresses in memory instead, and trusts the set in one direction only:

- an address in the set is looked up before its mail is refused: a mark lifted
  meanwhile (staff corrected the address, another replica did) must not stop mail;
- an address not in the set is taken as deliverable. This process's own marks go in at
  once; those of other replicas arrive when the whole set is read again, every
  `RELOAD_S` seconds. Until then such an address gets one more SMTP attempt here, which
  its server refuses again: the delivery fails for good all the same, the first mark
  stands, and the staff are told once (their report's id derives from the mark).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications import store

#: How old the set may be before the next question reads it again.
RELOAD_S = 60.0


@dataclass
class _Marks:
    """The marked addresses of one database; what this process marked since the last read."""

    keys: set[str] = field(default_factory=set)
    marked_since_load: set[str] = field(default_factory=set)
    loaded_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KnownUndeliverable:
    """The process's set of undeliverable addresses (lower-cased, `email_key`), per database."""

    def __init__(self, reload_s: float = RELOAD_S) -> None:
        self.reload_s = reload_s
        self._marks: dict[str, _Marks] = {}

    async def among(self, db: AsyncDatabase, keys: Iterable[str]) -> set[str]:
        """Which of these addresses are marked undeliverable now."""
        marks = await self._current(db)
        suspects = set(keys) & marks.keys
        if not suspects:
            return set()
        found = await store.undeliverable(db, suspects)
        marks.keys -= suspects - found
        return found

    async def mark(
        self, db: AsyncDatabase, key: str, error: str, at: datetime, delivery_id: str
    ) -> dict[str, Any]:
        """Mark an address undeliverable (`store.mark_undeliverable`: the first mark stands)."""
        doc = await store.mark_undeliverable(db, key, error, at, delivery_id)
        marks = self._of(db)
        marks.keys.add(key)
        marks.marked_since_load.add(key)
        return doc

    async def lift(self, db: AsyncDatabase, key: str) -> None:
        """The address may receive mail again (a new or corrected address)."""
        await store.mark_deliverable(db, key)
        self._of(db).keys.discard(key)

    def _of(self, db: AsyncDatabase) -> _Marks:
        marks = self._marks.get(db.name)
        if marks is None:
            marks = self._marks[db.name] = _Marks()
        return marks

    async def _current(self, db: AsyncDatabase) -> _Marks:
        marks = self._of(db)
        if time.monotonic() - marks.loaded_at < self.reload_s:
            return marks
        async with marks.lock:
            if time.monotonic() - marks.loaded_at < self.reload_s:
                return marks  # read by the caller that held the lock
            began = time.monotonic()
            marks.marked_since_load = set()
            loaded = await store.all_undeliverable(db)
            marks.keys = loaded | marks.marked_since_load
            marks.loaded_at = began
        return marks
