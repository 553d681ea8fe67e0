"""The printable timetables drop what the contract refuses in text, wherever names come from."""

from __future__ import annotations

from diko_matching.engine.fair import FairInstance, plan_fair
from diko_matching.fairs import documents
from diko_matching.fairs.model import fair_of, file_fair_id, setup_of
from diko_shared import text

POISON = "\x01\x0b\x1b\x7f\x85\ufffe\uffff"


def test_names_with_control_characters_from_a_file_are_printed_without_them() -> None:
    data = {
        "n_slots": 2,
        "companies": {"c1": {"name": f"Tischlerei{POISON} Müller", "tables": 1}},
        "applicants": {"a1": {"name": f"Lena{POISON} Schröder", "wishes": ["c1"]}},
    }
    inst = FairInstance.parse(data)
    plan = plan_fair(inst, time_limit=20)
    fair = fair_of(file_fair_id(data), setup_of(inst), plan.to_dict(inst))
    companies, applicants = documents.companies_html(fair), documents.applicants_html(fair)
    for html in (companies, applicants, documents.overview_html(fair)):
        assert text.forbidden(html) is None
    assert "Tischlerei Müller" in companies
    assert "Lena Schröder" in applicants
