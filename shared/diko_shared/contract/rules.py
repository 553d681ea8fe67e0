"""The rules every value of the contract keeps, checked at the boundary with German errors.

- Text: no character the contract refuses (see `diko_shared.text`); one-line text also
  no tab, line feed or carriage return.
- Calendar: dates and times lie between 1 January 1900 and 31 December 2999, and a time
  with an offset can be converted to UTC. Python's calendar ends at the years 1 and
  9999; a time at its edge with an offset cannot even be converted to UTC, and any
  duration a service adds to a date near it (a link's expiry, a tolerance window)
  overflows. Nothing diko records lies outside these centuries.
- E-mail addresses: what `email-validator` accepts in its strict mode without asking DNS,
  ASCII before the `@` (many servers cannot deliver to `jürgen@…`), and in the
  normalised form it gives.

Each rule raises a `PydanticCustomError` with its own stable type, so that error replies
carry a machine-readable `type` and a German text (`contract.problems`).

Data a service stored before a rule existed is read back inside `reading_stored()`
(`Payload.from_stored`): there the rules clean instead of refusing (text loses the
refused characters, one-line text its line breaks; dates and addresses stay as they
are), so that one old record cannot make a feed, a page or a reply fail for good. (A
context variable rather than pydantic's validation context: validators that take no
`info` argument run several times faster, and they run for every field of every message.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from diko_shared import text

_stored: ContextVar[bool] = ContextVar("diko_reading_stored", default=False)


@contextmanager
def reading_stored() -> Iterator[None]:
    """Validate data read back from a service's own database: the rules clean, not refuse."""
    token = _stored.set(True)
    try:
        yield
    finally:
        _stored.reset(token)


EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
_RANGE = "zwischen dem 1. Januar 1900 und dem 31. Dezember 2999"

#: The error types of our own rules and their German texts (pydantic's are in `problems`).
MESSAGES = {
    "text_character": (
        "Der Text enthält an Stelle {position} ein unzulässiges Zeichen ({character}): "
        "Steuerzeichen, Ersatzzeichen (Surrogate) und Nichtzeichen sind nicht erlaubt."
    ),
    "text_one_line": (
        "Der Text muss aus einer Zeile bestehen; an Stelle {position} steht ein "
        "Zeilenumbruch oder Tabulator ({character})."
    ),
    "date_out_of_range": f"Das Datum muss {_RANGE} liegen.",
    "datetime_out_of_range": f"Der Zeitpunkt muss {_RANGE} (in UTC) liegen.",
    "email_invalid": "Die E-Mail-Adresse ist ungültig: {reason}",
}


def _error(type_: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(type_, MESSAGES[type_], context)


def check_text(value: str, *, one_line: bool = False) -> str:
    """`value` if it keeps the text rule (one line, if asked), else the error."""
    if not text.refused(value, one_line=one_line):
        return value  # the common case
    found = text.forbidden(value)
    if found is not None:
        raise _error("text_character", position=found[0] + 1, character=text.code_point(found[1]))
    found = text.forbidden(value, one_line=True)
    assert found is not None
    raise _error("text_one_line", position=found[0] + 1, character=text.code_point(found[1]))


def one_line(value: str) -> str:
    """The rule of one-line text (names, towns, envelope attributes)."""
    if _stored.get():
        return text.as_line(value)
    return check_text(value, one_line=True)


def multi_line(value: str) -> str:
    """Text of several lines: the text rule, with CRLF and CR turned into LF."""
    if _stored.get():
        return text.normalise_line_ends(text.clean(value))
    return text.normalise_line_ends(check_text(value))


def check_date(value: date) -> date:
    """`value` if it lies within the contract's calendar (see above)."""
    if isinstance(value, datetime):
        return check_time(value)
    if not EARLIEST <= value <= LATEST:
        raise _error("date_out_of_range")
    return value


def check_time(value: datetime) -> datetime:
    """`value` if it lies within the contract's calendar and (if aware) converts to UTC."""
    try:
        day = (value.astimezone(UTC) if value.tzinfo is not None else value).date()
    except (OverflowError, ValueError):
        raise _error("datetime_out_of_range") from None
    if not EARLIEST <= day <= LATEST:
        raise _error("datetime_out_of_range")
    return value


def email_address(value: str) -> str:
    """The address in the normalised form `email-validator` gives, or a German error."""
    if _stored.get():
        return value
    normalised, problem = _checked_address(value)
    if problem is not None:
        raise _error("email_invalid", reason=problem)
    return normalised


@lru_cache(maxsize=4096)
def _checked_address(value: str) -> tuple[str, str | None]:
    """(normalised address, None) or (value, German problem); the same addresses recur."""
    try:
        checked = validate_email(
            value, check_deliverability=False, allow_smtputf8=False, strict=True
        )
    except EmailNotValidError as exc:
        return value, email_problem(str(exc))
    return checked.normalized, None


def check_value(value: Any) -> Any:
    """Apply the text and calendar rules to a field's validated value, however nested.

    Nested payloads checked themselves when they were built; numbers, booleans and
    `None` have nothing to check. Stored data is cleaned instead (`reading_stored`).
    """
    if isinstance(value, str):
        if _stored.get():
            return text.clean(value)
        return check_text(value)
    if value is None or isinstance(value, BaseModel | bool | int | float):
        return value
    if _stored.get():
        return clean_value(value)
    if isinstance(value, date):
        return check_date(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_value(key)
            check_value(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_value(item)
    return value


def clean_value(value: Any) -> Any:
    """`value` with every text in it cleaned (`text.clean`), in containers of the same kind."""
    if isinstance(value, str):
        return text.clean(value)
    if isinstance(value, Mapping):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(clean_value(item) for item in value)
    return value


#: email-validator's English reasons (by a phrase they contain), as a German sentence.
_EMAIL_PROBLEMS = (
    ("must have an @-sign", "Es fehlt das @-Zeichen."),
    ("instead of a regular at-sign", "Statt des @-Zeichens steht ein ähnliches Zeichen."),
    ("something before the @-sign", "Vor dem @-Zeichen fehlt der Name des Postfachs."),
    ("something after the @-sign", "Nach dem @-Zeichen fehlt die Domain."),
    ("two periods in a row", "Zwei Punkte dürfen nicht aufeinander folgen."),
    ("cannot start with a period", "Die Adresse darf nicht mit einem Punkt beginnen."),
    ("cannot end with a period", "Die Adresse darf nicht mit einem Punkt enden."),
    ("period immediately before the @-sign", "Vor dem @-Zeichen darf kein Punkt stehen."),
    ("period immediately after the @-sign", "Nach dem @-Zeichen darf kein Punkt stehen."),
    ("hyphen", "Ein Bindestrich steht an einer Stelle, an der er nicht stehen darf."),
    ("Internationalized characters before", "Vor dem @-Zeichen sind nur ASCII-Zeichen erlaubt."),
    ("before the @-sign: SPACE", "Die Adresse darf keine Leerzeichen enthalten."),
    ("invalid characters before the @-sign", "Vor dem @-Zeichen stehen unzulässige Zeichen."),
    ("after the @-sign contains invalid char", "Nach dem @-Zeichen stehen unzulässige Zeichen."),
    ("should have a period", "Die Domain nach dem @-Zeichen braucht einen Punkt."),
    ("valid top-level domain", "Die Domain endet nicht auf eine gültige Top-Level-Domain."),
    ("special-use or reserved", "Die Domain ist reserviert und kann keine E-Mail empfangen."),
    ("too long", "Die Adresse ist zu lang."),
    ("Quoting the part before", "Anführungszeichen sind in der Adresse nicht erlaubt."),
    ("bracketed IP address", "Eine IP-Adresse statt einer Domain ist nicht erlaubt."),
    ("display name", "Nur die Adresse selbst, ohne Namen und <…>."),
    ("angle bracket", "Nur die Adresse selbst, ohne <…>."),
    ("two dashes", "Zwei Bindestriche nach zwei Buchstaben sind nur in Punycode erlaubt."),
    ("so many characters", "Ein Teil der Domain ist zu lang."),
    ("after the email address", "Nach der Adresse darf nichts mehr folgen."),
    ("not valid ASCII", "Die Adresse enthält Zeichen, die kein ASCII sind."),
    ("unsafe characters", "Die Adresse enthält unzulässige Zeichen."),
    ("IDNA", "Die Domain nach dem @-Zeichen ist ungültig."),
    ("after the @-sign is", "Die Domain nach dem @-Zeichen ist ungültig."),
)


_QUOTED = re.compile(r"'[^']+'(, '[^']+')*")


def email_problem(reason: str) -> str:
    """A German sentence for one of email-validator's reasons (they are English).

    A reason that quotes the offending characters (`','`) keeps the quote; one that
    names them in English (`SPACE`) does not.
    """
    for phrase, german in _EMAIL_PROBLEMS:
        if phrase in reason:
            shown = reason.partition(": ")[2].removesuffix(".")
            return f"{german[:-1]}: {shown}." if _QUOTED.fullmatch(shown) else german
    return "Die Adresse hat nicht die Form name@domain.de."
