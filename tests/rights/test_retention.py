"""Retention: an applicant unchanged for the retention period is erased like on request.

It moves matching's test clock a year on, and back when it ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from diko_matching.rights import RETENTION, RETENTION_REASON
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
    item = await matching[due.DUE].find_one({"_id": due.item_id(RETENTION, applicant_id)})
    assert item is not None
    first_due = item["due_at"].replace(tzinfo=UTC)
    assert abs(first_due - (datetime.now(UTC) + DEFAULT)) < timedelta(minutes=10)

    # a change restarts the period
    changed = await partial(bus, UpdateApplicant(applicant_id=applicant_id, reach_km=30))
    assert changed["ok"], changed
    item = await matching[due.DUE].find_one({"_id": due.item_id(RETENTION, applicant_id)})
    assert item["due_at"].replace(tzinfo=UTC) > first_due

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
