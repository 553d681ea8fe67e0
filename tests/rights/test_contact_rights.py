"""A contact person's export and erasure: companies owns them, the others answer by event."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from diko_shared.contract.companies import (
    Address,
    Contact,
    GetCompany,
    RecordConsultation,
    RegisterCompany,
)
from diko_shared.contract.rights import EraseContact, ExportContact
from harness.bus import Bus
from harness.stack import SessionStack
from harness.waiting import eventually

from .conftest import PLATFORM, System
from .test_applicant_rights import RIGHTS, mentioning

NAME, EMAIL, PHONE = "Henrike Quast", "h.quast@baeckerei-quast.example", "039321 4711"


async def registered(bus: Bus) -> dict[str, Any]:
    ref = await bus.ok(
        RegisterCompany(
            name="Bäckerei Quast",
            address=Address(street="Markt 3", postcode="39638", town="Gardelegen"),
            contact=Contact(name=NAME, email=EMAIL, phone=PHONE, role="Inhaberin"),
            industry="Handwerk",
        )
    )
    company = await bus.ok(GetCompany(company_id=ref["company_id"]))
    [contact] = company["contacts"]
    await bus.ok(
        RecordConsultation(
            company_id=ref["company_id"],
            held_on=date(2026, 11, 20),
            staff_id="stf_0123456789abcdef0123",
            contact_id=contact["contact_id"],
            topics=["Instagram"],
            notes="Frau Quast möchte Posts zu ihren Azubis.",
        )
    )
    return {"company_id": ref["company_id"], "contact_id": contact["contact_id"]}


async def test_a_contact_person_is_exported_and_erased_everywhere(
    system: System, bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    held = await registered(bus)
    contact_id = held["contact_id"]

    receipt = await bus.ok(ExportContact(contact_id=contact_id))
    assert receipt["person"] == {"kind": "contact", "person_id": contact_id}

    async def complete() -> dict[str, Any] | None:
        async with httpx.AsyncClient() as client:
            document = (await client.get(receipt["json_url"])).json()
        return document if document["complete"] else None

    document = await eventually(complete, timeout=60, interval=0.5, what="every part")
    exported = {
        (service, part["collection"]): {str(r["_id"]) for r in part["records"]}
        for service, contribution in document["services"].items()
        for part in contribution["collections"]
    }
    held_where = await mentioning(mongo, stack, [contact_id, NAME, EMAIL, PHONE])
    missing = {
        where: ids - exported.get(where, set())
        for where, ids in held_where.items()
        if where[1] not in PLATFORM | RIGHTS and ids - exported.get(where, set())
    }
    assert missing == {}, f"records the export leaves out: {missing}"
    assert exported.get(("companies", "contacts")) == {contact_id}

    async def erased() -> dict[str, Any] | None:
        proof = await bus.ok(EraseContact(contact_id=contact_id))
        return proof if proof["complete"] else None

    proof = await eventually(erased, timeout=60, interval=0.5, what="every confirmation")
    companies = next(c for c in proof["confirmations"] if c["service"] == "companies")
    assert companies["removed"]["contacts"] == 1
    left = await mentioning(mongo, stack, [NAME, EMAIL, PHONE])
    assert left == {}, f"the contact person is still in {left}"
    company = await bus.ok(GetCompany(company_id=held["company_id"]))
    assert company["contacts"] == []
