"""What notifications holds about people, and its part in their export and erasure.

Notifications owns staff members (`staff.export`, `staff.erase`; see
`diko_shared.rights.owner`). Of an applicant it holds what a proposal's e-mail said
(`proposals`, by proposal id) and, in the delivery log, which e-mail went about which
event: the summaries are deleted, the log keeps that an e-mail went, without names.
Mail already delivered to staff mailboxes is outside diko (docs/rights.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications import store
from diko_shared.rights.holdings import DELETE, SCRUB, Holding
from diko_shared.rights.owner import Facts, Owner
from diko_shared.rights.participant import Rights

STAFF = ("staff",)


def _pull_recipient(needles: Sequence[str]) -> dict[str, Any]:
    return {"$pull": {"recipients": {"$in": list(needles)}}}


HOLDINGS = (
    Holding(
        store.PROPOSALS,
        ("applicant", "staff"),
        scan=True,
        erase=DELETE,
        purpose="was die E-Mail zu einem Vorschlag sagte, für die Seite hinter ihrem Link",
    ),
    Holding(
        store.STAFF,
        STAFF,
        fields=("_id",),
        erase=DELETE,
        purpose="Mitarbeiter/innen: Name, E-Mail-Adresse, Rolle",
    ),
    Holding(
        store.STAFF_EMAILS,
        STAFF,
        fields=("staff_id",),
        erase=DELETE,
        purpose="welche E-Mail-Adresse zu wem gehört",
    ),
    Holding(
        store.SUBSCRIPTIONS,
        STAFF,
        fields=("_id",),
        erase=DELETE,
        purpose="worüber jemand E-Mails bekommt",
    ),
    Holding(
        store.FANOUTS,
        ("applicant", "staff"),
        scan=True,
        erase=_pull_recipient,
        purpose="an wen die E-Mails zu einem Ereignis gingen",
        kept="das Ereignis ohne die Person",
    ),
    Holding(
        store.DELIVERIES,
        ("applicant", "staff"),
        scan=True,
        erase=SCRUB,
        purpose="Versandprotokoll: welche E-Mail wann an wen ging",
        kept="dass eine E-Mail ging, ohne Namen und Adresse",
    ),
    Holding(
        store.SENDING,
        STAFF,
        scan=True,
        erase=DELETE,
        purpose="eine laufende Zustellung",
    ),
)

RIGHTS = Rights("notifications", HOLDINGS)


async def staff_facts(db: AsyncDatabase, staff_id: str) -> Facts | None:
    document = await db[store.STAFF].find_one({"_id": staff_id})
    if document is None:
        return None
    needles = [document.get(k) for k in ("name", "email")]
    return Facts(needles=[n for n in needles if n])


def owner(base_url: str) -> Owner:
    """Notifications as the owner of staff members."""
    return Owner(RIGHTS, "staff", staff_facts, base_url=lambda: base_url)
