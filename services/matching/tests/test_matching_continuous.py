"""Continuous matching through the broker: declines, changes, places, the daily cap.

This module's service proposes two candidates per position (`DIKO_PROPOSALS_PER_TRIGGER`)
and at most four per position and day (`DIKO_PROPOSALS_PER_POSITION_PER_DAY`), so that a
handful of applicants shows what happens when shortlists run low and the cap bites.
Days are the days in Berlin on which the triggering message happened: a message dated
tomorrow starts tomorrow's count.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from diko_matching import domain, store
from diko_matching.index import Index
from diko_shared.contract.companies import (
    CompanyUpdated,
    PositionClosed,
    PositionReopened,
    PositionUpdated,
)
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import (
    DecideMatch,
    GetShortlist,
    MatchDeclined,
    UpdateApplicant,
)
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing
from harness.bus import Bus, Tap
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually
from matching_bus import (
    applicant,
    handled,
    matching_process,
    open_position,
    partial,
    position,
    publish_event,
    register,
    settled,
)


@pytest.fixture(scope="module")
def matching(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = matching_process(
        stack,
        DIKO_PROPOSALS_PER_TRIGGER="2",
        DIKO_PROPOSALS_PER_POSITION_PER_DAY="4",
    )
    process.start()
    yield process
    process.stop()


def proposed(tap: Tap, subject_id: str, cause: str | None = None) -> list[dict[str, Any]]:
    """Every proposal announced for `subject_id` so far (with this cause, if given)."""
    return [
        p
        for m in tap.of_type("match.proposed")
        if m.data["subject_id"] == subject_id and cause in (None, m.data.get("cause"))
        for p in m.data["proposals"]
    ]


async def announced(tap: Tap, subject_id: str, count: int) -> list[dict[str, Any]]:
    """Wait until `count` proposals for `subject_id` were announced; all of them so far."""

    async def enough() -> list[dict[str, Any]]:
        found = proposed(tap, subject_id)
        return found if len(found) >= count else []

    return await eventually(enough, what=f"{count} proposal(s) for {subject_id}")


async def next_proposed(tap: Tap, subject_id: str, cause: str, nth: int = 1) -> list[str]:
    """The applicants of the `nth` announcement for `subject_id` with this cause."""
    events = await tap.wait_for(
        lambda m: (
            m.routing_key == "match.proposed"
            and m.data["subject_id"] == subject_id
            and m.data.get("cause") == cause
        ),
        count=nth,
    )
    return [p["applicant"]["applicant_id"] for p in events[nth - 1].data["proposals"]]


async def statuses(bus: Bus, position_id: str) -> dict[str, str]:
    shortlist = await bus.ok(GetShortlist(position_id=position_id, limit=100))
    return {c["applicant"]["applicant_id"]: c["status"] for c in shortlist["candidates"]}


def decline(tap: Tap, applicant_id: str, position_id: str) -> DecideMatch:
    [p] = [x for x in proposed(tap, position_id) if x["applicant"]["applicant_id"] == applicant_id]
    return DecideMatch(proposal_id=p["proposal_id"], decision="decline")


async def test_a_decline_brings_the_next_best_until_the_days_cap_then_the_next_day_more(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.proposed")
    towns = ["Stendal", "Uenglingen", "Dahlen", "Jarchau", "Möringen", "Grobleben"]
    people = await register(bus, matching, *(applicant("12142", t) for t in towns))
    opened = position("12142", "Gärtner/in Garten- und Landschaftsbau", places=1)
    await open_position(bus, matching, opened)
    x = opened.position_id
    assert [p["applicant"]["applicant_id"] for p in await announced(tap, x, 2)] == people[:2]

    await bus.ok(decline(tap, people[0], x))
    assert await next_proposed(tap, x, "declined") == [people[2]]
    await bus.ok(decline(tap, people[1], x))
    assert await next_proposed(tap, x, "declined", nth=2) == [people[3]]  # 4th today: the cap
    await bus.ok(decline(tap, people[2], x))
    await tap.fence()
    assert len(proposed(tap, x)) == 4  # held back: nothing more today

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    more = PositionUpdated(
        position_id=x,
        company_id=opened.company_id,
        places=2,
        places_taken=0,
        status="open",
        changed=["places"],
    )
    await publish_event(bus, matching, "position.updated", more, time=tomorrow)
    # Two places want two open proposals; one is open: the next best comes, once.
    assert await next_proposed(tap, x, "places_added") == [people[4]]
    await tap.fence()
    pairs = [p["applicant"]["applicant_id"] for p in proposed(tap, x)]
    assert len(pairs) == len(set(pairs))  # no pair proposed twice
    assert await statuses(bus, x) == {
        people[0]: "declined",
        people[1]: "declined",
        people[2]: "declined",
        people[3]: "proposed",
        people[4]: "proposed",
    }


async def test_places_added_to_a_filled_position_bring_new_pairs_only(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.*")
    people = await register(
        bus, matching, *(applicant("72112", t) for t in ("Stendal", "Uenglingen", "Dahlen"))
    )
    opened = position("72112", "Bankkaufmann/-frau", places=1)
    await open_position(bus, matching, opened)
    x = opened.position_id
    first, second = await announced(tap, x, 2)
    await bus.ok(DecideMatch(proposal_id=first["proposal_id"], decision="accept"))
    [withdrawn] = await tap.wait_type("match.withdrawn")
    assert (withdrawn.data["proposal_id"], withdrawn.data["reason"]) == (
        second["proposal_id"],
        "position_filled",
    )

    more = PositionUpdated(
        position_id=x,
        company_id=opened.company_id,
        places=2,
        places_taken=1,
        status="open",
        changed=["places"],
    )
    await publish_event(
        bus, matching, "position.updated", more, time=datetime.now(UTC) + timedelta(seconds=2)
    )

    assert await next_proposed(tap, x, "places_added") == [people[2]]  # not the withdrawn pair


async def test_an_applicant_who_changes_leaves_what_no_longer_suits_and_gets_what_does(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.*")
    stendal = position("72302", "Steuerfachangestellte/r", "Stendal")
    salzwedel = position("72302", "Steuerfachangestellte/r", "Salzwedel")
    for p in (stendal, salzwedel):
        await open_position(bus, matching, p)
    [tom] = await register(bus, matching, applicant("72302", "Tangermünde", reach_km=20))
    [first] = await announced(tap, tom, 1)
    assert first["position"]["position_id"] == stendal.position_id
    applicant_tap = await bus.tap(pattern="applicant.updated")

    change = await partial(
        bus,
        UpdateApplicant(applicant_id=tom, home_town="Salzwedel", reach_km=15, changed_by="birte"),
    )

    assert change == {
        "ok": True,
        "data": {"applicant_id": tom, "status": "active", "changed": ["home_town", "reach_km"]},
    }
    [updated] = await applicant_tap.wait_type("applicant.updated")
    assert updated.data["home_town"] == "Salzwedel"
    assert "first_name" not in updated.data
    [withdrawn] = await tap.wait_type("match.withdrawn")
    assert (withdrawn.data["position_id"], withdrawn.data["reason"]) == (
        stendal.position_id,
        "applicant_changed",
    )
    assert [
        p["position"]["position_id"] for p in await _proposed_later(tap, tom, "applicant_changed")
    ] == [salzwedel.position_id]
    refused = await partial(bus, UpdateApplicant(applicant_id=tom, last_name=None, home_town="Xy"))
    assert refused["error"]["code"] == "validation_error"
    assert {d["field"] for d in refused["error"]["details"]} == {"data.last_name", "data.home_town"}


async def _proposed_later(tap: Tap, subject_id: str, cause: str) -> list[dict[str, Any]]:
    [event] = await tap.wait_for(
        lambda m: (
            m.routing_key == "match.proposed"
            and m.data["subject_id"] == subject_id
            and m.data.get("cause") == cause
        )
    )
    return event.data["proposals"]


async def test_a_position_that_moves_withdraws_who_cannot_reach_it_and_proposes_who_can(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.*")
    [near_stendal] = await register(bus, matching, applicant("73202", "Uenglingen", reach_km=15))
    [near_gardelegen] = await register(bus, matching, applicant("73202", "Gardelegen", reach_km=15))
    opened = position("73202", "Verwaltungsfachangestellte/r", "Stendal")
    await open_position(bus, matching, opened)
    [first] = await announced(tap, opened.position_id, 1)
    assert first["applicant"]["applicant_id"] == near_stendal

    moved = PositionUpdated(
        position_id=opened.position_id,
        company_id=opened.company_id,
        places=2,
        places_taken=0,
        status="open",
        changed=["town"],
        town="Gardelegen",
    )
    await publish_event(
        bus, matching, "position.updated", moved, time=datetime.now(UTC) + timedelta(seconds=2)
    )

    [withdrawn] = await tap.wait_type("match.withdrawn")
    assert (withdrawn.data["applicant_id"], withdrawn.data["reason"]) == (
        near_stendal,
        "position_changed",
    )
    assert await next_proposed(tap, opened.position_id, "position_changed") == [near_gardelegen]


async def test_a_late_reopening_does_not_undo_a_later_closing(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.*")
    opened = position("52122", "Berufskraftfahrer/in", places=1)
    await open_position(bus, matching, opened)
    now = datetime.now(UTC)
    closed = PositionClosed(
        position_id=opened.position_id, company_id=opened.company_id, reason="expired"
    )
    reopened = PositionReopened.model_validate(
        {**opened.model_dump(mode="json"), "places_taken": 0}, strict=False
    )
    await publish_event(bus, matching, "position.closed", closed, time=now + timedelta(seconds=2))
    await publish_event(
        bus, matching, "position.reopened", reopened, time=now + timedelta(seconds=1)
    )

    [newcomer] = await register(bus, matching, applicant("52122", "Stendal"))
    await tap.fence()
    assert proposed(tap, newcomer) == []
    assert proposed(tap, opened.position_id) == []


async def test_a_renamed_company_is_named_in_its_shortlists_and_new_proposals(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="match.proposed")
    opened = position("27212", "Technische/r Produktdesigner/in")
    await open_position(bus, matching, opened)
    renamed = CompanyUpdated(
        company_id=opened.company_id,
        changed=["name"],
        name="Formwerk Altmark GmbH",
        town="Stendal",
        postcode="39576",
    )
    await publish_event(bus, matching, "company.updated", renamed, subject=opened.company_id)

    [lena] = await register(bus, matching, applicant("27212", "Stendal"))

    [proposal] = await _proposed_later(tap, lena, "applicant_registered")
    assert proposal["position"]["company_name"] == "Formwerk Altmark GmbH"


async def test_a_slot_of_the_days_cap_held_elsewhere_is_passed_over_and_counted(
    bus: Bus, matching: ServiceProcess, stack: SessionStack
) -> None:
    """A slot another message holds but has not announced yet (a replica between its claim
    and its feed entry): the candidate takes the next free slot, and the held one counts
    against the cap."""
    tap = await bus.tap(pattern="match.proposed")
    towns = ["Stendal", "Uenglingen", "Dahlen", "Jarchau"]
    people = await register(bus, matching, *(applicant("63222", t) for t in towns))
    opened = position("63222", "Hotelfachmann/-frau", places=1)
    await open_position(bus, matching, opened)
    x = opened.position_id
    assert [p["applicant"]["applicant_id"] for p in await announced(tap, x, 2)] == people[:2]
    day = domain.berlin_day(datetime.now(UTC))
    async with AsyncMongoClient(stack.mongo_url) as client:
        await client[stack.database("matching")]["quota"].insert_one(
            {
                "_id": f"{x}|{day}|3",
                "position_id": x,
                "day": day,
                "proposal_id": "prp_elsewhere",
                "key": "elsewhere",
                "at": datetime.now(UTC),
            }
        )

    await bus.ok(decline(tap, people[0], x))
    assert await next_proposed(tap, x, "declined") == [people[2]]  # in slot 4, the last
    await bus.ok(decline(tap, people[1], x))
    await tap.fence()
    assert len(proposed(tap, x)) == 3  # slots 1, 2 and 4; slot 3 is held elsewhere
    assert (await statuses(bus, x))[people[2]] == "proposed"


async def test_a_decline_that_died_before_its_proposals_is_topped_up_by_match_declined(
    bus: Bus, matching: ServiceProcess, stack: SessionStack
) -> None:
    """A decline that an older version made (it left proposing to `match.declined`), or
    that died between its decision and its proposals: the decision is written and
    `match.declined` sent, but nobody proposed the position's next candidate. The event's
    handler does: the next best once, never a pair again, within the day's cap."""
    tap = await bus.tap(pattern="match.proposed")
    towns = ["Stendal", "Uenglingen", "Dahlen", "Jarchau", "Möringen"]
    people = await register(bus, matching, *(applicant("32142", t) for t in towns))
    opened = position("32142", "Dachdecker/in", places=1)
    await open_position(bus, matching, opened)
    x = opened.position_id
    assert [p["applicant"]["applicant_id"] for p in await announced(tap, x, 2)] == people[:2]
    before = handled(matching, "match.declined")
    await bus.ok(decline(tap, people[0], x))  # today's decline proposes the third itself
    assert await next_proposed(tap, x, "declined") == [people[2]]
    await settled(matching, "match.declined", before, 1)
    await tap.fence()
    assert len(proposed(tap, x)) == 3  # its own `match.declined` found the position topped up

    dead = await decline_that_died(stack, tap, people[1], x)
    await publish_declined(bus, matching, dead)

    assert await next_proposed(tap, x, "declined", nth=2) == [people[3]]  # the 4th today: the cap
    await publish_declined(bus, matching, dead)  # the same decline announced again
    await publish_declined(bus, matching, await decline_that_died(stack, tap, people[2], x))
    await tap.fence()
    pairs = [p["applicant"]["applicant_id"] for p in proposed(tap, x)]
    assert pairs == people[:4]  # each once; the fifth is held back by the day's cap
    assert await statuses(bus, x) == {
        people[0]: "declined",
        people[1]: "declined",
        people[2]: "declined",
        people[3]: "proposed",
    }


async def decline_that_died(
    stack: SessionStack, tap: Tap, applicant_id: str, position_id: str
) -> MatchDeclined:
    """What `match.decide` declining a proposal had written when it died (or, in an older
    version, finished): the decision claimed, the proposal declined and announced in the
    feed; no next candidate. Returns the `match.declined` it had sent."""
    [p] = [x for x in proposed(tap, position_id) if x["applicant"]["applicant_id"] == applicant_id]
    proposal_id = p["proposal_id"]
    fields = {"decision": "decline", "reason": None, "decided_by": None}
    key = f"matching.decide|tests|{uuid.uuid4()}"
    async with AsyncMongoClient(stack.mongo_url) as client:
        db = client[stack.database("matching")]
        await store.claim(db, store.DECISIONS, proposal_id, fields, key)
        await store.set_proposal_status(db, proposal_id, "declined")
        feed = Index()
        await feed.load(db)
        await feed.announce(db, [("proposal", proposal_id)])
    return MatchDeclined(
        proposal_id=proposal_id,
        position_id=position_id,
        company_id=p["position"]["company_id"],
        applicant_id=applicant_id,
    )


async def publish_declined(bus: Bus, matching: ServiceProcess, declined: MatchDeclined) -> None:
    """`match.declined` as matching sends it (a new message each time); wait until handled."""
    envelope = new_envelope(
        "match.declined", declined, source="matching", subject=declined.proposal_id
    )
    before = handled(matching, "match.declined")
    await bus.publisher.publish(Outgoing.from_envelope(topology.EVENTS.name, envelope))
    await settled(matching, "match.declined", before, 1)
