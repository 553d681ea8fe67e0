"""The companies service as a real process on the real stack, driven through the bus."""

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

from diko_companies import domain, store
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import (
    Address,
    Contact,
    GetCompany,
    OpenPosition,
    RegisterCompany,
    SearchPositions,
)
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.contract.matching import MatchAccepted
from diko_shared.messaging import topology
from diko_shared.messaging.handling import message_key
from diko_shared.messaging.publisher import Outgoing
from diko_shared.store.mongo import OUTBOX
from harness.bus import Bus, Seen, Tap
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

PORT = free_port()
TAKE_QUEUE = "companies.on.match.accepted"
DLQ = "companies.dlq"


@pytest.fixture(scope="module")
def companies(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess("companies", "diko_companies", PORT, stack.service_env("companies"))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncDatabase:
    return mongo[stack.database("companies")]


# -- building messages -------------------------------------------------------------------------


def unique_name(prefix: str = "Tischlerei") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]} GmbH"


def registration(
    name: str | None = None, town: str = "Stendal", postcode: str = "39576"
) -> RegisterCompany:
    return RegisterCompany(
        name=name or unique_name(),
        address=Address(street="Breite Straße 12", postcode=postcode, town=town),
        contact=Contact(
            name="Jana Müller", email="jana@tischlerei.example", role="Ausbildungsleiterin"
        ),
        industry="Handwerk",
    )


def opening(
    company_id: str,
    *,
    code: str = "22342",
    name: str = "Tischler/in",
    places: int = 2,
    start: date = date(2027, 8, 1),
    town: str = "Stendal",
) -> OpenPosition:
    return OpenPosition(
        company_id=company_id,
        occupation=Occupation(code=code, name=name),
        places=places,
        start_date=start,
        town=town,
        school_certificate="hauptschule",
    )


async def register(bus: Bus, **kwargs: Any) -> str:
    return (await bus.ok(registration(**kwargs)))["company_id"]


async def open_position(bus: Bus, company_id: str, **kwargs: Any) -> str:
    return (await bus.ok(opening(company_id, **kwargs)))["position_id"]


def new_proposal_id() -> str:
    return f"prp_{uuid.uuid4().hex[:20]}"


def accepted(position_id: str, company_id: str, proposal_id: str | None = None) -> Outgoing:
    """A `match.accepted` event as the matching service publishes it."""
    match = MatchAccepted(
        proposal_id=proposal_id or new_proposal_id(),
        position_id=position_id,
        company_id=company_id,
        applicant_id=f"apl_{uuid.uuid4().hex[:20]}",
    )
    envelope = new_envelope("match.accepted", match, source="matching", subject=position_id)
    return Outgoing.from_envelope(topology.EVENTS.name, envelope)


async def publish_at_once(bus: Bus, *messages: Outgoing) -> None:
    await asyncio.gather(*(bus.publisher.publish(m) for m in messages))


def raw_envelope(type_: str, data: dict[str, Any]) -> bytes:
    return json.dumps(new_envelope(type_, data, source="tests")).encode()


# -- observing ---------------------------------------------------------------------------------


def distinct(messages: list[Seen]) -> list[Seen]:
    """One per message id: a redelivered event keeps its id, and consumers drop the repeat."""
    return list({m.message_id: m for m in messages}.values())


def events(tap: Tap, type_: str, position_id: str) -> list[Seen]:
    return distinct(
        tap.matching(lambda m: m.routing_key == type_ and m.data["position_id"] == position_id)
    )


def taken(companies: ServiceProcess) -> float:
    """How many `match.accepted` deliveries the service has settled, whatever their outcome."""
    return companies.metric("diko_messages_total", queue=TAKE_QUEUE)


async def settle(
    companies: ServiceProcess, db: AsyncDatabase, tap: Tap, before: float, deliveries: int
) -> None:
    """Wait until `deliveries` more messages are settled and all they emitted has arrived."""

    async def done() -> bool:
        handled = taken(companies) - before >= deliveries
        return handled and await db[OUTBOX].count_documents({}) == 0

    await eventually(done, what=f"{deliveries} match.accepted deliveries settled")
    await tap.fence()


async def dead_letters(bus: Bus, message_ids: set[str], count: int) -> list[Seen]:
    """Take dead letters of these messages until `count` distinct ones have arrived.

    Called after the deliveries are settled, the first look finds every dead letter there
    is (a message is dead-lettered before it is acknowledged), so a test sees any extra.
    """
    found: dict[str, Seen] = {}

    async def enough() -> bool:
        for letter in await bus.drain(DLQ):
            if letter.message_id in message_ids:
                found.setdefault(letter.message_id or "", letter)
        return len(found) >= count

    await eventually(enough, what=f"{count} dead letter(s) in {DLQ}")
    return list(found.values())


async def company(bus: Bus, company_id: str) -> dict[str, Any]:
    return await bus.ok(GetCompany(company_id=company_id))


async def position_state(bus: Bus, company_id: str, position_id: str) -> dict[str, Any]:
    positions = (await company(bus, company_id))["positions"]
    return next(p for p in positions if p["position_id"] == position_id)


def fields(reply: dict[str, Any]) -> set[str]:
    return {d["field"] for d in reply["error"]["details"]}


# -- company.register and company.get ----------------------------------------------------------


async def test_a_registered_company_is_announced_and_can_be_read(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="company.registered")
    name = unique_name()
    company_id = await register(bus, name=name, town="tangermuende", postcode="39590")

    [event] = await tap.wait_for(lambda m: m.data["company_id"] == company_id)
    assert event.data == {
        "company_id": company_id,
        "name": name,
        "town": "Tangermünde",
        "postcode": "39590",
        "industry": "Handwerk",
    }
    assert event.envelope["subject"] == company_id
    stored = await company(bus, company_id)
    assert stored["name"] == name
    assert stored["address"] == {
        "street": "Breite Straße 12",
        "postcode": "39590",
        "town": "Tangermünde",
    }
    assert [c["email"] for c in stored["contacts"]] == ["jana@tischlerei.example"]
    assert stored["positions"] == []


async def test_a_redelivered_registration_creates_nothing_twice(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    tap = await bus.tap(pattern="company.registered")
    name = unique_name()
    message = bus.publisher.command(registration(name=name))

    first = await bus.publisher.request_raw(message)
    second = await bus.publisher.request_raw(message)

    assert first == second
    assert first["ok"]
    await tap.fence()
    assert len(tap.matching(lambda m: m.data["name"] == name)) == 1
    assert await db[store.COMPANIES].count_documents({"name": name}) == 1


async def test_an_unknown_town_is_invalid_and_close_names_are_suggested(
    bus: Bus, companies: ServiceProcess
) -> None:
    reply = await bus.request(registration(town="Stendl"))
    assert reply["ok"] is False
    assert reply["error"]["code"] == "validation_error"
    [detail] = reply["error"]["details"]
    assert detail["field"] == "data.address.town"
    assert "Stendal" in detail["problem"]


async def test_the_same_company_registered_again_is_a_conflict_naming_it(
    bus: Bus, companies: ServiceProcess
) -> None:
    word = uuid.uuid4().hex[:8]
    company_id = await register(bus, name=f"Bäckerei Köhler {word} GmbH", postcode="39606")

    reply = await bus.request(registration(name=f"BAECKEREI  KOEHLER {word}", postcode="39606"))

    assert reply["ok"] is False
    assert reply["error"]["code"] == "conflict"
    assert company_id in reply["error"]["message"]
    assert fields(reply) == {"data.name"}
    other_postcode = registration(name=f"Bäckerei Köhler {word} GmbH", postcode="39590")
    assert (await bus.request(other_postcode))["ok"]


async def test_two_registrations_of_one_company_at_once_register_it_once(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    name = unique_name("Autohaus")
    replies = await asyncio.gather(
        bus.request(registration(name=name)), bus.request(registration(name=name.upper()))
    )
    [ok] = [r for r in replies if r["ok"]]
    [refused] = [r for r in replies if not r["ok"]]
    assert refused["error"]["code"] == "conflict"
    assert ok["data"]["company_id"] in refused["error"]["message"]
    key = domain.duplicate_key(name, "39576")
    assert await db[store.COMPANIES].count_documents({"duplicate_key": key}) == 1


async def test_a_claim_whose_registration_failed_for_good_is_taken_over(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    word = uuid.uuid4().hex[:8]
    abandoned = {
        "_id": f"malerbetrieb {word}|39576",
        "company_id": "cmp_00000000000000000000",
        "claimed_at": datetime.now(UTC) - timedelta(days=1),
    }
    await db[store.COMPANY_KEYS].insert_one(abandoned)

    company_id = await register(bus, name=f"Malerbetrieb {word}")

    claim = await db[store.COMPANY_KEYS].find_one({"_id": abandoned["_id"]})
    assert claim is not None
    assert claim["company_id"] == company_id


async def test_a_registration_timed_at_the_calendars_edge_is_refused_and_blocks_nothing(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    """It passed once, overflowed converting to UTC, was retried for minutes and meanwhile
    held the company's duplicate key, so that the correct registration was refused."""
    company = registration()
    for time in ("9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00"):
        body = new_envelope("company.register", company, source="website")
        body["time"] = time
        reply = await bus.request_raw("company.register", json.dumps(body).encode())
        assert reply["error"]["code"] == "validation_error"
        assert [(d["field"], d["type"]) for d in reply["error"]["details"]] == [
            ("time", "datetime_out_of_range")
        ]
    key = domain.duplicate_key(company.name, company.address.postcode)
    assert await db[store.COMPANY_KEYS].find_one({"_id": key}) is None
    assert (await bus.request(company))["ok"]


async def test_an_unknown_company_is_not_found(bus: Bus, companies: ServiceProcess) -> None:
    reply = await bus.request(GetCompany(company_id="cmp_0123456789abcdef0123"))
    assert reply["error"]["code"] == "not_found"
    assert fields(reply) == {"data.company_id"}


async def test_every_bad_field_of_a_registration_is_listed(
    bus: Bus, companies: ServiceProcess
) -> None:
    data = {
        "name": "  ",
        "address": {"street": "Breite Straße 12", "postcode": "3957", "town": "Stendal"},
        "contact": {"name": "Jana Müller", "email": "jana at example"},
        "website": "ftp://tischlerei.example",
        "colour": "rot",
    }
    reply = await bus.request_raw("company.register", raw_envelope("company.register", data))
    assert reply["error"]["code"] == "validation_error"
    assert fields(reply) == {
        "data.name",
        "data.address.postcode",
        "data.contact.email",
        "data.website",
        "data.colour",
    }


# -- position.open -----------------------------------------------------------------------------


async def test_an_opened_position_is_announced_with_its_company_name(
    bus: Bus, companies: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="position.opened")
    name = unique_name()
    company_id = await register(bus, name=name)

    position_id = await open_position(
        bus, company_id, name="tischler/in", places=3, town="Osterburg"
    )

    [event] = await tap.wait_for(lambda m: m.data["position_id"] == position_id)
    assert event.envelope["subject"] == position_id
    assert event.data == {
        "position_id": position_id,
        "company_id": company_id,
        "company_name": name,
        "occupation": {"code": "22342", "name": "Tischler/in"},
        "places": 3,
        "start_date": "2027-08-01",
        "town": "Osterburg (Altmark)",
        "school_certificate": "hauptschule",
        "description": None,
    }
    assert (await company(bus, company_id))["positions"] == [
        {
            "position_id": position_id,
            "occupation": {"code": "22342", "name": "Tischler/in"},
            "places": 3,
            "places_taken": 0,
            "start_date": "2027-08-01",
            "town": "Osterburg (Altmark)",
            "status": "open",
            "close_reason": None,
        }
    ]


async def test_a_position_of_an_unknown_company_is_not_found(
    bus: Bus, companies: ServiceProcess
) -> None:
    reply = await bus.request(opening("cmp_0123456789abcdef0123"))
    assert reply["error"]["code"] == "not_found"
    assert fields(reply) == {"data.company_id"}


async def test_an_unknown_occupation_code_is_invalid(bus: Bus, companies: ServiceProcess) -> None:
    company_id = await register(bus)
    reply = await bus.request(opening(company_id, code="22349"))
    assert reply["error"]["code"] == "validation_error"
    [detail] = reply["error"]["details"]
    assert detail["field"] == "data.occupation.code"
    assert "22342" in detail["problem"]


async def test_an_unknown_occupation_and_town_are_listed_together(
    bus: Bus, companies: ServiceProcess
) -> None:
    company_id = await register(bus)
    reply = await bus.request(opening(company_id, code="99999", town="Gardlegen"))
    assert fields(reply) == {"data.occupation.code", "data.town"}
    town = next(d for d in reply["error"]["details"] if d["field"] == "data.town")
    assert "Gardelegen" in town["problem"]


async def test_every_bad_field_of_an_opening_is_listed(bus: Bus, companies: ServiceProcess) -> None:
    data = {
        "company_id": "cmp_nope",
        "occupation": {"code": "2234", "name": "Tischler/in"},
        "places": 0,
        "start_date": "2027-13-01",
        "town": "Stendal",
        "school_certificate": "diplom",
    }
    reply = await bus.request_raw("position.open", raw_envelope("position.open", data))
    assert reply["error"]["code"] == "validation_error"
    assert fields(reply) == {
        "data.company_id",
        "data.occupation.code",
        "data.places",
        "data.start_date",
        "data.school_certificate",
    }


# -- position.search ---------------------------------------------------------------------------


async def test_positions_are_found_by_each_criterion_in_start_date_order(
    bus: Bus, companies: ServiceProcess
) -> None:
    company_id = await register(bus)
    joiner = await open_position(bus, company_id, places=1, start=date(2027, 8, 1))
    seller = await open_position(
        bus, company_id, code="62102", name="Verkäufer/in", start=date(2027, 9, 1), town="Salzwedel"
    )
    baker = await open_position(
        bus,
        company_id,
        code="62312",
        name="Fachverkäufer/in im Lebensmittelhandwerk (Bäckerei)",
        start=date(2027, 8, 1),
    )
    early = await open_position(bus, company_id, start=date(2026, 8, 1), town="Gardelegen")
    same_day = sorted([joiner, baker])

    async def search(**criteria: Any) -> list[str]:
        found = await bus.ok(SearchPositions(company_id=company_id, **criteria))
        return [p["position_id"] for p in found["positions"]]

    assert await search() == [early, *same_day, seller]
    assert await search(occupation_code="22342") == [early, joiner]
    assert await search(occupation_code="62") == [baker, seller]
    assert await search(town="stendal") == same_day
    assert await search(limit=2) == [early, same_day[0]]

    tap = await bus.tap(pattern="position.filled")
    await bus.publisher.publish(accepted(joiner, company_id))
    await tap.wait_for(lambda m: m.data["position_id"] == joiner)
    assert await search() == [early, baker, seller]
    assert await search(status="filled") == [joiner]
    assert await search(status=None) == [early, *same_day, seller]

    anywhere = await bus.ok(SearchPositions(town="Stendal", status=None, limit=500))
    assert {p["town"] for p in anywhere["positions"]} == {"Stendal"}
    assert {joiner, baker} <= {p["position_id"] for p in anywhere["positions"]}
    found = next(p for p in anywhere["positions"] if p["position_id"] == joiner)
    assert (found["status"], found["places_taken"]) == ("filled", 1)


async def test_a_search_for_an_unknown_town_is_invalid(bus: Bus, companies: ServiceProcess) -> None:
    reply = await bus.request(SearchPositions(town="Atlantis"))
    assert reply["error"]["code"] == "validation_error"
    assert fields(reply) == {"data.town"}


async def test_every_bad_field_of_a_search_is_listed(bus: Bus, companies: ServiceProcess) -> None:
    data = {"occupation_code": "22a", "status": "vacant", "limit": 0}
    reply = await bus.request_raw("position.search", raw_envelope("position.search", data))
    assert fields(reply) == {"data.occupation_code", "data.status", "data.limit"}


# -- match.accepted: taking places -------------------------------------------------------------


async def test_accepted_matches_take_places_until_the_position_is_filled(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=3)
    tap = await bus.tap(pattern="position.*")
    before = taken(companies)

    for count in (1, 2, 3):
        await bus.publisher.publish(accepted(position_id, company_id))
        await tap.wait_for(
            lambda m, n=count: (
                m.routing_key == "position.updated"
                and m.data["position_id"] == position_id
                and m.data["places_taken"] == n
            )
        )

    await settle(companies, db, tap, before, 3)
    updates = events(tap, "position.updated", position_id)
    assert [(u.data["places_taken"], u.data["status"]) for u in updates] == [
        (1, "open"),
        (2, "open"),
        (3, "filled"),
    ]
    [filled] = events(tap, "position.filled", position_id)
    assert filled.data["company_id"] == company_id
    assert filled.data["places"] == 3
    state = await position_state(bus, company_id, position_id)
    assert (state["places_taken"], state["status"]) == (3, "filled")


async def test_the_same_match_accepted_twice_takes_one_place(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=2)
    tap = await bus.tap(pattern="position.*")
    before = taken(companies)
    message = accepted(position_id, company_id)

    await bus.publisher.publish(message)
    await bus.publisher.publish(message)

    await settle(companies, db, tap, before, 2)
    [update] = events(tap, "position.updated", position_id)
    assert update.data["places_taken"] == 1
    assert events(tap, "position.filled", position_id) == []
    state = await position_state(bus, company_id, position_id)
    assert (state["places_taken"], state["status"]) == (1, "open")


async def test_one_match_accepted_in_two_messages_takes_one_place(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=1)
    tap = await bus.tap(pattern="position.*")
    before = taken(companies)
    proposal_id = new_proposal_id()

    await publish_at_once(
        bus,
        accepted(position_id, company_id, proposal_id),
        accepted(position_id, company_id, proposal_id),
    )

    await settle(companies, db, tap, before, 2)
    assert len(events(tap, "position.updated", position_id)) == 1
    assert len(events(tap, "position.filled", position_id)) == 1
    assert await db[store.PLACES].count_documents({"position_id": position_id}) == 1


async def test_two_matches_for_the_last_place_at_once_fill_it_once(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=2)
    tap = await bus.tap(pattern="position.*")
    before = taken(companies)
    await bus.publisher.publish(accepted(position_id, company_id))
    await tap.wait_for(lambda m: m.data["position_id"] == position_id)

    racers = [accepted(position_id, company_id) for _ in range(2)]
    await publish_at_once(bus, *racers)

    await settle(companies, db, tap, before, 3)
    [letter] = await dead_letters(bus, {m.message_id for m in racers}, 1)
    assert letter.headers["x-diko-reason"] == "conflict"
    updates = events(tap, "position.updated", position_id)
    assert sorted(u.data["places_taken"] for u in updates) == [1, 2]
    assert len(events(tap, "position.filled", position_id)) == 1
    winner = next(u for u in updates if u.data["places_taken"] == 2)
    assert winner.data["proposal_id"] != json.loads(letter.body)["data"]["proposal_id"]
    state = await position_state(bus, company_id, position_id)
    assert (state["places_taken"], state["status"]) == (2, "filled")


async def test_a_burst_of_matches_never_takes_more_places_than_there_are(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=4)
    tap = await bus.tap(pattern="position.*")
    before = taken(companies)
    burst = [accepted(position_id, company_id) for _ in range(7)]

    await publish_at_once(bus, *burst)

    await settle(companies, db, tap, before, len(burst))
    letters = await dead_letters(bus, {m.message_id for m in burst}, 3)
    assert len(letters) == 3
    assert {letter.headers["x-diko-reason"] for letter in letters} == {"conflict"}
    updates = events(tap, "position.updated", position_id)
    assert sorted(u.data["places_taken"] for u in updates) == [1, 2, 3, 4]
    assert len({u.data["proposal_id"] for u in updates}) == 4
    assert len(events(tap, "position.filled", position_id)) == 1
    state = await position_state(bus, company_id, position_id)
    assert (state["places_taken"], state["status"]) == (4, "filled")


async def test_a_match_for_a_full_position_is_dead_lettered_as_a_conflict(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=1)
    tap = await bus.tap(pattern="position.*")
    await bus.publisher.publish(accepted(position_id, company_id))
    await tap.wait_type("position.filled")
    before = taken(companies)

    late = accepted(position_id, company_id)
    await bus.publisher.publish(late)

    await settle(companies, db, tap, before, 1)
    [letter] = await dead_letters(bus, {late.message_id}, 1)
    assert letter.headers["x-diko-reason"] == "conflict"
    assert letter.headers["x-diko-queue"] == TAKE_QUEUE
    assert letter.headers["x-diko-service"] == "companies"
    assert "bereits besetzt" in letter.headers["x-diko-error"]
    assert len(events(tap, "position.updated", position_id)) == 1
    assert len(events(tap, "position.filled", position_id)) == 1
    state = await position_state(bus, company_id, position_id)
    assert (state["places_taken"], state["status"]) == (1, "filled")


async def test_a_match_for_an_unknown_position_is_dead_lettered_as_not_found(
    bus: Bus, companies: ServiceProcess
) -> None:
    lost = accepted("pos_0123456789abcdef0123", "cmp_0123456789abcdef0123")
    await bus.publisher.publish(lost)
    [letter] = await dead_letters(bus, {lost.message_id}, 1)
    assert letter.headers["x-diko-reason"] == "not_found"


async def test_a_redelivery_after_the_place_was_claimed_completes_the_take(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    """The first delivery claimed the place and died before its commit; the redelivery ends it."""
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=1)
    tap = await bus.tap(pattern="position.*")
    before = taken(companies)
    message = accepted(position_id, company_id)
    envelope = Envelope[MatchAccepted].model_validate_json(message.body)
    key = message_key(TAKE_QUEUE, envelope)
    assert await store.claim_place(db, 1, envelope.data, key, envelope.time)

    await bus.publisher.publish(message)

    await settle(companies, db, tap, before, 1)
    [update] = events(tap, "position.updated", position_id)
    assert (update.data["places_taken"], update.data["status"]) == (1, "filled")
    assert len(events(tap, "position.filled", position_id)) == 1
    state = await position_state(bus, company_id, position_id)
    assert (state["places_taken"], state["status"]) == (1, "filled")


@pytest.mark.slow
async def test_killed_in_the_middle_of_a_burst_no_place_is_taken_twice(
    bus: Bus, companies: ServiceProcess, db: AsyncDatabase
) -> None:
    company_id = await register(bus)
    position_id = await open_position(bus, company_id, places=5)
    tap = await bus.tap(pattern="position.*")
    burst = [accepted(position_id, company_id) for _ in range(8)]

    await publish_at_once(bus, *burst)
    await tap.wait_type("position.updated")
    companies.kill()
    companies.start()

    letters = await dead_letters(bus, {m.message_id for m in burst}, 3)
    assert {letter.headers["x-diko-reason"] for letter in letters} == {"conflict"}
    assert len(letters) == 3

    async def all_announced() -> list[Seen]:
        updates = events(tap, "position.updated", position_id)
        return updates if len(updates) == 5 else []

    updates = await eventually(all_announced, what="five places announced")
    assert sorted(u.data["places_taken"] for u in updates) == [1, 2, 3, 4, 5]
    await eventually(lambda: _outbox_empty(db), what="every emitted event confirmed by the broker")
    await tap.fence()
    assert len(events(tap, "position.updated", position_id)) == 5
    assert len(events(tap, "position.filled", position_id)) == 1
    assert await db[store.PLACES].count_documents({"position_id": position_id}) == 5
    state = await position_state(bus, company_id, position_id)
    assert (state["places_taken"], state["status"]) == (5, "filled")


async def _outbox_empty(db: AsyncDatabase) -> bool:
    return await db[OUTBOX].count_documents({}) == 0
