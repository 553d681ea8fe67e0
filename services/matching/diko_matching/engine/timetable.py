"""Printable timetables of a fair plan, in German: one page per company or applicant.

Plain HTML with print CSS (each section breaks the page), so that staff can
print from any browser or hand the file to a PDF printer.
"""

from __future__ import annotations

import html

from diko_matching.engine.fair import FairInstance, FairPlan, Interview
from diko_shared.text import clean

_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #111; }
section { page-break-after: always; break-after: page; }
section:last-child { page-break-after: auto; break-after: auto; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
p.meta { color: #444; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
th, td { border: 1px solid #999; padding: 0.35em 0.6em; text-align: left; }
th { background: #eee; }
td.frei { color: #888; }
"""


def escape(text: str) -> str:
    """`text` for HTML, without the characters the contract refuses (names come from files)."""
    return html.escape(clean(text))


def _page(title: str, sections: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def _meta(inst: FairInstance) -> str:
    day = f"{inst.date.strftime('%d.%m.%Y')}, " if inst.date else ""
    rounds = "1 Gesprächsrunde zu" if inst.n_slots == 1 else f"{inst.n_slots} Gesprächsrunden zu je"
    minutes = "1 Minute" if inst.slot_minutes == 1 else f"{inst.slot_minutes} Minuten"
    return (
        f"{day}{rounds} {minutes} von {inst.slot_clock(0)} bis {inst.slot_clock(inst.n_slots)} Uhr"
    )


def _clock(inst: FairInstance, slot: int) -> str:
    return f"{inst.slot_clock(slot)}–{inst.slot_clock(slot + 1)}"


def _whose(inst: FairInstance, a: str) -> str:
    name = inst.applicants[a].name
    return f"Zeitplan für {escape(name)}" if name else "Ihr Zeitplan"


def _applicant(inst: FairInstance, a: str) -> str:
    """The applicant's name with the id staff file them under, or the id alone."""
    name = inst.applicants[a].name
    return f"{escape(name)} ({escape(a)})" if name else escape(a)


def company_timetables_html(inst: FairInstance, plan: FairPlan) -> str:
    """One page per company: every slot with the applicant at each table."""
    by_company: dict[str, dict[tuple[int, int], Interview]] = {c: {} for c in inst.companies}
    for i in plan.interviews:
        by_company[i.company][(i.slot, i.table)] = i
    sections = []
    for c in sorted(inst.companies):
        comp = inst.companies[c]
        head = "".join(f"<th>Tisch {t}</th>" for t in range(1, comp.tables + 1))
        rows = []
        for slot in range(inst.n_slots):
            present = comp.slots is None or slot in comp.slots
            cells = []
            for t in range(1, comp.tables + 1):
                iv = by_company[c].get((slot, t))
                if iv is not None:
                    who = _applicant(inst, iv.applicant)
                    cells.append(f"<td>{who}, Wunsch {iv.wish_rank + 1}</td>")
                else:
                    cells.append(f'<td class="frei">{"frei" if present else "nicht anwesend"}</td>')
            rows.append(f"<tr><td>{_clock(inst, slot)}</td>{''.join(cells)}</tr>")
        name = comp.name or c
        sections.append(
            f"<section>\n<h1>{escape(inst.title)}: {escape(name)}</h1>\n"
            f'<p class="meta">Unternehmen {escape(c)} · {_meta(inst)} · '
            f"{len(by_company[c])} Gespräche</p>\n"
            f"<table>\n<tr><th>Uhrzeit</th>{head}</tr>\n"
            + "\n".join(rows)
            + "\n</table>\n</section>"
        )
    return _page(f"{inst.title}: Zeitpläne der Unternehmen", sections)


def applicant_timetables_html(inst: FairInstance, plan: FairPlan) -> str:
    """One page per applicant: their interviews in time order, with company and table."""
    by_app: dict[str, list[Interview]] = {a: [] for a in inst.applicants}
    for i in plan.interviews:
        by_app[i.applicant].append(i)
    sections = []
    for a in sorted(inst.applicants):
        mine = sorted(by_app[a], key=lambda i: i.slot)
        rows = [
            f"<tr><td>{_clock(inst, i.slot)}</td>"
            f"<td>{escape(inst.companies[i.company].name or i.company)}</td>"
            f"<td>Tisch {i.table}</td><td>{i.wish_rank + 1}</td></tr>"
            for i in mine
        ]
        wishes = inst.applicants[a].wishes
        missing = [c for c in wishes if c not in {i.company for i in mine}]
        note = (
            "<p>Ohne Termin (bitte am Stand nachfragen): "
            + ", ".join(escape(inst.companies[c].name or c) for c in missing)
            + "</p>"
            if missing
            else ""
        )
        body = (
            "<table>\n<tr><th>Uhrzeit</th><th>Unternehmen</th><th>Tisch</th><th>Wunsch</th></tr>\n"
            + "\n".join(rows)
            + "\n</table>"
            if rows
            else "<p>Keine Gesprächstermine.</p>"
        )
        sections.append(
            f"<section>\n<h1>{escape(inst.title)}: {_whose(inst, a)}</h1>\n"
            f'<p class="meta">Bewerber/in {_applicant(inst, a)} · {_meta(inst)} · '
            f"{len(mine)} von {len(wishes)} Wünschen mit Termin</p>\n{body}\n{note}\n</section>"
        )
    return _page(f"{inst.title}: Zeitpläne der Bewerberinnen und Bewerber", sections)
