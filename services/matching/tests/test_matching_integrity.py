"""Every way matching and companies could tell different stories, and that they do not.

Each test drives the service through the broker the way companies and staff would, and
checks both what is answered and what is announced: an applicant placed twice, a place
taken twice, a filled or closed position still proposed or accepted, a withdrawn
applicant accepted, an acceptance naming a company that no longer exists after a merge.
The races run on two replicas of the service (two processes on the same queues and the
same FerretDB, whose updates are not atomic across processes), with the decisions
delivered at the same moment.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diko_shared.contract.companies import CompanyMerged, PositionClosed, PositionReopened
from diko_shared.contract.matching import (
    DecideMatch,
    GetApplicant,
    GetShortlist,
    RegisterApplicant,
    WithdrawApplicant,
)
from harness.bus import Bus, Tap
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from matching_bus import (
    Processes,
    applicant,
    at_once,
    matching_process,
    new_id,
    open_position,
    position,
    publish_event,
    register,
)


@pytest.fixture(scope="module")
def replicas(stack: SessionStack, matching: ServiceProcess) -> Iterator[list[ServiceProcess]]:
    """Two matching processes on the same queues and database: every test uses both."""
    process = matching_process(stack, "matching-replica")
    process.start()
    yield [matching, process]
    process.stop()


async def proposed(
    bus: Bus,
    matching: Processes,
    code: str,
    name: str,
    people: list[RegisterApplicant],
    towns: list[str],
    places: int = 2,
) -> tuple[list[str], list[dict[str, Any]], Tap]:
    """Register `people`, open one position per town; their ids, positions' proposals, a tap."""
    tap = await bus.tap(pattern="match.*")
    ids = await register(bus, matching, *people)
    opened = [position(code, name, town, places=places) for town in towns]
    for p in opened:
        await open_position(bus, matching, p)
    events = await tap.wait_for(
        lambda m: (
            m.routing_key == "match.proposed"
            and m.data["subject_id"] in {p.position_id for p in opened}
        ),
        count=len(opened),
    )
    proposals = [p for e in events for p in e.data["proposals"]]
    return ids, proposals, tap


def by_applicant(proposals: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in proposals:
        out[p["applicant"]["applicant_id"]].append(p)
    return out


def accept(proposal: dict[str, Any]) -> DecideMatch:
    return DecideMatch(proposal_id=proposal["proposal_id"], decision="accept")


def decided_by_both(replicas: list[ServiceProcess]) -> bool:
    queue = "matching.match.decide"
    return all(
        sum(p.metric("diko_messages_total", queue=queue, outcome=o) for o in OUTCOMES) > 0
        for p in replicas
    )


OUTCOMES = ("processed", "answered_error", "retried")


# -- an applicant is placed once ---------------------------------------------------------


async def test_a_placed_applicant_is_not_accepted_for_a_second_position(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    [lena], proposals, tap = await proposed(
        bus,
        replicas,
        "81102",
        "Medizinische/r Fachangestellte/r",
        [applicant("81102", "Stendal")],
        ["Stendal", "Tangermünde"],
    )
    first, second = sorted(proposals, key=lambda p: p["rank"])
    assert (await bus.ok(accept(first)))["status"] == "accepted"
    refused = await bus.request(accept(second))

    assert refused["ok"] is False
    assert refused["error"]["code"] == "conflict"
    assert refused["error"]["message"] == (
        f"Vorschlag {second['proposal_id']} wurde bereits zurückgezogen: "
        "Die Bewerberin oder der Bewerber ist bereits vermittelt."
    )
    [withdrawn] = await tap.wait_type("match.withdrawn")
    assert (withdrawn.data["proposal_id"], withdrawn.data["reason"]) == (
        second["proposal_id"],
        "applicant_placed",
    )
    await tap.wait_type("match.accepted")
    await tap.fence()
    assert [m.data["proposal_id"] for m in tap.of_type("match.accepted")] == [first["proposal_id"]]
    assert (await bus.ok(GetApplicant(applicant_id=lena)))["status"] == "placed"


async def test_two_acceptances_of_one_applicant_at_the_same_moment_on_two_replicas(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    people = [applicant("71302", "Stendal", reach_km=30) for _ in range(6)]
    ids, proposals, tap = await proposed(
        bus,
        replicas,
        "71302",
        "Industriekaufmann/-frau",
        people,
        ["Stendal", "Tangermünde"],
        places=6,
    )
    pairs = by_applicant(proposals)
    assert sorted(len(v) for v in pairs.values()) == [2] * 6
    decisions = [accept(p) for a in ids for p in pairs[a]]

    replies = await at_once(bus, decisions)

    outcome: dict[str, list[str]] = defaultdict(list)
    for d, reply in zip(decisions, replies, strict=True):
        a = next(a for a, ps in pairs.items() if d.proposal_id in {p["proposal_id"] for p in ps})
        outcome[a].append("accepted" if reply["ok"] else reply["error"]["code"])
    assert {a: sorted(v) for a, v in outcome.items()} == {a: ["accepted", "conflict"] for a in ids}
    await tap.wait_type("match.accepted", count=len(ids))  # published after the replies
    await tap.wait_type("match.withdrawn", count=len(ids))
    await tap.fence()
    accepted = Counter(m.data["applicant_id"] for m in tap.of_type("match.accepted"))
    assert accepted == dict.fromkeys(ids, 1)
    withdrawn = [m.data for m in tap.of_type("match.withdrawn")]
    assert Counter(w["applicant_id"] for w in withdrawn) == dict.fromkeys(ids, 1)
    assert {w["reason"] for w in withdrawn} == {"applicant_placed"}
    assert decided_by_both(replicas)
    for a in ids:
        assert (await bus.ok(GetApplicant(applicant_id=a)))["status"] == "placed"


# -- no place is taken twice ------------------------------------------------------------


async def test_the_last_place_is_taken_once_when_everyone_is_accepted_at_once(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    people = [applicant("34212", "Stendal") for _ in range(5)]
    _, proposals, tap = await proposed(
        bus,
        replicas,
        "34212",
        "Anlagenmechaniker/in für Sanitär-, Heizungs- und Klimatechnik",
        people,
        ["Stendal"],
        places=1,
    )
    assert len(proposals) == 5

    replies = await at_once(bus, [accept(p) for p in proposals])

    assert sum(1 for r in replies if r["ok"]) == 1
    refused = [r["error"] for r in replies if not r["ok"]]
    assert {e["code"] for e in refused} == {"conflict"}
    assert all("besetzt" in e["message"] or "zurückgezogen" in e["message"] for e in refused)
    await tap.wait_type("match.withdrawn", count=4)  # published after the replies
    await tap.fence()
    assert len(tap.of_type("match.accepted")) == 1
    withdrawn = tap.of_type("match.withdrawn")
    assert len(withdrawn) == 4
    assert {m.data["reason"] for m in withdrawn} == {"position_filled"}
    shortlist = await bus.ok(GetShortlist(position_id=proposals[0]["position"]["position_id"]))
    assert Counter(c["status"] for c in shortlist["candidates"]) == {"accepted": 1, "withdrawn": 4}


# -- a filled or closed position is neither proposed nor accepted ------------------------


async def test_a_closed_position_withdraws_its_proposals_and_reopened_proposes_only_new_pairs(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    first_people = [applicant("25102", "Stendal") for _ in range(2)]
    _, proposals, tap = await proposed(
        bus, replicas, "25102", "Industriemechaniker/in", first_people, ["Stendal"]
    )
    opened = proposals[0]["position"]
    closed = PositionClosed(
        position_id=opened["position_id"], company_id=opened["company_id"], reason="withdrawn"
    )
    await publish_event(bus, replicas, "position.closed", closed)

    withdrawn = await tap.wait_type("match.withdrawn", count=2)
    assert {m.data["reason"] for m in withdrawn} == {"position_closed"}
    refused = await bus.request(accept(proposals[0]))
    assert refused["error"]["code"] == "conflict"
    assert "zurückgezogen: Die Stelle wurde geschlossen." in refused["error"]["message"]
    [later] = await register(bus, replicas, applicant("25102", "Stendal"))
    await tap.fence()
    assert not [
        m for m in tap.of_type("match.proposed") if m.data["subject_id"] == later
    ]  # nobody is proposed a closed position

    reopened = PositionReopened.model_validate(
        {**opened, "places": 2, "places_taken": 0, "school_certificate": "hauptschule"},
        strict=False,
    )
    when = datetime.now(UTC) + timedelta(seconds=5)
    await publish_event(bus, replicas, "position.reopened", reopened, time=when)
    [event] = await tap.wait_for(
        lambda m: m.routing_key == "match.proposed" and m.data.get("cause") == "position_reopened"
    )
    assert [p["applicant"]["applicant_id"] for p in event.data["proposals"]] == [later]


async def test_an_applicant_is_not_proposed_a_position_whose_places_are_taken(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    _, proposals, tap = await proposed(
        bus,
        replicas,
        "51312",
        "Fachkraft für Lagerlogistik",
        [applicant("51312", "Stendal")],
        ["Stendal"],
        places=1,
    )
    await bus.ok(accept(proposals[0]))
    [newcomer] = await register(bus, replicas, applicant("51312", "Stendal"))
    await tap.fence()
    assert not [m for m in tap.of_type("match.proposed") if m.data["subject_id"] == newcomer]


# -- a withdrawn applicant is not accepted -----------------------------------------------


async def test_a_withdrawn_applicant_leaves_every_shortlist_and_cannot_be_accepted(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    [jonas], proposals, tap = await proposed(
        bus,
        replicas,
        "29212",
        "Bäcker/in",
        [applicant("29212", "Stendal")],
        ["Stendal", "Tangermünde"],
    )
    tap_withdrawn = await bus.tap(pattern="applicant.withdrawn")

    reply = await bus.ok(WithdrawApplicant(applicant_id=jonas, reason="found_elsewhere"))
    again = await bus.ok(WithdrawApplicant(applicant_id=jonas))

    assert sorted(reply["withdrawn_proposals"]) == sorted(p["proposal_id"] for p in proposals)
    assert again == {"applicant_id": jonas, "status": "withdrawn", "withdrawn_proposals": []}
    withdrawn = await tap.wait_type("match.withdrawn", count=2)
    assert {m.data["reason"] for m in withdrawn} == {"applicant_withdrawn"}
    [event] = await tap_withdrawn.wait_type("applicant.withdrawn")
    assert event.data["reason"] == "found_elsewhere"
    refused = await bus.request(accept(proposals[0]))
    assert refused["error"]["code"] == "conflict"
    assert (await bus.ok(GetApplicant(applicant_id=jonas)))["status"] == "withdrawn"
    later = position("29212", "Bäcker/in", "Stendal")
    await open_position(bus, replicas, later)
    await tap.fence()
    assert not [
        m for m in tap.of_type("match.proposed") if m.data["subject_id"] == later.position_id
    ]
    await tap_withdrawn.fence()
    assert len(tap_withdrawn.of_type("applicant.withdrawn")) == 1


async def test_a_placed_applicant_cannot_be_withdrawn_here(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    [mia], proposals, _ = await proposed(
        bus,
        replicas,
        "62312",
        "Fachverkäufer/in im Lebensmittelhandwerk (Bäckerei)",
        [applicant("62312", "Stendal")],
        ["Stendal"],
    )
    await bus.ok(accept(proposals[0]))
    refused = await bus.request(WithdrawApplicant(applicant_id=mia))
    assert refused["error"]["code"] == "conflict"
    assert "bereits vermittelt" in refused["error"]["message"]
    assert (await bus.ok(GetApplicant(applicant_id=mia)))["status"] == "placed"


async def test_withdrawal_and_acceptance_at_the_same_moment_on_two_replicas(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    people = [applicant("33322", "Stendal") for _ in range(12)]
    ids, proposals, tap = await proposed(
        bus, replicas, "33322", "Zimmerer/Zimmerin", people, ["Stendal"], places=12
    )
    pairs = by_applicant(proposals)
    # Half the acceptances go out before their withdrawal, half after.
    asked = {
        a: (accept(pairs[a][0]), WithdrawApplicant(applicant_id=a))[:: 1 if i % 2 else -1]
        for i, a in enumerate(ids)
    }

    replies = await at_once(bus, [request for a in ids for request in asked[a]])

    answers = dict(zip([id(r) for a in ids for r in asked[a]], replies, strict=True))
    for a in ids:
        accept_request = next(r for r in asked[a] if isinstance(r, DecideMatch))
        withdraw_request = next(r for r in asked[a] if isinstance(r, WithdrawApplicant))
        accepted, withdrawn = answers[id(accept_request)], answers[id(withdraw_request)]
        assert accepted["ok"] != withdrawn["ok"], (accepted, withdrawn)
        assert (accepted if not accepted["ok"] else withdrawn)["error"]["code"] == "conflict"
        status = (await bus.ok(GetApplicant(applicant_id=a)))["status"]
        assert status == ("placed" if accepted["ok"] else "withdrawn")
    await tap.wait_for(
        lambda m: m.routing_key in ("match.accepted", "match.withdrawn"), count=len(ids)
    )
    await tap.fence()
    accepted_ids = {m.data["applicant_id"] for m in tap.of_type("match.accepted")}
    withdrawn_ids = {m.data["applicant_id"] for m in tap.of_type("match.withdrawn")}
    assert accepted_ids | withdrawn_ids == set(ids)
    assert not accepted_ids & withdrawn_ids


# -- acceptance after a merge names the company that exists --------------------------------


async def test_an_acceptance_after_a_merge_names_the_surviving_company(
    bus: Bus, replicas: list[ServiceProcess]
) -> None:
    _, proposals, tap = await proposed(
        bus,
        replicas,
        "33212",
        "Maler/in und Lackierer/in",
        [applicant("33212", "Stendal")],
        ["Stendal"],
    )
    [proposal] = proposals
    survivor = new_id("cmp")
    merged = CompanyMerged(
        survivor_id=survivor,
        merged_id=proposal["position"]["company_id"],
        survivor_name="Malerbetrieb Krüger & Söhne GmbH",
        position_ids=[proposal["position"]["position_id"]],
        contact_ids=[],
    )
    await publish_event(bus, replicas, "company.merged", merged, subject=survivor)

    await bus.ok(accept(proposal))

    [event] = await tap.wait_type("match.accepted")
    assert event.data["company_id"] == survivor
    shortlist = await bus.ok(GetShortlist(position_id=proposal["position"]["position_id"]))
    assert shortlist["candidates"][0]["status"] == "accepted"
