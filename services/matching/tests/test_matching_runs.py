"""Stable runs and explanations on the read model, without broker or database."""

from __future__ import annotations

from datetime import date

import pytest

from diko_matching import choosing
from diko_matching.engine import ProfileInstance, check_assignment, instance_from_profiles
from diko_matching.engine.generate import generate_profiles
from diko_matching.explaining import better_positions
from diko_matching.index import ENGINE_SCHOOL, ApplicantEntry, PositionEntry
from diko_matching.runs import plan_run
from diko_shared.contract.common import Occupation
from diko_shared.geo import load_gazetteer
from diko_shared.occupations import load_occupations
from matching_samples import POLICY, applicant, index_of, position, proposal_entry

SCHOOL = {engine: ours for ours, engine in ENGINE_SCHOOL.items()}


def altmark(n_applicants: int, n_positions: int, seed: int):
    """Generated Altmark profiles as read-model entries, and as the engine's instance."""
    data = generate_profiles(n_applicants, n_positions, seed=seed)
    gaz, catalogue = load_gazetteer(), load_occupations()
    applicants = []
    for i, (a, p) in enumerate(sorted(data["applicants"].items())):
        place = gaz.lookup(p["home"])
        data["applicants"][a]["available_until"] = None
        applicants.append(
            ApplicantEntry(
                applicant_id=f"apl_{i:020x}",
                status="active",
                name=a,
                email=None,
                home_town=place.name,
                lat=place.latitude,
                lon=place.longitude,
                reach_km=float(p["reach_km"]),
                licence=p["licence"],
                school=SCHOOL[p["school"]],
                wishes=tuple(p["occupations"]),
                earliest_start=date.fromisoformat(p["available_from"]),
            )
        )
    positions = []
    for j, (_, p) in enumerate(sorted(data["positions"].items())):
        place = gaz.lookup(p["town"])
        positions.append(
            PositionEntry(
                position_id=f"pos_{j:020x}",
                company_id=f"cmp_{j:020x}",
                company_name=p["company"],
                occupation=Occupation(code=p["occupation"], name=catalogue.label(p["occupation"])),
                places=p["places"],
                start_date=date.fromisoformat(p["start"]),
                town=place.name,
                lat=place.latitude,
                lon=place.longitude,
                school=SCHOOL[p["school"]],
                status="open",
            )
        )
    return applicants, positions


def engine_instance(applicants: list[ApplicantEntry], positions: list[PositionEntry], length: int):
    """The same people as the engine's profile instance (what `diko match solve` reads)."""
    return instance_from_profiles(
        ProfileInstance.model_validate(
            {
                "applicants": {
                    a.applicant_id: {
                        "home": a.home_town,
                        "occupations": list(a.wishes),
                        "reach_km": a.reach_km,
                        "licence": a.licence,
                        "school": ENGINE_SCHOOL[a.school],
                        "available_from": a.earliest_start,
                    }
                    for a in applicants
                },
                "positions": {
                    p.position_id: {
                        "town": p.town,
                        "occupation": p.occupation.code,
                        "places": p.places,
                        "school": ENGINE_SCHOOL[p.school],
                        "start": p.start_date,
                    }
                    for p in positions
                },
                "list_length": length,
            }
        )
    )


@pytest.mark.parametrize("optimal", ["applicant", "position"])
def test_a_run_is_a_stable_assignment_of_the_engines_lists(optimal: str) -> None:
    applicants, positions = altmark(600, 120, seed=3)
    plan = plan_run(
        applicants,
        positions,
        [p.places for p in positions],
        set(),
        POLICY.weights,
        optimal=optimal,
        seed=5,
        list_length=20,
    )
    assignment: dict[str, list[str]] = {p.position_id: [] for p in positions}
    for a, x in plan.pairs:
        assignment[x].append(a)
    judged = check_assignment(engine_instance(applicants, positions, 20), assignment)
    assert judged.stable, judged.blocking_pairs[:5]
    assert plan.blocking_total == 0
    assert len(plan.pairs) + len(plan.unassigned) == len(applicants)
    assert plan.places == sum(p.places for p in positions)
    assert len(plan.pairs) > plan.places // 2
    assert all(len(v) <= p.places for p, v in zip(positions, assignment.values(), strict=True))


def test_the_same_seed_gives_the_same_run_and_each_side_gets_its_optimum() -> None:
    applicants, positions = altmark(400, 80, seed=4)
    capacity = [p.places for p in positions]

    def run(optimal: str, seed: int) -> dict[str, str]:
        plan = plan_run(
            applicants, positions, capacity, set(), POLICY.weights, optimal=optimal, seed=seed
        )
        return dict(plan.pairs)

    assert run("applicant", 1) == run("applicant", 1)
    mine, theirs = run("applicant", 1), run("position", 1)
    index = index_of(applicants, positions)
    by_id = {p.position_id: p for p in positions}
    for a in index.applicants.values():  # applicant-optimal: no applicant does worse
        here = (
            choosing.explain(a, by_id[mine[a.applicant_id]], POLICY.weights).total
            if a.applicant_id in mine
            else -1
        )
        there = (
            choosing.explain(a, by_id[theirs[a.applicant_id]], POLICY.weights).total
            if a.applicant_id in theirs
            else -1
        )
        assert round(here, 2) >= round(there, 2)


def test_declined_pairs_are_never_assigned_again_and_capacities_are_the_free_places() -> None:
    x = position(1, places=3)
    people = [applicant(n, "Stendal") for n in range(1, 5)]
    excluded = {(people[0].applicant_id, x.position_id)}
    plan = plan_run(people, [x], [2], excluded, POLICY.weights)
    assigned = {a for a, _ in plan.pairs}
    assert people[0].applicant_id not in assigned
    assert len(assigned) == 2
    assert plan.places == 2
    assert sorted(plan.unassigned) == sorted(
        a.applicant_id for a in people if a.applicant_id not in assigned
    )


def test_a_run_without_positions_leaves_everyone_unassigned() -> None:
    people = [applicant(n, "Stendal") for n in range(1, 3)]
    plan = plan_run(people, [], [], set(), POLICY.weights)
    assert plan.pairs == []
    assert plan.unassigned == [a.applicant_id for a in people]


# -- explanations ----------------------------------------------------------------------------


def test_the_better_positions_say_why_the_applicant_does_not_have_them() -> None:
    lena = applicant(1, "Stendal", wishes=("25212", "26212"), reach_km=20.0)
    explained = position(
        1, "Tangermünde", occupation=Occupation(code="26212", name="Elektroniker/in")
    )
    full = position(2, places=1)
    closed = position(3, status="closed")
    declined = position(4, "Dahlen")
    crowded = position(5, "Uenglingen", places=1)
    waiting = position(6, "Jarchau")
    far = position(7, "Salzwedel")  # the first wish, 55 km away: beyond the reach
    rivals = [applicant(n, "Stendal") for n in range(10, 21)]
    proposals = [
        proposal_entry(full, rivals[0], "accepted", 0.99),
        proposal_entry(declined, lena, "declined"),
        *(proposal_entry(crowded, r, "proposed", 0.99) for r in rivals),
    ]
    index = index_of(
        [lena, *rivals], [explained, full, closed, declined, crowded, waiting, far], proposals
    )
    score = choosing.explain(lena, explained, POLICY.weights)
    better = better_positions(index, POLICY, lena, explained, score, 10)
    why = {b.position_id: b.why for b in better}
    assert why == {
        full.position_id: "full",
        closed.position_id: "closed",
        declined.position_id: "declined",
        crowded.position_id: "ranked_lower",
        waiting.position_id: "not_proposed",
        far.position_id: "not_acceptable",
    }
    texts = {b.position_id: b.text for b in better}
    assert texts[full.position_id] == "Der einzige Platz der Stelle ist vergeben."
    assert "außerhalb der Reichweite" in texts[far.position_id]
    assert "11 Vorschläge" in texts[crowded.position_id]
    acceptable = [b for b in better if b.acceptable]
    assert [b.score for b in acceptable] == sorted((b.score for b in acceptable), reverse=True)
    assert all(b.score > choosing.share(score.total, 100) for b in acceptable)
    assert better_positions(index, POLICY, lena, explained, score, 2) == better[:2]
