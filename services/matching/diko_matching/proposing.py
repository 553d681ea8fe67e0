"""Proposing: the next best candidates for a position, the best positions for an applicant.

A position with a free place wants `domain.wanted_open` open proposals (the shortlist's
length, `DIKO_PROPOSALS_PER_TRIGGER`); whenever one is declined or withdrawn, places
are added, the position changes or opens again, it is topped up with the best applicants
not proposed to it before. An applicant likewise wants that many open proposals when
registered or changed. Every proposal of a position counts against its daily cap
(`DIKO_PROPOSALS_PER_POSITION_PER_DAY`, days in Berlin, the day the triggering message
happened); what the cap holds back is proposed by the next message about the position
on a later day, or by the next run.

Each new proposal is claimed in this order, so that no race leaves a wrong one standing:

1. the pair: already proposed (in any state) means never again; a redelivered message
   finds its own proposals and announces them again;
2. a slot of the day's cap (`quota`), given back if the pair turns out to be taken;
3. the proposal itself (`proposals/<pair>`), then a look at what may have changed since
   the read model was read: the applicant placed or withdrawn (`placements`), the
   position closed, filled or full (`seats`), either side changed so that the pair no
   longer suits. Such a proposal is withdrawn at once, without ever being announced.
   Writers do the opposite order (claim or write first, then look at the proposals),
   so one of the two always sees the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from diko_matching import choosing, decisions, domain, store
from diko_matching.index import ApplicantEntry, Index, PositionEntry
from diko_shared.contract.matching import MatchProposed, Proposal
from diko_shared.geo import load_gazetteer
from diko_shared.messaging.handling import Context

#: Candidates scored beyond those wanted, for pairs that turn out to be taken.
SPARE = 5


@dataclass
class Outcome:
    """What one message proposed (new or its own from before) and what the cap held back."""

    proposals: list[Proposal]
    held_back: int = 0


async def for_position(
    ctx: Context[Any], index: Index, policy: domain.Policy, position_id: str, cause: str
) -> Outcome:
    """Top a position up to its wanted number of open proposals; announce them."""
    await index.catch_up(ctx.db)
    position = index.positions.get(position_id)
    if position is None or position.status != "open":
        return Outcome([])
    existing = index.proposals_of_position(position_id)
    mine = [p for p in existing if p.trigger == ctx.key and p.status == "proposed"]
    open_now = sum(1 for p in existing if p.status == "proposed")
    want = domain.wanted_open(policy, index.free_places(position)) - open_now
    taken = {p.applicant_id for p in existing}
    ranked = [a for a, _ in choosing.rank_for_position(index, position, policy.weights)]
    pairs = ((position, index.applicants[a]) for a in ranked if a not in taken)
    outcome = await _propose(ctx, index, policy, pairs, want, cause)
    outcome.proposals = await _own(ctx, mine) + outcome.proposals
    announce(ctx, "position", position_id, outcome.proposals, cause)
    return outcome


async def for_applicant(
    ctx: Context[Any], index: Index, policy: domain.Policy, applicant_id: str, cause: str
) -> Outcome:
    """Top an applicant up to `proposals_per_trigger` open proposals; announce them."""
    await index.catch_up(ctx.db)
    applicant = index.applicants.get(applicant_id)
    if applicant is None or applicant.status != "active":
        return Outcome([])
    existing = index.proposals_of_applicant(applicant_id)
    mine = [p for p in existing if p.trigger == ctx.key and p.status == "proposed"]
    open_now = sum(1 for p in existing if p.status == "proposed")
    want = policy.proposals_per_trigger - open_now
    taken = {p.position_id for p in existing}
    positions = [p for p in index.open_positions() if p.position_id not in taken]
    best = choosing.rank_for_applicant(applicant, positions, policy.weights, want + SPARE)
    pairs = ((index.positions[p], applicant) for p, _ in best)
    outcome = await _propose(ctx, index, policy, pairs, want, cause)
    outcome.proposals = await _own(ctx, mine) + outcome.proposals
    announce(ctx, "applicant", applicant_id, outcome.proposals, cause)
    return outcome


async def _own(ctx: Context[Any], mine: Iterable[Any]) -> list[Proposal]:
    """The proposals this message made on an earlier delivery, to announce them again."""
    out = []
    for entry in mine:
        stored = await store.find_proposal(ctx.db, entry.proposal_id)
        if stored is not None and stored.status == "proposed":
            out.append(stored.proposal)
    return out


async def _propose(
    ctx: Context[Any],
    index: Index,
    policy: domain.Policy,
    pairs: Iterable[tuple[PositionEntry, ApplicantEntry]],
    want: int,
    cause: str,
) -> Outcome:
    out = Outcome([])
    capped: set[str] = set()
    day = domain.berlin_day(ctx.occurred_at)
    for position, applicant in pairs:
        if len(out.proposals) >= want:
            break
        if position.position_id in capped:
            out.held_back += 1
            continue
        result = await propose_pair(ctx, index, policy, position, applicant, cause, day)
        if result == "capped":
            capped.add(position.position_id)
            out.held_back += 1
        elif isinstance(result, Proposal):
            out.proposals.append(result)
    return out


async def propose_pair(
    ctx: Context[Any],
    index: Index,
    policy: domain.Policy,
    position: PositionEntry,
    applicant: ApplicantEntry,
    cause: str,
    day: str,
    run_id: str | None = None,
) -> Proposal | Literal["capped", "taken", "unsuitable"]:
    """Claim one pair's proposal (see the module's docstring); the proposal if it stands."""
    score = choosing.explain(applicant, position, policy.weights)
    if not score.acceptable:
        return "unsuitable"
    proposal = choosing.proposal(score, position, applicant)
    if await store.find_proposal(ctx.db, proposal.proposal_id) is not None:
        return "taken"
    today = sum(1 for p in index.proposals_of_position(position.position_id) if p.day == day)
    cap = policy.proposals_per_position_per_day
    pid = proposal.proposal_id
    if not await store.claim_quota(ctx.db, position.position_id, day, today + 1, cap, pid, ctx.key):
        return "capped"
    held = await store.claim_proposal(ctx.db, proposal, ctx.key, cause, day, run_id)
    if held.trigger != ctx.key:
        await store.release_quota(ctx.db, position.position_id, day, cap, pid, ctx.key)
        return "taken"
    why = await unsuitable_now(ctx.db, policy, held.proposal)
    if why is not None:
        await decisions.withdraw(ctx, index, pid, why, announce=False)
        return "unsuitable"
    await index.announce(ctx.db, [("proposal", pid)])
    return held.proposal


async def unsuitable_now(
    db: AsyncDatabase, policy: domain.Policy, proposal: Proposal
) -> str | None:
    """Why a just-claimed proposal cannot stand (a withdrawal reason), or None."""
    a_id, x_id = proposal.applicant.applicant_id, proposal.position.position_id
    placement = await store.find_claim(db, store.PLACEMENTS, a_id)
    if placement is not None:
        return "applicant_placed" if placement["proposal_id"] else "applicant_withdrawn"
    position = await store.find_position(db, x_id)
    if position is None or position.status == "closed":
        return "position_closed"
    if position.status == "filled":
        return "position_filled"
    seats = await store.seats_of(db, x_id, position.places)
    if all(seat is not None for seat in seats):
        return "position_filled"
    applicant = await store.find_applicant(db, a_id)
    if applicant is None or applicant.status != "active":
        return "applicant_withdrawn"
    a_entry, x_entry = applicant_entry(applicant), position_entry(position)
    if a_entry is None or x_entry is None:
        return "applicant_changed" if a_entry is None else "position_changed"
    if not choosing.explain(a_entry, x_entry, policy.weights).acceptable:
        return "applicant_changed"
    return None


def applicant_entry(applicant: Any) -> ApplicantEntry | None:
    """The read model's entry of an applicant just read by `_id`."""
    place = load_gazetteer().get(applicant.home_town)
    if place is None:
        return None
    return ApplicantEntry(
        applicant_id=applicant.applicant_id,
        status=applicant.status,
        name=f"{applicant.first_name} {applicant.last_name}",
        email=applicant.email,
        home_town=applicant.home_town,
        lat=place.latitude,
        lon=place.longitude,
        reach_km=float(applicant.reach_km),
        licence=applicant.driving_licence,
        school=applicant.school_certificate,
        wishes=tuple(applicant.desired_occupations),
        earliest_start=applicant.earliest_start
        if isinstance(applicant.earliest_start, date)
        else date.fromisoformat(applicant.earliest_start),
    )


def position_entry(position: domain.PositionCopy) -> PositionEntry | None:
    """The read model's entry of a position copy just read by `_id`."""
    place = load_gazetteer().get(position.town)
    if place is None:
        return None
    return PositionEntry(
        position_id=position.position_id,
        company_id=position.company_id,
        company_name=position.company_name,
        occupation=position.occupation,
        places=position.places,
        start_date=position.start_date,
        town=position.town,
        lat=place.latitude,
        lon=place.longitude,
        school=position.school_certificate,
        status=position.status,
    )


def announce(
    ctx: Context[Any],
    trigger: Literal["position", "applicant"],
    subject_id: str,
    proposals: list[Proposal],
    cause: str,
    run_id: str | None = None,
) -> None:
    """One `match.proposed` for the proposals this message holds, if any."""
    if proposals:
        event = MatchProposed(
            trigger=trigger,
            subject_id=subject_id,
            proposals=domain.ranked(proposals),
            cause=cause,  # type: ignore[arg-type]
            run_id=run_id,
        )
        ctx.emit(event, subject=subject_id)
