"""Applicant fairs as a service: planned from matching's records, announced, printed.

`fair.plan` through the broker; `fair.planned` (which names no applicant) and `fair.get`
(which notifications asks for the names and addresses) read as notifications reads them; the
timetables looked at as a person would: the HTML pages in Chromium (phone and desktop
width, screenshots under .local/test-output/screenshots/), the PDFs rendered to images
with PDFium, the .ics files read back with icalendar.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pypdfium2 as pdfium
import pytest
from icalendar import Calendar

from diko_shared.contract.matching import (
    Fair,
    FairPlanned,
    GetFair,
    PlanFair,
    Venue,
    WithdrawApplicant,
)
from harness.browser import DESKTOP, PHONE, SCREENSHOTS, Eyes
from harness.bus import Bus
from harness.processes import ServiceProcess
from matching_bus import applicant, new_id, open_position, position, register

BERLIN = ZoneInfo("Europe/Berlin")
VENUE = Venue(
    name="Berufsbildende Schulen Stendal",
    street="Scharnhorststraße 40",
    postcode="39576",
    town="Stendal",
)
#: The contract's limit on a message body that consumers read (DIKO_MAX_BODY_BYTES).
MAX_BODY = 262_144


class People:
    """The module's companies (with positions in matching) and registered applicants."""

    def __init__(self) -> None:
        self.companies: dict[str, str] = {}
        self.applicants: list[str] = []


@pytest.fixture(scope="module")
async def people(bus: Bus, matching: ServiceProcess) -> People:
    out = People()
    offers = [
        ("Tischlerei Müller GmbH", "22342", "Tischler/in", "Stendal"),
        ("Autohaus Krüger KG", "25212", "Kraftfahrzeugmechatroniker/in", "Tangermünde"),
        ("Pflegedienst Sonnenschein", "81302", "Pflegefachmann/-frau", "Stendal"),
        ("Bäckerei Łukasz Öztürk", "29212", "Bäcker/in", "Arneburg"),
    ]
    for name, code, occupation, town in offers:
        company_id = new_id("cmp")
        opened = position(code, occupation, town, company_id=company_id)
        opened = opened.model_copy(update={"company_name": name})
        await open_position(bus, matching, opened)
        out.companies[name] = company_id
    firsts = ["Lena", "Jonas", "Mia", "Paul", "Emma", "Ben", "Hanna", "Elias", "Lea", "Noah"]
    codes = ["22342", "25212", "81302", "29212"]
    for i, first in enumerate(firsts):
        registration = applicant(
            codes[i % 4],
            "Stendal",
            first_name=first,
            last_name="Schröder" if i % 2 else "Wagner",
            email=f"{first.lower()}@example.org",
            phone="03931 123456",
            desired_occupations=[codes[i % 4], codes[(i + 1) % 4]],
            reach_km=40,
        )
        out.applicants += await register(bus, matching, registration)
    return out


def plan(people: People, **changes: object) -> PlanFair:
    ids = list(people.companies.values())
    data: dict[str, object] = {
        "title": "Bewerberbörse Stendal",
        "date": "2027-03-13",
        "venue": VENUE.model_dump(),
        "start": "09:00",
        "slot_minutes": 15,
        "n_slots": 6,
        "min_interviews": 2,
        "time_limit_s": 30,
        "companies": [
            {"company_id": ids[0], "tables": 2},
            {"company_id": ids[1]},
            {"company_id": ids[2], "slots": [0, 1, 2]},
            {"company_id": ids[3]},
        ],
        "applicants": [
            {"applicant_id": a, **({"wishes": [ids[i % 4], ids[(i + 1) % 4]]} if i < 6 else {})}
            | ({"slots": [4, 5]} if i == 9 else {})
            for i, a in enumerate(people.applicants)
        ],
    }
    data.update(changes)
    return PlanFair.model_validate(data, strict=False)


@pytest.fixture(scope="module")
async def planned(bus: Bus, matching: ServiceProcess, people: People) -> tuple[dict, dict]:
    """One fair planned from the records: the reply and the `fair.planned` body."""
    tap = await bus.tap(pattern="fair.planned")
    reply = await bus.ok(plan(people), timeout=180)
    [event] = await tap.wait_type("fair.planned", timeout=60)
    return reply, event


@pytest.fixture(scope="module")
async def planned_fair(bus: Bus, planned: tuple[dict, object]) -> Fair:
    """The planned fair as `fair.get` answers it: with the applicants' names and addresses."""
    reply, _ = planned
    return Fair.model_validate(await bus.ok(GetFair(fair_id=reply["fair_id"])), strict=False)


async def test_a_fair_is_planned_from_the_records_and_announced(
    people: People, planned: tuple[dict, object], planned_fair: Fair
) -> None:
    reply, event = planned
    assert re.fullmatch(r"fair_[0-9a-f]{20}", reply["fair_id"])
    assert reply["summary"]["proven_optimal"] is True
    assert [s["status"] for s in reply["stages"]] == ["optimal"] * len(reply["stages"])
    fair = planned_fair
    assert fair.fair_id == reply["fair_id"]
    assert fair.summary.model_dump() == reply["summary"]
    assert {c.name for c in fair.companies} == set(people.companies)
    tischler = next(c for c in fair.companies if c.name == "Tischlerei Müller GmbH")
    assert (tischler.tables, tischler.occupations) == (2, ["Tischler/in"])
    lena = next(a for a in fair.applicants if a.name == "Lena Wagner")
    assert lena.email == "lena@example.org"
    derived = [a for a in fair.applicants if a.applicant_id in people.applicants[6:]]
    assert all(a.wishes for a in derived)  # matching chose the companies that suit them
    noah = next(a for a in fair.applicants if a.name == "Noah Schröder")
    assert {i.slot for i in fair.interviews if i.applicant == noah.ref} <= {4, 5}
    # the announcement is the same fair without who the applicants are
    announced = FairPlanned.model_validate(event.data, strict=False)  # type: ignore[attr-defined]
    assert announced == FairPlanned.of(fair)
    assert event.envelope["dataschema"] == "urn:diko:schema:fair.planned:2"  # type: ignore[attr-defined]


async def test_the_announcement_names_no_applicant(
    planned: tuple[dict, object], planned_fair: Fair
) -> None:
    _, event = planned
    body = event.body.decode()  # type: ignore[attr-defined]
    assert len(event.body) < MAX_BODY // 4  # type: ignore[attr-defined]
    fair = planned_fair
    for named in fair.applicants:
        assert named.name not in body
        assert not named.email or named.email not in body
    for seat in event.data["applicants"]:  # type: ignore[attr-defined]
        assert set(seat) <= {"ref", "applicant_id", "wishes", "slots", "below_minimum"}
    assert event.data["without_address"] == sum(1 for a in fair.applicants if not a.email)  # type: ignore[attr-defined]
    assert "03931" not in body  # no phone numbers
    assert not re.search(r"home_town|reach|school|licen", body)


async def test_bad_fairs_are_refused_naming_every_field(bus: Bus, people: People) -> None:
    ids = list(people.companies.values())
    stranger = new_id("cmp")
    bad = plan(
        people,
        date=None,
        n_slots=64,
        companies=[{"company_id": ids[0]}, {"company_id": stranger}, {"company_id": ids[0]}],
        applicants=[
            {"applicant_id": people.applicants[0], "wishes": [ids[1]]},
            {"applicant_id": new_id("apl")},
            {"applicant_id": people.applicants[1], "slots": [70]},
        ],
    )
    reply = await bus.request(bad)
    assert reply["error"]["code"] == "validation_error"
    fields = {d["field"]: d["problem"] for d in reply["error"]["details"]}
    assert fields == {
        "data.date": "fehlt: der Tag der Börse (oder die ganze Börse als file)",
        "data.companies.1.company_id": (
            "unbekanntes Unternehmen: dem Matching ist keine Stelle davon bekannt"
        ),
        "data.companies.2.company_id": "Unternehmen doppelt genannt",
        "data.applicants.0.wishes.0": "Unternehmen nimmt nicht an der Börse teil",
        "data.applicants.1.applicant_id": "dem Matching nicht bekannt",
        "data.applicants.2.slots.0": "Runde 70 gibt es nicht (0 bis 63)",
        "data.n_slots": (
            "64 Gesprächsrunden zu 15 Minuten ab 09:00 Uhr enden nach Mitternacht; "
            "höchstens 60 passen in den Tag"
        ),
    }
    both = await bus.request(
        PlanFair.model_validate(
            {
                **plan(people).model_dump(mode="json"),
                "file": {"n_slots": 2, "companies": {}, "applicants": {}},
            },
            strict=False,
        )
    )
    assert both["error"]["details"][0] == {
        "field": "data.file",
        "problem": "entweder file oder companies und applicants angeben",
        "type": "validation_error",
    }


async def test_a_withdrawn_applicant_cannot_take_part(
    bus: Bus, people: People, matching: ServiceProcess
) -> None:
    [gone] = await register(bus, matching, applicant("22342", "Stendal"))
    await bus.ok(WithdrawApplicant(applicant_id=gone))
    reply = await bus.request(plan(people, applicants=[{"applicant_id": gone}]))
    assert reply["error"]["details"] == [
        {
            "field": "data.applicants.0.applicant_id",
            "problem": "hat sich zurückgezogen",
            "type": "validation_error",
        }
    ]


async def test_a_fair_given_as_a_file_names_who_falls_short_and_why(bus: Bus) -> None:
    fair_file = {
        "title": "Bewerberbörse Gardelegen",
        "date": "2027-04-10",
        "start": "10:00",
        "n_slots": 3,
        "min_interviews": 2,
        "companies": {
            "c1": {"name": "Tischlerei Müller", "slots": [0]},
            "c2": {"name": "Autohaus Krüger", "slots": [1]},
            "c3": {"name": "Pflegedienst Sonnenschein"},
        },
        "applicants": {
            "a1": {"name": "Jonas Becker", "wishes": ["c1", "c2"], "slots": [2]},
            "a2": {"name": "Mia Wolf", "wishes": ["c2", "c3"], "slots": [1, 2]},
            "a3": {"name": "Paul Richter", "wishes": ["c2", "c3"], "slots": [1]},
        },
    }
    tap = await bus.tap(pattern="fair.planned")
    venue = {"name": "Rathaus Gardelegen", "town": "Gardelegen"}
    reply = await bus.ok(PlanFair.model_validate({"venue": venue, "file": fair_file}, strict=False))
    assert reply["summary"]["worst_share"] == 0.0
    assert (reply["summary"]["below_minimum"], reply["summary"]["shortfall"]) == (2, 3)
    [event] = await tap.wait_type("fair.planned")
    below = {a["ref"]: a["below_minimum"] for a in event.data["applicants"]}
    assert below["a1"] == {
        "needed": 2,
        "interviews": 0,
        "missing": [
            {"company": "c1", "reason": "no_common_slot"},
            {"company": "c2", "reason": "no_common_slot"},
        ],
    }
    assert below["a3"]["missing"] == [{"company": "c2", "reason": "company_full"}]
    assert below["a2"] is None
    assert not any("email" in a or "name" in a for a in event.data["applicants"])
    assert event.data["without_address"] == 3


# -- what people see ---------------------------------------------------------------------


async def test_the_timetables_read_well_on_a_phone_and_a_desktop(
    eyes: Eyes, matching: ServiceProcess, planned_fair: Fair
) -> None:
    fair = planned_fair
    base = f"{matching.base_url}/fairs/{fair.fair_id}"
    lena = next(a for a in fair.applicants if a.name == "Lena Wagner")
    tischler = next(c for c in fair.companies if c.name == "Tischlerei Müller GmbH")
    pages = {
        "overview": (
            base,
            ["Übersicht für das Team", "Stufen der Optimierung", "Bewiesen optimal"],
        ),
        "companies": (
            f"{base}/unternehmen.html",
            ["Zeitplan des Unternehmens", "Tisch 2", "Bäckerei Łukasz Öztürk"],
        ),
        "applicants": (
            f"{base}/bewerber.html",
            ["Zeitplan für Lena Wagner", "Samstag, 13. März 2027", "die du dir gewünscht hast"],
        ),
        "lena": (
            f"{base}/bewerber/{lena.ref}.html",
            [
                "Zeitplan für Lena Wagner",
                "Berufsbildende Schulen Stendal, Scharnhorststraße 40, 39576 Stendal",
            ],
        ),
        "tischler": (
            f"{base}/unternehmen/{tischler.ref}.html",
            ["Tischlerei Müller GmbH", "Ausbildung: Tischler/in", "09:00–09:15"],
        ),
    }
    for name, (url, phrases) in pages.items():
        for width in (PHONE, DESKTOP):
            look = await eyes.look(url, f"fair-{name}-{width}", width=width)
            look.assert_sound()
            look.assert_shows(*phrases)
    mine = [i for i in fair.interviews if i.applicant == lena.ref]
    look = await eyes.look(f"{base}/bewerber/{lena.ref}.html", "fair-lena-times")
    look.assert_shows(*(f"{i.starts}–{i.ends}" for i in mine))
    missing = await eyes.look(f"{base}/bewerber/apl_00000000000000000000.html", "fair-missing")
    assert missing.status == 404


async def test_the_pdf_timetables_print_names_times_and_tables(
    matching: ServiceProcess, planned_fair: Fair
) -> None:
    fair = planned_fair
    base = f"{matching.base_url}/fairs/{fair.fair_id}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for side, count, phrase in (
        ("unternehmen", len(fair.companies), "Zeitplan des Unternehmens"),
        ("bewerber", len(fair.applicants), "Dein Zeitplan"),
    ):
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.get(f"{base}/{side}.pdf")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        pdf = pdfium.PdfDocument(response.content)
        assert len(pdf) == count  # one page each
        for n in range(len(pdf)):
            page = pdf[n]
            text = page.get_textpage().get_text_bounded()
            assert phrase in text
            assert "Samstag, 13. März 2027" in text.replace("\xa0", " ")
            if n == 0:
                page.render(scale=2).to_pil().save(SCREENSHOTS / f"fair-{side}-pdf.png")
    bakery = next(c for c in fair.companies if c.name.startswith("Bäckerei"))
    async with httpx.AsyncClient(timeout=60) as client:
        single = await client.get(f"{base}/unternehmen/{bakery.ref}.pdf")
    text = pdfium.PdfDocument(single.content)[0].get_textpage().get_text_bounded()
    assert "Bäckerei Łukasz Öztürk" in text
    names = {a.ref: a.name for a in fair.applicants}
    for interview in (i for i in fair.interviews if i.company == bakery.ref):
        assert names[interview.applicant] in text


async def test_each_person_gets_a_calendar_in_berlin_time(
    matching: ServiceProcess, planned_fair: Fair
) -> None:
    fair = planned_fair
    base = f"{matching.base_url}/fairs/{fair.fair_id}"
    companies = {c.ref: c.name for c in fair.companies}
    for person in fair.applicants:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{base}/bewerber/{person.ref}.ics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(response.content)
        assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Berlin"]
        mine = sorted(
            (i for i in fair.interviews if i.applicant == person.ref), key=lambda i: i.slot
        )
        events = sorted(calendar.events, key=lambda e: e.start)
        assert len(events) == len(mine)
        for interview, ev in zip(mine, events, strict=True):
            hours, minutes = (int(x) for x in interview.starts.split(":"))
            assert ev.start == datetime(2027, 3, 13, hours, minutes, tzinfo=BERLIN)
            assert ev.end - ev.start == timedelta(minutes=15)
            assert (
                ev.get("summary")
                == f"Gespräch mit {companies[interview.company]}, Tisch {interview.table}"
            )
            assert "Berufsbildende Schulen Stendal" in str(ev.get("location"))
        assert len({str(ev.get("uid")) for ev in events}) == len(events)
