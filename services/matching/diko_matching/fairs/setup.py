"""A fair to plan, from matching's records or from a file, checked as staff need it.

From records (`companies`, `applicants` of `fair.plan`): a company takes part under the
name its positions carry (the name `company.updated` or a merge gave it last) and
shows the occupations of its open positions; an applicant takes part with the name and
e-mail address matching holds. An applicant without wishes gets the fair's companies
whose open positions suit them best (at most `max_wishes`, by the engine's score).

From a file (`file`, what `diko match fair` reads): ids and names as given.

Every problem of the message is named in one German answer, with the field it is in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from diko_matching import choosing, domain, eligibility
from diko_matching.engine.fair_instance import DAY_MINUTES, FairInstance
from diko_matching.index import Index, PositionEntry
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import PlanFair, Venue
from diko_shared.messaging.errors import Invalid


@dataclass(frozen=True, slots=True)
class CompanyAtFair:
    ref: str
    company_id: str | None
    name: str
    tables: int
    slots: list[int] | None
    occupations: list[str]


@dataclass(frozen=True, slots=True)
class ApplicantAtFair:
    ref: str
    applicant_id: str | None
    name: str
    email: str | None
    wishes: list[str]
    slots: list[int] | None


@dataclass(frozen=True)
class FairSetup:
    """Everything about a fair but its plan."""

    title: str
    date: dt.date | None
    venue: Venue | None
    start: str
    slot_minutes: int
    n_slots: int
    min_interviews: int
    companies: list[CompanyAtFair]
    applicants: list[ApplicantAtFair]

    def instance(self) -> FairInstance:
        """The engine's input."""
        return FairInstance.model_validate(
            {
                "title": self.title,
                "date": self.date,
                "start": self.start,
                "slot_minutes": self.slot_minutes,
                "n_slots": self.n_slots,
                "min_interviews": self.min_interviews,
                "companies": {
                    c.ref: {"name": c.name, "tables": c.tables, "slots": c.slots}
                    for c in self.companies
                },
                "applicants": {
                    a.ref: {"name": a.name, "wishes": a.wishes, "slots": a.slots}
                    for a in self.applicants
                },
            }
        )


class _Problems:
    def __init__(self) -> None:
        self.details: list[ErrorDetail] = []

    def add(self, field: str, problem: str) -> None:
        self.details.append(ErrorDetail(field=field, problem=problem))

    def raise_any(self) -> None:
        if self.details:
            listed = "; ".join(f"{d.field}: {d.problem}" for d in self.details[:5])
            more = f" (und {len(self.details) - 5} weitere)" if len(self.details) > 5 else ""
            raise Invalid(f"{len(self.details)} ungültige Angabe(n): {listed}{more}", self.details)


def fair_setup(data: PlanFair, index: Index, policy: domain.Policy) -> FairSetup:
    """The fair a `fair.plan` describes; `Invalid` naming every problem otherwise."""
    problems = _Problems()
    if data.file is not None:
        if data.companies or data.applicants:
            problems.add("data.file", "entweder file oder companies und applicants angeben")
        setup = _from_file(data, problems)
    else:
        setup = _from_records(data, index, policy, problems)
    _check_day(setup, "data.file" if data.file is not None else "data", problems)
    problems.raise_any()
    return setup


def _check_day(setup: FairSetup, where: str, problems: _Problems) -> None:
    hours, minutes = (int(x) for x in setup.start.split(":"))
    first = hours * 60 + minutes
    if first >= DAY_MINUTES:
        problems.add(f"{where}.start", "der Tag beginnt spätestens um 23:59")
        return
    if first + setup.n_slots * setup.slot_minutes > DAY_MINUTES:
        fit = (DAY_MINUTES - first) // setup.slot_minutes
        problems.add(
            f"{where}.n_slots",
            f"{setup.n_slots} Gesprächsrunden zu {setup.slot_minutes} Minuten ab {setup.start} "
            f"Uhr enden nach Mitternacht; höchstens {fit} passen in den Tag",
        )


def _slots(
    slots: list[int] | None, n_slots: int, where: str, problems: _Problems
) -> list[int] | None:
    if slots is None:
        return None
    seen: set[int] = set()
    for j, t in enumerate(slots):
        if not 0 <= t < n_slots:
            problems.add(f"{where}.{j}", f"Runde {t} gibt es nicht (0 bis {n_slots - 1})")
        elif t in seen:
            problems.add(f"{where}.{j}", f"Runde {t} doppelt genannt")
        seen.add(t)
    return sorted(seen & set(range(n_slots)))


def _from_file(data: PlanFair, problems: _Problems) -> FairSetup:
    file = data.file
    assert file is not None
    companies = [
        CompanyAtFair(
            ref=ref,
            company_id=None,
            name=c.name or ref,
            tables=c.tables,
            slots=_slots(c.slots, file.n_slots, f"data.file.companies.{ref}.slots", problems),
            occupations=[],
        )
        for ref, c in file.companies.items()
    ]
    applicants = []
    for ref, a in file.applicants.items():
        where = f"data.file.applicants.{ref}"
        seen: set[str] = set()
        for j, c in enumerate(a.wishes):
            if c not in file.companies:
                problems.add(f"{where}.wishes.{j}", f"unbekanntes Unternehmen {c!r}")
            elif c in seen:
                problems.add(f"{where}.wishes.{j}", f"Unternehmen {c!r} doppelt gewünscht")
            seen.add(c)
        applicants.append(
            ApplicantAtFair(
                ref=ref,
                applicant_id=None,
                name=a.name or ref,
                email=None,
                wishes=[c for c in dict.fromkeys(a.wishes) if c in file.companies],
                slots=_slots(a.slots, file.n_slots, f"{where}.slots", problems),
            )
        )
    return FairSetup(
        title=file.title,
        date=file.date,
        venue=data.venue,
        start=file.start,
        slot_minutes=file.slot_minutes,
        n_slots=file.n_slots,
        min_interviews=file.min_interviews,
        companies=companies,
        applicants=applicants,
    )


def _from_records(
    data: PlanFair, index: Index, policy: domain.Policy, problems: _Problems
) -> FairSetup:
    if data.date is None:
        problems.add("data.date", "fehlt: der Tag der Börse (oder die ganze Börse als file)")
    if not data.companies:
        problems.add("data.companies", "mindestens ein Unternehmen angeben")
    companies: list[CompanyAtFair] = []
    positions: dict[str, list[PositionEntry]] = {}
    for i, entry in enumerate(data.companies):
        where = f"data.companies.{i}"
        own = [index.positions[x] for x in sorted(index.by_company.get(entry.company_id, ()))]
        if not own:
            problems.add(
                f"{where}.company_id",
                "unbekanntes Unternehmen: dem Matching ist keine Stelle davon bekannt",
            )
            continue
        if any(c.ref == entry.company_id for c in companies):
            problems.add(f"{where}.company_id", "Unternehmen doppelt genannt")
            continue
        open_ = [p for p in own if p.status == "open"]
        positions[entry.company_id] = open_
        companies.append(
            CompanyAtFair(
                ref=entry.company_id,
                company_id=entry.company_id,
                name=own[0].company_name,
                tables=entry.tables,
                slots=_slots(entry.slots, data.n_slots, f"{where}.slots", problems),
                occupations=sorted({p.occupation.name for p in open_}),
            )
        )
    refs = {c.ref for c in companies}
    applicants: list[ApplicantAtFair] = []
    for i, entry in enumerate(data.applicants):
        where = f"data.applicants.{i}"
        person = index.applicants.get(entry.applicant_id)
        if person is None:
            problems.add(f"{where}.applicant_id", "dem Matching nicht bekannt")
            continue
        if person.status == "withdrawn":
            problems.add(f"{where}.applicant_id", "hat sich zurückgezogen")
            continue
        held = person.held(eligibility.berlin_today())
        if held == eligibility.GUARDIAN_CONSENT_MISSING:
            problems.add(f"{where}.applicant_id", eligibility.HELD_TEXT[held])
            continue
        if any(a.ref == entry.applicant_id for a in applicants):
            problems.add(f"{where}.applicant_id", "doppelt genannt")
            continue
        if entry.wishes is None:
            wishes = _derived_wishes(person, companies, positions, policy, data.max_wishes)
        else:
            wishes = []
            for j, company_id in enumerate(entry.wishes):
                if company_id not in refs:
                    problems.add(f"{where}.wishes.{j}", "Unternehmen nimmt nicht an der Börse teil")
                elif company_id in wishes:
                    problems.add(f"{where}.wishes.{j}", "Unternehmen doppelt gewünscht")
                else:
                    wishes.append(company_id)
        applicants.append(
            ApplicantAtFair(
                ref=entry.applicant_id,
                applicant_id=entry.applicant_id,
                name=person.name,
                email=None if held else person.email,  # unconfirmed: no timetable by mail
                wishes=wishes,
                slots=_slots(entry.slots, data.n_slots, f"{where}.slots", problems),
            )
        )
    return FairSetup(
        title=data.title,
        date=data.date,
        venue=data.venue,
        start=data.start,
        slot_minutes=data.slot_minutes,
        n_slots=data.n_slots,
        min_interviews=data.min_interviews,
        companies=companies,
        applicants=applicants,
    )


def _derived_wishes(
    person: object,
    companies: list[CompanyAtFair],
    positions: dict[str, list[PositionEntry]],
    policy: domain.Policy,
    most: int,
) -> list[str]:
    """The fair's companies whose open positions suit the applicant best, best first."""
    offered = [p for c in companies for p in positions.get(c.ref, [])]
    ranked = choosing.rank_for_applicant(person, offered, policy.weights, len(offered))  # type: ignore[arg-type]
    company_of = {p.position_id: p.company_id for p in offered}
    wishes: list[str] = []
    for position_id, _ in ranked:
        company_id = company_of[position_id]
        if company_id not in wishes:
            wishes.append(company_id)
        if len(wishes) == most:
            break
    return wishes
