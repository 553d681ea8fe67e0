"""Printable HTML timetables: Jinja2 templates with autoescape, German, no outside files.

One page (section) per company or applicant, breaking pages when printed; the staff
overview shows the fair's numbers, everyone below their minimum and why, the fairness
levels and every stage of the optimisation with its gap.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from diko_matching.fairs import views
from diko_shared.brand import COLOURS, FONT_STACK
from diko_shared.contract.matching import Fair, FairStage
from diko_shared.german import NBSP


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("diko_matching.fairs", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _common(fair: Fair, brand_root: str | None) -> dict[str, object]:
    """What every page shows; with `brand_root` (served pages), Lato from the service."""
    return {
        "brand_root": brand_root,
        "fair": fair,
        "day": views.day_line(fair),
        "venue": views.venue_line(fair),
        "colour": COLOURS,
        "font": Markup(FONT_STACK),  # CSS, where entities are not decoded
    }


def companies_html(fair: Fair, only: str | None = None, brand_root: str | None = None) -> str:
    """Every company's timetable (or the one whose ref is `only`)."""
    timetables = [t for t in views.company_timetables(fair) if only in (None, t.ref)]
    title = timetables[0].name if only and timetables else "Zeitpläne der Unternehmen"
    return (
        _environment()
        .get_template("companies.html")
        .render(
            page_title=f"{fair.title}: {title}", timetables=timetables, **_common(fair, brand_root)
        )
    )


def applicants_html(fair: Fair, only: str | None = None, brand_root: str | None = None) -> str:
    """Every applicant's timetable (or the one whose ref is `only`)."""
    timetables = [t for t in views.applicant_timetables(fair) if only in (None, t.ref)]
    title = (
        f"Zeitplan für {timetables[0].name}"
        if only and timetables
        else "Zeitpläne der Bewerberinnen und Bewerber"
    )
    return (
        _environment()
        .get_template("applicants.html")
        .render(
            page_title=f"{fair.title}: {title}", timetables=timetables, **_common(fair, brand_root)
        )
    )


def overview_html(fair: Fair, brand_root: str | None = None) -> str:
    """The staff's overview of the plan."""
    s = fair.summary
    return (
        _environment()
        .get_template("overview.html")
        .render(
            page_title=f"{fair.title}: Übersicht",
            s=s,
            granted=_number(s.granted_weight, 0),
            possible=_number(s.possible_weight, 0),
            worst=views.percent(s.worst_share),
            shortfalls=views.shortfalls(fair),
            levels=[(views.percent(level.share), level.applicants) for level in s.levels],
            stages=[_stage(st) for st in fair.stages],
            **_common(fair, brand_root),
        )
    )


def stage_name(name: str) -> str:
    """A stage's name in German: Mindestzahl, Wünsche, Fairness 3: Anteil, …"""
    prefix = ""
    if name.startswith("slot model: "):
        prefix, name = "Rundenmodell: ", name.removeprefix("slot model: ")
    if name == "minimum":
        return f"{prefix}Mindestzahl"
    if name == "wishes":
        return f"{prefix}Wünsche"
    if name == "slots":
        return f"{prefix}Runden und Tische"
    words = name.split()
    if words[0] == "fairness":
        what = {"count": "Anzahl", "check": "Prüfung"}.get(words[-1], "Anteil")
        return f"{prefix}Fairness {words[1]}: {what}"
    return prefix + name


def _stage(stage: FairStage) -> dict[str, str]:
    return {
        "name": stage_name(stage.name),
        "status": views.STAGE_TEXT.get(stage.status, stage.status),
        "objective": _number(stage.objective, 4),
        "bound": _number(stage.bound, 4),
        "gap": "–"
        if stage.gap is None
        else ("0" if stage.gap == 0 else f"{stage.gap * 100:.2f}{NBSP}%".replace(".", ",")),
        "seconds": _number(stage.seconds, 2),
    }


def _number(value: float | None, digits: int) -> str:
    """German digits: a decimal comma, a narrow space between thousands; whole numbers whole."""
    if value is None:
        return "–"
    if digits == 0 or value == round(value):
        digits = 0
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")
