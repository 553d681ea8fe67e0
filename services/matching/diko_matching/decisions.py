"""Accepting, declining and withdrawing proposals: each once, and never against the story.

What matching and companies must agree on, and how it holds here:

- **a proposal is decided once** (accepted, declined or withdrawn): the claim
  `decisions/<proposal>`;
- **an applicant is placed once**, and a withdrawn applicant never: the claim
  `placements/<applicant>` holds the accepted proposal or the withdrawal;
- **no place is taken twice**: an acceptance takes one of the claims
  `seats/<position>|1..places`; none free means the position is full;
- **a filled or closed position is not accepted**: its copy's status is checked first,
  and the acceptance that takes the last place (like `position.filled` and
  `position.closed`) withdraws the position's other open proposals;
- **`match.accepted` names the position's company now** (after a merge, the survivor),
  which is what companies checks.

An acceptance claims in that order: the applicant, the decision, a place. If a later
claim fails, it gives back the earlier ones before it answers `conflict`. A claim held
by a message that has not finished may still be given back, so a decision that meets
one is retried (`TransientError`) rather than refused on a guess; a claim whose message
never finished is taken over after `store.CLAIM_GRACE`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_matching import domain, store
from diko_matching.index import Index, as_written
from diko_shared.contract.matching import (
    DecideMatch,
    Decision,
    MatchAccepted,
    MatchDeclined,
    MatchWithdrawn,
)
from diko_shared.messaging.errors import NotFound, TransientError
from diko_shared.messaging.handling import Context

#: How long a decision waits for another message's claim to stand or be given back
#: before it is tried again later: acceptances finish within milliseconds, or seconds
#: on a busy database.
WAIT_S = 10.0
POLL_S = 0.05
#: Proposals an acceptance withdraws: open ones, and those it withdrew before a redelivery.
OPEN = ("proposed", "withdrawn")


class InProgress(TransientError):
    """Another message holds a claim it may still give back: try again shortly."""


async def settle(db: AsyncDatabase, held: store.Claim, collection: str) -> bool:
    """Wait until another message's claim stands (True) or is given back (False).

    A claim whose message has finished stands; one given back is gone; one whose
    message never finished is taken over (deleted, so gone). A message still at work
    is waited for, `WAIT_S` at most; then `InProgress`, and the decision is retried.
    """
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        if await store.finished(db, held.key):
            return True
        current = await store.find_claim(db, collection, held.id)
        if current is None or current.key != held.key:
            return False
        if store.abandoned(current):
            await store.take_over(db, collection, current)
            return False
        if asyncio.get_running_loop().time() >= deadline:
            raise InProgress(f"{collection}/{held.id} is held by {held.key}, still at work")
        await asyncio.sleep(POLL_S)


async def decide(ctx: Context[DecideMatch], index: Index) -> Decision:
    """`match.decide`: accept or decline, exactly once."""
    data = ctx.data
    stored = await store.find_proposal(ctx.db, data.proposal_id)
    if stored is None:
        raise NotFound(f"Vorschlag {data.proposal_id} ist nicht bekannt")
    if data.decision == "accept":
        await _accept(ctx, index, stored)
        return Decision(proposal_id=data.proposal_id, status="accepted")
    await _decline(ctx, index, stored)
    return Decision(proposal_id=data.proposal_id, status="declined")


async def _decision(
    ctx: Context[Any], proposal_id: str, fields: dict[str, Any]
) -> store.Claim | None:
    """Claim the decision on a proposal; None if this message took it (now or before).

    Another message's decision that stands is returned; one given back is claimed anew.
    """
    while True:
        held = await store.claim(ctx.db, store.DECISIONS, proposal_id, fields, ctx.key)
        if held.key == ctx.key:
            return None
        if held["decision"] != "accept" or await settle(ctx.db, held, store.DECISIONS):
            return held


async def _accept(ctx: Context[DecideMatch], index: Index, stored: store.StoredProposal) -> None:
    proposal = stored.proposal
    p_id, a_id = proposal.proposal_id, proposal.applicant.applicant_id
    x_id = proposal.position.position_id
    earlier = await store.find_claim(ctx.db, store.DECISIONS, p_id)
    mine = earlier is not None and earlier.key == ctx.key
    position = await store.find_position(ctx.db, x_id)
    if not mine:
        if earlier is not None and earlier["decision"] != "accept":
            raise domain.already_decided(p_id, earlier["decision"], earlier["reason"])
        domain.check_acceptable(position)
        applicant = await store.find_applicant(ctx.db, a_id)
        if applicant is not None and applicant.status == "withdrawn":
            raise domain.applicant_unavailable(a_id, None)
    await _place(ctx, a_id, p_id)
    other = await _decision(
        ctx, p_id, {"decision": "accept", "reason": None, "decided_by": ctx.data.decided_by}
    )
    if other is not None:
        await store.release(ctx.db, store.PLACEMENTS, a_id, ctx.key)
        if other["decision"] == "accept":
            return  # accepted by another message: answered alike, announced there
        raise domain.already_decided(p_id, other["decision"], other["reason"])
    places = position.places if position is not None else 1
    seat = await _take_seat(ctx, x_id, places, p_id)
    if seat is None:
        await store.release(ctx.db, store.DECISIONS, p_id, ctx.key)
        await store.release(ctx.db, store.PLACEMENTS, a_id, ctx.key)
        assert position is not None
        raise domain.position_unavailable(position, "full")
    # The decision is this message's (`_decision` returned None): claimed with its data,
    # now or by an earlier delivery of the same message, so its `decided_by` is ours.
    decided_by = ctx.data.decided_by
    accepted = await store.set_proposal_status(
        ctx.db, p_id, "accepted", decided_by=decided_by, note=ctx.data.note
    )
    placed = await store.set_applicant_status(ctx.db, a_id, "placed")
    written = {**as_written("proposal", accepted), **as_written("applicant", placed)}
    await index.announce(ctx.db, [("proposal", p_id), ("applicant", a_id)], written)
    company_id = position.company_id if position is not None else proposal.position.company_id
    ctx.emit(
        MatchAccepted(
            proposal_id=p_id,
            position_id=x_id,
            company_id=company_id,
            applicant_id=a_id,
            decided_by=decided_by,
        ),
        subject=p_id,
    )
    await index.catch_up(ctx.db, through_own=True)
    for other_proposal in index.proposals_of_applicant(a_id):
        if other_proposal.proposal_id != p_id and other_proposal.status in OPEN:
            await withdraw(ctx, index, other_proposal.proposal_id, "applicant_placed")
    # The places before this one are taken for good (`_take_seat` went past them): only
    # those after it are read, none when this was the last.
    later = await store.seats_of(ctx.db, x_id, places, first=seat + 1)
    if all(s is not None for s in later):
        for other_proposal in index.proposals_of_position(x_id):
            if other_proposal.proposal_id != p_id and other_proposal.status in OPEN:
                await withdraw(ctx, index, other_proposal.proposal_id, "position_filled")


async def _place(ctx: Context[Any], applicant_id: str, proposal_id: str) -> None:
    """Claim the applicant for this proposal; `conflict` if placed elsewhere or withdrawn."""
    while True:
        held = await store.claim(
            ctx.db, store.PLACEMENTS, applicant_id, {"proposal_id": proposal_id}, ctx.key
        )
        if held.key == ctx.key:
            return
        if await settle(ctx.db, held, store.PLACEMENTS):
            if held["proposal_id"] == proposal_id:
                return  # this proposal, accepted by another message
            raise domain.applicant_unavailable(applicant_id, held["proposal_id"])


async def _take_seat(
    ctx: Context[Any], position_id: str, places: int, proposal_id: str
) -> int | None:
    """One of the position's places for this proposal (its own on a redelivery), or None.

    An acceptance claims its place last, after the applicant and the decision, and
    nothing after it can fail: a place once claimed is taken for good.
    """
    for number in range(1, places + 1):
        held = await store.claim(
            ctx.db,
            store.SEATS,
            f"{position_id}|{number}",
            {"position_id": position_id, "proposal_id": proposal_id},
            ctx.key,
        )
        if held["proposal_id"] == proposal_id:
            return number
    return None


async def _decline(ctx: Context[DecideMatch], index: Index, stored: store.StoredProposal) -> None:
    proposal = stored.proposal
    p_id = proposal.proposal_id
    other = await _decision(
        ctx, p_id, {"decision": "decline", "reason": None, "decided_by": ctx.data.decided_by}
    )
    if other is not None:
        if other["decision"] != "decline":
            raise domain.already_decided(p_id, other["decision"], other["reason"])
        return  # declined by another message: answered alike, announced there
    # The decision is this message's (`_decision` returned None): claimed with its data,
    # now or by an earlier delivery of the same message, so its `decided_by` is ours.
    decided_by = ctx.data.decided_by
    declined = await store.set_proposal_status(
        ctx.db, p_id, "declined", decided_by=decided_by, note=ctx.data.note
    )
    await index.announce(ctx.db, [("proposal", p_id)], as_written("proposal", declined))
    position = await store.find_position(ctx.db, proposal.position.position_id)
    ctx.emit(
        MatchDeclined(
            proposal_id=p_id,
            position_id=proposal.position.position_id,
            company_id=position.company_id if position else proposal.position.company_id,
            applicant_id=proposal.applicant.applicant_id,
            decided_by=decided_by,
        ),
        subject=p_id,
    )


async def withdraw(
    ctx: Context[Any],
    index: Index,
    proposal_id: str,
    reason: str,
    *,
    announce: bool = True,
) -> bool:
    """Withdraw a proposal unless it was decided; True if this message did (now or before).

    A proposal that was never announced (a fresh claim found unsuitable at once) is
    withdrawn without `match.withdrawn`. One whose acceptance is under way waits for it.
    """
    stored = await store.find_proposal(ctx.db, proposal_id)
    if stored is None:
        return False
    fields = {"decision": "withdraw", "reason": reason, "decided_by": None}
    if await _decision(ctx, proposal_id, fields) is not None:
        return False
    held = await store.find_claim(ctx.db, store.DECISIONS, proposal_id)
    reason = held["reason"] if held is not None else reason
    withdrawn = await store.set_proposal_status(ctx.db, proposal_id, "withdrawn", reason=reason)
    await index.announce(ctx.db, [("proposal", proposal_id)], as_written("proposal", withdrawn))
    if announce:
        proposal = stored.proposal
        position = await store.find_position(ctx.db, proposal.position.position_id)
        ctx.emit(
            MatchWithdrawn(
                proposal_id=proposal_id,
                position_id=proposal.position.position_id,
                company_id=position.company_id if position else proposal.position.company_id,
                applicant_id=proposal.applicant.applicant_id,
                reason=reason,
                text=domain.WITHDRAWN_TEXT[reason],
            ),
            subject=proposal_id,
        )
    return True
