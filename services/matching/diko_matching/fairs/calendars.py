"""An iCalendar file (.ics) per person: their interviews as events, in Berlin's time.

Written with `icalendar` (RFC 5545): one VEVENT per interview, times with the
Europe/Berlin time zone (its VTIMEZONE included, so calendars that know no zone names
place them right), a stable UID per person and slot, so that importing a changed plan
again replaces the events instead of doubling them. A fair without a date has no
calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from diko_matching.fairs import views
from diko_shared.contract.matching import Fair

PRODID = "-//DIKO Altmark//Bewerberbörse//DE"
UID_DOMAIN = "diko-altmark.de"


def _calendar(name: str) -> Calendar:
    return Calendar.new(prodid=PRODID, method="PUBLISH", name=name)


def _event(fair: Fair, uid: str, slot: int, summary: str, description: str) -> Event:
    start = views.starts_at(fair, slot)
    assert start is not None
    return Event.new(
        uid=f"{fair.fair_id}.{uid}.{slot}@{UID_DOMAIN}",
        start=start,
        end=start + timedelta(minutes=fair.slot_minutes),
        summary=summary,
        description=description,
        location=views.venue_line(fair),
        stamp=datetime.now(UTC).replace(microsecond=0),
    )


def applicant_ics(fair: Fair, ref: str) -> bytes | None:
    """The applicant's interviews, or None if the fair has no date or no such applicant."""
    timetable = next((t for t in views.applicant_timetables(fair) if t.ref == ref), None)
    if fair.date is None or timetable is None:
        return None
    calendar = _calendar(f"{fair.title}: Zeitplan für {timetable.name}")
    for a in timetable.appointments:
        occupations = f" ({', '.join(a.occupations)})" if a.occupations else ""
        calendar.add_component(
            _event(
                fair,
                f"applicant.{ref}",
                a.slot,
                f"Gespräch mit {a.company}, Tisch {a.table}",
                f"{fair.title}: Gespräch mit {a.company}{occupations} an Tisch {a.table}.",
            )
        )
    calendar.add_missing_timezones()
    return calendar.to_ical()


def company_ics(fair: Fair, ref: str) -> bytes | None:
    """The company's interviews, or None if the fair has no date or no such company."""
    timetable = next((t for t in views.company_timetables(fair) if t.ref == ref), None)
    if fair.date is None or timetable is None:
        return None
    calendar = _calendar(f"{fair.title}: {timetable.name}")
    for slot, round_ in enumerate(timetable.rounds):
        for table, cell in enumerate(round_.cells, start=1):
            if cell.free:
                continue
            calendar.add_component(
                _event(
                    fair,
                    f"company.{ref}.{table}",
                    slot,
                    f"Gespräch mit {cell.text}, Tisch {table}",
                    f"{fair.title}: Gespräch mit {cell.text} an Tisch {table}.",
                )
            )
    calendar.add_missing_timezones()
    return calendar.to_ical()
