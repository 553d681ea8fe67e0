"""The companies service as the network's CRM, as a real process driven through the broker:
edits, search, positions, contacts, consents, consultations, duplicates, merge, history."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared import due
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import (
    AddContact,
    Address,
    ClosePosition,
    Contact,
    GetCompany,
    GetHistory,
    GetPosition,
    GetPresenceHistory,
    MergeCompanies,
    OpenPosition,
    RecordConsultation,
    RegisterCompany,
    RemoveContact,
    ReopenPosition,
    ScanDuplicates,
    SearchCompanies,
    SearchPositions,
    SetConsent,
    UpdateCompany,
    UpdateContact,
    UpdatePosition,
)
from diko_shared.contract.envelope import new_envelope
from diko_shared.store.mongo import OUTBOX
from harness.bus import Bus, Seen, Tap
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually

CLOCK = "companies-crm"
STAFF = "stf_0123456789abcdef0123"


def env(stack: SessionStack, **extra: str) -> dict[str, str]:
    return {
        **stack.service_env("companies"),
        "DIKO_TEST_CLOCK": CLOCK,
        "DIKO_DUE_POLL_S": "0.2",
        **extra,
    }


@pytest.fixture(scope="module")
def companies(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess("companies-crm", "diko_companies", None, env(stack))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncDatabase:
    return mongo[stack.database("companies")]


def word() -> str:
    """A made-up word that no other test's company has in its name."""
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])


async def register(bus: Bus, name: str, **kwargs: Any) -> dict[str, Any]:
    address = kwargs.pop("address", None) or Address(
        street=kwargs.pop("street", "Breite Straße 12"),
        postcode=kwargs.pop("postcode", "39576"),
        town=kwargs.pop("town", "Stendal"),
    )
    contact = kwargs.pop("contact", None) or Contact(
        name="Jana Müller", email=f"jana@{word()}.example", role="Inhaberin"
    )
    return await bus.ok(RegisterCompany(name=name, address=address, contact=contact, **kwargs))


async def open_position(bus: Bus, company_id: str, **kwargs: Any) -> str:
    data = {
        "company_id": company_id,
        "occupation": Occupation(code="22342", name="Tischler/in"),
        "places": 2,
        "start_date": date(2027, 8, 1),
        "town": "Stendal",
        **kwargs,
    }
    return (await bus.ok(OpenPosition(**data)))["position_id"]


def fields(reply: dict[str, Any]) -> set[str]:
    return {d["field"] for d in reply["error"]["details"]}


def distinct(messages: list[Seen]) -> list[Seen]:
    return list({m.message_id: m for m in messages}.values())


def of(tap: Tap, type_: str, **match: Any) -> list[Seen]:
    found = tap.matching(
        lambda m: m.routing_key == type_ and all(m.data.get(k) == v for k, v in match.items())
    )
    return distinct(found)


async def raw(bus: Bus, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(new_envelope(type_, data, source="tests")).encode()
    return await bus.request_raw(type_, body)


# -- company.update ----------------------------------------------------------------------------


async def test_an_update_changes_only_what_it_sends_and_is_kept_in_the_history(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="company.*")
    name = f"Tischlerei {word()}"
    company_id = (await register(bus, name, website="https://alt.example"))["company_id"]

    reply = await bus.ok(
        UpdateCompany(
            company_id=company_id,
            address=Address(street="Hallstraße 4", postcode="39576", town="stendal"),
            clear=["website"],
            instagram="tischlerei.neu",
            changed_by="birte.albrecht@diko.example",
        )
    )

    assert reply["changed"] == ["address.street", "website", "instagram"]
    company = await bus.ok(GetCompany(company_id=company_id))
    assert company["name"] == name
    assert company["address"] == {"street": "Hallstraße 4", "postcode": "39576", "town": "Stendal"}
    assert company["website"] is None
    assert company["instagram"] == "tischlerei.neu"
    [event] = await tap.wait_for(lambda m: m.routing_key == "company.updated")
    assert event.data["company_id"] == company_id
    assert event.data["changed"] == ["address.street", "website", "instagram"]
    assert (event.data["town"], event.data["website"]) == ("Stendal", None)

    history = await bus.ok(GetHistory(company_id=company_id))
    newest, first = history["entries"]
    assert newest["message_type"] == "company.update"
    assert newest["changed_by"] == "birte.albrecht@diko.example"
    assert newest["source"] == "tests"
    assert {"field": "website", "before": "https://alt.example", "after": None} in newest["changes"]
    assert {
        "field": "address.street",
        "before": "Breite Straße 12",
        "after": "Hallstraße 4",
    } in newest["changes"]
    assert first["message_type"] == "company.register"
    assert {"field": "name", "before": None, "after": name} in first["changes"]


async def test_an_update_that_changes_nothing_emits_nothing(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="company.updated")
    name = f"Malerei {word()}"
    company_id = (await register(bus, name))["company_id"]
    reply = await bus.ok(UpdateCompany(company_id=company_id, name=name))
    assert reply["changed"] == []
    await tap.fence()
    assert tap.matching(lambda m: m.data["company_id"] == company_id) == []


async def test_an_update_with_a_bad_town_or_a_field_set_and_cleared_is_invalid(
    bus: Bus, companies: ServiceProcess
) -> None:
    company_id = (await register(bus, f"Bäckerei {word()}"))["company_id"]
    reply = await raw(
        bus,
        "company.update",
        {
            "company_id": company_id,
            "website": "https://baeckerei.example",
            "clear": ["website", "name"],
            "address": {"street": "Markt 1", "postcode": "39576", "town": "Stendl"},
        },
    )
    assert reply["error"]["code"] == "validation_error"
    assert fields(reply) == {"data.clear.1"}
    reply = await raw(
        bus,
        "company.update",
        {
            "company_id": company_id,
            "website": "https://baeckerei.example",
            "clear": ["website"],
            "address": {"street": "Markt 1", "postcode": "39576", "town": "Stendl"},
        },
    )
    assert fields(reply) == {"data.website", "data.address.town"}
    assert "Stendal" in reply["error"]["message"]


async def test_renaming_to_a_registered_company_is_a_conflict(
    bus: Bus, companies: ServiceProcess
) -> None:
    taken = f"Autohaus {word()} GmbH"
    holder = (await register(bus, taken))["company_id"]
    other = (await register(bus, f"Autohaus {word()}"))["company_id"]
    reply = await bus.request(UpdateCompany(company_id=other, name=taken.upper()))
    assert reply["error"]["code"] == "conflict"
    assert holder in reply["error"]["message"]


# -- company.search ----------------------------------------------------------------------------


async def test_search_by_text_place_radius_industry_positions_and_consents(
    bus: Bus, companies: ServiceProcess
) -> None:
    w = word()
    stendal = (await register(bus, f"Tischlerei {w} Nord", industry="Handwerk"))["company_id"]
    tanger = (await register(bus, f"Tischlerei {w} Süd", town="Tangermünde", postcode="39590"))[
        "company_id"
    ]
    salzwedel = (
        await register(
            bus, f"Tischlerei {w} West", town="Salzwedel", postcode="29410", industry="Handwerk"
        )
    )["company_id"]
    await open_position(bus, tanger)
    await bus.ok(
        SetConsent(
            company_id=stendal,
            purpose="podcast",
            status="given",
            declared_at=datetime(2026, 11, 1, tzinfo=UTC),
            declared_by="Jana Müller",
            via="written",
            text_version="Podcast 2026-1",
        )
    )

    async def ids(**criteria: Any) -> list[str]:
        page = await bus.ok(SearchCompanies(text=f"tisch {w}", limit=100, **criteria))
        return [c["company_id"] for c in page["companies"]]

    assert set(await ids()) == {stendal, tanger, salzwedel}
    assert await ids(town="stendal") == [stendal]
    assert await ids(town="Stendal", radius_km=15, order="distance") == [stendal, tanger]
    assert set(await ids(postcode="39576", radius_km=15)) == {stendal, tanger}
    assert set(await ids(industry="handwerk")) == {stendal, salzwedel}
    assert await ids(has_open_positions=True) == [tanger]
    assert await ids(consents=["podcast"]) == [stendal]
    page = await bus.ok(SearchCompanies(text=f"{w} süd"))
    [hit] = page["companies"]
    assert (hit["company_id"], hit["town"], hit["open_positions"]) == (tanger, "Tangermünde", 1)


async def test_search_pages_are_stable_and_complete(bus: Bus, companies: ServiceProcess) -> None:
    w = word()
    made = [(await register(bus, f"Firma {w} {n:02d}"))["company_id"] for n in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await bus.ok(SearchCompanies(text=w, limit=3, cursor=cursor))
        seen += [c["company_id"] for c in page["companies"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made  # by name, and every one exactly once


async def test_search_refuses_operators_a_big_page_and_a_radius_without_a_place(
    bus: Bus, companies: ServiceProcess
) -> None:
    reply = await raw(
        bus,
        "company.search",
        {"text": {"$regex": ".*"}, "industry": {"$ne": None}, "limit": 1000, "radius_km": 10},
    )
    assert reply["error"]["code"] == "validation_error"
    assert fields(reply) == {"data.text", "data.industry", "data.limit"}
    reply = await bus.request(SearchCompanies(radius_km=10))
    assert fields(reply) == {"data.radius_km"}
    reply = await bus.request(SearchCompanies(cursor="bm9wZQ"))
    assert fields(reply) == {"data.cursor"}


# -- positions ---------------------------------------------------------------------------------


async def test_a_position_is_updated_closed_and_reopened_with_events(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="position.*")
    company_id = (await register(bus, f"Zimmerei {word()}"))["company_id"]
    position_id = await open_position(bus, company_id, places=1)

    change = await bus.ok(
        UpdatePosition(position_id=position_id, places=3, start_date=date(2027, 9, 1))
    )
    assert change == {
        "position_id": position_id,
        "status": "open",
        "changed": ["places", "start_date"],
    }
    [updated] = await tap.wait_for(lambda m: m.routing_key == "position.updated")
    assert updated.data["changed"] == ["places", "start_date"]
    assert (updated.data["places"], updated.data["start_date"]) == (3, "2027-09-01")

    closed = await bus.ok(ClosePosition(position_id=position_id, reason="filled_elsewhere"))
    assert closed["status"] == "closed"
    [event] = await tap.wait_for(lambda m: m.routing_key == "position.closed")
    assert event.data == {
        "position_id": position_id,
        "company_id": company_id,
        "reason": "filled_elsewhere",
    }
    again = await bus.ok(ClosePosition(position_id=position_id, reason="withdrawn"))
    assert again["changed"] == []
    position = await bus.ok(GetPosition(position_id=position_id))
    assert (position["status"], position["close_reason"]) == ("closed", "filled_elsewhere")

    reopened = await bus.ok(ReopenPosition(position_id=position_id))
    assert reopened["status"] == "open"
    [event] = await tap.wait_for(lambda m: m.routing_key == "position.reopened")
    assert (event.data["places"], event.data["town"]) == (3, "Stendal")
    reply = await bus.request(ReopenPosition(position_id=position_id, places=5))
    assert reply["ok"] is False
    assert reply["error"]["code"] == "conflict"


async def test_places_cannot_shrink_below_those_taken(bus: Bus, companies: ServiceProcess) -> None:
    company_id = (await register(bus, f"Dachdecker {word()}"))["company_id"]
    position_id = await open_position(bus, company_id, places=2)
    reply = await raw(bus, "position.update", {"position_id": position_id, "places": 0})
    assert fields(reply) == {"data.places"}
    reply = await raw(bus, "position.update", {"position_id": position_id, "town": "Atlantis"})
    assert fields(reply) == {"data.town"}


async def test_positions_are_found_by_radius_start_month_and_occupation_prefix(
    bus: Bus, companies: ServiceProcess
) -> None:
    company_id = (await register(bus, f"Handel {word()}"))["company_id"]
    near = await open_position(bus, company_id, start_date=date(2027, 8, 1))
    seller = await open_position(
        bus,
        company_id,
        occupation=Occupation(code="62102", name="Verkäufer/in"),
        town="Tangermünde",
        start_date=date(2027, 9, 1),
    )
    far = await open_position(bus, company_id, town="Salzwedel", start_date=date(2028, 8, 1))

    async def ids(**criteria: Any) -> list[str]:
        found = await bus.ok(SearchPositions(company_id=company_id, **criteria))
        return [p["position_id"] for p in found["positions"]]

    assert await ids() == [near, seller, far]
    assert await ids(town="Stendal", radius_km=15) == [near, seller]
    assert await ids(postcode="39576", radius_km=15, occupation_code="62") == [seller]
    assert await ids(start_from="2027-09", start_until="2028-07") == [seller]
    assert await ids(start_from="2028-01") == [far]
    first = await bus.ok(SearchPositions(company_id=company_id, limit=2))
    rest = await bus.ok(SearchPositions(company_id=company_id, cursor=first["next_cursor"]))
    assert [p["position_id"] for p in first["positions"] + rest["positions"]] == [near, seller, far]
    assert rest["next_cursor"] is None
    found = await bus.ok(SearchPositions(company_id=company_id, town="Stendal", radius_km=15))
    assert found["positions"][1]["distance_km"] > 5


# -- contacts ----------------------------------------------------------------------------------


async def test_contacts_are_added_changed_and_removed_with_events(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="contact.*")
    company_id = (await register(bus, f"Elektro {word()}"))["company_id"]
    added = await bus.ok(
        AddContact(
            company_id=company_id,
            name="Tom Becker",
            role="Marketing",
            email="tom@elektro.example",
            phone="03931 1",
        )
    )
    contact_id = added["contact_id"]
    [event] = await tap.wait_for(
        lambda m: m.routing_key == "contact.added" and m.data["contact_id"] == contact_id
    )
    assert event.data["email"] == "tom@elektro.example"

    change = await bus.ok(UpdateContact(contact_id=contact_id, role="Personal", clear=["phone"]))
    assert change["changed"] == ["role", "phone"]
    company = await bus.ok(GetCompany(company_id=company_id))
    roles = {c["name"]: (c["role"], c["title"]) for c in company["contacts"]}
    assert roles == {"Jana Müller": ("Inhaber/in", "Inhaberin"), "Tom Becker": ("Personal", None)}

    reply = await bus.request(UpdateContact(contact_id=contact_id, clear=["email"]))
    assert reply["error"]["code"] == "validation_error"
    assert fields(reply) == {"data.email", "data.phone"}

    await bus.ok(RemoveContact(contact_id=contact_id))
    await tap.wait_for(lambda m: m.routing_key == "contact.removed")
    company = await bus.ok(GetCompany(company_id=company_id))
    assert [c["name"] for c in company["contacts"]] == ["Jana Müller"]
    reply = await bus.request(RemoveContact(contact_id=contact_id))
    assert reply["error"]["code"] == "not_found"


# -- consents ----------------------------------------------------------------------------------


async def test_consents_are_given_and_withdrawn_and_an_older_declaration_changes_nothing(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="company.consent_changed")
    company_id = (await register(bus, f"Friseur {word()}"))["company_id"]
    contact_id = (await bus.ok(GetCompany(company_id=company_id)))["contacts"][0]["contact_id"]

    def consent(status: str, day: int, **extra: Any) -> SetConsent:
        return SetConsent(
            company_id=company_id,
            purpose="podcast",
            status=status,  # type: ignore[arg-type]
            declared_at=datetime(2026, 11, day, tzinfo=UTC),
            declared_by="Jana Müller",
            via="written",
            text_version="Podcast 2026-1" if status == "given" else None,
            **extra,
        )

    given = await bus.ok(consent("given", 10, contact_id=contact_id))
    assert (given["status"], given["changed"]) == ("given", True)
    withdrawn = await bus.ok(consent("withdrawn", 20, contact_id=contact_id))
    assert (withdrawn["status"], withdrawn["changed"]) == ("withdrawn", True)
    late_paper = await bus.ok(consent("given", 15, contact_id=contact_id))
    assert (late_paper["status"], late_paper["changed"]) == ("withdrawn", False)

    await tap.fence()
    events = of(tap, "company.consent_changed", company_id=company_id)
    assert [(e.data["status"], e.data["contact_id"]) for e in events] == [
        ("given", contact_id),
        ("withdrawn", contact_id),
    ]
    reply = await bus.request(consent("given", 21))
    assert reply["ok"] is True
    bad = await raw(
        bus,
        "company.set_consent",
        {**consent("given", 22).model_dump(mode="json"), "text_version": None},
    )
    assert fields(bad) == {"data.text_version"}
    company = await bus.ok(GetCompany(company_id=company_id))
    assert [(c["purpose"], c["status"]) for c in company["consents"]] == [("podcast", "given")]
    [contact] = company["contacts"]
    assert [(c["purpose"], c["status"]) for c in contact["consents"]] == [("podcast", "withdrawn")]


# -- consultations and follow-ups --------------------------------------------------------------


async def test_a_consultation_updates_the_score_and_its_follow_up_is_due_once(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    tap = await bus.tap(pattern="#")
    company_id = (await register(bus, f"Gärtnerei {word()}"))["company_id"]
    contact_id = (await bus.ok(GetCompany(company_id=company_id)))["contacts"][0]["contact_id"]
    follow_up = date(2041, 1, 1) + timedelta(days=int(uuid.uuid4().int % 3000))

    first = await bus.ok(
        RecordConsultation(
            company_id=company_id,
            held_on=date(2026, 3, 2),
            staff_id=STAFF,
            topics=["Website"],
            checklist={"website": True, "mobile_friendly": False},  # type: ignore[arg-type]
        )
    )
    assert first["maturity_score"] == 12
    second = await bus.ok(
        RecordConsultation(
            company_id=company_id,
            held_on=date(2026, 11, 20),
            staff_id=STAFF,
            contact_id=contact_id,
            topics=["Google-Unternehmensprofil", "Instagram"],
            next_steps="Profil vervollständigen",
            follow_up_on=follow_up,
            checklist={"mobile_friendly": True, "google_profile": True, "careers_page": True},  # type: ignore[arg-type]
        )
    )
    assert second["maturity_score"] == 50
    history = await bus.ok(GetPresenceHistory(company_id=company_id))
    assert [(p["assessed_on"], p["score"]) for p in history["points"]] == [
        ("2026-03-02", 12),
        ("2026-11-20", 50),
    ]
    company = await bus.ok(GetCompany(company_id=company_id))
    assert company["presence"]["score"] == 50
    assert [c["held_on"] for c in company["consultations"]] == ["2026-11-20", "2026-03-02"]
    recorded = await tap.wait_for(
        lambda m: (
            m.routing_key == "company.consultation_recorded" and m.data["company_id"] == company_id
        ),
        count=2,
    )
    assert "notes" not in recorded[0].data

    assert of(tap, "consultation.follow_up_due", company_id=company_id) == []
    await due.set_test_clock(
        db, CLOCK, datetime.combine(follow_up, datetime.min.time(), UTC) + timedelta(hours=7)
    )
    [due_event] = await tap.wait_for(
        lambda m: (
            m.routing_key == "consultation.follow_up_due" and m.data["company_id"] == company_id
        )
    )
    assert due_event.data["consultation_id"] == second["consultation_id"]
    assert due_event.data["staff_id"] == STAFF
    assert due_event.data["follow_up_on"] == follow_up.isoformat()
    assert due_event.data["next_steps"] == "Profil vervollständigen"
    assert due_event.data["contact"]["email"].startswith("jana@")
    assert due_event.data["company_name"].startswith("Gärtnerei")
    await due.set_test_clock(
        db, CLOCK, datetime.combine(follow_up, datetime.min.time(), UTC) + timedelta(days=3)
    )

    async def due_gone() -> bool:
        left = await db[due.DUE].count_documents(
            {"_id": due.item_id("follow_up", second["consultation_id"])}
        )
        return left == 0 and await db[OUTBOX].count_documents({}) == 0

    await eventually(due_gone, what="the follow-up done")
    await tap.fence()
    assert len(of(tap, "consultation.follow_up_due", company_id=company_id)) == 1


async def test_a_consultation_needs_known_topics_and_a_contact_of_the_company(
    bus: Bus, companies: ServiceProcess
) -> None:
    company_id = (await register(bus, f"Metallbau {word()}"))["company_id"]
    reply = await raw(
        bus,
        "company.record_consultation",
        {
            "company_id": company_id,
            "held_on": "2026-11-20",
            "staff_id": STAFF,
            "topics": ["TikTok"],
        },
    )
    assert fields(reply) == {"data.topics.0"}
    other = (await register(bus, f"Metallbau {word()}"))["company_id"]
    stranger = (await bus.ok(GetCompany(company_id=other)))["contacts"][0]["contact_id"]
    reply = await bus.request(
        RecordConsultation(
            company_id=company_id,
            held_on=date(2026, 11, 20),
            staff_id=STAFF,
            topics=["Website"],
            contact_id=stranger,
        )
    )
    assert fields(reply) == {"data.contact_id"}


# -- duplicates --------------------------------------------------------------------------------


async def test_a_near_duplicate_is_registered_and_announced_with_reasons(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="company.duplicate_suspected")
    w = word()
    first = (await register(bus, f"Tischlerei Müller {w} GmbH & Co. KG", phone="03931 123456"))[
        "company_id"
    ]
    spellings = [
        f"Mueller {w} Tischlerei",  # word order, umlaut spelled out
        f"Tischlerai Müller {w} e.K.",  # typo, another legal form
    ]
    for name in spellings:
        reply = await register(bus, name)
        found = {c["company_id"]: c for c in reply["suspected_duplicates"]}  # earlier spellings too
        candidate = found[first]
        assert candidate["score"] >= 0.8
        codes = {r["code"] for r in candidate["reasons"]}
        assert {"similar_name", "same_postcode"} <= codes
    by_phone = await register(
        bus, f"Holzwerkstatt {w}", town="Osterburg", postcode="39606", phone="+49 3931 123456"
    )
    candidates = {c["company_id"]: c for c in by_phone["suspected_duplicates"]}
    assert "same_phone" in {r["code"] for r in candidates[first]["reasons"]}
    events = await tap.wait_for(lambda m: w in m.data["name"], count=3)
    assert {e.data["trigger"] for e in events} == {"register"}
    unrelated = await register(bus, f"Autohaus {word()}")
    assert unrelated["suspected_duplicates"] == []


async def test_a_scan_reports_pairs_with_scores_and_reasons(
    bus: Bus, companies: ServiceProcess
) -> None:
    w = word()
    a = (await register(bus, f"Bäckerei Schulze {w}", town="Kalbe (Milde)", postcode="39624"))[
        "company_id"
    ]
    b = (await register(bus, f"Baeckerei Schulz {w} GmbH", town="Kalbe (Milde)", postcode="39624"))[
        "company_id"
    ]
    report = await bus.ok(ScanDuplicates(postcode_prefix="39624", min_score=0.8))
    pairs = [
        p
        for p in report["pairs"]
        if {p["first"]["company_id"], p["second"]["company_id"]} == {a, b}
    ]
    [pair] = pairs
    assert pair["score"] >= 0.8
    assert {"similar_name", "same_postcode"} <= {r["code"] for r in pair["reasons"]}
    assert report["companies_scanned"] >= 2
    assert report["comparisons"] >= 1


# -- merge -------------------------------------------------------------------------------------


async def test_a_merge_moves_everything_and_the_merged_id_points_to_the_survivor(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="#")
    w = word()
    survivor = (await register(bus, f"Schlosserei {w}"))["company_id"]
    merged = (
        await register(
            bus,
            f"Schlosserei {w} Zweitname",
            contact=Contact(name="Uwe Krause", phone="03931 777"),
        )
    )["company_id"]
    position_id = await open_position(bus, merged)
    await bus.ok(
        RecordConsultation(
            company_id=merged,
            held_on=date(2026, 5, 1),
            staff_id=STAFF,
            topics=["Website"],
            checklist={"website": True},
        )  # type: ignore[arg-type]
    )
    await bus.ok(
        SetConsent(
            company_id=merged,
            purpose="website",
            status="given",
            declared_at=datetime(2026, 5, 1, tzinfo=UTC),
            declared_by="Uwe Krause",
            via="in_person",
            text_version="Website 2026-1",
        )
    )
    message = bus.publisher.command(MergeCompanies(survivor_id=survivor, merged_id=merged))

    result = await bus.publisher.request_raw(message)
    again = await bus.publisher.request_raw(message)
    later = await bus.request(MergeCompanies(survivor_id=survivor, merged_id=merged))

    assert result == again
    assert result["data"] == {
        "survivor_id": survivor,
        "merged_id": merged,
        "positions": 1,
        "contacts": 1,
        "consents": 1,
        "consultations": 1,
    }
    assert later["data"] == result["data"]
    pointer = await bus.ok(GetCompany(company_id=merged))
    assert pointer["merged_into"] == survivor
    assert pointer["contacts"] == pointer["positions"] == []
    company = await bus.ok(GetCompany(company_id=survivor))
    assert {c["name"] for c in company["contacts"]} == {"Jana Müller", "Uwe Krause"}
    assert [p["position_id"] for p in company["positions"]] == [position_id]
    assert [c["purpose"] for c in company["consents"]] == ["website"]
    assert company["presence"]["score"] == 12
    assert len(company["consultations"]) == 1
    position = await bus.ok(GetPosition(position_id=position_id))
    assert (position["company_id"], position["company_name"]) == (survivor, f"Schlosserei {w}")
    await tap.fence()
    [event] = of(tap, "company.merged", survivor_id=survivor)
    assert event.data["position_ids"] == [position_id]
    assert len(event.data["contact_ids"]) == 1
    assert len(of(tap, "company.consent_changed", company_id=survivor)) == 1
    found = await bus.ok(SearchCompanies(text=f"schlosserei {w}"))
    assert [c["company_id"] for c in found["companies"]] == [survivor]
    reply = await bus.request(UpdateCompany(company_id=merged, industry="Handwerk"))
    assert reply["error"]["code"] == "conflict"
    assert survivor in reply["error"]["message"]
    reply = await bus.request(MergeCompanies(survivor_id=merged, merged_id=survivor))
    assert reply["error"]["code"] == "conflict"


@pytest.mark.slow
@pytest.mark.parametrize("phase", [0, 1])
async def test_a_merge_killed_inside_its_commit_completes_once_after_a_restart(
    bus: Bus, stack: SessionStack, companies: ServiceProcess, phase: int
) -> None:
    """SIGKILL after the merge's changes (0) or its processed record (1), before its events.

    The merge stages no preparing writes, so its commit has these two phases only."""
    tap = await bus.tap(pattern="company.merged")
    w = word()
    survivor = (await register(bus, f"Fliesenleger {w}"))["company_id"]
    merged = (await register(bus, f"Fliesenleger {w} Filiale"))["company_id"]
    positions = [await open_position(bus, merged) for _ in range(3)]
    message = bus.publisher.command(MergeCompanies(survivor_id=survivor, merged_id=merged))
    companies.stop()
    companies.start(extra_env={"DIKO_TEST_KILL_AFTER_PHASE": f"{phase}:{message.message_id}"})

    await bus.publisher.publish(message)
    assert companies.wait_exit(timeout=60) == -9
    companies.start()

    async def merged_now() -> dict[str, Any] | None:
        company = await bus.ok(GetCompany(company_id=survivor))
        return company if len(company["positions"]) == 3 else None

    company = await eventually(merged_now, timeout=60, what="the merge completed after restart")
    assert sorted(p["position_id"] for p in company["positions"]) == sorted(positions)
    assert (await bus.ok(GetCompany(company_id=merged)))["merged_into"] == survivor
    for position_id in positions:
        assert (await bus.ok(GetPosition(position_id=position_id)))["company_id"] == survivor
    await tap.wait_for(lambda m: m.data["survivor_id"] == survivor)
    await tap.fence()
    assert len(of(tap, "company.merged", survivor_id=survivor)) == 1
    history = await bus.ok(GetHistory(company_id=survivor))
    merges = [e for e in history["entries"] if e["message_type"] == "company.merge"]
    assert len(merges) == 1


# -- registering an existing company as an update (the import's path) --------------------------


async def test_registering_an_existing_company_with_if_exists_update_updates_it(
    bus: Bus, companies: ServiceProcess
) -> None:
    name = f"Sanitär {word()} GmbH"
    company_id = (await register(bus, name))["company_id"]
    same = await register(bus, name.upper(), if_exists="update")
    assert (same["company_id"], same["outcome"]) == (company_id, "unchanged")
    more = await register(
        bus,
        name,
        if_exists="update",
        website="https://sanitaer.example",
        contact=Contact(name="Olaf Berg", email="olaf@sanitaer.example"),
    )
    assert (more["company_id"], more["outcome"]) == (company_id, "updated")
    company = await bus.ok(GetCompany(company_id=company_id))
    assert company["website"] == "https://sanitaer.example"
    assert {c["name"] for c in company["contacts"]} == {"Jana Müller", "Olaf Berg"}
    again = await register(
        bus,
        name,
        if_exists="update",
        contact=Contact(name="Olaf Berg", email="olaf@sanitaer.example"),
    )
    assert again["outcome"] == "unchanged"


async def test_concurrent_searches_see_a_registration_at_once(
    bus: Bus, companies: ServiceProcess
) -> None:
    w = word()
    company_id = (await register(bus, f"Optiker {w}"))["company_id"]
    pages = await asyncio.gather(*(bus.ok(SearchCompanies(text=w)) for _ in range(5)))
    assert all([c["company_id"] for c in p["companies"]] == [company_id] for p in pages)
