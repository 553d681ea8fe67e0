"""German dates as staff and applicants read them: "1. August 2027"."""

from __future__ import annotations

from datetime import date

MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
NBSP = "\u00a0"


def long_date(day: date, *, space: str = " ") -> str:
    """`1. August 2027`; pass `space=NBSP` where the day must not be parted from its month."""
    return f"{day.day}.{space}{MONTHS[day.month - 1]} {day.year}"
