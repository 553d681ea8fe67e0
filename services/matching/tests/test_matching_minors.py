"""Minors through the broker: under 16 without a guardian's consent, never proposed.

The applicant's date of birth and the guardian's consent are recorded by
`applicant.register` / `applicant.update`; a run, a new position and re-matching after a
change all leave such an applicant out, `applicant.get` and `match.explain` say why in
German, and once the consent is recorded the applicant enters matching.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from diko_shared.contract.matching import (
    ExplainMatch,
    GetApplicant,
    GuardianConsent,
    RunMatching,
    UpdateApplicant,
)
from harness.bus import Bus, Tap
from harness.processes import ServiceProcess
from matching_bus import applicant, open_position, partial, position, register

TISCHLER = ("22342", "Tischler/in")


GUARDIAN_TEXT = "jünger als 16 Jahre"


def born_years_ago(years: int) -> str:
    """A date of birth that makes someone `years` old today (the first of this month)."""
    today = datetime.now(UTC).date()
    return date(today.year - years, today.month, 1).isoformat()


def proposed_applicants(tap: Tap) -> set[str]:
    return {
        p["applicant"]["applicant_id"]
        for m in tap.of_type("match.proposed")
        for p in m.data["proposals"]
    }


async def test_a_minor_without_consent_is_never_proposed_until_the_guardian_consents(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.*")
    minor, older = await register(
        bus,
        matching,
        applicant("22342", "Stendal", first_name="Mia", date_of_birth=born_years_ago(14)),
        applicant("22342", "Uenglingen", first_name="Ole", date_of_birth=born_years_ago(17)),
    )
    opened = position(*TISCHLER, places=2)
    await open_position(bus, matching, opened)
    await tap.wait_for(
        lambda m: m.routing_key == "match.proposed" and m.data["subject_id"] == opened.position_id
    )
    run = await bus.ok(RunMatching(seed=1), timeout=120)
    await tap.fence()
    assert proposed_applicants(tap) == {older}, "the minor was proposed without consent"
    assert minor not in run["unassigned_applicants"], "a held applicant is no run's candidate"

    record = await bus.ok(GetApplicant(applicant_id=minor))
    assert record["date_of_birth"] == born_years_ago(14)
    assert record["guardian_consent"] is None
    assert GUARDIAN_TEXT in record["held"]
    explained = await bus.ok(ExplainMatch(applicant_id=minor, position_id=opened.position_id))
    assert explained["status"] == "not_proposed"
    assert GUARDIAN_TEXT in explained["held"]
    assert (await bus.ok(GetApplicant(applicant_id=older)))["held"] is None

    consent = GuardianConsent(
        name="Sabine Beispiel",
        email="sabine.beispiel@example.org",
        given_at=datetime(2026, 11, 30, 18, 0, tzinfo=UTC),
        privacy_version="Datenschutzhinweise 2026-1",
    )
    change = await partial(
        bus, UpdateApplicant(applicant_id=minor, guardian_consent=consent, changed_by="birte")
    )
    assert change["ok"], change
    assert change["data"]["changed"] == ["guardian_consent"]
    [event] = await tap.wait_for(
        lambda m: (
            m.routing_key == "match.proposed"
            and m.data["subject_id"] == minor
            and m.data.get("cause") == "applicant_changed"
        )
    )
    assert [p["position"]["position_id"] for p in event.data["proposals"]] == [opened.position_id]
    record = await bus.ok(GetApplicant(applicant_id=minor))
    assert record["held"] is None
    assert record["guardian_consent"]["privacy_version"] == "Datenschutzhinweise 2026-1"
    assert record["guardian_consent"]["name"] == "Sabine Beispiel"


async def test_a_date_of_birth_added_later_withdraws_the_open_proposals_of_a_minor(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.*")
    opened = position("26212", "Elektroniker/in Energie- und Gebäudetechnik", places=1)
    await open_position(bus, matching, opened)
    [tim] = await register(bus, matching, applicant("26212", "Stendal", first_name="Tim"))
    await tap.wait_for(lambda m: m.routing_key == "match.proposed" and m.data["subject_id"] == tim)

    change = await partial(
        bus, UpdateApplicant(applicant_id=tim, date_of_birth=date.fromisoformat(born_years_ago(15)))
    )

    assert change["ok"], change
    assert change["data"]["changed"] == ["date_of_birth"]
    [withdrawn] = await tap.wait_type("match.withdrawn")
    assert withdrawn.data["applicant_id"] == tim
    assert withdrawn.data["reason"] == "applicant_changed"


async def test_a_date_of_birth_in_the_future_is_refused_in_german(
    bus: Bus, matching: ServiceProcess
) -> None:
    reply = await bus.request(
        applicant("22342", "Stendal", date_of_birth=f"{datetime.now(UTC).year + 1}-01-01")
    )
    assert not reply["ok"]
    [detail] = reply["error"]["details"]
    assert (detail["field"], detail["problem"]) == (
        "data.date_of_birth",
        "liegt nicht in der Vergangenheit",
    )
