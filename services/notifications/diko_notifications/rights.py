"""What notifications holds about people, and its part in their export and erasure.

Notifications owns staff members (`staff.export`, `staff.erase`; see
`diko_shared.rights.owner`). Of applicants and contact persons it keeps copies for its
mail: the ids of withdrawn applicants, contacts' addresses and consents, opt-outs,
addresses that bounced, mail held for quiet hours or a digest, the summaries behind
proposal links, and the delivery log. Copies are deleted; the delivery log and fan-outs
keep that a mail went, without address and subject. It finds what carries no id (an
address that bounced) by what its own copy of the person says (`identify`), read before
anything is erased. Mail already delivered is outside diko (docs/rights.md).

The collections that came with staff preferences, digests and mail to contacts and
applicants are named here as strings: a holding of a collection the database does not
have yet finds nothing and erases nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications import store
from diko_shared.contract.rights import Person
from diko_shared.rights.holdings import DELETE, SCRUB, SCRUBBED, Holding
from diko_shared.rights.owner import Facts, Owner
from diko_shared.rights.participant import Rights

EVERYONE = ("applicant", "contact", "staff")
STAFF = ("staff",)


def _pull_recipient(needles: Sequence[str]) -> dict[str, Any]:
    return {"$pull": {"recipients": {"$in": list(needles)}}}


def _pull_contact(needles: Sequence[str]) -> dict[str, Any]:
    return {"$pull": {"contact_ids": {"$in": list(needles)}}}


HOLDINGS = (
    Holding(
        store.STAFF,
        STAFF,
        fields=("_id",),
        erase=DELETE,
        purpose="Mitarbeiter/innen: Name, E-Mail-Adresse, Rolle, Zuständigkeiten",
    ),
    Holding(
        store.STAFF_EMAILS,
        STAFF,
        fields=("staff_id",),
        scan=True,
        erase=DELETE,
        purpose="welche E-Mail-Adresse zu wem gehört",
    ),
    Holding(
        "preferences",
        STAFF,
        fields=("_id",),
        erase=DELETE,
        purpose="wie jemand E-Mails bekommen möchte (sofort, gesammelt, Ruhezeiten)",
    ),
    Holding(
        store.SUBSCRIPTIONS,
        STAFF,
        fields=("_id",),
        erase=DELETE,
        purpose="Anmeldungen aus Release 1.1: beim nächsten Start als Einstellungen übernommen",
    ),
    Holding(
        "applicants",
        ("applicant",),
        fields=("_id",),
        erase=DELETE,
        purpose="zurückgezogene Bewerbungen: an sie geht keine E-Mail mehr",
    ),
    Holding(
        "contacts",
        ("contact",),
        fields=("_id",),
        erase=DELETE,
        purpose="Ansprechpersonen der Betriebe (Kopie): Adresse und Einwilligungen",
    ),
    Holding(
        store.COMPANIES,
        ("contact",),
        fields=("contact_ids",),
        erase=_pull_contact,
        purpose="welche Ansprechpersonen zu einem Betrieb gehören (nur ihre Kennung)",
        kept="der Betrieb ohne die Person",
    ),
    Holding(
        "optouts",
        EVERYONE,
        scan=True,
        erase=DELETE,
        purpose="wer keine E-Mails mehr bekommen möchte",
    ),
    Holding(
        "addresses",
        EVERYONE,
        scan=True,
        erase=DELETE,
        purpose="Adressen, die E-Mails dauerhaft abgewiesen haben",
    ),
    Holding(
        "queued",
        EVERYONE,
        scan=True,
        erase=DELETE,
        purpose="E-Mails, die auf Ruhezeiten oder eine Sammelmail warten",
    ),
    Holding(
        store.SENDING,
        EVERYONE,
        scan=True,
        erase=DELETE,
        purpose="eine laufende Zustellung",
    ),
    Holding(
        store.PROPOSALS,
        EVERYONE,
        scan=True,
        erase=DELETE,
        purpose="was die E-Mail zu einem Vorschlag sagte, für die Seite hinter ihrem Link",
        retention="solange die Links der E-Mail gelten (`DIKO_LINK_TTL_DAYS`) und einen Tag; "
        "wartet die E-Mail noch (Ruhezeit, Sammelmail), bis sie verschickt ist",
    ),
    Holding(
        store.FANOUTS,
        EVERYONE,
        scan=True,
        erase=_pull_recipient,
        purpose="an wen die E-Mails zu einem Ereignis gingen",
        retention="`DIKO_DELIVERY_RETENTION_DAYS` nach dem Ereignis",
        kept="das Ereignis ohne die Person",
    ),
    Holding(
        store.DELIVERIES,
        EVERYONE,
        scan=True,
        erase={"$set": {"email": SCRUBBED, "subject": SCRUBBED}},
        purpose="Versandprotokoll: welche E-Mail wann an wen ging",
        retention="`DIKO_DELIVERY_RETENTION_DAYS` nach dem Versand",
        kept="dass eine E-Mail ging, ohne Adresse und Betreff",
    ),
    Holding(
        "notices",
        EVERYONE,
        scan=True,
        erase=SCRUB,
        purpose="Kennungen von Aufträgen anderer Dienste, damit jede E-Mail nur einmal geht",
    ),
)


async def identify(db: AsyncDatabase, person: Person) -> list[str]:
    """The addresses and names this service's copies give the person."""
    found: list[str] = []
    if person.kind == "contact":
        copy = await db["contacts"].find_one({"_id": person.person_id}) or {}
        found += [copy.get("email"), copy.get("name")]
    if person.kind == "staff":
        copy = await db[store.STAFF].find_one({"_id": person.person_id}) or {}
        found += [copy.get("email"), copy.get("name")]
    async for delivery in db[store.DELIVERIES].find({"recipient_id": person.person_id}):
        if delivery.get("email") not in (None, SCRUBBED):
            found.append(delivery["email"])
    return sorted({value for value in found if value})


RIGHTS = Rights("notifications", HOLDINGS, identify=identify)


async def staff_facts(db: AsyncDatabase, staff_id: str) -> Facts | None:
    document = await db[store.STAFF].find_one({"_id": staff_id})
    if document is None:
        return None
    needles = [document.get(k) for k in ("name", "email")]
    return Facts(needles=[n for n in needles if n])


def owner(base_url: str) -> Owner:
    """Notifications as the owner of staff members."""
    return Owner(RIGHTS, "staff", staff_facts, base_url=lambda: base_url)
