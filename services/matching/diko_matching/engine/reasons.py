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
    "ohne": "keinen Schulabschluss",
    "hauptschule": "den Hauptschulabschluss",
    "realschule": "den Realschulabschluss",
    "abitur": "das Abitur",
}
"""The certificate an applicant has, as the object of "hat"."""
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


def occupation(label: str, code: str) -> str:
    """ "Tischler/in (KldB 22342)"; a code without a catalogue name only once."""
    return label if label == f"KldB {code}" else f"{label} (KldB {code})"


def _reach(f: PairFacts) -> str:
    return f"{_km(f.reach_km)} km" + (" mit Führerschein" if f.licence else "")


def occupation_exact(f: PairFacts) -> str:
    """The position's occupation is one of the wishes."""
    return (
        f"Ausbildungsberuf {occupation(f.position_label, f.position_code)} "
        f"ist Wunschberuf Nr. {f.wish_rank + 1}."
    )


def occupation_related(f: PairFacts) -> str:
    """The position's occupation shares the first digits of a wish's code."""
    digits = DIGITS.get(f.shared_prefix, str(f.shared_prefix))
    return (
        f"Ausbildungsberuf {occupation(f.position_label, f.position_code)} ist mit dem "
        f"Wunschberuf {occupation(f.wish_label, f.wish_code)} verwandt: die ersten "
        f"{digits} Stellen des KldB-Codes stimmen überein."
    )


def occupation_unrelated(f: PairFacts) -> str:
    """No wish is related closely enough; `f` holds the closest one."""
    return (
        f"Ausbildungsberuf {occupation(f.position_label, f.position_code)} passt zu keinem "
        f"Wunschberuf; am ähnlichsten ist {occupation(f.wish_label, f.wish_code)}."
    )


def distance_within(f: PairFacts) -> str:
    """Home and training town within the (licence-widened) reach."""
    if f.home == f.town:
        return f"Wohnort und Ausbildungsort liegen beide in {f.town} (Reichweite {_reach(f)})."
    return (
        f"Wohnort {f.home} liegt {_km(f.dist_km)} km vom Ausbildungsort {f.town} entfernt "
        f"(Reichweite {_reach(f)})."
    )


def distance_beyond(f: PairFacts) -> str:
    """The training town lies beyond the reach: the pair is unacceptable."""
    return (
        f"Wohnort {f.home} liegt {_km(f.dist_km)} km vom Ausbildungsort {f.town} entfernt "
        f"und damit außerhalb der Reichweite von {_reach(f)}."
    )


def school(f: PairFacts, met: bool) -> str:
    """Certificate held against the one required; `met`: held at least as high."""
    has = f"Bewerber/in hat {HELD[f.school_held]}"
    if f.school_required == "ohne":
        return f"{has}; die Stelle setzt keinen Schulabschluss voraus."
    if met:
        return (
            f"{has} und erfüllt damit die Anforderung der Stelle "
            f"({REQUIREMENT[f.school_required]})."
        )
    return f"{has}, die Stelle verlangt aber {REQUIRED[f.school_required]}."


def _window(f: PairFacts) -> str:
    if f.avail_until is None:
        return f"ab {_date(f.avail_from)}"
    return f"{_date(f.avail_from)} bis {_date(f.avail_until)}"


def _days(n: int) -> str:
    return "1 Tag" if n == 1 else f"{n} Tage"


def days_outside(f: PairFacts) -> int:
    """Days the training start lies before (< 0) or after (> 0) the window; 0 within."""
    if f.start < f.avail_from:
        return (f.start - f.avail_from).days
    if f.avail_until is not None and f.start > f.avail_until:
        return (f.start - f.avail_until).days
    return 0


def _start_where(f: PairFacts) -> str:
    begin = f"Ausbildungsbeginn {_date(f.start)}"
    off = days_outside(f)
    if off < 0:
        where = f"{_days(-off)} vor dem Beginn des gewünschten Zeitraums"
    elif off > 0:
        where = f"{_days(off)} nach dem Ende des gewünschten Zeitraums"
    else:
        where = "im gewünschten Zeitraum"
    return f"{begin} liegt {where} ({_window(f)})"


def start(f: PairFacts) -> str:
    """The training start against the applicant's window (days outside it, if any)."""
    return f"{_start_where(f)}."


def start_beyond(f: PairFacts, tolerance_days: float) -> str:
    """The start lies further outside the window than tolerated: the pair is unacceptable."""
    days = "1 Tag" if tolerance_days == 1 else f"{_number(tolerance_days)} Tagen"
    return f"{_start_where(f)} und damit außerhalb der Toleranz von {days}."


def wish(f: PairFacts) -> str:
    """Where the wish the pair uses stands among the applicant's wishes."""
    if f.n_wishes == 1:
        return f"{f.wish_label} ist der einzige Wunschberuf."
    return f"{f.wish_label} steht auf Platz {f.wish_rank + 1} von {f.n_wishes} Wunschberufen."
