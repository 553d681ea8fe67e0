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
2. a slot of the day's cap (`quota/<position>|<day>|<n>`, n from 1 to the cap), given
   back if the pair turns out to be taken;
3. the proposal itself (`proposals/<pair>`); then the new proposals are announced in
   the feed, the read model caught up, and each checked for what may have changed
   meanwhile: the applicant placed or withdrawn, the position closed, filled or full,
   either side changed so that the pair no longer suits (`still_standing`). Such a
   proposal is withdrawn at once, without ever being announced to staff. Writers do
   the opposite order (write and announce first, then catch up and look at the
   proposals), so one of the two always sees the other.

Steps 2 and 3 are claimed for all the wanted candidates at once, two unordered inserts
(`claim_batch`): one round trip per step instead of one or more per candidate, which
is what a re-proposal after a decline waits for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from diko_matching import choosing, decisions, domain, eligibility, store
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
    ctx: Context[Any],
    index: Index,
    policy: domain.Policy,
    position_id: str,
    cause: str,
    *,
    announced: bool = False,
) -> Outcome:
    """Top a position up to its wanted number of open proposals; announce them.

    `announced`: this message has just announced the position's change, so the index
    need only catch up through its own entry (`Index.catch_up`).
    """
    await index.catch_up(ctx.db, through_own=announced)
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
    if applicant is None or not applicant.proposable(eligibility.berlin_today(ctx.occurred_at)):
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
    """Claim the best `want` suitable pairs, a round of unordered inserts at a time.

    A round numbers each candidate's slot of the day's cap after the position's
    proposals of the day (and after the slots this message took before), inserts all
    slots at once, then all proposals of the slots it got. A slot taken meanwhile sends
    its candidate into the next round at the next free number; numbers beyond the cap
    hold candidates back.
    """
    out = Outcome([])
    day = domain.berlin_day(ctx.occurred_at)
    cap = policy.proposals_per_position_per_day
    next_slot: dict[str, int] = {}

    def full(position_id: str) -> bool:
        """Whether the day's cap is taken; counts the pair as held back then."""
        if position_id not in next_slot:
            next_slot[position_id] = 1 + sum(
                1 for p in index.proposals_of_position(position_id) if p.day == day
            )
        if next_slot[position_id] > cap:
            out.held_back += 1
            return True
        return False

    claimed: list[tuple[Proposal, PositionEntry, ApplicantEntry]] = []
    retry: list[tuple[Proposal, PositionEntry, ApplicantEntry]] = []
    fresh = _suitable(index, policy, pairs, full)
    while len(claimed) < want:
        batch: list[Candidate] = []
        for made, position, applicant in _chain(retry, fresh):
            x_id = position.position_id
            if full(x_id):
                continue
            batch.append(Candidate(made, position, applicant, next_slot[x_id]))
            next_slot[x_id] += 1
            if len(batch) >= want - len(claimed):
                break
        if not batch:
            break
        won, lost = await claim_batch(ctx, batch, cause, day)
        claimed += won
        retry = [(c.proposal, c.position, c.applicant) for c in lost]
    out.proposals = await still_standing(ctx, index, policy, claimed)
    return out


def _suitable(
    index: Index,
    policy: domain.Policy,
    pairs: Iterable[tuple[PositionEntry, ApplicantEntry]],
    full: Callable[[str], bool],
) -> Iterator[tuple[Proposal, PositionEntry, ApplicantEntry]]:
    """The pairs that suit and were never proposed (per the read model), as proposals.

    Pairs of a position whose cap is taken are passed over before they are scored.
    """
    for position, applicant in pairs:
        if full(position.position_id):
            continue
        score = choosing.explain(applicant, position, policy.weights)
        if not score.acceptable:
            continue
        made = choosing.proposal(score, position, applicant)
        if made.proposal_id not in index.proposals:
            yield made, position, applicant


def _chain(first: list[Any], then: Iterator[Any]) -> Iterator[Any]:
    """`first`'s items, then `then`'s; `then` resumes where an earlier round left it."""
    yield from first
    yield from then


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposal to claim with the number of the day's slot it tries to take."""

    proposal: Proposal
    position: PositionEntry
    applicant: ApplicantEntry
    slot: int


async def claim_batch(
    ctx: Context[Any], batch: list[Candidate], cause: str, day: str, run_id: str | None = None
) -> tuple[list[tuple[Proposal, PositionEntry, ApplicantEntry]], list[Candidate]]:
    """Claim the candidates' slots, then their proposals: (claimed, slot taken meanwhile).

    Two unordered inserts. A proposal whose pair was proposed before gives its slot back;
    it counts as claimed only if this message proposed it (on an earlier delivery).
    """
    slots = {
        c.proposal.proposal_id: store.quota_document(
            c.position.position_id, day, c.slot, c.proposal.proposal_id, ctx.key
        )
        for c in batch
    }
    taken_slots = set(await store.insert_unordered(ctx.db, store.QUOTA, list(slots.values())))
    lost = [c for c in batch if slots[c.proposal.proposal_id]["_id"] in taken_slots]
    got = [c for c in batch if slots[c.proposal.proposal_id]["_id"] not in taken_slots]
    documents = [store.proposal_document(c.proposal, ctx.key, cause, day, run_id) for c in got]
    proposed_before = set(await store.insert_unordered(ctx.db, store.PROPOSALS, documents))
    claimed = []
    for c in got:
        pid = c.proposal.proposal_id
        if pid not in proposed_before:
            claimed.append((c.proposal, c.position, c.applicant))
            continue
        await store.release_quota(ctx.db, slots[pid]["_id"], pid, ctx.key)
        held = await store.find_proposal(ctx.db, pid)
        if held is not None and held.trigger == ctx.key:
            claimed.append((held.proposal, c.position, c.applicant))
    return claimed, lost


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
    await index.catch_up(ctx.db, through_own=True)
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
    if now_a.held(eligibility.berlin_today()) is not None:
        return "applicant_changed"
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
