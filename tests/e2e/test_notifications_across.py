"""Notifications with the real services around it: companies' follow-ups and contact
persons, matching's applicants, decisions and withdrawals, read back from Mailpit."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta

import httpx

from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import (
    AddContact,
    Address,
    OpenPosition,
    RecordConsultation,
    RegisterCompany,
)
from diko_shared.contract.matching import RegisterApplicant, WithdrawApplicant
from diko_shared.contract.notifications import ListDeliveries, RegisterStaff, Responsibilities
from harness.bus import Bus
from harness.mailpit import Mailpit
from harness.waiting import eventually

from .conftest import System

ACCEPT_LINE = re.compile(r"Vorschlag annehmen: (\S+)")
FORM = re.compile(r'<form method="post"(?: action="([^"]*)")?>')
GARTNER = Occupation(code="12142", name="Gärtner/in Garten- und Landschaftsbau")


def unique(word: str) -> str:
    return f"{word}-{secrets.token_hex(3)}"


async def staff_in(bus: Bus, name: str, town: str) -> tuple[str, str]:
    email = f"{unique(name.split()[0].lower())}@diko.example"
    reply = await bus.ok(
        RegisterStaff(
            name=name, email=email, responsibilities=Responsibilities(municipalities=[town])
        )
    )
    return reply["staff_id"], email


async def company_with_trainer(bus: Bus, name: str, town: str, postcode: str) -> tuple[str, str]:
    """A company registered in companies with an Ausbilder/in who has an address."""
    company = await bus.ok(
        RegisterCompany(
            name=f"{name} {secrets.token_hex(2)}",
            address=Address(street="Markt 1", postcode=postcode, town=town),
            industry="Gartenbau",
        )
    )
    trainer = f"{unique('ausbildung')}@gaertnerei.example"
    await bus.ok(
        AddContact(
            company_id=company["company_id"],
            name="Rosa Beet",
            role="Ausbilder/in",
            email=trainer,
        )
    )
    return company["company_id"], trainer


async def test_a_follow_up_recorded_in_companies_reminds_the_staff_member(
    system: System, bus: Bus, mailpit: Mailpit
) -> None:
    staff_id, email = await staff_in(bus, "Frieda Folge", "Tangerhütte")
    company_id, _ = await company_with_trainer(bus, "Gärtnerei Folge", "Tangerhütte", "39517")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    await bus.ok(
        RecordConsultation(
            company_id=company_id,
            held_on=yesterday,
            staff_id=staff_id,
            topics=["Website"],
            next_steps="Angebot für eine mobile Website besprechen.",
            follow_up_on=yesterday,
        )
    )
    [summary] = await mailpit.wait_for(f"to:{email}", timeout=60)
    mail = await mailpit.message(summary["ID"])
    assert mail["Subject"].startswith("Wiedervorlage: Gärtnerei Folge")
    assert "Angebot für eine mobile Website besprechen." in mail["Text"]


async def test_a_placement_by_link_reaches_the_trainer_and_the_applicant_from_matching(
    system: System, bus: Bus, mailpit: Mailpit
) -> None:
    """The accept link in the proposal mail, matching's decision, and the placement mails:
    notifications asks matching for the applicant's address (`applicant.get`)."""
    staff_id, email = await staff_in(bus, "Paul Platz", "Arneburg")
    company_id, trainer = await company_with_trainer(bus, "Gärtnerei Platz", "Arneburg", "39606")
    start = date(datetime.now(UTC).year + 1, 8, 1)
    pupil = f"{unique('mila')}@example.org"
    applicant = await bus.ok(
        RegisterApplicant(
            first_name="Mila",
            last_name="Grün",
            email=pupil,
            home_town="Arneburg",
            reach_km=10,
            school_certificate="realschule",
            desired_occupations=[GARTNER.code],
            earliest_start=date(start.year, 7, 1),
        )
    )
    await bus.ok(
        OpenPosition(
            company_id=company_id,
            occupation=GARTNER,
            places=1,
            start_date=start,
            town="Arneburg",
            school_certificate="hauptschule",
        )
    )
    [summary] = await mailpit.wait_for(f"to:{email}", timeout=90)
    offer = await mailpit.message(summary["ID"])
    assert "Mila Grün" in offer["Text"]
    [link] = ACCEPT_LINE.findall(offer["Text"])
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(link)
        form = FORM.search(page.text)
        assert form is not None, page.text
        decided = await http.post(link)
        assert decided.status_code == 200, decided.text
        assert "angenommen" in decided.text

    # the trainer is also asked to approve the position's Instagram post (media)
    [to_trainer] = await mailpit.wait_for(f"to:{trainer} subject:Vermittlung", timeout=60)
    company_mail = await mailpit.message(to_trainer["ID"])
    assert company_mail["Subject"] == "Vermittlung: Mila Grün für Ihre Ausbildungsstelle"
    assert "Paul Platz vom DIKO-Team meldet sich bis " in company_mail["Text"]
    [to_pupil] = await mailpit.wait_for(f"to:{pupil}", timeout=60)
    young = await mailpit.message(to_pupil["ID"])
    assert young["Subject"].endswith("möchte dich kennenlernen")
    assert "Rosa Beet" in young["Text"]

    log = await bus.ok(ListDeliveries(recipient_id=applicant["applicant_id"]))
    assert [(d["recipient_kind"], d["status"]) for d in log["deliveries"]] == [
        ("applicant", "sent")
    ]
    assert staff_id


async def test_an_applicant_withdrawn_in_matching_revokes_the_link_in_the_mail(
    system: System, bus: Bus, mailpit: Mailpit
) -> None:
    _, email = await staff_in(bus, "Wilma Weg", "Klietz")
    company_id, _ = await company_with_trainer(bus, "Gärtnerei Weg", "Klietz", "39524")
    start = date(datetime.now(UTC).year + 1, 8, 1)
    applicant = await bus.ok(
        RegisterApplicant(
            first_name="Jonas",
            last_name="Fort",
            home_town="Klietz",
            reach_km=10,
            school_certificate="realschule",
            desired_occupations=[GARTNER.code],
            earliest_start=date(start.year, 7, 1),
        )
    )
    await bus.ok(
        OpenPosition(
            company_id=company_id,
            occupation=GARTNER,
            places=1,
            start_date=start,
            town="Klietz",
            school_certificate="hauptschule",
        )
    )
    [summary] = await mailpit.wait_for(f"to:{email}", timeout=90)
    [link] = ACCEPT_LINE.findall((await mailpit.message(summary["ID"]))["Text"])
    withdrawn = await bus.ok(
        WithdrawApplicant(applicant_id=applicant["applicant_id"], reason="found_elsewhere")
    )
    assert len(withdrawn["withdrawn_proposals"]) == 1

    async with httpx.AsyncClient(timeout=30) as http:

        async def revoked() -> str | None:
            page = (await http.get(link)).text
            return page if "Vorschlag zurückgezogen" in page else None

        page = await eventually(revoked, timeout=60, what="the revoked page")
        assert "<form" not in page
