"""A staff member's export and erasure: notifications owns them, the others answer by event."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from diko_shared.contract.companies import Address, Contact, RecordConsultation, RegisterCompany
from diko_shared.contract.notifications import RegisterStaff
from diko_shared.contract.rights import EraseStaff, ExportStaff
from harness.bus import Bus
from harness.stack import SessionStack
from harness.waiting import eventually

from .conftest import PLATFORM, System
from .test_applicant_rights import RIGHTS, mentioning

NAME, EMAIL = "Karla Beraterin", "karla.beraterin@diko.example"


async def test_a_staff_member_is_exported_and_erased_everywhere(
    system: System, bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    staff_id = (await bus.ok(RegisterStaff(name=NAME, email=EMAIL, role="Beraterin")))["staff_id"]
    company = await bus.ok(
        RegisterCompany(
            name="Gärtnerei Lindenblatt",
            address=Address(street="Am Anger 2", postcode="39606", town="Osterburg (Altmark)"),
            contact=Contact(name="Ole Lindenblatt", phone="03937 1234"),
            industry="Gartenbau",
        )
    )
    await bus.ok(
        RecordConsultation(
            company_id=company["company_id"],
            held_on=date(2026, 11, 24),
            staff_id=staff_id,
            topics=["Website"],
        )
    )

    receipt = await bus.ok(ExportStaff(staff_id=staff_id))

    async def complete() -> dict[str, Any] | None:
        async with httpx.AsyncClient() as client:
            document = (await client.get(receipt["json_url"])).json()
        return document if document["complete"] else None

    document = await eventually(complete, timeout=90, interval=0.5, what="every part")
    exported = {
        (service, part["collection"]): {str(r["_id"]) for r in part["records"]}
        for service, contribution in document["services"].items()
        for part in contribution["collections"]
    }
    held = await mentioning(mongo, stack, [staff_id, NAME, EMAIL])
    missing = {
        where: ids - exported.get(where, set())
        for where, ids in held.items()
        if where[1] not in PLATFORM | RIGHTS and ids - exported.get(where, set())
    }
    assert missing == {}, f"records the export leaves out: {missing}"
    assert exported.get(("notifications", "staff")) == {staff_id}
    assert exported.get(("companies", "consultations"))

    async def erased() -> dict[str, Any] | None:
        proof = await bus.ok(EraseStaff(staff_id=staff_id))
        return proof if proof["complete"] else None

    proof = await eventually(erased, timeout=90, interval=0.5, what="every confirmation")
    own = next(c for c in proof["confirmations"] if c["service"] == "notifications")
    assert own["removed"]["staff"] == 1
    left = await mentioning(mongo, stack, [NAME, EMAIL])
    assert left == {}, f"the staff member is still in {left}"
