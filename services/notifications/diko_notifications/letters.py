"""What the newer e-mails say: follow-up reminders, placements (to the company's contact
person and to the applicant), fair timetables, notices other services ask for, and
bounce reports. Pure: values for the templates, tested without a server.

Staff and contact persons are addressed with „Sie“; applicants, who are mostly young,
with „du“, in short sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from diko_notifications.domain import (
    NBSP,
    Attachment,
    Letter,
    berlin_date,
    german_date,
    number_word,
)
from diko_notifications.preferences import BERLIN
from diko_notifications.recipients import ContactCopy, Recipient
from diko_shared.contract.companies import FollowUpDue
from diko_shared.contract.matching import Fair, FairPlanned, FairTimetable
from diko_shared.contract.notifications import SendNotification

WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
#: How many working days a staff member takes to call after a placement.
CALL_WITHIN_WORKING_DAYS = 3
PLACEMENT_NOTE_COMPANY = (
    "Diese Nachricht betrifft eine Vermittlung für Ihren Betrieb; wir schicken sie auch, "
    "wenn Sie sonst keine Nachrichten von uns wünschen."
)
PLACEMENT_NOTE_YOUNG = (
    "Diese Nachricht gehört zu deiner Vermittlung; wir schicken sie dir auch, wenn du sonst "
    "keine Nachrichten von uns möchtest."
)
FAIR_NOTE_COMPANY = (
    "Der Zeitplan gehört zu Ihrer Teilnahme; wir schicken ihn auch, wenn Sie sonst keine "
    "Nachrichten von uns wünschen."
)
FAIR_NOTE_YOUNG = (
    "Der Zeitplan gehört zu deiner Teilnahme; wir schicken ihn dir auch, wenn du sonst keine "
    "Nachrichten von uns möchtest."
)
BOUNCE_NOTE = "Solche Hinweise schicken wir, damit keine Nachricht unbemerkt verloren geht."


def weekday_date(day: date) -> str:
    """`Freitag, 4. Dezember`: a day this week or next, as one says it."""
    return f"{WEEKDAYS[day.weekday()]}, {day.day}.{NBSP}{_month(day)}"


def _month(day: date) -> str:
    from diko_shared.german import MONTHS

    return MONTHS[day.month - 1]


def working_days_after(moment: datetime, days: int) -> date:
    """The day `days` working days (Monday to Friday) after `moment`, in Berlin."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    day = aware.astimezone(BERLIN).date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def _capital(word: str) -> str:
    return word[:1].upper() + word[1:]


def count_phrase(count: int, one: str, many: str) -> str:
    """`ein Gespräch`, `drei Gespräche`."""
    return one if count == 1 else f"{number_word(count)} {many}"


# -- follow-ups -------------------------------------------------------------------------------


def follow_up_letter(event: FollowUpDue) -> Letter:
    contact = event.contact
    return Letter(
        template="follow_up",
        subject=f"Wiedervorlage: {event.company_name}",
        kind="consultation.follow_up_due",
        values={
            "company": event.company_name,
            "held_on": german_date(event.held_on),
            "follow_up_on": german_date(event.follow_up_on),
            "topics": ", ".join(event.topics),
            "next_steps": (event.next_steps or "").strip(),
            "contact": (
                {"name": contact.name, "email": contact.email, "phone": contact.phone}
                if contact
                else None
            ),
        },
    )


# -- placements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """An accepted proposal as both its e-mails tell it."""

    company: str
    town: str
    applicant: str
    home_town: str | None
    occupation: str | None
    start: date | None
    staff_name: str
    staff_email: str
    decided_at: datetime


def placement_company_letter(placement: Placement) -> Letter:
    return Letter(
        template="placement_company",
        subject=f"Vermittlung: {placement.applicant} für Ihre Ausbildungsstelle",
        kind="placement",
        transactional=True,
        transactional_note=PLACEMENT_NOTE_COMPANY,
        values={
            "company": placement.company,
            "applicant": placement.applicant,
            "home_town": placement.home_town,
            "occupation": placement.occupation,
            "start": german_date(placement.start) if placement.start else "",
            "staff_name": placement.staff_name,
            "staff_email": placement.staff_email,
            "expect_by": weekday_date(
                working_days_after(placement.decided_at, CALL_WITHIN_WORKING_DAYS)
            ),
        },
    )


def placement_applicant_letter(placement: Placement, contact: ContactCopy | None) -> Letter:
    return Letter(
        template="placement_applicant",
        subject=f"{placement.company} möchte dich kennenlernen",
        kind="placement",
        transactional=True,
        transactional_note=PLACEMENT_NOTE_YOUNG,
        values={
            "company": placement.company,
            "town": placement.town,
            "occupation": placement.occupation,
            "start": german_date(placement.start) if placement.start else "",
            "contact": {"name": contact.name, "role": contact.role} if contact else None,
            "staff_name": placement.staff_name,
            "staff_email": placement.staff_email,
            "expect_by": weekday_date(
                working_days_after(placement.decided_at, CALL_WITHIN_WORKING_DAYS)
            ),
        },
    )


# -- fairs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairRow:
    time: str
    table: int
    with_: str
    detail: str
    starts: str
    ends: str


def fair_facts(fair: FairTimetable) -> dict[str, str]:
    venue = fair.venue
    where = ""
    if venue is not None:
        parts = [venue.name, venue.street or "", f"{venue.postcode or ''} {venue.town}".strip()]
        where = ", ".join(part for part in parts if part)
    return {
        "title": fair.title,
        "day": german_date(fair.date) if fair.date else "noch offen",
        "venue": where,
    }


def company_rows(fair: Fair, company_ref: str) -> list[FairRow]:
    """A company's interviews with the applicants' names (`fair.get` has them; the event not)."""
    names = {a.ref: a.name for a in fair.applicants}
    rows = [
        FairRow(
            time=f"{i.starts}–{i.ends}",
            table=i.table,
            with_=names.get(i.applicant, "Bewerber/in"),
            detail="",
            starts=i.starts,
            ends=i.ends,
        )
        for i in fair.interviews
        if i.company == company_ref
    ]
    return sorted(rows, key=lambda r: (r.starts, r.table))


def applicant_rows(fair: FairTimetable, applicant_ref: str) -> list[FairRow]:
    companies = {c.ref: c for c in fair.companies}
    rows = []
    for interview in fair.interviews:
        if interview.applicant != applicant_ref:
            continue
        company = companies.get(interview.company)
        rows.append(
            FairRow(
                time=f"{interview.starts}–{interview.ends}",
                table=interview.table,
                with_=company.name if company else "Betrieb",
                detail=", ".join(company.occupations) if company else "",
                starts=interview.starts,
                ends=interview.ends,
            )
        )
    return sorted(rows, key=lambda r: r.starts)


def fair_person_letter(
    fair: FairTimetable,
    rows: Sequence[FairRow],
    *,
    young: bool,
    company: str,
    calendar: bytes,
) -> Letter:
    count = (
        count_phrase(len(rows), "einen Betrieb", "Betriebe")
        if young
        else count_phrase(len(rows), "ein Gespräch", "Gespräche")
    )
    return Letter(
        template="fair_person",
        subject=(f"Dein Zeitplan für die {fair.title}" if young else f"Ihr Zeitplan: {fair.title}"),
        kind="fair",
        transactional=True,
        transactional_note=FAIR_NOTE_YOUNG if young else FAIR_NOTE_COMPANY,
        values={
            "fair": fair_facts(fair),
            "rows": [
                {"time": r.time, "table": r.table, "with": r.with_, "detail": r.detail}
                for r in rows
            ],
            "count": count,
            "young": young,
            "company": company,
        },
        attachments=(Attachment("bewerberboerse.ics", calendar, "text", "calendar"),),
    )


def fair_staff_letter(fair: FairPlanned, without_address: int) -> Letter:
    summary = fair.summary
    if summary.below_minimum == 1:
        outcome = (
            "Eine Bewerberin oder ein Bewerber hat weniger Gespräche als vorgesehen; "
            "die Gründe stehen im Plan der Börse."
        )
    elif summary.below_minimum:
        outcome = (
            f"{_capital(number_word(summary.below_minimum))} Bewerber/innen haben weniger "
            "Gespräche als vorgesehen; die Gründe stehen im Plan der Börse."
        )
    else:
        outcome = "Alle Bewerber/innen bekommen so viele Gespräche wie vorgesehen."
    missing = ""
    if without_address == 1:
        missing = "Eine Person hat keine E-Mail-Adresse bei uns; ihr Zeitplan muss anders zu ihr."
    elif without_address:
        missing = (
            f"{_capital(number_word(without_address))} Personen haben keine E-Mail-Adresse "
            "bei uns; ihr Zeitplan muss anders zu ihnen."
        )
    facts = fair_facts(fair)
    return Letter(
        template="fair_staff",
        subject=f"Bewerberbörse geplant: {fair.title} am {facts['day']}",
        kind="fair.planned",
        values={
            "fair": {
                **facts,
                "companies": summary.companies,
                "applicants": summary.applicants,
                "interviews": summary.interviews,
                "outcome": outcome,
                "without_address": missing,
            }
        },
    )


# -- notices and bounces ----------------------------------------------------------------------


def notice_letter(notice: SendNotification) -> Letter:
    action = notice.action
    return Letter(
        template="notice",
        subject=notice.subject,
        kind="notice",
        transactional=notice.transactional,
        values={
            "paragraphs": [p.strip() for p in notice.paragraphs if p.strip()],
            "action": {"label": action.label, "url": action.url} if action else None,
            "reason": notice.reason or "Sie erhalten diese E-Mail von DIKO Altmark.",
        },
    )


#: What the responsible staff member can do about an undeliverable address, per kind.
REMEDY: Mapping[str, str] = {
    "staff": "Eine neue Adresse trägt das Team mit staff.update ein.",
    "contact": "Bitte fragen Sie beim Betrieb die richtige Adresse nach und tragen Sie sie "
    "bei der Ansprechperson ein.",
    "applicant": "Bitte fragen Sie die Bewerberin oder den Bewerber nach der richtigen "
    "Adresse und tragen Sie sie im Matching ein.",
    "address": "Bitte prüfen Sie, wer diese Adresse angegeben hat.",
}


def bounce_letter(bounced: Recipient, about: str, error: str, since: datetime) -> Letter:
    who = {
        "staff": f"{bounced.name} (DIKO-Team)",
        "contact": f"{bounced.name}, Ansprechperson von {about}",
        "applicant": f"{bounced.name} (Bewerbung)",
        "address": bounced.name or bounced.email,
    }[bounced.kind]
    return Letter(
        template="bounce",
        subject=f"E-Mail-Adresse nicht zustellbar: {bounced.name or bounced.email}",
        kind="bounce",
        transactional=True,
        transactional_note=BOUNCE_NOTE,
        values={
            "who": who,
            "about": about,
            "address": bounced.email,
            "error": error,
            "since": berlin_date(since),
            "remedy": REMEDY[bounced.kind],
        },
    )
