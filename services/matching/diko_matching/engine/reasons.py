"""The German sentences of a score's reasons, as staff read them in proposals.

Each sentence states facts of the pair (certificates, distance, dates,
wishes), never the points: the points and weights sit next to it, and a
criterion weighted 0 must not change what a sentence says. Which sentence
(and reason key) a criterion gets is decided from the same facts, in
`scoring.explain`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from diko_shared.german import NBSP, long_date

if TYPE_CHECKING:
    from diko_matching.engine.scoring import PairFacts

HELD = {
    "ohne": "",
    "hauptschule": "der Hauptschulabschluss",
    "realschule": "der Realschulabschluss",
    "abitur": "das Abitur",
}
"""The certificate an applicant has, as a subject ("… liegt vor"); none for "ohne"."""
REQUIRED = {
    "hauptschule": "mindestens den Hauptschulabschluss",
    "realschule": "mindestens den Realschulabschluss",
    "abitur": "das Abitur",
}
"""The certificate a position asks for, as the object of "verlangt"."""
REQUIREMENT = {
    "hauptschule": "mindestens Hauptschulabschluss",
    "realschule": "mindestens Realschulabschluss",
    "abitur": "Abitur",
}
"""The same requirement as a label in parentheses."""
DIGITS = {2: "zwei", 3: "drei", 4: "vier"}
ORDINALS = (
    "erster", "zweiter", "dritter", "vierter", "fünfter",
    "sechster", "siebter", "achter", "neunter", "zehnter",
)  # fmt: skip
"""Dative ordinals, as in "an zweiter Stelle"."""
COUNTS = ("", "einem", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn")
"""Small numbers as words, as in "unter drei Wunschberufen"."""


def _km(x: float) -> str:
    """ "20", "5", "4,5": a decimal only where it tells something, below 10 km."""
    rounded = round(x) if x >= 9.5 else round(x, 1)
    return _number(rounded)


def _number(x: float) -> str:
    """A whole number without decimals, otherwise one decimal with a German comma."""
    return f"{x:.0f}" if x == round(x) else f"{x:.1f}".replace(".", ",")


def _date(d: dt.date) -> str:
    """ "1. August 2027", as the e-mails write dates (never parted at the line end)."""
    return long_date(d, space=NBSP)


def _ordinal(index: int) -> str:
    """ "erster" for 0: the place of a wish, counted from the first."""
    return ORDINALS[index] if 0 <= index < len(ORDINALS) else f"{index + 1}."


def _count(n: int) -> str:
    return COUNTS[n] if 0 < n < len(COUNTS) else str(n)


def occupation(label: str, code: str) -> str:
    """ "Tischler/in (KldB 22342)"; a code without a catalogue name only once."""
    return label if label == f"KldB {code}" else f"{label} (KldB {code})"


def _reach(f: PairFacts) -> str:
    """ "40 km", or "55 km mit Führerschein" when the licence widens it."""
    return f"{_km(f.reach_km)}{NBSP}km" + (" mit Führerschein" if f.licence else "")


def occupation_exact(f: PairFacts) -> str:
    """The position trains in one of the wished occupations (which one ranks: `wish`)."""
    return f"Die Stelle bildet im Wunschberuf {occupation(f.position_label, f.position_code)} aus."


def occupation_related(f: PairFacts) -> str:
    """The position's occupation shares the first digits of a wish's code."""
    digits = DIGITS.get(f.shared_prefix, str(f.shared_prefix))
    return (
        f"Der Ausbildungsberuf {occupation(f.position_label, f.position_code)} ist mit dem "
        f"Wunschberuf {occupation(f.wish_label, f.wish_code)} verwandt: Die ersten "
        f"{digits} Ziffern der KldB-Codes stimmen überein."
    )


def occupation_unrelated(f: PairFacts) -> str:
    """No wish is related closely enough; `f` holds the closest one."""
    return (
        f"Der Ausbildungsberuf {occupation(f.position_label, f.position_code)} passt zu keinem "
        f"der Wunschberufe; am nächsten kommt ihm {occupation(f.wish_label, f.wish_code)}."
    )


def distance_within(f: PairFacts) -> str:
    """Home and training town within the (licence-widened) reach."""
    if f.home == f.town:
        return f"Wohnort und Ausbildungsort sind beide {f.town}."
    return (
        f"Vom Wohnort {f.home} bis zum Ausbildungsort {f.town} sind es {_km(f.dist_km)}{NBSP}km; "
        f"erreichbar sind {_reach(f)}."
    )


def distance_beyond(f: PairFacts) -> str:
    """The training town lies beyond the reach: the pair is unacceptable."""
    return (
        f"Vom Wohnort {f.home} bis zum Ausbildungsort {f.town} sind es {_km(f.dist_km)}{NBSP}km, "
        f"mehr als die erreichbaren {_reach(f)}."
    )


def school(f: PairFacts, met: bool) -> str:
    """Certificate held against the one required; `met`: held at least as high."""
    held = HELD[f.school_held]
    if f.school_required == "ohne":
        if not held:
            return "Die Stelle setzt keinen Schulabschluss voraus."
        return f"Die Stelle setzt keinen Schulabschluss voraus; vorhanden ist {held}."
    if met:
        return (
            f"{held[0].upper()}{held[1:]} erfüllt die Anforderung der Stelle "
            f"({REQUIREMENT[f.school_required]})."
        )
    has = f"vorhanden ist {held}" if held else "ein Schulabschluss liegt nicht vor"
    return f"Die Stelle verlangt {REQUIRED[f.school_required]}; {has}."


def _window(f: PairFacts) -> str:
    if f.avail_until is None:
        return f"ab {_date(f.avail_from)}"
    return f"{_date(f.avail_from)} bis {_date(f.avail_until)}"


def _days(n: int) -> str:
    return "einen Tag" if n == 1 else f"{n}{NBSP}Tage"


def days_outside(f: PairFacts) -> int:
    """Days the training start lies before (< 0) or after (> 0) the window; 0 within."""
    if f.start < f.avail_from:
        return (f.start - f.avail_from).days
    if f.avail_until is not None and f.start > f.avail_until:
        return (f.start - f.avail_until).days
    return 0


def _start_where(f: PairFacts) -> str:
    begin = f"Die Ausbildung beginnt am {_date(f.start)}"
    off = days_outside(f)
    if off < 0:
        where = f"{_days(-off)} vor dem gewünschten Zeitraum"
    elif off > 0:
        where = f"{_days(off)} nach dem gewünschten Zeitraum"
    else:
        where = "im gewünschten Zeitraum"
    return f"{begin}, {where} ({_window(f)})"


def start(f: PairFacts) -> str:
    """The training start against the applicant's window (days outside it, if any)."""
    return f"{_start_where(f)}."


def start_beyond(f: PairFacts, tolerance_days: float) -> str:
    """The start lies further outside the window than tolerated: the pair is unacceptable."""
    days = "einen Tag" if tolerance_days == 1 else f"{_number(tolerance_days)}{NBSP}Tage"
    return f"{_start_where(f)}; toleriert werden höchstens {days}."


def wish(f: PairFacts) -> str:
    """Where the wish the pair uses stands among the applicant's wishes."""
    if f.n_wishes == 1:
        return f"Als Wunschberuf ist nur {f.wish_label} angegeben."
    return (
        f"Unter {_count(f.n_wishes)} Wunschberufen steht {f.wish_label} "
        f"an {_ordinal(f.wish_rank)} Stelle."
    )
