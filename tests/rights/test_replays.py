"""A message replayed after an erasure never brings the erased person back, in any service.

Dead letters are replayed by the operator (`diko dlq replay`) long after they died; by
then the inbox has forgotten them (`DIKO_INBOX_RETENTION_DAYS`; here the test deletes
the records at once). Each service asks its tombstones (`rights_erased`) before it
stores a person again: a command is refused in German, an event changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from media_harness import as_event
from notifications_helpers import position, proposal, proposed
from pymongo import AsyncMongoClient

from diko_shared.contract.companies import (
    Address,
    ConsentChanged,
    Contact,
    ContactAdded,
    GetCompany,
    RegisterCompany,
)
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import RegisterApplicant
from diko_shared.contract.media import (
    CreateEpisode,
    EpisodePerson,
    PresentationContact,
    PublishPresentation,
)
from diko_shared.contract.notifications import RegisterStaff
from diko_shared.contract.rights import EraseApplicant, EraseContact, EraseStaff
from harness.bus import Bus
from harness.stack import SessionStack
from harness.waiting import eventually

from .conftest import System
from .test_applicant_rights import mentioning

NAME, EMAIL = "Konrad Wiederkehr", "k.wiederkehr@zimmerei-wiederkehr.example"


async def complete(bus: Bus, erase: Any) -> dict[str, Any]:
    async def confirmed() -> dict[str, Any] | None:
        proof = await bus.ok(erase)
        return proof if proof["complete"] else None

    return await eventually(confirmed, timeout=60, interval=0.5, what="every confirmation")


async def forget(mongo: AsyncMongoClient, stack: SessionStack, service: str, id_: str) -> None:
    """What `DIKO_INBOX_RETENTION_DAYS` does to an old message's records, at once."""
    db = mongo[stack.database(service)]
    for collection in ("inbox", "processed"):
        await db[collection].delete_many({"_id": {"$regex": id_}})


async def handled(mongo: AsyncMongoClient, stack: SessionStack, service: str, id_: str) -> None:
    """Wait until `service` has handled the message `id_` (committed with its writes)."""
    db = mongo[stack.database(service)]

    async def recorded() -> bool:
        return await db["processed"].find_one({"_id": {"$regex": id_}}) is not None

    await eventually(recorded, timeout=60, interval=0.3, what=f"{service} handled {id_}")


async def replayable(bus: Bus, type_: str, payload: Any) -> tuple[str, bytes, dict[str, Any]]:
    """Send a command as raw bytes: its id, the bytes to send again, the first answer."""
    envelope = new_envelope(type_, payload, source="operator")
    body = json.dumps(envelope).encode()
    return envelope["id"], body, await bus.request_raw(type_, body)


async def test_replays_do_not_bring_an_erased_contact_back(
    system: System, bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    message_id, body, first = await replayable(
        bus,
        "company.register",
        RegisterCompany(
            name="Zimmerei Wiederkehr",
            address=Address(street="Am Hafen 2", postcode="39539", town="Havelberg"),
            contact=Contact(name=NAME, email=EMAIL, role="Inhaber"),
            industry="Handwerk",
        ),
    )
    company_id = first["data"]["company_id"]
    [contact] = (await bus.ok(GetCompany(company_id=company_id)))["contacts"]
    contact_id = contact["contact_id"]
    await complete(bus, EraseContact(contact_id=contact_id))

    # companies: the old registration again, its records pruned
    await forget(mongo, stack, "companies", message_id)
    again = await bus.request_raw("company.register", body)
    assert again["error"]["code"] == "conflict", again
    assert f"Ansprechperson {contact_id} wurde gelöscht" in again["error"]["message"]

    # notifications and media: the old events about the contact again
    added = ContactAdded(contact_id=contact_id, company_id=company_id, name=NAME, email=EMAIL)
    consent = ConsentChanged(company_id=company_id, contact_id=contact_id, purpose="podcast",
                             status="given", declared_at=datetime.now(UTC))  # fmt: skip
    for event in (added, consent):
        outgoing = as_event(event, subject=company_id)
        await bus.publisher.publish(outgoing)
        for service in ("notifications", "media"):
            if event is consent or service == "notifications":
                await handled(mongo, stack, service, outgoing.message_id)

    # media: commands that name the erased contact are refused
    guest = EpisodePerson(name=NAME, role="guest", contact_id=contact_id, company_id=company_id)
    episode = await bus.request(CreateEpisode(title="Zu Gast", description="Ein Gespräch.",
                                              persons=[guest]))  # fmt: skip
    assert episode["error"]["code"] == "validation_error", episode
    assert episode["error"]["details"][0]["field"] == "data.persons[0].contact_id"
    assert "wurde gelöscht" in episode["error"]["message"]
    shown = await bus.request(
        PublishPresentation(
            company_id=company_id,
            about="Wir bauen Dachstühle.",
            contact=PresentationContact(name=NAME, email=EMAIL, contact_id=contact_id),
        )
    )
    assert shown["error"]["details"][0]["field"] == "data.contact.contact_id", shown

    assert await mentioning(mongo, stack, [NAME, EMAIL]) == {}
    media_copy = await mongo[stack.database("media")]["companies"].find_one({"_id": company_id})
    assert contact_id not in (media_copy or {}).get("contacts", {})


async def test_replays_do_not_bring_an_erased_applicant_or_staff_member_back(
    system: System, bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    staff_name, staff_email = "Greta Rückkehr", "greta.rueckkehr@diko.example"
    message_id, body, first = await replayable(
        bus, "staff.register", RegisterStaff(name=staff_name, email=staff_email)
    )
    staff_id = first["data"]["staff_id"]
    await complete(bus, EraseStaff(staff_id=staff_id))
    await forget(mongo, stack, "notifications", message_id)
    again = await bus.request_raw("staff.register", body)
    assert again["error"]["code"] == "conflict", again
    assert "wurde gelöscht" in again["error"]["message"]

    applicant_name = "Lotte Rückkehr"
    registered = await bus.ok(
        RegisterApplicant(
            first_name="Lotte", last_name="Rückkehr", email="lotte.rueckkehr@example.org",
            home_town="Stendal", reach_km=20, driving_licence=False,
            school_certificate="realschule", desired_occupations=["22342"],
            earliest_start=date(2027, 8, 1),
        )
    )  # fmt: skip
    applicant_id = registered["applicant_id"]
    await complete(bus, EraseApplicant(applicant_id=applicant_id))
    offer = proposal(position("Zimmerei Alt", "Stendal"), 1, applicant_name, "Stendal",
                     applicant_id=applicant_id)  # fmt: skip
    outgoing = as_event(proposed(offer), subject=offer.position.position_id)
    await bus.publisher.publish(outgoing)
    await handled(mongo, stack, "notifications", outgoing.message_id)
    notifications = mongo[stack.database("notifications")]
    assert await notifications["proposals"].find_one({"_id": offer.proposal_id}) is None
    assert await mentioning(mongo, stack, [applicant_name, staff_name, staff_email]) == {}
