"""What matching holds about people, and its part in their export and erasure.

Matching owns applicants: it takes `applicant.export` and `applicant.erase` (see
`diko_shared.rights.owner`). Before it erases, it withdraws the applicant's open proposals
(`match.withdrawn`, ids only), so that no one decides about an erased person; after, it
tells its read model. The claims that keep integrity (a proposal decided once, a place
taken once) name only ids and stay; the change feed's entries (ids) expire after two days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from diko_matching import decisions, store
from diko_matching.index import APPLICANTS, FEED, POSITIONS, PROPOSALS, Index
from diko_shared import due
from diko_shared.contract.rights import Person
from diko_shared.messaging.handling import Context
from diko_shared.rights.holdings import DELETE, KEEP, SCRUB, Holding
from diko_shared.rights.owner import Facts, Owner
from diko_shared.rights.participant import Rights
from diko_shared.store.group_commit import Write
from diko_shared.store.mongo import bulk_write_in_batches

APPLICANT = ("applicant",)
#: The due item that erases an applicant after the retention period without a change.
RETENTION = "applicant_retention"
#: The hourly due item that finds applicants whose retention period ended.
RETENTION_SWEEP = "applicant_retention_sweep"
SWEEP_EVERY = timedelta(hours=1)
#: Applicants one sweep hands to erasure; the sweep comes back at once for the rest.
SWEEP_BATCH = 200
RETENTION_REASON = "Aufbewahrungsfrist abgelaufen: lange keine Änderung der Bewerbung"
INTEGRITY = "nur Kennungen, damit jede Entscheidung und jeder Platz nur einmal gilt"

HOLDINGS = (
    Holding(
        APPLICANTS,
        APPLICANT,
        fields=("_id",),
        erase=DELETE,
        purpose="Bewerbung: wer eine Ausbildung sucht, wo und ab wann (Vermittlung)",
        retention="`DIKO_APPLICANT_RETENTION_DAYS` ohne Änderung, dann wie auf Antrag gelöscht",
    ),
    Holding(
        PROPOSALS,
        APPLICANT,
        fields=("applicant_id",),
        erase=SCRUB,
        purpose="Vorschläge an Betriebe mit Punktzahl und Gründen",
        kept="der Vorschlag ohne Name und Wohnort (die Stelle zählt ihre besetzten Plätze)",
    ),
    Holding(
        store.PLACEMENTS,
        APPLICANT,
        fields=("_id", "proposal_id"),
        erase=DELETE,
        purpose="dass eine Person nur einmal vermittelt wird",
    ),
    Holding(
        store.TRIGGERS,
        APPLICANT,
        contains=("_id",),
        erase=DELETE,
        purpose="dass für eine neue Bewerbung nur einmal vorgeschlagen wird",
    ),
    Holding(
        store.DECISIONS,
        APPLICANT,
        fields=("_id", "proposal_id", "applicant_id"),
        erase=KEEP,
        purpose="Entscheidungen über Vorschläge (angenommen, abgelehnt, zurückgezogen)",
        kept=INTEGRITY,
    ),
    Holding(
        store.SEATS,
        APPLICANT,
        fields=("proposal_id", "applicant_id"),
        erase=KEEP,
        purpose="besetzte Plätze einer Stelle",
        kept=INTEGRITY,
    ),
    Holding(
        store.QUOTA,
        APPLICANT,
        fields=("proposal_id", "applicant_id"),
        erase=KEEP,
        purpose="die tägliche Höchstzahl an Vorschlägen je Stelle",
        kept=INTEGRITY,
    ),
    Holding(
        FEED,
        APPLICANT,
        contains=("changes",),
        erase=KEEP,
        purpose="Änderungsmeldungen zwischen den Prozessen des Dienstes (zwei Tage)",
        kept="Kennungen, bis die Meldung nach zwei Tagen gelöscht wird",
    ),
    Holding(
        store.RUNS,
        APPLICANT,
        scan=True,
        erase=SCRUB,
        purpose="Zuordnungsläufe: welche Person welcher Stelle zugeordnet wurde",
        kept="der Lauf ohne Namen",
    ),
    Holding(
        store.FAIRS,
        APPLICANT,
        scan=True,
        erase=SCRUB,
        purpose="Bewerberbörsen: Gesprächspläne der Betriebe und der Bewerber/innen",
        kept="der Gesprächsplan ohne Namen",
    ),
    Holding(POSITIONS, (), purpose="Kopien der Ausbildungsstellen (keine Personen)"),
)

RIGHTS = Rights("matching", HOLDINGS)


async def applicant_facts(db: AsyncDatabase, applicant_id: str) -> Facts | None:
    """The applicant's proposals (for the others) and name and e-mail (for copies here)."""
    document = await db[APPLICANTS].find_one({"_id": applicant_id})
    if document is None:
        return None
    proposals = [p["_id"] async for p in db[PROPOSALS].find({"applicant_id": applicant_id})]
    name = f"{document.get('first_name', '')} {document.get('last_name', '')}".strip()
    needles = [value for value in (name, document.get("email")) if value]
    return Facts(related_ids=sorted(proposals), needles=needles)


def keep_until(ctx: Context[Any], applicant_id: str, until: datetime) -> list[Write]:
    """Keep the applicant until `until`: the hourly sweep hands them to erasure then.

    The end is a field of the applicant, not a due item of their own: the due loop reads
    its whole collection at every poll on FerretDB, and one item per applicant, due in a
    year, made that read grow with every applicant. An item an earlier version scheduled
    is cancelled here (and moved into the field at start: `move_retention_items`).
    """
    return [
        Write(APPLICANTS, UpdateOne({"_id": applicant_id}, {"$set": {"retain_until": until}})),
        due.cancel(RETENTION, applicant_id),
    ]


async def sweep_retention(ctx: due.DueContext) -> None:
    """Hand every applicant whose retention period ended to erasure (`retention_due`)."""
    ended = (
        await ctx.db[APPLICANTS]
        .find({"retain_until": {"$lte": ctx.now}}, {"_id": 1})
        .to_list(SWEEP_BATCH)
    )
    for document in ended:
        data = {"applicant_id": document["_id"]}
        ctx.write(due.schedule(RETENTION, document["_id"], ctx.now, data))
    later = ctx.now if len(ended) == SWEEP_BATCH else ctx.now + SWEEP_EVERY
    ctx.write(due.schedule(RETENTION_SWEEP, "applicants", later, {}))


async def start_sweeping(db: AsyncDatabase, now: datetime) -> int:
    """At start: the sweep runs at once, and retention items of an earlier version (one
    per applicant) become the applicant's `retain_until`; returns how many moved."""
    items = await db[due.DUE].find({"kind": RETENTION, "due_at": {"$gt": now}}).to_list(None)
    moves = [
        UpdateOne({"_id": item["data"]["applicant_id"]}, {"$set": {"retain_until": item["due_at"]}})
        for item in items
    ]
    if moves:
        await bulk_write_in_batches(db[APPLICANTS], moves, ordered=False)
        cancels = [due.cancel(RETENTION, item["data"]["applicant_id"]).op for item in items]
        await bulk_write_in_batches(db[due.DUE], cancels, ordered=False)
    await due.schedule_now(db, RETENTION_SWEEP, "applicants", now, {})
    return len(items)


async def retention_due(ctx: due.DueContext, *, owner: Owner) -> None:
    """The retention period ended: the applicant is erased as `applicant.erase` would.

    Nothing happens if they were erased on request meanwhile, or changed since the sweep
    (their `retain_until` moved on).
    """
    person = Person(kind="applicant", person_id=ctx.data["applicant_id"])
    document = await ctx.db[APPLICANTS].find_one({"_id": person.person_id}, {"retain_until": 1})
    if document is None:
        return
    until = document.get("retain_until")
    if until is not None and until > ctx.now:
        return
    await owner.erase_person(ctx, person, RETENTION_REASON, ctx.now)


def owner(index: Index, base_url: str) -> Owner:
    """Matching as the owner of applicants."""

    async def withdraw_open(ctx: Context[Any], person: Person, related: Sequence[str]) -> None:
        await index.catch_up(ctx.db)
        for entry in index.proposals_of_applicant(person.person_id):
            if entry.status in ("proposed", "withdrawn"):
                await decisions.withdraw(ctx, index, entry.proposal_id, "applicant_withdrawn")

    async def tell_index(ctx: Context[Any], person: Person, related: Sequence[str]) -> None:
        changed = [("applicant", person.person_id), *(("proposal", p) for p in related)]
        await index.announce(ctx.db, changed)

    return Owner(
        RIGHTS,
        "applicant",
        applicant_facts,
        base_url=lambda: base_url,
        before_erase=withdraw_open,
        after_erase=tell_index,
    )
