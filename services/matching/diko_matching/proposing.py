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
3. the proposal itself (`proposals/<pair>`); then the new proposals are announced in
   the feed, the read model caught up, and each checked for what may have changed
   meanwhile: the applicant placed or withdrawn, the position closed, filled or full,
   either side changed so that the pair no longer suits (`still_standing`). Such a
   proposal is withdrawn at once, without ever being announced to staff. Writers do
   the opposite order (write and announce first, then catch up and look at the
   proposals), so one of the two always sees the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from diko_matching import choosing, decisions, domain, store
from diko_matching.index import ApplicantEntry, Index, PositionEntry
from diko_shared.contract.matching import MatchProposed, Proposal
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
    ranked = choosing.rank_for_position(index, position, policy.weights) if want > 0 else []
    pairs = ((position, index.applicants[a]) for a, _ in ranked if a not in taken)
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
    best = (
        choosing.rank_for_applicant(applicant, positions, policy.weights, want + SPARE)
        if want > 0
        else []
    )
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
    claimed: list[tuple[Proposal, PositionEntry, ApplicantEntry]] = []
    day = domain.berlin_day(ctx.occurred_at)
    for position, applicant in pairs:
        if len(claimed) >= want:
            break
        if position.position_id in capped:
            out.held_back += 1
            continue
        result = await claim_pair(ctx, index, policy, position, applicant, cause, day)
        if result == "capped":
            capped.add(position.position_id)
            out.held_back += 1
        elif isinstance(result, Proposal):
            claimed.append((result, position, applicant))
    out.proposals = await still_standing(ctx, index, policy, claimed)
    return out


async def claim_pair(
    ctx: Context[Any],
    index: Index,
    policy: domain.Policy,
    position: PositionEntry,
    applicant: ApplicantEntry,
    cause: str,
    day: str,
) -> Proposal | Literal["capped", "taken", "unsuitable"]:
    """Claim one pair's proposal and a slot of the day's cap (see the module's docstring)."""
    score = choosing.explain(applicant, position, policy.weights)
    if not score.acceptable:
        return "unsuitable"
    proposal = choosing.proposal(score, position, applicant)
    pid = proposal.proposal_id
    if pid in index.proposals:
        return "taken"
    today = sum(1 for p in index.proposals_of_position(position.position_id) if p.day == day)
    cap = policy.proposals_per_position_per_day
    if not await store.claim_quota(ctx.db, position.position_id, day, today + 1, cap, pid, ctx.key):
        return "capped"
    document = store.proposal_document(proposal, ctx.key, cause, day)
    held, _ = await store.claim_proposal(ctx.db, document)
    if held.trigger != ctx.key:
        await store.release_quota(ctx.db, position.position_id, day, cap, pid, ctx.key)
        return "taken"
    return held.proposal


async def still_standing(
    ctx: Context[Any],
    index: Index,
    policy: domain.Policy,
    claimed: list[tuple[Proposal, PositionEntry, ApplicantEntry]],
) -> list[Proposal]:
    """Announce fresh claims in the feed, catch up, and keep those nothing has overtaken.

    Whoever places or withdraws an applicant, fills, closes or changes a position
    writes first and then looks at the proposals (after catching up); this looks after
    announcing. So either it sees their change here, or they see these proposals.
    A proposal overtaken so is withdrawn without ever being announced.
    """
    if not claimed:
        return []
    day = domain.berlin_day(ctx.occurred_at)
    written = {
        ("proposal", p.proposal_id): store.proposal_document(p, ctx.key, "", day)
        for p, _, _ in claimed
    }
    await index.announce(ctx.db, list(written), written)
    await index.catch_up(ctx.db)
    standing = []
    for proposal, position, applicant in claimed:
        why = overtaken(index, policy, position, applicant)
        if why is None:
            standing.append(proposal)
        else:
            await decisions.withdraw(ctx, index, proposal.proposal_id, why, announce=False)
    return standing


def overtaken(
    index: Index, policy: domain.Policy, position: PositionEntry, applicant: ApplicantEntry
) -> str | None:
    """Why a pair proposed from these entries no longer stands (a withdrawal reason)."""
    now_a = index.applicants.get(applicant.applicant_id)
    now_x = index.positions.get(position.position_id)
    if now_a is None or now_a.status == "withdrawn":
        return "applicant_withdrawn"
    if now_a.status == "placed":
        return "applicant_placed"
    if now_x is None or now_x.status == "closed":
        return "position_closed"
    if now_x.status == "filled" or index.free_places(now_x) <= 0:
        return "position_filled"
    if now_a == applicant and now_x == position:
        return None
    if not choosing.explain(now_a, now_x, policy.weights).acceptable:
        return "applicant_changed" if now_a != applicant else "position_changed"
    return None


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
