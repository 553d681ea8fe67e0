"""The matching service's rules and choices, without broker or database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from diko_matching import domain
from diko_matching.engine import ScoringWeights
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import PositionFilled, PositionOpened, PositionUpdated
from diko_shared.contract.matching import Applicant, RegisterApplicant, UpdateApplicant
from diko_shared.messaging.errors import Invalid
from matching_samples import applicant, best_for_applicant, best_for_position, position

CRITERIA = ["occupation", "distance", "school", "start", "preference"]


def registration(**changes: Any) -> RegisterApplicant:
    data = {
        "first_name": "Lena",
        "last_name": "Schröder",
        "home_town": "osterburg",
        "reach_km": 30,
        "desired_occupations": ["25212", "26212"],
        "earliest_start": "2027-08-01",
    }
    return RegisterApplicant.model_validate({**data, **changes}, strict=False)


# -- registration --------------------------------------------------------------------------


def test_registration_canonicalises_the_home_town() -> None:
    assert domain.check_registration(registration()) == "Osterburg (Altmark)"
    assert domain.check_registration(registration(home_town="Tangermuende")) == "Tangermünde"


def test_an_unknown_town_is_named_with_suggestions() -> None:
    with pytest.raises(Invalid) as caught:
        domain.check_registration(registration(home_town="Osterbrug"))
    [detail] = caught.value.details
    assert detail.field == "data.home_town"
    assert "Osterbrug" in detail.problem
    assert "Osterburg (Altmark)" in detail.problem


def test_every_bad_field_is_named_in_one_answer() -> None:
    data = registration(home_town="Atlantis", desired_occupations=["99999", "25212", "25212"])
    with pytest.raises(Invalid) as caught:
        domain.check_registration(data)
    problems = {d.field: d.problem for d in caught.value.details}
    assert set(problems) == {
        "data.home_town",
        "data.desired_occupations.0",
        "data.desired_occupations.2",
    }
    assert "unbekannter KldB-Code 99999" in problems["data.desired_occupations.0"]
    assert "doppelt" in problems["data.desired_occupations.2"]


def test_the_registered_event_carries_no_name_or_contact() -> None:
    data = registration(email="lena@example.org", phone="03931 1")
    new = domain.new_applicant(data, "apl_0123456789abcdef0123", "Osterburg (Altmark)")
    event = domain.registered(new).model_dump()
    assert event["home_town"] == "Osterburg (Altmark)"
    assert not {"first_name", "last_name", "email", "phone"} & set(event)
    assert new.status == "active"


def stored(**changes: Any) -> Applicant:
    data = {
        "applicant_id": "apl_0123456789abcdef0123",
        "first_name": "Lena",
        "last_name": "Schröder",
        "email": "lena@example.org",
        "phone": "03931 1",
        "home_town": "Osterburg (Altmark)",
        "reach_km": 30.0,
        "driving_licence": False,
        "school_certificate": "realschule",
        "desired_occupations": ["25212"],
        "earliest_start": "2027-08-01",
        "status": "active",
    }
    return Applicant.model_validate({**data, **changes}, strict=False)


def update(**fields: Any) -> UpdateApplicant:
    return UpdateApplicant.model_validate(
        {"applicant_id": "apl_0123456789abcdef0123", **fields}, strict=False
    )


def test_an_update_changes_the_fields_sent_and_names_them() -> None:
    changed, names = domain.changed_applicant(
        stored(), update(home_town="tangermuende", reach_km=30, phone=None)
    )
    assert names == ["phone", "home_town"]  # reach_km was sent unchanged
    assert (changed.home_town, changed.phone, changed.email) == (
        "Tangermünde",
        None,
        "lena@example.org",
    )
    event = domain.updated(changed, names).model_dump()
    assert event["changed"] == ["phone", "home_town"]
    assert not {"first_name", "last_name", "email", "phone"} & set(event)


def test_an_update_that_changes_nothing_names_nothing() -> None:
    assert domain.changed_applicant(stored(), update(reach_km=30))[1] == []
    assert domain.changed_applicant(stored(), update())[1] == []


def test_an_update_names_every_bad_field() -> None:
    with pytest.raises(Invalid) as caught:
        domain.changed_applicant(
            stored(),
            update(first_name=None, home_town="Atlantis", desired_occupations=["25212", "25212"]),
        )
    problems = {d.field: d.problem for d in caught.value.details}
    assert set(problems) == {
        "data.first_name",
        "data.home_town",
        "data.desired_occupations.1",
    }
    assert "darf nicht leer sein" in problems["data.first_name"]


# -- positions -----------------------------------------------------------------------------


def opened(town: str) -> PositionOpened:
    return PositionOpened(
        position_id="pos_0123456789abcdef0123",
        company_id="cmp_0123456789abcdef0123",
        company_name="Tischlerei Müller GmbH",
        occupation=Occupation(code="22342", name="Tischler/in"),
        places=1,
        start_date=date(2027, 8, 1),
        town=town,
    )


def test_a_position_copy_has_its_canonical_town_and_is_open() -> None:
    copy = domain.position_copy(opened("hansestadt stendal"))
    assert (copy.town, copy.status, copy.school_certificate) == ("Stendal", "open", "none")
    with pytest.raises(Invalid) as caught:
        domain.position_copy(opened("Atlantis"))
    assert caught.value.details[0].field == "data.town"


def test_a_filled_position_arriving_first_is_kept_filled() -> None:
    event = PositionFilled(
        position_id="pos_0123456789abcdef0123",
        company_id="cmp_0123456789abcdef0123",
        company_name="Tischlerei Müller GmbH",
        occupation=Occupation(code="22342", name="Tischler/in"),
        places=1,
        town="Tangermuende",
        start_date=date(2027, 8, 1),
    )
    copy = domain.filled_copy(event)
    assert (copy.town, copy.status) == ("Tangermünde", "filled")


def test_an_edited_position_takes_the_fields_the_event_carries() -> None:
    copy = domain.position_copy(opened("Stendal"))
    edit = PositionUpdated(
        position_id=copy.position_id,
        company_id=copy.company_id,
        places=3,
        places_taken=1,
        status="open",
        changed=["places", "town"],
        town="tangermuende",
    )
    edited = domain.edited_copy(copy, edit)
    assert (edited.places, edited.town, edited.occupation) == (3, "Tangermünde", copy.occupation)
    assert domain.edit_changes_fit(edit)
    places_only = PositionUpdated(
        position_id=copy.position_id, company_id=copy.company_id, places=3, places_taken=1
    )
    assert not domain.edit_changes_fit(places_only)
    assert domain.with_status(copy, "closed").status == "closed"


# -- proposals -----------------------------------------------------------------------------


def test_the_proposal_id_is_derived_from_the_pair() -> None:
    a = domain.proposal_id("pos_0123456789abcdef0123", "apl_0123456789abcdef0123")
    assert re.fullmatch(r"prp_[0-9a-f]{20}", a)
    assert a == domain.proposal_id("pos_0123456789abcdef0123", "apl_0123456789abcdef0123")
    assert a != domain.proposal_id("pos_0123456789abcdef0123", "apl_0123456789abcdef0124")


def test_days_are_days_in_berlin() -> None:
    assert domain.berlin_day(datetime(2027, 3, 13, 22, 59, tzinfo=UTC)) == "2027-03-13"
    assert domain.berlin_day(datetime(2027, 3, 13, 23, 0, tzinfo=UTC)) == "2027-03-14"
    assert domain.berlin_day(datetime(2027, 7, 1, 21, 59, tzinfo=UTC)) == "2027-07-01"
    assert domain.berlin_day(datetime(2027, 7, 1, 22, 0, tzinfo=UTC)) == "2027-07-02"


def test_a_position_wants_a_shortlist_while_it_has_a_free_place() -> None:
    policy = domain.Policy(proposals_per_trigger=10)
    assert domain.wanted_open(policy, 0) == 0
    assert domain.wanted_open(policy, 2) == 10
    assert domain.wanted_open(policy, 25) == 25


def test_a_position_is_proposed_to_those_within_reach_with_reasons_per_criterion() -> None:
    near = applicant(1, "Tangermünde")  # 10 km from Stendal
    related = applicant(2, "Tangermünde", wishes=("25222",))  # same 3 KldB digits
    far = applicant(3, "Salzwedel", reach_km=30.0)  # 55 km
    licence = applicant(4, "Gardelegen", reach_km=20.0, licence=True)  # 33 km ≤ 20 + 15
    unrelated = applicant(5, "Stendal", wishes=("71402",))
    proposals = best_for_position(position(1), [near, related, far, licence, unrelated], 10)
    by_applicant = {p.applicant.applicant_id: p for p in proposals}
    assert set(by_applicant) == {near.applicant_id, related.applicant_id, licence.applicant_id}
    assert [p.rank for p in proposals] == [1, 2, 3]
    assert [p.score for p in proposals] == sorted((p.score for p in proposals), reverse=True)
    best = by_applicant[near.applicant_id]
    assert best.proposal_id == domain.proposal_id(position(1).position_id, near.applicant_id)
    assert [r.criterion for r in best.reasons] == CRITERIA
    assert [r.key for r in best.reasons] == [
        "occupation.exact",
        "distance.within_reach",
        "school.met",
        "start.within_window",
        "wish.rank",
    ]
    assert sum(r.weight for r in best.reasons) == pytest.approx(100)
    assert all(0 <= r.score <= 1 for r in best.reasons)
    assert best.reasons[1].text == (
        "Vom Wohnort Tangermünde bis zum Ausbildungsort Stendal sind es 10\u00a0km; "
        "erreichbar sind 25\u00a0km."
    )
    assert best.applicant.name == "Bewerber Nr. 1"
    assert by_applicant[related.applicant_id].reasons[0].key == "occupation.related"
    assert by_applicant[related.applicant_id].score < best.score
    assert "mit Führerschein" in by_applicant[licence.applicant_id].reasons[1].text


def test_placed_and_withdrawn_applicants_are_not_proposed() -> None:
    placed = applicant(1, "Stendal", status="placed")
    gone = applicant(2, "Stendal", status="withdrawn")
    others = [applicant(n, "Tangermünde") for n in range(3, 7)]
    proposals = best_for_position(position(1), [placed, gone, *others], 2)
    assert len(proposals) == 2
    assert {p.applicant.applicant_id for p in proposals} <= {o.applicant_id for o in others}


def test_school_and_start_lower_the_score_and_are_explained() -> None:
    demanding = position(1, school="abitur", start_date=date(2027, 6, 1))
    [proposal] = best_for_position(demanding, [applicant(1, "Stendal")], 5)
    reasons = {r.criterion: r for r in proposal.reasons}
    assert reasons["school"].key == "school.below"
    assert reasons["school"].text == (
        "Die Stelle verlangt das Abitur; vorhanden ist der Realschulabschluss."
    )
    assert reasons["start"].key == "start.outside_window"
    assert 0 < reasons["start"].score < 1
    assert proposal.score < 1


def test_an_applicant_who_cannot_start_in_time_is_never_proposed() -> None:
    """Available from 1 March 2028, 213 days after the start: beyond the 120 days tolerated."""
    late = applicant(1, "Stendal", earliest_start=date(2028, 3, 1))
    soon = applicant(2, "Stendal", earliest_start=date(2027, 11, 29))  # 120 days: proposed
    proposals = best_for_position(position(1), [late, soon], 5)
    assert [p.applicant.applicant_id for p in proposals] == [soon.applicant_id]
    assert best_for_applicant(late, [position(1)], 5) == []
    later = position(2, start_date=date(2028, 2, 1))
    assert len(best_for_applicant(late, [position(1), later], 5)) == 1


def test_weights_come_from_the_policy() -> None:
    policy = domain.Policy(5, 20, ScoringWeights(distance=0.0, occupation=65.0))
    [proposal] = best_for_position(position(1), [applicant(1, "Arneburg")], 5, policy)
    reasons = {r.criterion: r for r in proposal.reasons}
    assert reasons["distance"].weight == 0
    assert reasons["distance"].score == 0
    assert reasons["occupation"].weight == 65
    assert proposal.score == 1.0


def test_an_applicant_is_proposed_the_open_positions_that_suit_them() -> None:
    lena = applicant(1, "Osterburg", wishes=("26212", "25212"), reach_km=30.0)
    stendal = position(1)  # 21 km, second wish
    seehausen = position(
        2, "Seehausen", occupation=Occupation(code="26212", name="Elektroniker/in")
    )
    salzwedel = position(3, "Salzwedel")  # 41 km
    office = position(4, occupation=Occupation(code="71402", name="Kaufmann/-frau"))
    filled = position(5, status="filled")
    proposals = best_for_applicant(lena, [stendal, seehausen, salzwedel, office, filled], 10)
    assert [p.position.position_id for p in proposals] == [
        seehausen.position_id,
        stendal.position_id,
    ]
    assert proposals[1].reasons[4].text.endswith("an zweiter Stelle.")
    assert proposals[1].reasons[4].text.startswith("Unter zwei Wunschberufen steht ")
    assert best_for_applicant(lena, [stendal], 0) == []


def test_ranking_breaks_ties_by_id() -> None:
    twins = [applicant(n, "Stendal") for n in (2, 1)]
    proposals = best_for_position(position(1), twins, 5)
    assert proposals[0].score == proposals[1].score
    assert proposals[0].proposal_id < proposals[1].proposal_id
    again = domain.ranked(reversed(proposals))
    assert [p.proposal_id for p in again] == [p.proposal_id for p in proposals]


def test_the_shortlist_lists_every_proposal_with_its_status() -> None:
    proposals = best_for_position(
        position(1), [applicant(n, town) for n, town in enumerate(["Stendal", "Bismark"])], 5
    )
    listed = [
        domain.Listed(proposals[1], "withdrawn", "applicant_placed"),
        domain.Listed(proposals[0], "proposed"),
    ]
    candidates = domain.shortlist(listed, limit=10)
    assert [(c.rank, c.proposal_id, c.status, c.withdrawn_reason) for c in candidates] == [
        (1, proposals[0].proposal_id, "proposed", None),
        (2, proposals[1].proposal_id, "withdrawn", "applicant_placed"),
    ]
    assert candidates[0].reasons == proposals[0].reasons
    assert len(domain.shortlist(listed, limit=1)) == 1


# -- refusals ------------------------------------------------------------------------------


def test_refusals_say_what_stands_in_the_way() -> None:
    taken = domain.already_decided("prp_0123456789abcdef0123", "withdraw", "position_closed")
    assert taken.message == (
        "Vorschlag prp_0123456789abcdef0123 wurde bereits zurückgezogen: "
        "Die Stelle wurde geschlossen."
    )
    assert taken.details[0].field == "data.decision"
    placed = domain.applicant_unavailable("apl_0123456789abcdef0123", "prp_00000000000000000001")
    assert "bereits vermittelt (Vorschlag prp_00000000000000000001)" in placed.message
    assert "zurückgezogen" in domain.applicant_unavailable("apl_0123456789abcdef0123", None).message
    copy = domain.position_copy(opened("Stendal"))
    full = domain.position_unavailable(copy, "full")
    assert full.message.endswith(
        "ist bereits besetzt: ihr einziger Platz ist vergeben; "
        "der Vorschlag lässt sich nicht mehr annehmen"
    )
    assert "geschlossen" in domain.position_unavailable(copy, "closed").message
