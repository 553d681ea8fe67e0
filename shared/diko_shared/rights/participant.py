"""A service's part in every export and erasure: the same in all four services.

`Rights(service_name, holdings)` answers the owners' requests by event:

- `<kind>.export_requested` → `<service>.person_exported` with the records it holds;
- `<kind>.erased` → erase, keep a tombstone, `<service>.person_erased` with what went.

The tombstone (`rights_erased`, `_id` = the person's id, no personal data) is written
before anything is erased and holds the counts, so a redelivery after a crash confirms
the same counts; handlers of the service ask `is_erased` before they store anything
about a person again, so that a dead letter replayed later cannot bring one back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from diko_shared.contract.rights import (
    CONTRIBUTIONS,
    OWNERS,
    CollectionPart,
    ExportRequested,
    Person,
    PersonErased,
)
from diko_shared.messaging.handling import Context
from diko_shared.rights import holdings as found
from diko_shared.rights.holdings import Holding

Identify = Callable[[AsyncDatabase, Person], Awaitable[list[str]]]

#: Tombstones of erased people: `_id` = person id, the erasure's id, when, what went.
ERASED = "rights_erased"


@dataclass
class Rights:
    """One service's holdings and its handlers for the owners' requests."""

    service: str
    holdings: Sequence[Holding]
    #: What the service's own copy of the person says that finds them where no id stands
    #: (an address that bounced is kept by the address): read before anything is erased.
    identify: Identify | None = None

    def purpose(self, collection: str) -> str:
        return next((h.purpose for h in self.holdings if h.collection == collection), "")

    def needles(self, person: Person, related: Sequence[str]) -> list[str]:
        return [person.person_id, *related]

    async def part(self, db: AsyncDatabase, person: Person, related: Sequence[str]) -> found.Found:
        """What this service holds about the person."""
        needles = [*self.needles(person, related), *await self.own_needles(db, person)]
        return await found.find(db, self.holdings, person.kind, needles)

    async def own_needles(self, db: AsyncDatabase, person: Person) -> list[str]:
        if self.identify is None:
            return []
        return [n for n in await self.identify(db, person) if n]

    async def erase(
        self,
        db: AsyncDatabase,
        person: Person,
        related: Sequence[str],
        erasure_id: str,
        at: datetime,
        extra_needles: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Erase what this service holds; the tombstone with the counts (the same on a repeat)."""
        own = await self.own_needles(db, person)
        needles = [*self.needles(person, related), *extra_needles, *own]
        tombstone = await db[ERASED].find_one({"_id": person.person_id})
        if tombstone is None or tombstone.get("erasure_id") != erasure_id:
            removed = await found.count(db, self.holdings, person.kind, needles)
            tombstone = {
                "_id": person.person_id,
                "kind": person.kind,
                "erasure_id": erasure_id,
                "erased_at": at,
                "removed": removed,
                "kept": found.kept_notes(self.holdings, person.kind, removed),
            }
            try:
                await db[ERASED].insert_one(tombstone)
            except DuplicateKeyError:  # an earlier erasure of the same person: this one's
                await db[ERASED].replace_one({"_id": person.person_id}, tombstone)
        await found.erase(db, self.holdings, person.kind, needles)
        return tombstone

    # -- handlers of the owners' requests ----------------------------------------------------

    async def export_requested(self, ctx: Context[ExportRequested]) -> None:
        """`<kind>.export_requested`: this service's part, as an event to the owner."""
        data = ctx.data
        part = await self.part(ctx.db, data.person, data.related_ids)
        exported, _ = CONTRIBUTIONS[self.service]
        ctx.emit(
            exported(
                export_id=data.export_id,
                person=data.person,
                service=self.service,  # type: ignore[arg-type]
                collections=[
                    CollectionPart(collection=name, purpose=self.purpose(name), records=records)
                    for name, records in part.collections.items()
                ],
                elsewhere=part.elsewhere,
            ),
            subject=data.person.person_id,
        )

    async def erased(self, ctx: Context[PersonErased]) -> None:
        """`<kind>.erased`: erase this service's copies and confirm it to the owner."""
        data = ctx.data
        tombstone = await self.erase(
            ctx.db, data.person, data.related_ids, data.erasure_id, ctx.occurred_at
        )
        _, erased_by = CONTRIBUTIONS[self.service]
        ctx.emit(
            erased_by(
                erasure_id=data.erasure_id,
                person=data.person,
                service=self.service,  # type: ignore[arg-type]
                erased_at=tombstone["erased_at"],
                removed=tombstone["removed"],
                kept=tombstone["kept"],
            ),
            subject=data.person.person_id,
        )

    def wire(self, service: Any) -> None:
        """Subscribe the handlers of the kinds of person this service does not own."""
        for kind, owner in OWNERS.items():
            if owner != self.service:
                service.on_event(f"{kind}.export_requested", self.export_requested)
                service.on_event(f"{kind}.erased", self.erased)


async def is_erased(db: AsyncDatabase, person_id: str) -> bool:
    """Whether the person was erased here: a message about them must not store them again."""
    return await db[ERASED].find_one({"_id": person_id}, {"_id": 1}) is not None
