"""A person's fair timetable as an iCalendar file (RFC 5545), for the e-mail's attachment.

One event per interview, in Europe/Berlin with its VTIMEZONE, so that phones and
calendar programs place it right in summer and in winter. UIDs are derived from the
fair, the person and the slot: sending the timetable again updates the same entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from icalendar import Calendar, Event

from diko_notifications.letters import FairRow
from diko_notifications.preferences import BERLIN

PRODID = "-//DIKO Altmark//Bewerberboerse//DE"


def timetable(
    *,
    fair_id: str,
    person: str,
    title: str,
    day: date,
    location: str,
    rows: Sequence[FairRow],
    stamp: datetime,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    for row in rows:
        event = Event()
        uid = hashlib.sha256(f"{fair_id}|{person}|{row.starts}|{row.table}".encode()).hexdigest()
        event.add("uid", f"{uid[:32]}@diko-altmark")
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", _at(day, row.starts))
        event.add("dtend", _at(day, row.ends))
        event.add("summary", f"{title}: {row.with_}")
        event.add("description", f"Tisch {row.table}" + (f" – {row.detail}" if row.detail else ""))
        if location:
            event.add("location", location)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _at(day: date, clock: str) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    if hours == 24:
        return datetime.combine(day, time(23, 59), tzinfo=BERLIN)
    return datetime.combine(day, time(hours, minutes), tzinfo=BERLIN)
