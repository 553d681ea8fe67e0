"""What each timetable shows, worked out once for the HTML, the PDF and the .ics.

From the contract's `Fair`: per company every round with who sits at each table, per
applicant their appointments in time order and the wishes without one, and for staff
the fair's numbers with everyone below their minimum and why. German throughout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from diko_matching.fairs.model import clock
from diko_shared.contract.matching import Fair, FairApplicantPlan, FairCompanyPlan
from diko_shared.german import NBSP, long_date

WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")

#: Why a wish got no interview, for staff.
MISSING_TEXT = {
    "no_common_slot": "kein gemeinsamer Zeitraum",
    "company_full": "alle Tische belegt",
    "busy": "in den gemeinsamen Runden schon andere Gespräche",
    "not_scheduled": "nicht eingeplant (Planung vorzeitig beendet)",
}

STAGE_TEXT = {
    "optimal": "optimal",
    "time_limit": "Zeitlimit erreicht",
    "time_limit_no_solution": "Zeitlimit, keine Lösung",
    "not_run": "nicht gelaufen",
    "failed": "fehlgeschlagen",
}


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    free: bool = False


@dataclass(frozen=True, slots=True)
class Round:
    starts: str
    ends: str
    cells: list[Cell]

    @property
    def time(self) -> str:
        return f"{self.starts}–{self.ends}"


@dataclass(frozen=True, slots=True)
class CompanyTimetable:
    ref: str
    name: str
    occupations: list[str]
    tables: int
    rounds: list[Round]
    interviews: int


@dataclass(frozen=True, slots=True)
class Appointment:
    slot: int
    starts: str
    ends: str
    company: str
    occupations: list[str]
    table: int
    wish_rank: int

    @property
    def time(self) -> str:
        return f"{self.starts}–{self.ends}"


@dataclass(frozen=True, slots=True)
class ApplicantTimetable:
    ref: str
    name: str
    email: str | None
    appointments: list[Appointment]
    without: list[str]  # names of wished companies without an appointment
    wishes: int


@dataclass(frozen=True, slots=True)
class Shortfall:
    name: str
    ref: str
    interviews: int
    needed: int
    missing: list[tuple[str, str]]  # (company name, why)


def day_line(fair: Fair) -> str:
    """„Samstag, 13. März 2027 · 16 Gesprächsrunden zu je 15 Minuten, 09:00 bis 13:00 Uhr“."""
    rounds = "1 Gesprächsrunde zu" if fair.n_slots == 1 else f"{fair.n_slots} Gesprächsrunden zu je"
    minutes = "1 Minute" if fair.slot_minutes == 1 else f"{fair.slot_minutes} Minuten"
    end = clock(fair.start, fair.n_slots * fair.slot_minutes)
    times = f"{rounds} {minutes}, {fair.start} bis {end}{NBSP}Uhr"
    if fair.date is None:
        return times
    return f"{WEEKDAYS[fair.date.weekday()]}, {long_date(fair.date, space=NBSP)} · {times}"


def venue_line(fair: Fair) -> str | None:
    venue = fair.venue
    if venue is None:
        return None
    parts = [venue.name, venue.street, " ".join(x for x in (venue.postcode, venue.town) if x)]
    return ", ".join(p for p in parts if p)


def company_timetables(fair: Fair) -> list[CompanyTimetable]:
    names = {a.ref: a.name for a in fair.applicants}
    booked = {
        (i.company, i.slot, i.table): names.get(i.applicant, i.applicant) for i in fair.interviews
    }
    out = []
    for company in sorted(fair.companies, key=lambda c: (c.name.casefold(), c.ref)):
        present = set(range(fair.n_slots)) if company.slots is None else set(company.slots)
        rounds = []
        for slot in range(fair.n_slots):
            cells = []
            for table in range(1, company.tables + 1):
                who = booked.get((company.ref, slot, table))
                if who is not None:
                    cells.append(Cell(who))
                else:
                    cells.append(Cell("frei" if slot in present else "nicht anwesend", free=True))
            rounds.append(
                Round(
                    clock(fair.start, slot * fair.slot_minutes),
                    clock(fair.start, (slot + 1) * fair.slot_minutes),
                    cells,
                )
            )
        count = sum(1 for i in fair.interviews if i.company == company.ref)
        out.append(
            CompanyTimetable(
                company.ref, company.name, company.occupations, company.tables, rounds, count
            )
        )
    return out


def applicant_timetables(fair: Fair) -> list[ApplicantTimetable]:
    companies = {c.ref: c for c in fair.companies}
    out = []
    for applicant in sorted(fair.applicants, key=lambda a: (a.name.casefold(), a.ref)):
        mine = sorted(
            (i for i in fair.interviews if i.applicant == applicant.ref), key=lambda i: i.slot
        )
        appointments = [
            Appointment(
                slot=i.slot,
                starts=i.starts,
                ends=i.ends,
                company=companies[i.company].name,
                occupations=companies[i.company].occupations,
                table=i.table,
                wish_rank=i.wish_rank,
            )
            for i in mine
        ]
        met = {i.company for i in mine}
        without = [companies[c].name for c in applicant.wishes if c not in met]
        out.append(
            ApplicantTimetable(
                applicant.ref,
                applicant.name,
                applicant.email,
                appointments,
                without,
                len(applicant.wishes),
            )
        )
    return out


def shortfalls(fair: Fair) -> list[Shortfall]:
    companies = {c.ref: c.name for c in fair.companies}
    return [
        Shortfall(
            name=a.name,
            ref=a.ref,
            interviews=a.below_minimum.interviews,
            needed=a.below_minimum.needed,
            missing=[
                (companies.get(m.company, m.company), MISSING_TEXT[m.reason])
                for m in a.below_minimum.missing
            ],
        )
        for a in sorted(fair.applicants, key=lambda a: (a.name.casefold(), a.ref))
        if a.below_minimum is not None
    ]


def percent(share: float | None) -> str:
    return "–" if share is None else f"{round(share * 100)}{NBSP}%"


def company(fair: Fair, ref: str) -> FairCompanyPlan | None:
    return next((c for c in fair.companies if c.ref == ref), None)


def applicant(fair: Fair, ref: str) -> FairApplicantPlan | None:
    return next((a for a in fair.applicants if a.ref == ref), None)


def starts_at(fair: Fair, slot: int) -> dt.datetime | None:
    """When a slot starts, in Berlin's time (None for a fair without a date)."""
    from zoneinfo import ZoneInfo

    if fair.date is None:
        return None
    hours, minutes = (int(x) for x in fair.start.split(":"))
    first = dt.datetime.combine(fair.date, dt.time(hours, minutes), ZoneInfo(fair.timezone))
    return first + dt.timedelta(minutes=slot * fair.slot_minutes)
