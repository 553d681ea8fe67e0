"""Notifications reach the right people, the way they want: through the broker, with the
e-mails read back from a Mailpit of this module's own and their links followed.

One service process on its own database, a test clock (`DIKO_TEST_CLOCK`) moved by the
tests, a team address, and a Mailpit that refuses (550) every address outside `.example`
and `.org`. Each test works in a municipality of its own, so that the staff of one test
are not responsible for another's mail.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from notifications_helpers import (
    BAECKER,
    PrivateMailpit,
    address,
    fresh,
    matching_fairs,
    position,
    proposal,
    proposed,
    publish,
    responder,
)
from PIL import Image
from pymongo import AsyncMongoClient

from diko_notifications.preferences import BERLIN
from diko_shared import due
from diko_shared.contract.companies import (
    CompanyRegistered,
    ConsentChanged,
    ContactAdded,
    FollowUpContact,
    FollowUpDue,
    PositionFilled,
)
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import (
    ApplicantUpdated,
    ApplicantWithdrawn,
    Fair,
    FairApplicantPlan,
    FairCompanyPlan,
    FairInterview,
    FairNumbers,
    FairPlanned,
    FairPlannedV1,
    MatchAccepted,
    MatchDeclined,
    MatchWithdrawn,
    Venue,
)
from diko_shared.contract.media import EpisodePublished
from diko_shared.contract.notifications import (
    GetStaff,
    KindSetting,
    ListDeliveries,
    NoticeAction,
    NoticeRecipient,
    QuietHours,
    RecordBounce,
    RegisterStaff,
    Responsibilities,
    SendNotification,
    SetPreferences,
)
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing
from harness.browser import PHONE, Eyes, Look
from harness.bus import Bus, Tap
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually

SECRET = secrets.token_urlsafe(32)
CLOCK = "people"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/actions/[A-Za-z0-9._-]+")
UNSUBSCRIBE = re.compile(r"<(http://127\.0\.0\.1:\d+/unsubscribe/[A-Za-z0-9._-]+)>")
PREFERENCES = re.compile(r'href="(http://127\.0\.0\.1:\d+/preferences/[A-Za-z0-9._-]+)"')


@dataclass
class People:
    process: ServiceProcess
    mailpit: PrivateMailpit
    db: Any
    team: str
    base: str

    async def mails_to(
        self, email: str, count: int = 1, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        found = await self.mailpit.client.wait_for(f"to:{email}", count=count, timeout=timeout)
        return [await self.mailpit.client.message(m["ID"]) for m in found]

    async def none_to(self, email: str) -> bool:
        return await self.mailpit.client.search(f"to:{email}") == []

    async def at(self, moment: datetime) -> None:
        """Move the service's clock to `moment`."""
        await due.set_test_clock(self.db, CLOCK, moment)


@pytest.fixture(scope="module")
async def people(
    stack: SessionStack, mongo: AsyncMongoClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[People]:
    mailpit = PrivateMailpit(Path(tmp_path_factory.mktemp("people-mailpit")))
    await mailpit.start()
    database = stack.database("notifications_people")
    team = address("team")
    port = 18043
    env = stack.service_env(
        "notifications",
        DIKO_MONGO_DATABASE=database,
        DIKO_SMTP_PORT=str(mailpit.smtp_port),
        DIKO_LINK_SECRET=SECRET,
        DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DIKO_TEAM_EMAIL=team,
        DIKO_TEST_CLOCK=CLOCK,
        DIKO_DUE_LEASE_S="3",
    )
    process = ServiceProcess("notifications-people", "diko_notifications", port, env)
    process.start()
    try:
        yield People(process, mailpit, mongo[database], team, process.base_url)
    finally:
        process.stop()
        await mailpit.close()


@pytest.fixture
async def events(bus: Bus, people: People) -> Tap:
    return await bus.tap(topology.EVENTS.name, "#")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def staff(bus: Bus, name: str, email: str, **responsibilities: list[str]) -> str:
    reply = await bus.ok(
        RegisterStaff(name=name, email=email, responsibilities=Responsibilities(**responsibilities))
    )
    return str(reply["staff_id"])


async def deliveries(bus: Bus, **query: Any) -> list[dict[str, Any]]:
    return (await bus.ok(ListDeliveries(**query)))["deliveries"]


HREF = re.compile(r'href="([^"]+)"')


async def look_at_mail(eyes: Eyes, people: People, mail: dict[str, Any], name: str) -> Look:
    """An e-mail's HTML as a mail client shows it: sound, a phone's width and a real height,
    and every link of ours answering (the action, preference and unsubscribe pages)."""
    look = await eyes.look(people.mailpit.view(mail["ID"]), name, width=PHONE)
    look.assert_sound()
    with Image.open(look.screenshot) as shot:
        assert shot.width == PHONE
        assert shot.height > 500, "the whole mail, not a blank strip"
    ours = [unescape(h) for h in HREF.findall(mail["HTML"]) if h.startswith(people.base)]
    assert ours, "every mail links its preference and unsubscribe pages"
    async with httpx.AsyncClient(timeout=30.0) as client:
        for url in ours:
            answer = await client.get(url)
            assert answer.status_code == 200, f"{url} answered {answer.status_code}"
    return look


# -- who gets what --------------------------------------------------------------------------


async def test_proposals_go_to_the_staff_responsible_and_the_rest_to_the_team(
    bus: Bus, people: People, events: Tap, eyes: Eyes
) -> None:
    wood = address("wood")
    gardelegen = address("gardelegen")
    wood_id = await staff(
        bus, "Wiebke Holz", wood, municipalities=["Stendal"], occupation_fields=["22"]
    )
    await staff(bus, "Gero Garde", gardelegen, municipalities=["Gardelegen"])
    company = f"Tischlerei Stendal {uuid.uuid4().hex[:4]}"
    stendal = position(company, "Stendal")
    salzwedel = position(f"Bäckerei Salzwedel {uuid.uuid4().hex[:4]}", "Salzwedel", BAECKER)
    event = proposed(
        proposal(stendal, 1, "Lena Schröder", "Osterburg (Altmark)"),
        proposal(stendal, 2, "Jonas Becker", "Tangermünde"),
        proposal(salzwedel, 1, "Mia Krüger", "Arendsee (Altmark)"),
    )
    event_id = await publish(bus, "match.proposed", event, "matching")

    (mail,) = await people.mails_to(wood)
    assert mail["Subject"] == f"Neue Vorschläge für Tischler/in bei {company} (Stendal)"
    assert "Lena Schröder" in mail["Text"]
    assert "Jonas Becker" in mail["Text"]
    assert "Mia Krüger" not in mail["Text"], "the bakery in Salzwedel is not hers"
    assert len(LINK.findall(mail["Text"])) == 4
    (team_mail,) = [m for m in await people.mails_to(people.team) if "Salzwedel" in m["Subject"]]
    assert "Mia Krüger" in team_mail["Text"]
    assert "Lena Schröder" not in team_mail["Text"]

    async def all_sent() -> list[dict[str, Any]] | None:
        """The log says `sent` once SMTP's answer is recorded, a moment after Mailpit has it."""
        logged = await deliveries(bus, event_id=event_id)
        sent = {d["email"] for d in logged if d["status"] == "sent"}
        return logged if sent == {d["email"] for d in logged} == {wood, people.team} else None

    logged = await eventually(all_sent, what="both deliveries logged as sent")
    assert all(d["status"] == "sent" for d in logged)
    assert await people.none_to(gardelegen)

    filled = PositionFilled(
        position_id=fresh("pos"),
        company_id=fresh("cmp"),
        company_name="Bäckerei Garde",
        occupation=BAECKER,
        places=1,
        town="Gardelegen",
        start_date=date(2027, 8, 1),
    )
    await publish(bus, "position.filled", filled, "companies")
    (garde,) = await people.mails_to(gardelegen)
    assert (
        garde["Subject"] == "Ausbildungsstelle besetzt: Bäcker/in bei Bäckerei Garde (Gardelegen)"
    )
    assert (await bus.ok(GetStaff(staff_id=wood_id)))["responsibilities"] == {
        "districts": [],
        "municipalities": ["Stendal"],
        "occupation_fields": ["22"],
    }


async def test_unknown_places_in_responsibilities_are_refused_in_german(
    bus: Bus, people: People
) -> None:
    reply = await bus.request(
        RegisterStaff(
            name="Ute Unbekannt",
            email=address("ute"),
            responsibilities=Responsibilities(districts=["Landkreis Atlantis"]),
        )
    )
    assert reply["ok"] is False
    assert reply["error"]["code"] == "validation_error"
    assert reply["error"]["details"][0]["field"] == "data.responsibilities.districts[0]"
    assert (
        "„Landkreis Atlantis“ ist im Ortsverzeichnis nicht bekannt"
        in reply["error"]["details"][0]["problem"]
    )


async def test_mail_in_quiet_hours_waits_until_they_end(
    bus: Bus, people: People, events: Tap
) -> None:
    night_owl = address("quiet")
    owl_id = await staff(bus, "Nora Still", night_owl, municipalities=["Tangerhütte"])
    await bus.ok(
        SetPreferences(staff_id=owl_id, quiet_hours=QuietHours(start="19:00", end="07:00"))
    )
    await people.at(datetime(2027, 1, 12, 22, 0, tzinfo=BERLIN))
    event = proposed(
        proposal(position("Holzbau Still", "Tangerhütte"), 1, "Tom Ruhe", "Tangerhütte")
    )
    event_id = await publish(bus, "match.proposed", event, "matching")

    async def held() -> list[dict[str, Any]]:
        return [d for d in await deliveries(bus, event_id=event_id) if d["status"] == "held"]

    (waiting,) = await eventually(held, what="the held delivery")
    assert datetime.fromisoformat(waiting["held_until"]) == datetime(
        2027, 1, 13, 7, 0, tzinfo=BERLIN
    )
    assert await people.none_to(night_owl)

    await people.at(datetime(2027, 1, 13, 7, 0, 5, tzinfo=BERLIN))
    (mail,) = await people.mails_to(night_owl)
    assert mail["Subject"] == "Neuer Vorschlag für Tischler/in bei Holzbau Still (Tangerhütte)"
    (done,) = await deliveries(bus, event_id=event_id)
    assert done["status"] == "sent"
    assert done["delivery_id"] == waiting["delivery_id"]


async def test_a_daily_digest_gathers_what_is_pending_and_leaves_out_what_was_decided(
    bus: Bus, people: People, events: Tap, eyes: Eyes
) -> None:
    dora, emil = address("dora"), address("emil")
    dora_id = await staff(bus, "Dora Sammel", dora, municipalities=["Arneburg"])
    emil_id = await staff(bus, "Emil Leer", emil, municipalities=["Bismark (Altmark)"])
    for staff_id in (dora_id, emil_id):
        await bus.ok(
            SetPreferences(
                staff_id=staff_id,
                kinds=[
                    KindSetting(kind="match.proposed", mode="digest"),
                    KindSetting(kind="position.filled", mode="digest"),
                ],
                digest_hour=7,
            )
        )
    await people.at(datetime(2027, 1, 20, 10, 0, tzinfo=BERLIN))
    arneburg = position("Zimmerei Elbe", "Arneburg")
    first = proposal(arneburg, 1, "Paula Fluss", "Arneburg")
    second = proposal(arneburg, 2, "Karl Deich", "Stendal")
    await publish(bus, "match.proposed", proposed(first, second), "matching")
    filled = PositionFilled(
        position_id=fresh("pos"),
        company_id=fresh("cmp"),
        company_name="Schlosserei Arneburg",
        occupation=BAECKER,
        places=2,
        town="Arneburg",
        start_date=date(2027, 9, 1),
    )
    await publish(bus, "position.filled", filled, "companies")
    bismark = proposal(
        position("Gärtnerei Bismark", "Bismark (Altmark)"), 1, "Ida Blatt", "Bismark (Altmark)"
    )
    bismark_event = await publish(bus, "match.proposed", proposed(bismark), "matching")

    async def queued_for(email: str, n: int) -> bool:
        return len([d for d in await deliveries(bus, email=email) if d["status"] == "digest"]) >= n

    await eventually(lambda: queued_for(dora, 2), what="Dora's items in the digest")
    await eventually(lambda: queued_for(emil, 1), what="Emil's item in the digest")
    # Second was declined, and Emil's only proposal accepted, before the digests leave.
    for done, kind in ((second, "match.declined"), (bismark, "match.accepted")):
        await publish(
            bus,
            kind,
            MatchAccepted(
                proposal_id=done.proposal_id,
                position_id=done.position.position_id,
                company_id=done.position.company_id,
                applicant_id=done.applicant.applicant_id,
            ),
            "matching",
        )
    await eventually(
        lambda: _decided(people, [second.proposal_id, bismark.proposal_id]), what="the decisions"
    )
    assert await people.none_to(dora)

    await people.at(datetime(2027, 1, 21, 7, 0, 5, tzinfo=BERLIN))
    (mail,) = await people.mails_to(dora)
    assert (
        mail["Subject"]
        == "Ihre Übersicht vom 21.\u00a0Januar 2027: ein Vorschlag und eine besetzte Stelle"
    )
    assert "Paula Fluss" in mail["Text"]
    assert "Karl Deich" not in mail["Text"]
    assert "Schlosserei Arneburg" in mail["Text"]
    assert len(LINK.findall(mail["Text"])) == 2
    (sent,) = await events.wait_for(
        lambda m: m.routing_key == "digest.sent" and m.data["staff_id"] == dora_id
    )
    assert sent.data["period"] == "2027-01-21"
    assert {(i["kind"], i["count"]) for i in sent.data["items"]} == {
        ("match.proposed", 1),
        ("position.filled", 1),
    }
    await look_at_mail(eyes, people, mail, "mail-digest")

    async def emil_done() -> bool:
        logged = await deliveries(bus, event_id=bismark_event)
        return bool(logged) and logged[0]["status"] == "suppressed"

    await eventually(emil_done, what="Emil's empty digest dropped")
    assert await people.none_to(emil), "an empty digest is not sent"


async def _decided(people: People, ids: list[str]) -> bool:
    found = [await people.db["proposals"].find_one({"_id": i}) for i in ids]
    return all(doc is not None and doc.get("decision") for doc in found)


# -- companies' contact persons and applicants ------------------------------------------------


async def company_with_contacts(
    bus: Bus, people: People, town: str, *contacts: tuple[str, str | None, str | None]
) -> tuple[str, list[str]]:
    """A company in `town` with contact persons (name, role, e-mail), as companies tells,
    once the service has taken in its copy of each (events of other queues come later)."""
    company_id = fresh("cmp")
    name = f"Tischlerei {town.split()[0]} {uuid.uuid4().hex[:4]}"
    await publish(
        bus,
        "company.registered",
        CompanyRegistered(company_id=company_id, name=name, town=town, postcode="39576"),
        "companies",
    )
    ids = []
    for contact_name, role, email in contacts:
        contact_id = fresh("cnt")
        await publish(
            bus,
            "contact.added",
            ContactAdded(
                contact_id=contact_id,
                company_id=company_id,
                name=contact_name,
                role=role,
                email=email,
            ),  # type: ignore[arg-type]
            "companies",
        )
        ids.append(contact_id)

    async def copied() -> bool:
        found = await people.db["contacts"].count_documents({"_id": {"$in": ids}})
        company = await people.db["companies"].find_one({"_id": company_id})
        return found == len(ids) and company is not None

    await eventually(copied, what="the company and its contact persons copied")
    return company_id, ids


async def test_an_accepted_match_tells_the_company_contact_and_the_applicant(
    bus: Bus, people: People, events: Tap, eyes: Eyes
) -> None:
    birte = address("birte")
    birte_id = await staff(bus, "Birte Albrecht", birte, municipalities=["Seehausen (Altmark)"])
    trainer, owner, lena = (
        address("jana", "tischlerei.example"),
        address("chef", "tischlerei.example"),
        address("lena", "example.org"),
    )
    company_id, (trainer_id, _) = await company_with_contacts(
        bus,
        people,
        "Seehausen (Altmark)",
        ("Jana Müller", "Ausbilder/in", trainer),
        ("Karl Müller", "Inhaber/in", owner),
    )
    where = position("Tischlerei Müller", "Seehausen (Altmark)", company_id=company_id)
    chosen = proposal(where, 1, "Lena Schröder", "Osterburg (Altmark)")
    await publish(bus, "match.proposed", proposed(chosen), "matching")
    await people.mails_to(birte)

    async def applicant(data: dict[str, Any]) -> dict[str, Any]:
        if data["applicant_id"] != chosen.applicant.applicant_id:
            return {
                "ok": False,
                "error": {"code": "not_found", "message": "unbekannt", "details": []},
            }
        return {
            "ok": True,
            "data": {
                "applicant_id": data["applicant_id"],
                "first_name": "Lena",
                "last_name": "Schröder",
                "email": lena,
                "home_town": "Osterburg (Altmark)",
                "reach_km": 30.0,
                "driving_licence": False,
                "school_certificate": "realschule",
                "desired_occupations": ["22342"],
                "earliest_start": "2027-08-01",
                "status": "placed",
            },
        }

    async with responder(bus, "matching.applicant.get", applicant) as asked:
        await publish(
            bus,
            "match.accepted",
            MatchAccepted(
                proposal_id=chosen.proposal_id,
                position_id=where.position_id,
                company_id=company_id,
                applicant_id=chosen.applicant.applicant_id,
                decided_by=birte_id,
            ),
            "matching",
        )
        mails = await people.mails_to(trainer)
        assert len(mails) == 1, [(m["Subject"], m["To"], m["MessageID"]) for m in mails]
        (company_mail,) = mails
        (young,) = await people.mails_to(lena)
    assert {"applicant_id": chosen.applicant.applicant_id} in asked
    assert await people.none_to(owner), "the trainer, not the owner, hears about apprentices"
    assert company_mail["Subject"] == "Vermittlung: Lena Schröder für Ihre Ausbildungsstelle"
    text = company_mail["Text"]
    assert "Guten Tag Jana Müller," in text
    assert "haben wir Lena Schröder aus Osterburg (Altmark) vermittelt" in text
    assert "Birte Albrecht vom DIKO-Team meldet sich bis " in text
    assert birte in text
    assert young["Subject"].endswith("möchte dich kennenlernen")
    assert "Hallo Lena," in young["Text"]
    assert "Jana Müller (Ausbilder/in)" in young["Text"]
    assert (
        "wir schicken sie dir auch, wenn du sonst keine Nachrichten von uns möchtest"
        in young["Text"]
    )
    headers = await people.mailpit.headers(company_mail["ID"])
    assert headers["List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    assert UNSUBSCRIBE.fullmatch(headers["List-Unsubscribe"][0].strip())
    logged = await deliveries(bus, recipient_id=trainer_id)
    assert [(d["recipient_kind"], d["status"]) for d in logged] == [("contact", "sent")]
    await look_at_mail(eyes, people, company_mail, "mail-placement-company")
    look = await look_at_mail(eyes, people, young, "mail-placement-applicant")
    look.assert_shows("Wie geht es weiter?", "Wir drücken dir die Daumen!")


async def test_a_fair_sends_each_contact_and_applicant_their_timetable_with_an_ics(
    bus: Bus, people: People, eyes: Eyes
) -> None:
    olaf = address("olaf")
    await staff(bus, "Olaf Börse", olaf, municipalities=["Osterburg (Altmark)"])
    contact_email, anna, ben = (
        address("ausbilder", "tischlerei.example"),
        address("anna", "example.org"),
        address("ben", "example.org"),
    )
    company_id, _ = await company_with_contacts(
        bus, people, "Osterburg (Altmark)", ("Uwe Hobel", "Ausbilder/in", contact_email)
    )
    apl_a, apl_b = fresh("apl"), fresh("apl")
    fair = Fair(
        fair_id=fresh("fair"),
        title="Bewerberbörse Osterburg",
        date=date(2027, 3, 13),
        venue=Venue(
            name="Rathaus Osterburg",
            street="Ernst-Thälmann-Straße 10",
            postcode="39606",
            town="Osterburg (Altmark)",
        ),
        start="09:00",
        slot_minutes=15,
        n_slots=8,
        min_interviews=1,
        summary=FairNumbers(
            applicants=3,
            companies=1,
            slots=8,
            interviews=2,
            wishes=3,
            granted_weight=2.0,
            possible_weight=3.0,
            worst_share=0.0,
            below_minimum=1,
            shortfall=1,
            proven_optimal=True,
            levels=[],
        ),
        stages=[],
        companies=[
            FairCompanyPlan(
                ref=company_id,
                company_id=company_id,
                name="Tischlerei Hobel",
                tables=1,
                occupations=["Tischler/in"],
            )
        ],
        applicants=[
            FairApplicantPlan(
                ref=apl_a, applicant_id=apl_a, name="Anna Stein", email=anna, wishes=[company_id]
            ),
            FairApplicantPlan(
                ref=apl_b, applicant_id=apl_b, name="Ben Brett", email=ben, wishes=[company_id]
            ),
            FairApplicantPlan(ref="x1", name="Carl Ohnemail", wishes=[company_id]),
        ],
        interviews=[
            FairInterview(
                applicant=apl_b,
                company=company_id,
                slot=1,
                table=1,
                starts="09:15",
                ends="09:30",
                wish_rank=1,
            ),
            FairInterview(
                applicant=apl_a,
                company=company_id,
                slot=0,
                table=1,
                starts="09:00",
                ends="09:15",
                wish_rank=1,
            ),
        ],
    )
    announced = FairPlanned.of(fair)
    assert "Anna Stein" not in announced.model_dump_json(), "the event names no applicant"
    async with matching_fairs(bus, fair) as asked:
        await publish(bus, "fair.planned", announced, "matching")
        (company_mail,) = await people.mails_to(contact_email)
    assert asked == [{"fair_id": fair.fair_id}], "the names and addresses come from matching"
    assert company_mail["Subject"] == "Ihr Zeitplan: Bewerberbörse Osterburg"
    assert re.search(r"09:00–09:15\s+Tisch 1\s+Anna Stein", company_mail["Text"])
    assert company_mail["Text"].index("Anna Stein") < company_mail["Text"].index("Ben Brett")
    (attachment,) = company_mail["Attachments"]
    assert attachment["FileName"] == "bewerberboerse.ics"
    calendar = Calendar.from_ical(
        await people.mailpit.part(company_mail["ID"], attachment["PartID"])
    )
    starts = sorted(e.decoded("dtstart") for e in calendar.walk("VEVENT"))
    assert starts == [
        datetime(2027, 3, 13, 9, 0, tzinfo=BERLIN),
        datetime(2027, 3, 13, 9, 15, tzinfo=BERLIN),
    ]
    (anna_mail,) = await people.mails_to(anna)
    assert anna_mail["Subject"] == "Dein Zeitplan für die Bewerberbörse Osterburg"
    assert "Hallo Anna," in anna_mail["Text"]
    assert "Tischlerei Hobel" in anna_mail["Text"]
    assert "Ben Brett" not in anna_mail["Text"], "an applicant sees only their own interviews"
    (staff_mail,) = await people.mails_to(olaf)
    assert (
        staff_mail["Subject"]
        == "Bewerberbörse geplant: Bewerberbörse Osterburg am 13.\u00a0März 2027"
    )
    assert (
        "Eine Bewerberin oder ein Bewerber hat weniger Gespräche als vorgesehen"
        in staff_mail["Text"]
    )
    assert "Eine Person hat keine E-Mail-Adresse bei uns" in staff_mail["Text"]
    await look_at_mail(eyes, people, company_mail, "mail-fair-company")
    await look_at_mail(eyes, people, anna_mail, "mail-fair-applicant")
    await look_at_mail(eyes, people, staff_mail, "mail-fair-staff")


async def test_a_follow_up_reminds_the_staff_member_who_recorded_the_consultation(
    bus: Bus, people: People, eyes: Eyes
) -> None:
    hanna = address("hanna")
    hanna_id = await staff(bus, "Hanna Rat", hanna, municipalities=["Havelberg"])
    event = FollowUpDue(
        consultation_id=fresh("cns"),
        company_id=fresh("cmp"),
        company_name="Elektro Havelberg GmbH",
        staff_id=hanna_id,
        held_on=date(2026, 11, 20),
        follow_up_on=date(2027, 1, 15),
        topics=["Website", "Instagram"],
        next_steps="Angebot für eine mobile Website einholen.",
        contact=FollowUpContact(contact_id=fresh("cnt"), name="Jens Strom", phone="039387 1234"),
    )
    await publish(bus, "consultation.follow_up_due", event, "companies")
    (mail,) = await people.mails_to(hanna)
    assert mail["Subject"] == "Wiedervorlage: Elektro Havelberg GmbH"
    assert "Angebot für eine mobile Website einholen." in mail["Text"]
    assert "Jens Strom, Telefon 039387 1234" in mail["Text"]
    await look_at_mail(eyes, people, mail, "mail-follow-up")


# -- notification.send ------------------------------------------------------------------------


async def test_a_notice_goes_out_once_per_key_and_optional_ones_need_consent(
    bus: Bus, people: People, eyes: Eyes
) -> None:
    contact = address("freigabe", "tischlerei.example")
    company_id, (contact_id,) = await company_with_contacts(
        bus, people, "Tangermünde", ("Rita Rahmen", "Marketing", contact)
    )
    key = f"post-approval/{uuid.uuid4().hex}"
    notice = SendNotification(
        idempotency_key=key,
        to=NoticeRecipient(company_id=company_id),
        subject="Ihr Beitrag wartet auf Ihre Freigabe",
        paragraphs=[
            "wir haben einen Instagram-Beitrag für Ihren Betrieb vorbereitet.",
            "Bitte sehen Sie ihn sich an.",
        ],
        action=NoticeAction(
            label="Beitrag ansehen und freigeben",
            url="https://media.diko.example/posts/approve/abc",
        ),
        reason="Sie sind für Ihren Betrieb die Ansprechperson für Beiträge bei DIKO.",
    )
    first = await bus.ok(notice)
    assert (first["status"], first["duplicate"]) == ("sent", False)
    again = await bus.ok(notice.model_copy(update={"subject": "Anders formuliert"}))
    assert again == {**first, "duplicate": True}
    (mail,) = await people.mails_to(contact)
    assert mail["Subject"] == "Ihr Beitrag wartet auf Ihre Freigabe"
    assert 'href="https://media.diko.example/posts/approve/abc"' in mail["HTML"]
    assert len(await people.mailpit.client.search(f"to:{contact}")) == 1, (
        "the key made the repeat a no-op"
    )
    await look_at_mail(eyes, people, mail, "mail-notice")

    optional = SendNotification(
        idempotency_key=f"newsletter/{uuid.uuid4().hex}",
        to=NoticeRecipient(contact_id=contact_id),
        subject="Neuigkeiten aus dem Netzwerk",
        paragraphs=["es gibt Neues."],
        transactional=False,
    )
    refused = await bus.ok(optional)
    assert refused["status"] == "suppressed", "no newsletter consent"
    await publish(
        bus,
        "company.consent_changed",
        ConsentChanged(
            company_id=company_id,
            contact_id=contact_id,
            purpose="newsletter",
            status="given",
            declared_at=datetime.now(UTC),
        ),
        "companies",
    )

    async def consented() -> bool:
        doc = await people.db["contacts"].find_one({"_id": contact_id})
        return bool(doc and (doc.get("consents") or {}).get("newsletter") == "given")

    await eventually(consented, what="the consent copied")
    allowed = await bus.ok(
        optional.model_copy(update={"idempotency_key": f"newsletter/{uuid.uuid4().hex}"})
    )
    assert allowed["status"] == "sent"

    unknown = await bus.request(
        notice.model_copy(
            update={"idempotency_key": "x", "to": NoticeRecipient(company_id=fresh("cmp"))}
        )
    )
    assert unknown["ok"] is False
    assert unknown["error"]["code"] == "not_found"


async def test_contact_persons_kept_before_companies_listed_them_are_found_after_a_start(
    bus: Bus, people: People
) -> None:
    """Copies of an earlier version sit only in `contacts` (a company's mail found them by
    reading the whole collection): the next start lists them under their company."""
    company_id, contact_id = fresh("cmp"), fresh("cnt")
    contact = address("ines", "tischlerei.example")
    await people.db["companies"].insert_one(
        {"_id": company_id, "name": "Tischlerei Berg", "town": "Osterburg (Altmark)"}
    )
    await people.db["contacts"].insert_one(
        {"_id": contact_id, "company_id": company_id, "name": "Ines Berg",
         "role": "Ausbilder/in", "email": contact, "preferred_channel": "email"}
    )  # fmt: skip
    people.process.stop()
    people.process.start()
    listed = await people.db["companies"].find_one({"_id": company_id})
    assert listed is not None
    assert listed["contact_ids"] == [contact_id]
    notice = SendNotification(
        idempotency_key=f"listed/{uuid.uuid4().hex}",
        to=NoticeRecipient(company_id=company_id),
        subject="Ihre Stellenanzeige ist online",
        paragraphs=["Ihre Stellenanzeige steht jetzt auf der Website."],
    )
    assert (await bus.ok(notice))["status"] == "sent"
    (mail,) = await people.mails_to(contact)
    assert "Guten Tag Ines Berg," in mail["Text"]


async def test_subscriptions_of_release_1_1_become_preferences_at_the_next_start(
    bus: Bus, people: People
) -> None:
    """Release 1.1 kept `staff.subscribe` in `subscriptions`, which every fan-out then read
    beside the preferences: a start adopts them as preferences and removes them. A member
    who has preferences keeps those, as before; one who is gone gets none."""
    legacy_id = await staff(bus, "Karin Vogt", address("karin"), municipalities=["Aland"])
    chosen_id = await staff(bus, "Ole Brandt", address("ole"), municipalities=["Aland"])
    await bus.ok(
        SetPreferences(staff_id=chosen_id, kinds=[KindSetting(kind="position.filled", mode="off")])
    )
    await people.db["subscriptions"].insert_many(
        [
            {"_id": legacy_id, "topics": ["position.filled"], "mode": "digest"},
            {"_id": chosen_id, "topics": ["position.filled"], "mode": "immediate"},
            {"_id": (gone_id := fresh("stf")), "topics": ["match.proposed"], "mode": "digest"},
        ]
    )
    people.process.stop()
    people.process.start()
    assert await people.db["subscriptions"].count_documents({}) == 0
    assert await people.db["preferences"].find_one({"_id": gone_id}) is None

    def modes(reply: dict[str, Any]) -> dict[str, str]:
        return {k["kind"]: k["mode"] for k in reply["preferences"]["kinds"]}

    legacy = modes(await bus.ok(GetStaff(staff_id=legacy_id)))
    assert legacy["position.filled"] == "digest"
    assert legacy["match.proposed"] == legacy["episode.published"] == "off"
    assert modes(await bus.ok(GetStaff(staff_id=chosen_id)))["position.filled"] == "off"


# -- bounces ----------------------------------------------------------------------------------


async def test_a_permanent_refusal_marks_the_address_and_tells_the_responsible_staff_once(
    bus: Bus, people: People, events: Tap, eyes: Eyes
) -> None:
    klara = address("klara")
    await staff(bus, "Klara Kümmer", klara, municipalities=["Kalbe (Milde)"])
    gone = f"weg-{uuid.uuid4().hex[:8]}@betrieb.example.net"
    _, (contact_id,) = await company_with_contacts(
        bus, people, "Kalbe (Milde)", ("Otto Fort", "Ausbilder/in", gone)
    )
    notice = SendNotification(
        idempotency_key=f"bounce/{uuid.uuid4().hex}",
        to=NoticeRecipient(contact_id=contact_id),
        subject="Ein Hinweis",
        paragraphs=["Bitte prüfen Sie Ihre Angaben."],
    )
    first = await bus.ok(notice)
    assert first["status"] == "failed"
    (failed,) = await events.wait_for(
        lambda m: m.routing_key == "notification.failed" and m.data["recipient_id"] == contact_id
    )
    assert failed.data["permanent"] is True
    assert failed.data["undeliverable"] is True
    assert failed.data["error"].startswith("550")
    (told,) = await people.mails_to(klara)
    assert told["Subject"] == "E-Mail-Adresse nicht zustellbar: Otto Fort"
    assert gone in told["Text"]
    assert "Ansprechperson von Tischlerei Kalbe" in told["Text"]
    await look_at_mail(eyes, people, told, "mail-bounce")

    second = await bus.ok(
        notice.model_copy(update={"idempotency_key": f"bounce/{uuid.uuid4().hex}"})
    )
    assert (second["status"], second["error"]) == ("failed", "die Adresse ist unzustellbar")
    await events.fence()
    assert len(await people.mailpit.client.search(f"to:{klara}")) == 1, "told once"


def delivery_report(original: bytes, recipient: str, status: str, action: str) -> str:
    """A relay's delivery status notification (RFC 3464) about `original`, as Postfix
    writes one: a text for people, the status per recipient, the original returned."""
    return (
        "From: MAILER-DAEMON@relay.diko.example\r\n"
        "To: diko@diko.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        '\tboundary="0815/relay.diko.example"\r\n'
        "\r\n"
        "--0815/relay.diko.example\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message could not be delivered to one or more recipients.\r\n"
        "\r\n"
        "--0815/relay.diko.example\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; relay.diko.example\r\n"
        "Arrival-Date: Thu, 3 Dec 2026 10:00:00 +0100\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mx.betrieb.example\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} <{recipient}>:\r\n"
        "    Recipient address rejected: User unknown in local recipient table\r\n"
        "\r\n"
        "--0815/relay.diko.example\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n" + original.decode("ascii") + "\r\n"
        "--0815/relay.diko.example--\r\n"
    )


async def test_a_bounce_after_the_relay_took_the_mail_stops_mail_to_that_address(
    bus: Bus, people: People, events: Tap, eyes: Eyes
) -> None:
    """Mailpit takes every mail; the relay's later report (RFC 3464) comes back as
    `notification.record_bounce` with the original mail returned, as relays send it."""
    tilo = address("tilo")
    tilo_id = await staff(bus, "Tilo Tanger", tilo, municipalities=["Tangermünde"])
    later = f"spaeter-{uuid.uuid4().hex[:8]}@betrieb.example"
    _, (contact_id,) = await company_with_contacts(
        bus, people, "Tangermünde", ("Ida Später", "Ausbilder/in", later)
    )
    notice = SendNotification(
        idempotency_key=f"dsn/{uuid.uuid4().hex}",
        to=NoticeRecipient(contact_id=contact_id),
        subject="Ihre Angaben im Ausbildungsnetzwerk",
        paragraphs=["Bitte prüfen Sie Ihre Angaben."],
    )
    first = await bus.ok(notice)
    assert first["status"] == "sent", "Mailpit took it"
    (taken,) = await people.mails_to(later)
    original = await people.mailpit.raw(taken["ID"])
    report = delivery_report(original, later, "5.1.1", "failed")

    recorded = await bus.ok(RecordBounce(report=report))
    (bounce,) = recorded["bounces"]
    assert bounce == {
        "email": later,
        "status": "5.1.1",
        "permanent": True,
        "delivery_id": first["delivery_id"],
        "undeliverable": True,
        "staff_told": [tilo_id],
    }
    (failed,) = await events.wait_for(
        lambda m: (
            m.routing_key == "notification.failed" and m.data["delivery_id"] == first["delivery_id"]
        )
    )
    assert (failed.data["permanent"], failed.data["undeliverable"]) == (True, True)
    assert failed.data["error"].startswith("5.1.1 smtp; 550 5.1.1")
    (logged,) = await deliveries(bus, recipient_id=contact_id)
    assert (logged["status"], logged["permanent"]) == ("bounced", True)
    assert "User unknown" in logged["error"]

    (told,) = await people.mails_to(tilo)
    assert told["Subject"] == "E-Mail-Adresse nicht zustellbar: Ida Später"
    assert later in told["Text"]
    assert "5.1.1" in told["Text"]
    await look_at_mail(eyes, people, told, "mail-bounce-reported")

    again = await bus.ok(RecordBounce(report=report))
    assert again["bounces"][0]["staff_told"] == [], "told once per address"
    assert again["bounces"][0]["undeliverable"] is True
    next_notice = await bus.ok(
        notice.model_copy(update={"idempotency_key": f"dsn/{uuid.uuid4().hex}"})
    )
    assert (next_notice["status"], next_notice["error"]) == (
        "failed",
        "die Adresse ist unzustellbar",
    )
    await events.fence()
    assert len(await people.mailpit.client.search(f"to:{tilo}")) == 1
    assert len(await people.mailpit.client.search(f"to:{later}")) == 1, "no mail after it"


async def test_a_temporary_bounce_is_noted_and_mail_goes_on(bus: Bus, people: People) -> None:
    """A `delayed` report (4.x.x): the relay still tries; nothing is marked or stopped."""
    full = f"voll-{uuid.uuid4().hex[:8]}@betrieb.example"
    notice = SendNotification(
        idempotency_key=f"dsn/{uuid.uuid4().hex}",
        to=NoticeRecipient(email=full, name="Frau Voll"),
        subject="Ein Hinweis",
        paragraphs=["Bitte prüfen Sie Ihre Angaben."],
    )
    first = await bus.ok(notice)
    (taken,) = await people.mails_to(full)
    headers = await people.mailpit.headers(taken["ID"])
    recorded = await bus.ok(
        RecordBounce(
            email=full,
            status="4.2.2",
            diagnostic="smtp; 452 4.2.2 Mailbox full",
            message_id=headers["Message-Id"][0],
        )
    )
    assert recorded["bounces"] == [
        {
            "email": full,
            "status": "4.2.2",
            "permanent": False,
            "delivery_id": first["delivery_id"],
            "undeliverable": False,
            "staff_told": [],
        }
    ]
    (logged,) = await deliveries(bus, email=full)
    assert (logged["status"], logged["error"]) == ("sent", "4.2.2 smtp; 452 4.2.2 Mailbox full")
    second = await bus.ok(notice.model_copy(update={"idempotency_key": f"dsn/{uuid.uuid4().hex}"}))
    assert second["status"] == "sent"
    await people.mails_to(full, count=2)


async def test_a_report_that_is_no_delivery_status_is_refused_in_german(
    bus: Bus, people: People
) -> None:
    reply = await bus.request(
        RecordBounce(report="From: someone@example.org\nSubject: Urlaub\n\nIch bin im Urlaub.\n")
    )
    assert reply["ok"] is False
    assert reply["error"]["code"] == "validation_error"
    (detail,) = reply["error"]["details"]
    assert (detail["field"], detail["problem"]) == ("data.report", "kein message/delivery-status")
    assert "keine Zustellstatusmeldung" in reply["error"]["message"]
    body = new_envelope(
        "notification.record_bounce", {"email": "a@betrieb.example"}, source="tests"
    )
    half = await bus.request_raw("notification.record_bounce", json.dumps(body).encode())
    assert half["ok"] is False
    assert half["error"]["code"] == "validation_error"


# -- unsubscribing and the preference page ----------------------------------------------------


async def test_one_click_unsubscribe_switches_the_kind_off_and_the_team_takes_over(
    bus: Bus, people: People, http: httpx.AsyncClient, eyes: Eyes
) -> None:
    paul = address("paul")
    paul_id = await staff(bus, "Paul Abmelder", paul, municipalities=["Werben (Elbe)"])
    first = proposed(
        proposal(position("Fischerei Werben", "Werben (Elbe)"), 1, "Greta Hecht", "Werben (Elbe)")
    )
    await publish(bus, "match.proposed", first, "matching")
    (mail,) = await people.mails_to(paul)
    headers = await people.mailpit.headers(mail["ID"])
    (url,) = UNSUBSCRIBE.findall(headers["List-Unsubscribe"][0])

    asked = await http.get(url)
    assert asked.status_code == 200
    assert "Vermittlungsvorschläge" in asked.text
    assert (await bus.ok(GetStaff(staff_id=paul_id)))["preferences"]["kinds"][0][
        "mode"
    ] == "immediate", "GET changes nothing"
    await eyes.look(url, "page-unsubscribe-ask", width=PHONE)

    done = await http.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    assert "Sie bekommen keine E-Mails mehr zu: Vermittlungsvorschläge." in done.text
    assert (await bus.ok(GetStaff(staff_id=paul_id)))["preferences"]["kinds"][0]["mode"] == "off"

    later = proposed(
        proposal(position("Fischerei Werben", "Werben (Elbe)"), 1, "Hans Barsch", "Werben (Elbe)")
    )
    later_id = await publish(bus, "match.proposed", later, "matching")

    async def to_team() -> list[dict[str, Any]]:
        return [d for d in await deliveries(bus, event_id=later_id) if d["status"] == "sent"]

    (logged,) = await eventually(to_team, what="the next proposal delivered")
    assert logged["email"] == people.team, "nobody responsible wants it: the team gets it"
    assert len(await people.mailpit.client.search(f"to:{paul}")) == 1


async def test_the_preference_page_works_without_script_and_saves_what_is_chosen(
    bus: Bus, people: People, eyes: Eyes
) -> None:
    rosa = address("rosa")
    rosa_id = await staff(bus, "Rosa Wahl", rosa, municipalities=["Klötze"])
    await publish(
        bus,
        "match.proposed",
        proposed(proposal(position("Sägewerk Klötze", "Klötze"), 1, "Finn Ast", "Klötze")),
        "matching",
    )
    (mail,) = await people.mails_to(rosa)
    url = PREFERENCES.findall(mail["HTML"])[0]
    look = await eyes.look(url, "page-preferences-staff", width=PHONE)
    look.assert_sound()
    look.assert_shows(
        "E-Mail-Einstellungen für Rosa Wahl",
        "Vermittlungsvorschläge",
        "Ruhezeiten",
        "Einstellungen speichern",
    )

    page = await eyes.page(width=PHONE)
    try:
        await page.route("**/*", lambda route: route.continue_())
        await page.context.set_extra_http_headers({})
        await page.goto(url)
        await (
            page.get_by_role("group", name="Besetzte Ausbildungsstellen")
            .get_by_label("gesammelt in der täglichen Übersicht")
            .check()
        )
        await page.get_by_label("Die Übersicht kommt täglich um").select_option("8")
        await page.get_by_label("Ruhezeit jeden Tag").check()
        await page.get_by_label("von", exact=True).select_option("20:00")
        await page.get_by_label("bis", exact=True).select_option("06:30")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Einstellungen speichern").click()
        assert "Ihre Einstellungen sind gespeichert." in await page.inner_text("body")
    finally:
        await page.context.close()
    prefs = (await bus.ok(GetStaff(staff_id=rosa_id)))["preferences"]
    assert prefs["kinds"][1]["mode"] == "digest"
    assert prefs["digest_hour"] == 8
    assert prefs["quiet_hours"] == {"start": "20:00", "end": "06:30"}


# -- revoked action links ---------------------------------------------------------------------


async def test_a_withdrawn_proposal_revokes_its_links(
    bus: Bus, people: People, http: httpx.AsyncClient, eyes: Eyes
) -> None:
    vera = address("vera")
    await staff(bus, "Vera Zurück", vera, municipalities=["Klietz"])
    chosen = proposal(
        position("Metallbau Klietz", "Klietz"),
        1,
        "Lars Stahl",
        "Klietz",
    )
    await publish(bus, "match.proposed", proposed(chosen), "matching")
    (mail,) = await people.mails_to(vera)
    accept = LINK.findall(mail["Text"])[0]
    await publish(
        bus,
        "match.withdrawn",
        MatchWithdrawn(
            proposal_id=chosen.proposal_id,
            position_id=chosen.position.position_id,
            company_id=chosen.position.company_id,
            applicant_id=chosen.applicant.applicant_id,
            reason="applicant_withdrawn",
            text="Der Bewerber hat sich zurückgezogen.",
        ),
        "matching",
    )

    async def revoked() -> httpx.Response | None:
        page = await http.get(accept)
        return page if "Vorschlag zurückgezogen" in page.text else None

    page = await eventually(revoked, what="the revoked page")
    assert "Der Bewerber hat sich zurückgezogen." in page.text
    assert "<form" not in page.text
    await bus.drain("matching.match.decide")
    posted = await http.post(accept)
    assert posted.status_code == 409
    assert await bus.depth("matching.match.decide") == 0, "a revoked link sends nothing"
    look = await eyes.look(accept, "page-action-withdrawn", width=PHONE)
    look.assert_sound()


def small_fair(town: str, company_id: str, applicants: list[tuple[str, str, str]]) -> Fair:
    """A fair in `town`: one company, each applicant (id, name, e-mail) one interview."""
    return Fair(
        fair_id=fresh("fair"),
        title=f"Bewerberbörse {town}",
        date=date(2027, 4, 17),
        venue=Venue(name="Rathaus", street="Markt 1", postcode="39619", town=town),
        start="10:00",
        slot_minutes=20,
        n_slots=4,
        min_interviews=1,
        summary=FairNumbers(
            applicants=len(applicants),
            companies=1,
            slots=4,
            interviews=len(applicants),
            wishes=len(applicants),
            granted_weight=float(len(applicants)),
            possible_weight=float(len(applicants)),
            worst_share=1.0,
            below_minimum=0,
            shortfall=0,
            proven_optimal=True,
            levels=[],
        ),
        stages=[],
        companies=[
            FairCompanyPlan(
                ref=company_id,
                company_id=company_id,
                name="Tischlerei am See",
                tables=1,
                occupations=["Tischler/in"],
            )
        ],
        applicants=[
            FairApplicantPlan(
                ref=key, applicant_id=key, name=name, email=email, wishes=[company_id]
            )
            for key, name, email in applicants
        ],
        interviews=[
            FairInterview(
                applicant=key,
                company=company_id,
                slot=i,
                table=1,
                starts=f"10:{20 * i:02d}",
                ends=f"10:{20 * i + 20:02d}" if i < 2 else "11:00",
                wish_rank=1,
            )
            for i, (key, _, _) in enumerate(applicants)
        ],
    )


async def test_an_applicant_who_withdrew_gets_no_more_mail_until_they_come_back(
    bus: Bus, people: People, http: httpx.AsyncClient
) -> None:
    """`applicant.withdrawn` revokes the proposals it names (the page says why) and keeps
    fair timetables from them; `applicant.updated` with them active again lifts that."""
    wanda = address("wanda")
    await staff(bus, "Wanda See", wanda, municipalities=["Arendsee (Altmark)"])
    chosen = proposal(
        position("Tischlerei am See", "Arendsee (Altmark)"), 1, "Mia Weg", "Arendsee (Altmark)"
    )
    mia_id = chosen.applicant.applicant_id
    await publish(bus, "match.proposed", proposed(chosen), "matching")
    (mail,) = await people.mails_to(wanda)
    accept = LINK.findall(mail["Text"])[0]
    await publish(
        bus,
        "applicant.withdrawn",
        ApplicantWithdrawn(
            applicant_id=mia_id, reason="found_elsewhere", withdrawn_proposals=[chosen.proposal_id]
        ),
        "matching",
    )

    async def revoked() -> httpx.Response | None:
        page = await http.get(accept)
        return page if "Vorschlag zurückgezogen" in page.text else None

    page = await eventually(revoked, what="the revoked page")
    assert "hat anderswo eine Ausbildung gefunden" in page.text

    trainer = address("see-ausbilder", "tischlerei.example")
    mia, tom = address("mia", "example.org"), address("tom", "example.org")
    company_id, _ = await company_with_contacts(
        bus, people, "Arendsee (Altmark)", ("Sven Hobel", "Ausbilder/in", trainer)
    )
    tom_id = fresh("apl")
    applicants = [(mia_id, "Mia Weg", mia), (tom_id, "Tom Bleib", tom)]
    first = small_fair("Arendsee (Altmark)", company_id, applicants)
    async with matching_fairs(bus, first):
        await publish(bus, "fair.planned", FairPlanned.of(first), "matching")
        await people.mails_to(tom)
        await people.mails_to(trainer)
    assert await people.none_to(mia), "no timetable to an applicant who withdrew"

    await publish(
        bus,
        "applicant.updated",
        ApplicantUpdated(
            applicant_id=mia_id,
            changed=["status"],
            status="active",
            home_town="Arendsee (Altmark)",
            reach_km=25.0,
            driving_licence=False,
            school_certificate="realschule",
            desired_occupations=["22342"],
            earliest_start=date(2027, 8, 1),
        ),
        "matching",
    )

    async def back() -> bool:
        return await people.db["applicants"].find_one({"_id": mia_id}) is None

    await eventually(back, what="Mia active again")
    # a producer one release behind still sends version 1, with names and addresses: it is
    # read as version 2, and the names still come from matching
    second = small_fair("Arendsee (Altmark)", company_id, applicants)
    async with matching_fairs(bus, second) as asked:
        envelope = new_envelope(
            "fair.planned",
            FairPlannedV1.model_validate(second.model_dump()),
            source="matching",
            dataschema="urn:diko:schema:fair.planned:1",
        )
        await bus.publisher.publish(Outgoing.from_envelope(topology.EVENTS.name, envelope))
        (timetable,) = await people.mails_to(mia)
    assert timetable["Subject"] == "Dein Zeitplan für die Bewerberbörse Arendsee (Altmark)"
    assert asked == [{"fair_id": second.fair_id}]


# -- every staff mail and page, looked at ------------------------------------------------------


async def test_each_staff_mail_and_the_pages_behind_its_links_are_looked_at(
    bus: Bus, people: People, http: httpx.AsyncClient, eyes: Eyes
) -> None:
    """The proposal, the filled position and the podcast episode as staff get them, the
    confirmation page, the page after a decision, the preference page of a company's
    contact person and the page after a one-click unsubscribe: each a screenshot."""
    gerd = address("gerd")
    gerd_id = await staff(bus, "Gerd Gucker", gerd, municipalities=["Rochau"])
    await bus.ok(
        SetPreferences(
            staff_id=gerd_id, kinds=[KindSetting(kind="episode.published", mode="immediate")]
        )
    )
    where = position("Gärtnerei Rochau", "Rochau")
    first = proposal(where, 1, "Paula Blatt", "Rochau")
    await publish(bus, "match.proposed", proposed(first), "matching")
    (offer,) = await people.mails_to(gerd)
    assert offer["Subject"].startswith("Neuer Vorschlag")
    look = await look_at_mail(eyes, people, offer, "mail-proposal")
    look.assert_shows("Paula Blatt", "Vorschlag annehmen", "Vorschlag ablehnen")

    accept = LINK.findall(offer["Text"])[0]
    confirm = await eyes.look(accept, "page-action-confirm", width=PHONE)
    confirm.assert_sound()
    confirm.assert_shows("Paula Blatt")
    await publish(
        bus,
        "match.declined",
        MatchDeclined(
            proposal_id=first.proposal_id,
            position_id=where.position_id,
            company_id=where.company_id,
            applicant_id=first.applicant.applicant_id,
            decided_by=gerd_id,
        ),
        "matching",
    )

    async def decided() -> bool:
        return "abgelehnt" in (await http.get(accept)).text

    await eventually(decided, what="the decision on the page")
    after = await eyes.look(accept, "page-action-decided", width=PHONE)
    after.assert_sound()
    after.assert_shows("Sie haben diesen Vorschlag", "abgelehnt")
    assert "<form" not in after.text

    await publish(
        bus,
        "position.filled",
        PositionFilled(
            position_id=where.position_id,
            company_id=where.company_id,
            company_name="Gärtnerei Rochau",
            occupation=where.occupation,
            places=1,
            town="Rochau",
            start_date=date(2027, 8, 1),
        ),
        "companies",
    )
    mails = await people.mails_to(gerd, count=2)
    (filled,) = [m for m in mails if m["Subject"].startswith("Ausbildungsstelle besetzt")]
    await look_at_mail(eyes, people, filled, "mail-position-filled")

    await publish(
        bus,
        "episode.published",
        EpisodePublished(
            episode_id=fresh("epi"),
            title="DIKO trifft… die Gärtnerei Rochau",
            description="Wie ein kleiner Betrieb Auszubildende findet.",
            feed_url="https://media.diko.example/podcast/feed.xml",
            published_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        ),
        "media",
    )
    mails = await people.mails_to(gerd, count=3)
    (episode,) = [m for m in mails if "Podcast" in m["Subject"] or "DIKO trifft" in m["Subject"]]
    await look_at_mail(eyes, people, episode, "mail-episode")

    trainer = address("rochau-ausbilder", "gaertnerei.example")
    _, (contact_id,) = await company_with_contacts(
        bus, people, "Rochau", ("Rosa Beet", "Ausbilder/in", trainer)
    )
    await bus.ok(
        SendNotification(
            idempotency_key=f"look/{uuid.uuid4().hex}",
            to=NoticeRecipient(contact_id=contact_id),
            subject="Ihre Angaben im Ausbildungsnetzwerk",
            paragraphs=["bitte prüfen Sie die Angaben zu Ihrem Betrieb."],
            transactional=True,
            reason="Sie sind die Ansprechperson Ihres Betriebs bei DIKO.",
        )
    )
    (notice,) = await people.mails_to(trainer)
    page = await eyes.look(
        PREFERENCES.findall(notice["HTML"])[0], "page-preferences-contact", width=PHONE
    )
    page.assert_sound()
    headers = await people.mailpit.headers(notice["ID"])
    (url,) = UNSUBSCRIBE.findall(headers["List-Unsubscribe"][0])
    done = await eyes.look(
        url,
        "page-unsubscribe-done",
        width=PHONE,
        method="POST",
        form={"List-Unsubscribe": "One-Click"},
    )
    done.assert_sound()


# -- the delivery log -------------------------------------------------------------------------


async def test_the_delivery_log_is_queried_per_person_and_deleted_after_its_retention(
    bus: Bus, people: People
) -> None:
    """Everything the housekeeping compares is written from the service's clock, so moving
    that clock alone expires the log and the summaries. It starts later than any earlier
    test's moment, so that the hourly housekeeping (scheduled on the clock) runs."""
    start = datetime(2028, 1, 3, 12, 0, tzinfo=UTC)
    await people.at(start)
    ida = address("ida")
    await staff(bus, "Ida Log", ida, municipalities=["Beetzendorf"])
    offer = proposal(position("Hof Beetzendorf", "Beetzendorf"), 1, "Max Feld", "Beetzendorf")
    event_id = await publish(bus, "match.proposed", proposed(offer), "matching")
    await people.mails_to(ida)
    summary = await people.db["proposals"].find_one({"_id": offer.proposal_id})
    assert summary["linked_at"].replace(tzinfo=UTC) - start < timedelta(minutes=5)
    counted = {
        kind: people.process.metric("diko_retention_deleted_total", kind=kind)
        for kind in ("deliveries", "fanouts", "proposal_summaries")
    }
    (by_address,) = await deliveries(bus, email=ida.upper())
    assert by_address["event_id"] == event_id
    assert by_address["status"] == "sent"
    reply = await bus.ok(ListDeliveries(email=ida))
    assert reply["retention_days"] == 90
    assert await deliveries(bus, email=ida, since=start + timedelta(hours=1)) == []

    await people.at(start + timedelta(days=16))

    async def summary_gone() -> bool:
        return await people.db["proposals"].find_one({"_id": offer.proposal_id}) is None

    await eventually(summary_gone, timeout=60, what="the summary gone when its links expired")
    assert await deliveries(bus, email=ida) != [], "the log keeps the delivery for 90 days"

    await people.at(start + timedelta(days=92))

    async def pruned() -> bool:
        return await deliveries(bus, email=ida) == []

    await eventually(pruned, timeout=60, what="the delivery log pruned after 90 days")
    assert await people.db["fanouts"].find_one({"event_id": event_id}) is None

    async def reported() -> bool:
        return all(
            people.process.metric("diko_retention_deleted_total", kind=kind) > before
            for kind, before in counted.items()
        )

    await eventually(reported, timeout=10, what="each kind counted in the metrics")


async def test_a_summary_outlives_its_expiry_while_its_digest_waits(
    bus: Bus, people: People, http: httpx.AsyncClient
) -> None:
    """A proposal queued for a digest keeps its summary however far the clock moves before
    the digest leaves, and its links (signed then) open the page that names the applicant.
    (After the delivery log's test: the housekeeping runs when this clock moves on.)"""
    start = datetime(2028, 6, 1, 12, 0, tzinfo=BERLIN)
    await people.at(start)
    olga = address("olga")
    olga_id = await staff(bus, "Olga Warte", olga, municipalities=["Kalbe (Milde)"])
    await bus.ok(
        SetPreferences(
            staff_id=olga_id,
            kinds=[KindSetting(kind="match.proposed", mode="digest")],
            digest_hour=7,
        )
    )
    waiting = proposal(position("Hof Milde", "Kalbe (Milde)"), 1, "Rita Geduld", "Kalbe (Milde)")
    event_id = await publish(bus, "match.proposed", proposed(waiting), "matching")

    async def queued() -> bool:
        logged = await deliveries(bus, event_id=event_id, email=olga)
        return [d["status"] for d in logged] == ["digest"]

    await eventually(queued, what="the proposal waiting for Olga's digest")
    # past the summary's expiry (15 days) before the digest's hour comes round
    await people.at(start + timedelta(days=20))
    (mail,) = await people.mails_to(olga)
    assert "Rita Geduld" in mail["Text"]
    page = await http.get(LINK.findall(mail["Text"])[0])
    assert "Rita Geduld" in page.text, "the summary behind the link is still there"
    summary = await people.db["proposals"].find_one({"_id": waiting.proposal_id})
    assert summary["linked_at"].replace(tzinfo=UTC) > start + timedelta(days=19)
