"""Retention: an applicant unchanged for the retention period is erased like on request.

It moves matching's test clock a year on, and back when it ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from diko_matching.rights import RETENTION, RETENTION_REASON, RETENTION_SWEEP, start_sweeping
from diko_shared import due
from diko_shared.contract.matching import GetApplicant, RegisterApplicant, UpdateApplicant
from diko_shared.contract.rights import EraseApplicant
from harness.bus import Bus
from harness.stack import SessionStack
from harness.waiting import eventually
from matching_bus import partial

from .conftest import CLOCK, System
from .test_applicant_rights import mentioning

DEFAULT = timedelta(days=365)


async def test_an_applicant_unchanged_for_a_year_is_erased_everywhere(
    system: System, bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    registered = await bus.ok(
        RegisterApplicant(
            first_name="Tom",
            last_name="Ablauf",
            email="tom.ablauf@example.org",
            home_town="Salzwedel",
            reach_km=25,
            driving_licence=False,
            school_certificate="realschule",
            desired_occupations=["22342"],
            earliest_start=date(2027, 8, 1),
        )
    )
    applicant_id = registered["applicant_id"]
    matching = mongo[stack.database("matching")]

    async def kept_until() -> datetime:
        document = await matching["applicants"].find_one({"_id": applicant_id})
        assert document is not None
        return document["retain_until"].replace(tzinfo=UTC)

    first_due = await kept_until()
    assert abs(first_due - (datetime.now(UTC) + DEFAULT)) < timedelta(minutes=10)
    # the end is the applicant's, not a due item the due loop would read at every poll
    assert await matching[due.DUE].count_documents({"kind": RETENTION}) == 0

    # a change restarts the period
    changed = await partial(bus, UpdateApplicant(applicant_id=applicant_id, reach_km=30))
    assert changed["ok"], changed
    assert await kept_until() > first_due

    done_before = system["matching"].metric("diko_due_total", kind=RETENTION, outcome="done")
    # every applicant still registered is a year older now, not only this one
    registered_now = await matching["applicants"].count_documents({})
    await due.set_test_clock(matching, CLOCK, datetime.now(UTC) + DEFAULT + timedelta(days=2))
    try:

        async def gone_from_matching() -> bool:
            reply = await bus.request(GetApplicant(applicant_id=applicant_id))
            return not reply["ok"]

        await eventually(gone_from_matching, timeout=120, interval=1.0, what="the retention run")

        async def erased() -> dict[str, Any] | None:
            proof = await bus.ok(EraseApplicant(applicant_id=applicant_id))
            return proof if proof["complete"] else None

        proof = await eventually(erased, timeout=120, interval=1.0, what="the retention erasure")
        assert proof["reason"] == RETENTION_REASON
        assert {c["service"] for c in proof["confirmations"]} == {
            "companies",
            "matching",
            "media",
            "notifications",
        }
        assert not await mentioning(mongo, stack, ["Tom Ablauf", "tom.ablauf@example.org"])

        async def all_counted() -> bool:
            done = system["matching"].metric("diko_due_total", kind=RETENTION, outcome="done")
            return done == done_before + registered_now

        await eventually(all_counted, timeout=60, interval=0.5, what="one run per applicant")
        assert await matching["applicants"].count_documents({}) == 0
    finally:  # the package's other tests keep matching's present
        await due.set_test_clock(matching, CLOCK, datetime.now(UTC))


async def test_retention_items_of_an_earlier_version_become_the_applicants_end(
    mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    """An earlier version kept one due item per applicant; a start moves each into its
    applicant's `retain_until` and leaves the hourly sweep in their place."""
    db = mongo[stack.database("matching_retention_moved")]
    now = datetime.now(UTC).replace(microsecond=0)
    applicant_id, until = "apl_" + "a" * 20, now + timedelta(days=200)
    await db["applicants"].insert_one({"_id": applicant_id, "first_name": "Ida"})
    item = {"_id": due.item_id(RETENTION, applicant_id), "kind": RETENTION, "due_at": until,
            "data": {"applicant_id": applicant_id}, "failed": None, "attempts": 0}  # fmt: skip
    await db[due.DUE].insert_one(item)

    assert await start_sweeping(db, now) == 1
    moved = await db["applicants"].find_one({"_id": applicant_id})
    assert moved is not None
    assert moved["retain_until"] == until
    assert await db[due.DUE].find_one({"_id": item["_id"]}) is None
    sweep = await db[due.DUE].find_one({"_id": due.item_id(RETENTION_SWEEP, "applicants")})
    assert sweep is not None
    assert sweep["due_at"] == now
    assert await start_sweeping(db, now) == 0, "a second start finds nothing left to move"
