"""A contact person's export and erasure: companies owns them, the others answer by event.

The contact is also everywhere media names people: a guest of an episode (with the
consent to the podcast), named in the episode's description and in its Instagram post,
and the person to contact on the company's presentation on the website, where a photo's
description names them too.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import httpx
from PIL import Image
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.contract.companies import (
    Address,
    Contact,
    GetCompany,
    RecordConsultation,
    RegisterCompany,
    SetConsent,
)
from diko_shared.contract.media import (
    CreateEpisode,
    DraftPost,
    EpisodeContent,
    EpisodePerson,
    PresentationContact,
    PublishPresentation,
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


PHOTO_ALT = f"{NAME} knetet in der Backstube einen Teig für Brötchen."


async def photographed(link: str) -> dict[str, Any]:
    """A photo of the contact on the company's page (its alt text names her)."""
    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (196, 150, 98)).save(out, "JPEG")
    async with httpx.AsyncClient(timeout=60) as client:
        answer = await client.post(
            link, files={"foto": ("backstube.jpg", out.getvalue(), "image/jpeg")},
            data={"alt": PHOTO_ALT},
        )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()


async def presented(
    bus: Bus, system: System, media: AsyncDatabase, company_id: str, contact_id: str
) -> dict[str, Any]:
    """The contact in media: guest of an episode and its post, on the company's page, in
    a photo there; the photo as its upload answered."""
    now = datetime.now(UTC)
    for purpose, who in (("website", None), ("podcast", contact_id), ("social_media", None)):
        await bus.ok(
            SetConsent(company_id=company_id, contact_id=who, purpose=purpose, status="given",
                       declared_at=now, declared_by="die Inhaberin", via="written",
                       text_version="Einwilligung 2026-1")  # type: ignore[arg-type]
        )  # fmt: skip
    presentation = PublishPresentation(
        company_id=company_id,
        about="Wir backen seit 1920 in Gardelegen Brot, Brötchen und Kuchen.",
        contact=PresentationContact(
            name=NAME, role="Inhaberin", email=EMAIL, phone=PHONE, contact_id=contact_id
        ),
    )

    async def published() -> dict[str, Any] | None:
        reply = await bus.request(presentation)  # media learns the company by event
        return reply["data"] if reply.get("ok") else None

    shown_as = await eventually(published, timeout=60, interval=0.5, what="media knows the company")
    photo = await photographed(shown_as["photo_upload_url"])
    guest = EpisodePerson(name=NAME, role="guest", contact_id=contact_id, company_id=company_id)
    episode = await bus.ok(
        CreateEpisode(
            title="DIKO trifft… die Bäckerei Quast",
            company_id=company_id,
            description=f"{NAME} erzählt, wie man in Gardelegen Bäcker wird.",
            persons=[EpisodePerson(name="Birte Albrecht", role="host"), guest],
        )
    )

    async def consented() -> bool:  # an episode post names a guest only with their consent
        copy = await media["companies"].find_one({"_id": company_id}) or {}
        consent = copy.get("contacts", {}).get(contact_id, {}).get("consents", {})
        return consent.get("podcast", {}).get("status") == "given"

    await eventually(consented, timeout=60, interval=0.5, what="media knows the consent")
    about = EpisodeContent(episode_id=episode["episode_id"])
    post = await bus.ok(
        DraftPost(company_id=company_id, company_name="Bäckerei Quast", content=about)
    )
    assert post["status"] == "draft"
    page = f"{system['media'].base_url}/site/betriebe/{company_id}"

    async def shown() -> bool:
        async with httpx.AsyncClient() as client:
            response = await client.get(page)
        return response.status_code == 200 and NAME in response.text and PHOTO_ALT in response.text

    await eventually(shown, timeout=60, interval=0.5, what="the contact on the company's page")
    return photo


async def test_a_contact_person_is_exported_and_erased_everywhere(
    system: System, bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    held = await registered(bus)
    contact_id = held["contact_id"]
    media = mongo[stack.database("media")]
    photo = await presented(bus, system, media, held["company_id"], contact_id)

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
    in_media = {collection for service, collection in exported if service == "media"}
    assert {"episodes", "posts", "companies", "presentations"} <= in_media

    async def erased() -> dict[str, Any] | None:
        proof = await bus.ok(EraseContact(contact_id=contact_id))
        return proof if proof["complete"] else None

    proof = await eventually(erased, timeout=60, interval=0.5, what="every confirmation")
    companies = next(c for c in proof["confirmations"] if c["service"] == "companies")
    assert companies["removed"]["contacts"] == 1
    left = await mentioning(mongo, stack, [NAME, EMAIL, PHONE])
    assert left == {}, f"the contact person is still in {left}"
    media = next(c for c in proof["confirmations"] if c["service"] == "media")
    assert {"episodes", "posts", "companies", "presentations"} <= set(media["removed"])
    page = f"{system['media'].base_url}/site/betriebe/{held['company_id']}"

    async def rebuilt() -> str | None:
        async with httpx.AsyncClient() as client:
            response = await client.get(page)
        shown = response.status_code == 200 and "Bäckerei Quast" in response.text
        return response.text if shown and NAME not in response.text else None

    text = await eventually(rebuilt, timeout=60, interval=0.5, what="the page without the contact")
    assert EMAIL not in text
    assert PHONE not in text
    # the photo of her went with its files: not on the page, not served, not kept
    assert photo["photo_id"] not in text
    async with httpx.AsyncClient() as client:
        served = [(await client.get(v["url"])).status_code for v in photo["variants"]]
    assert served == [404] * len(photo["variants"])
    kept = mongo[stack.database("media")]
    assert await kept["company_photos"].count_documents({"_id": photo["photo_id"]}) == 0
    assert await kept["company_photo_files"].count_documents({"photo_id": photo["photo_id"]}) == 0
    assert "company_photos" in set(media["removed"])
    for service in ("companies", "matching", "notifications", "media"):  # ids only in logs
        log = system[service].log_path.read_text(errors="replace")
        assert not [w for w in (NAME, EMAIL, PHONE) if w in log], f"{service}'s log names them"
    company = await bus.ok(GetCompany(company_id=held["company_id"]))
    assert company["contacts"] == []
