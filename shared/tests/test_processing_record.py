"""docs/processing.md (the record of processing, Art. 30 GDPR) is current and complete."""

from __future__ import annotations

from pathlib import Path

from diko_shared.contract.matching import Fair, FairPlanned, MatchProposed
from diko_shared.contract.media import PostApproved, PostApprovedV1
from diko_shared.rights import record

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "processing.md"


def test_the_committed_record_is_current() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    assert record.render() == text, "docs/processing.md is stale: run `make generated`"


def test_personal_fields_are_found_in_nested_models_and_only_of_people() -> None:
    assert record.personal_fields(MatchProposed) == [
        "proposals.applicant.name",
        "proposals.applicant.home_town",
    ]  # not the occupation's or the company's name
    fair = record.personal_fields(Fair)  # the reply of `fair.get`
    assert "applicants.email" in fair
    assert "venue.street" not in fair  # a place, not a person
    assert record.personal_fields(FairPlanned) == []  # the event names no applicant
    assert record.personal_fields(PostApprovedV1) == ["approved_by"]  # who did something
    assert record.personal_fields(PostApproved) == []  # version 2 names nobody


def test_every_holding_and_retention_setting_is_in_the_record() -> None:
    text = record.render()
    for service in record.SERVICES:
        section = text.split(f"## {service}\n")[1].split("\n## ")[0]
        for holding in record._holdings(service):
            assert f"| `{holding.collection}` |" in section, (service, holding.collection)
    assert "| `DIKO_DELIVERY_RETENTION_DAYS` | 90 |" in text
    assert "| `DIKO_APPLICANT_RETENTION_DAYS` | 365 |" in text
    assert "| `match.proposed` | `proposals.applicant.name`" in text
    assert "`fair.planned`" not in text, "fair.planned carries no personal data since version 2"


def test_every_event_with_personal_data_says_why_its_readers_need_it() -> None:
    for service in record.SERVICES:
        for sent in record.recipients(service):
            assert sent.purpose.strip(), f"{sent.type}: set `personal_data_purpose` on its model"
