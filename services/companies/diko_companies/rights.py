"""What companies holds about people, and its part in their export and erasure.

Companies owns contact persons (`contact.export`, `contact.erase`; see
`diko_shared.rights.owner`). Of an applicant it holds only the places taken: erasure
keeps that the place is filled (the position's places count it) and drops who took it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_companies import store
from diko_companies.handlers import DIRECTORY
from diko_shared.contract.rights import Person
from diko_shared.messaging.handling import Context
from diko_shared.rights.holdings import DELETE, SCRUB, Holding
from diko_shared.rights.owner import Facts, Owner
from diko_shared.rights.participant import Rights


def _pull_contact(needles: Sequence[str]) -> dict[str, Any]:
    return {"$pull": {"contact_ids": {"$in": list(needles)}}}


HOLDINGS = (
    Holding(
        store.PLACES,
        ("applicant",),
        fields=("applicant_id",),
        erase={"$unset": {"applicant_id": ""}},
        purpose="besetzte Ausbildungsplätze: welcher Vorschlag welchen Platz bekam",
        kept="dass der Platz besetzt ist, ohne die Person",
    ),
    Holding(
        store.CONTACTS,
        ("contact",),
        fields=("_id",),
        erase=DELETE,
        purpose="Ansprechpersonen der Betriebe mit ihren Einwilligungen",
    ),
    Holding(
        store.COMPANIES,
        ("contact",),
        fields=("contact_ids",),
        erase=_pull_contact,
        purpose="der Betrieb nennt die Kennungen seiner Ansprechpersonen",
        kept="der Betrieb ohne die Kennung der Person",
    ),
    Holding(
        store.CONSULTATIONS,
        ("contact", "staff"),
        scan=True,
        erase=SCRUB,
        purpose="Beratungen der Betriebe: wer teilnahm und wer beriet",
        kept="die Beratung ohne Namen",
    ),
    Holding(
        store.HISTORY,
        ("contact", "staff"),
        scan=True,
        erase=SCRUB,
        purpose="Verlauf jedes Betriebs (wer wann was änderte)",
        kept="der Verlauf ohne Namen",
    ),
)

RIGHTS = Rights("companies", HOLDINGS)


async def contact_facts(db: AsyncDatabase, contact_id: str) -> Facts | None:
    document = await db[store.CONTACTS].find_one({"_id": contact_id})
    if document is None:
        return None
    needles = [document.get(k) for k in ("name", "email", "phone")]
    return Facts(needles=[n for n in needles if n])


def owner(base_url: str) -> Owner:
    """Companies as the owner of contact persons."""

    async def refresh_directory(ctx: Context[Any], person: Person, related: Sequence[str]) -> None:
        await DIRECTORY.refresh(ctx.db)  # duplicate detection keeps contacts' details in memory

    return Owner(
        RIGHTS, "contact", contact_facts, base_url=lambda: base_url, after_erase=refresh_directory
    )
