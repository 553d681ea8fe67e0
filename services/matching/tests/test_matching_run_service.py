"""`match.run` and `match.explain` through the broker, on this module's own data.

The service proposes one candidate per new position or applicant here
(`DIKO_PROPOSALS_PER_TRIGGER=1`), so that a run has pairs left to propose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from diko_shared.contract.matching import DecideMatch, ExplainMatch, GetShortlist, RunMatching
from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from matching_bus import applicant, matching_process, open_position, position, register


@pytest.fixture(scope="module")
def matching(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = matching_process(stack, DIKO_PROPOSALS_PER_TRIGGER="1")
    process.start()
    yield process
    process.stop()


TOWNS = ["Stendal", "Uenglingen", "Dahlen", "Jarchau", "Möringen", "Tangermünde", "Arneburg"]


async def test_a_run_proposes_a_stable_assignment_and_reports_it(
    bus: Bus, matching: ServiceProcess
) -> None:
    people = await register(
        bus, matching, *(applicant("26112", t, reach_km=30) for t in TOWNS + TOWNS[:3])
    )
    opened = [
        position("26112", "Mechatroniker/in", town, places=places)
        for town, places in (("Stendal", 2), ("Tangermünde", 1), ("Arneburg", 2))
    ]
    tap = await bus.tap(pattern="match.*")
    for p in opened:
        await open_position(bus, matching, p)
    first = await tap.wait_type("match.proposed", count=3)
    declined = first[0].data["proposals"][0]
    await bus.ok(DecideMatch(proposal_id=declined["proposal_id"], decision="decline"))
    await tap.wait_for(
        lambda m: m.routing_key == "match.proposed" and m.data.get("cause") == "declined"
    )

    result = await bus.ok(RunMatching(seed=3), timeout=120)

    assert re.fullmatch(r"run_[0-9a-f]{20}", result["run_id"])
    assert (result["applicants"], result["positions"], result["places"]) == (10, 3, 5)
    assert result["assigned"] == 5
    assert result["stable"] is True
    assert result["blocking_pairs"] == []
    assert result["unassigned"] == 5 == len(result["unassigned_applicants"])
    assert set(result["unassigned_applicants"]) < set(people)
    assert result["proposed"] + result["already_proposed"] == result["assigned"]
    assert result["held_back"] == 0
    [completed] = await tap.wait_type("match.run_completed")  # published after its proposals
    assert completed.data == {**result, "seconds": completed.data["seconds"]}
    run_events = tap.matching(
        lambda m: m.routing_key == "match.proposed" and m.data.get("cause") == "run"
    )
    proposals = [p for e in run_events for p in e.data["proposals"]]
    assert all(e.data["run_id"] == result["run_id"] for e in run_events)
    assert all(e.data["trigger"] == "position" for e in run_events)
    assert len(proposals) == result["proposed"]
    pair = (declined["position"]["position_id"], declined["applicant"]["applicant_id"])
    assert pair not in {
        (p["position"]["position_id"], p["applicant"]["applicant_id"]) for p in proposals
    }

    again = await bus.ok(RunMatching(seed=3), timeout=120)
    assert (again["proposed"], again["already_proposed"]) == (0, again["assigned"])
    for p in opened:
        shortlist = await bus.ok(GetShortlist(position_id=p.position_id))
        assert len({c["applicant"]["applicant_id"] for c in shortlist["candidates"]}) == len(
            shortlist["candidates"]
        )


async def test_the_explanation_of_a_proposal_names_every_criterion_and_the_better_positions(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.proposed")
    full = position("24232", "Zerspanungsmechaniker/in", "Stendal", places=1)
    await open_position(bus, matching, full)
    [taken] = await register(bus, matching, applicant("24232", "Stendal"))
    [event] = await tap.wait_for(lambda m: m.data["subject_id"] == taken)
    await bus.ok(
        DecideMatch(proposal_id=event.data["proposals"][0]["proposal_id"], decision="accept")
    )
    far = position("24232", "Zerspanungsmechaniker/in", "Salzwedel")
    second_wish = position("27212", "Technische/r Produktdesigner/in", "Tangermünde")
    for p in (far, second_wish):
        await open_position(bus, matching, p)
    [ida] = await register(
        bus, matching, applicant("24232", "Stendal", desired_occupations=["24232", "27212"])
    )
    [proposal] = (await tap.wait_for(lambda m: m.data["subject_id"] == ida))[0].data["proposals"]
    assert proposal["position"]["position_id"] == second_wish.position_id

    explained = await bus.ok(ExplainMatch(proposal_id=proposal["proposal_id"]))

    assert explained["status"] == "proposed"
    assert explained["acceptable"] is True
    assert [c["criterion"] for c in explained["criteria"]] == [
        "occupation",
        "distance",
        "school",
        "start",
        "preference",
    ]
    assert explained["criteria"][4]["text"].endswith("steht auf Platz 2 von 2 Wunschberufen.")
    why = {b["position_id"]: (b["why"], b["text"]) for b in explained["better_positions"]}
    assert why[full.position_id] == ("full", "Der einzige Platz der Stelle ist vergeben.")
    assert why[far.position_id][0] == "not_acceptable"
    assert "außerhalb der Reichweite" in why[far.position_id][1]
    by_pair = await bus.ok(ExplainMatch(applicant_id=ida, position_id=second_wish.position_id))
    assert by_pair == explained


async def test_an_explanation_needs_a_proposal_or_a_pair(
    bus: Bus, matching: ServiceProcess
) -> None:
    neither = await bus.request(ExplainMatch())
    assert neither["error"]["code"] == "validation_error"
    assert neither["error"]["details"][0]["field"] == "data.applicant_id"
    unknown = await bus.request(ExplainMatch(proposal_id="prp_00000000000000000000"))
    assert unknown["error"]["code"] == "not_found"
