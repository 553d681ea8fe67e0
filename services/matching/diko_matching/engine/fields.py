"""Strict field types and one-line errors for the pydantic instance models.

The instance models are strict: a file that says `"licence": "yes"` or
`"n_slots": "3"` is wrong and should be told so, not guessed at. They are
validated in pydantic's python mode (the CLI decodes JSON itself, to reject
duplicate keys), where strict mode refuses the ISO strings that JSON uses
for dates and times; these types accept exactly those strings (and date
objects from Python callers), and none of the numbers lax mode would read
as timestamps.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?")


def _iso_date(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # a date object passes, anything else fails strict validation
    if not _DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date of the form YYYY-MM-DD")
    return dt.date.fromisoformat(value)  # ValueError for 2027-02-30


def _iso_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not _TIME.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of the form HH:MM")
    return dt.time.fromisoformat(value)


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A date given as "YYYY-MM-DD" (or as a date object)."""
IsoTime = Annotated[dt.time, BeforeValidator(_iso_time)]
"""A clock time given as "HH:MM" or "HH:MM:SS" (or as a time object)."""


def first_error(exc: ValidationError) -> str:
    """The first problem of a validation error as one line: `where: what`."""
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg
