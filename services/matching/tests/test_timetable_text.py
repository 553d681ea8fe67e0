"""The printable timetables drop what the contract refuses in text, wherever names come from."""

from __future__ import annotations

from diko_matching.engine.fair import FairInstance, plan_fair
from diko_matching.engine.timetable import applicant_timetables_html, company_timetables_html
from diko_shared import text

POISON = "\x01\x0b\x1b\x7f\x85\ufffe\uffff"


def test_names_with_control_characters_are_printed_without_them() -> None:
    inst = FairInstance.parse(
        {
            "n_slots": 2,
            "companies": {"c1": {"name": f"Tischlerei{POISON} Müller", "tables": 1}},
            "applicants": {"a1": {"name": f"Lena{POISON} Schröder", "wishes": ["c1"]}},
        }
    )
    plan = plan_fair(inst, time_limit=20)
    for html in (company_timetables_html(inst, plan), applicant_timetables_html(inst, plan)):
        assert text.forbidden(html) is None
    assert "Tischlerei Müller" in company_timetables_html(inst, plan)
    assert "Lena Schröder" in applicant_timetables_html(inst, plan)
