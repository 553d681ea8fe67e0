"""The form's fields, and how a submission becomes `applicant.register` or German errors.

The form checks with the contract: the fields become a `RegisterApplicant` (pydantic, with
the contract's German texts from `contract.problems`) and then matching's own rules
(`domain.check_registration`: the gazetteer, the occupations list), so a visitor reads
the same sentence an integrator's reply carries, beside the field it is about. Only
what the contract cannot know is the form's own: the consent box, and a guardian's
consent for someone under 16.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import ValidationError

from diko_matching import domain, eligibility
from diko_shared.contract import problems
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import GuardianConsent, ProcessingConsent, RegisterApplicant
from diko_shared.german import long_date
from diko_shared.messaging.errors import Invalid
from diko_shared.occupations import load_occupations

#: The wishes a visitor can name, most wanted first.
WISHES = 3
#: The honeypot: a field people never see or fill; scripts that fill every field do.
HONEYPOT = "website"
SCHOOLS = {
    "none": "noch keinen",
    "hauptschule": "Hauptschulabschluss (Berufsreife)",
    "realschule": "Realschulabschluss (Sekundarabschluss I)",
    "abitur": "Abitur oder Fachhochschulreife",
}
REACH_KM = (10, 20, 30, 50, 80)
#: Months from which a visitor can start, counted from this one.
START_MONTHS = 24
TEXT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "home_town",
    "date_of_birth",
    "guardian_name",
    "guardian_email",
)
GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


@dataclass
class Submission:
    """What a visitor sent, as typed (shown again with the errors), and the errors by field."""

    values: dict[str, str] = field(default_factory=dict)
    wishes: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, problem: str) -> None:
        self.errors.setdefault(name, problem)


def occupation_choices() -> list[tuple[str, str]]:
    """(code, name) of every apprenticeship of the shared list, by name; one per code."""
    catalogue = load_occupations()
    return sorted(((c, catalogue.label(c)) for c in catalogue.codes()), key=lambda x: x[1])


def start_choices(today: date) -> list[tuple[str, str]]:
    """(first day, „August 2027“) of this month and the next ones."""
    months = []
    year, month = today.year, today.month
    for _ in range(START_MONTHS):
        first = date(year, month, 1)
        months.append((first.isoformat(), long_date(first).split(" ", 1)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def read(form: Mapping[str, str], wishes: list[str]) -> Submission:
    """The submission as typed: trimmed text, the wishes in order, the boxes."""
    values = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
    for name in ("reach_km", "school_certificate", "earliest_start"):
        values[name] = str(form.get(name, ""))
    for box in ("driving_licence", "privacy", "guardian_ok"):
        values[box] = "on" if form.get(box) else ""
    return Submission(values=values, wishes=[w for w in wishes if w])  # gaps closed


def parse_birth_date(text: str) -> date | str:
    """`2010-05-01` (a date field) or `1.5.2010` (typed); the German problem otherwise."""
    found = GERMAN_DATE.match(text)
    try:
        if found:
            day, month, year = (int(x) for x in found.groups())
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        return "Bitte gib dein Geburtsdatum an, zum Beispiel 01.05.2010."


def check(sub: Submission, *, privacy_version: str, now: datetime) -> RegisterApplicant | None:
    """The command the submission makes, or None with `sub.errors` filled in."""
    v = sub.values
    today = eligibility.berlin_today(now)
    born = parse_birth_date(v["date_of_birth"]) if v["date_of_birth"] else None
    if isinstance(born, str):
        sub.add("date_of_birth", born)
        born = None
    if not v["date_of_birth"]:
        sub.add("date_of_birth", "Bitte gib dein Geburtsdatum an.")
    if not v["privacy"]:
        sub.add(
            "privacy",
            "Bitte stimme den Datenschutzhinweisen zu, sonst können wir dich nicht vermitteln.",
        )
    guardian = _guardian(sub, born, privacy_version, now, today)
    data: dict[str, object] = {
        "first_name": v["first_name"],
        "last_name": v["last_name"],
        "email": v["email"] or None,
        "phone": v["phone"] or None,
        "home_town": v["home_town"],
        "reach_km": v["reach_km"] or None,
        "driving_licence": bool(v["driving_licence"]),
        "school_certificate": v["school_certificate"] or None,
        "desired_occupations": sub.wishes,
        "earliest_start": v["earliest_start"] or None,
        "date_of_birth": born,
        "guardian_consent": guardian,
        "privacy_consent": ProcessingConsent(given_at=now, privacy_version=privacy_version)
        if v["privacy"]
        else None,
        "confirm_email": True,
    }
    if not sub.wishes:
        sub.add("wish_1", "Bitte wähle mindestens einen Beruf, den du lernen möchtest.")
    if not v["email"]:
        sub.add(
            "email",
            "Bitte gib deine E-Mail-Adresse an: Wir schicken dir einen Link zur Bestätigung.",
        )
    try:
        command = RegisterApplicant.model_validate(data, strict=False)
    except ValidationError as exc:
        note(sub, problems.of(exc, ("data",)))
        if v["home_town"]:  # the gazetteer's word on the town, whatever else is wrong
            found: list[ErrorDetail] = []
            domain.town_and_occupations(v["home_town"], sub.wishes, found)
            note(sub, found)
        return None
    try:
        domain.check_registration(command)
    except Invalid as exc:
        note(sub, exc.details)
        return None
    return None if sub.errors else command


def _guardian(
    sub: Submission, born: date | None, version: str, now: datetime, today: date
) -> GuardianConsent | None:
    """The guardian's consent as recorded, required under 16 (`eligibility`)."""
    v = sub.values
    if born is None or eligibility.age_on(born, today) >= eligibility.CONSENT_AGE:
        return None
    why = f"Weil du jünger als {eligibility.CONSENT_AGE} bist"
    if not v["guardian_name"]:
        sub.add(
            "guardian_name",
            f"{why}, brauchen wir den Namen deiner Mutter, deines Vaters oder einer "
            "anderen erziehungsberechtigten Person.",
        )
    if not v["guardian_email"]:
        sub.add("guardian_email", f"{why}, brauchen wir auch ihre E-Mail-Adresse.")
    if not v["guardian_ok"]:
        sub.add(
            "guardian_ok", f"{why}, muss deine erziehungsberechtigte Person einverstanden sein."
        )
    if not (v["guardian_name"] and v["guardian_email"] and v["guardian_ok"]):
        return None
    try:
        return GuardianConsent(
            name=v["guardian_name"],
            email=v["guardian_email"],
            given_at=now,
            privacy_version=version,
        )
    except ValidationError as exc:
        note(sub, problems.of(exc, ("data", "guardian_consent")))
        return None


#: The form's field of a contract field (`data.<name>`), where the names differ.
FORM_FIELD = {
    "data.guardian_consent.name": "guardian_name",
    "data.guardian_consent.email": "guardian_email",
    "data.desired_occupations": "wish_1",
}


def note(sub: Submission, details: list[ErrorDetail]) -> None:
    """The contract's problems beside the form's fields."""
    for detail in details:
        name = FORM_FIELD.get(detail.field)
        if name is None and detail.field.startswith("data.desired_occupations."):
            name = f"wish_{int(detail.field.rsplit('.', 1)[1]) + 1}"
        if name is None:
            name = detail.field.removeprefix("data.").split(".", 1)[0]
        sub.add(name, detail.problem)
