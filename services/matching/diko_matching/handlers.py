"""One handler per command, query and event the matching service consumes.

Handlers read through `ctx.db`, decide with `domain` (which scores with the engine), and
stage their writes and events; the platform commits and publishes them. Proposals and
decisions are claimed at once in `store` under ids derived from what they are about, so
that a redelivered or repeated message never proposes a pair or announces a decision twice.
"""

from __future__ import annotations

from typing import Literal

from diko_matching import domain, store
from diko_shared.contract.companies import PositionFilled, PositionOpened
from diko_shared.contract.matching import (
    Applicant,
    ApplicantRef,
    ApplicantRegistered,
    DecideMatch,
    Decision,
    GetApplicant,
    GetShortlist,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    Proposal,
    RegisterApplicant,
    Shortlist,
)
from diko_shared.messaging.errors import NotFound
from diko_shared.messaging.handling import Context

# -- applicants ----------------------------------------------------------------------------


async def register_applicant(ctx: Context[RegisterApplicant]) -> ApplicantRef:
    """`applicant.register`: a known home town and known, distinct occupations."""
    home_town = domain.check_registration(ctx.data)
    applicant = domain.new_applicant(ctx.data, ctx.new_id("apl"), home_town)
    ctx.write(store.insert_applicant(applicant, ctx.occurred_at))
    ctx.emit(domain.registered(applicant), subject=applicant.applicant_id)
    return ApplicantRef(applicant_id=applicant.applicant_id)


async def get_applicant(ctx: Context[GetApplicant]) -> Applicant:
    """`applicant.get`: the stored applicant."""
    applicant = await store.find_applicant(ctx.db, ctx.data.applicant_id)
    if applicant is None:
        raise NotFound(f"Bewerber/in {ctx.data.applicant_id} ist nicht bekannt")
    return applicant


# -- proposals -----------------------------------------------------------------------------


async def propose_for_position(ctx: Context[PositionOpened], *, policy: domain.Policy) -> None:
    """`position.opened`: keep a copy of the position and propose its best applicants."""
    position = await store.keep_position(ctx.db, domain.position_copy(ctx.data), ctx.occurred_at)
    trigger = domain.trigger_id("position", position.position_id)
    if position.status != "open" or not await store.claim_trigger(
        ctx.db, trigger, ctx.key, ctx.occurred_at
    ):
        return
    earlier = await store.proposals_of_position(ctx.db, position.position_id)
    mine = [s.proposal for s in earlier if s.trigger == ctx.key]
    taken = {s.proposal.applicant.applicant_id for s in earlier}
    applicants = [a for a in await store.active_applicants(ctx.db) if a.applicant_id not in taken]
    new = domain.proposals_for_position(
        position, applicants, policy, policy.proposals_per_trigger - len(mine)
    )
    claimed = await store.claim_proposals(ctx.db, new, ctx.key, ctx.occurred_at)
    _announce(ctx, "position", position.position_id, [*mine, *claimed])


async def propose_for_applicant(
    ctx: Context[ApplicantRegistered], *, policy: domain.Policy
) -> None:
    """`applicant.registered`: propose the open positions that suit the new applicant."""
    applicant = await store.find_applicant(ctx.db, ctx.data.applicant_id)
    trigger = domain.trigger_id("applicant", ctx.data.applicant_id)
    if applicant is None or not await store.claim_trigger(
        ctx.db, trigger, ctx.key, ctx.occurred_at
    ):
        return
    earlier = await store.proposals_of_applicant(ctx.db, applicant.applicant_id)
    mine = [s.proposal for s in earlier if s.trigger == ctx.key]
    taken = {s.proposal.position.position_id for s in earlier}
    positions = [p for p in await store.open_positions(ctx.db) if p.position_id not in taken]
    new = domain.proposals_for_applicant(
        applicant, positions, policy, policy.proposals_per_trigger - len(mine)
    )
    claimed = await store.claim_proposals(ctx.db, new, ctx.key, ctx.occurred_at)
    _announce(ctx, "applicant", applicant.applicant_id, [*mine, *claimed])


def _announce(
    ctx: Context[PositionOpened] | Context[ApplicantRegistered],
    trigger: Literal["position", "applicant"],
    subject_id: str,
    proposals: list[Proposal],
) -> None:
    """One `match.proposed` per trigger with the proposals this message holds, if any."""
    if proposals:
        event = MatchProposed(
            trigger=trigger, subject_id=subject_id, proposals=domain.ranked(proposals)
        )
        ctx.emit(event, subject=subject_id)


async def mark_position_filled(ctx: Context[PositionFilled]) -> None:
    """`position.filled`: the position is no longer proposed to new applicants."""
    ctx.write(store.mark_filled(domain.filled_copy(ctx.data), ctx.occurred_at))


async def get_shortlist(ctx: Context[GetShortlist]) -> Shortlist:
    """`match.shortlist`: every proposal made for a position, ranked, with its status."""
    position_id = ctx.data.position_id
    if await store.find_position(ctx.db, position_id) is None:
        raise NotFound(f"Ausbildungsstelle {position_id} ist dem Matching nicht bekannt")
    proposals = await store.proposals_of_position(ctx.db, position_id)
    return Shortlist(
        position_id=position_id, candidates=domain.shortlist(proposals, ctx.data.limit)
    )


# -- decisions -----------------------------------------------------------------------------


async def decide_match(ctx: Context[DecideMatch]) -> Decision:
    """`match.decide`: the first decision on a proposal holds and is announced once."""
    data = ctx.data
    stored = await store.find_proposal(ctx.db, data.proposal_id)
    if stored is None:
        raise NotFound(f"Vorschlag {data.proposal_id} ist nicht bekannt")
    if data.decision == "accept" and not await store.decision_taken(ctx.db, data.proposal_id):
        position_id = stored.proposal.position.position_id
        domain.check_acceptable(await store.find_position(ctx.db, position_id))
    claim = await store.claim_decision(
        ctx.db, data.proposal_id, data.decision, ctx.key, data.decided_by, ctx.occurred_at
    )
    status = domain.STATUS_OF_DECISION[data.decision]
    if domain.takes_decision(claim, data.decision, ctx.key):
        ctx.write(
            store.record_decision(data.proposal_id, status, claim, data.note, ctx.occurred_at)
        )
        proposal = stored.proposal
        fields = {
            "proposal_id": proposal.proposal_id,
            "position_id": proposal.position.position_id,
            "company_id": proposal.position.company_id,
            "applicant_id": proposal.applicant.applicant_id,
            "decided_by": claim.decided_by,
        }
        if data.decision == "accept":
            ctx.write(store.mark_placed(proposal.applicant.applicant_id))
            ctx.emit(MatchAccepted(**fields), subject=proposal.proposal_id)
        else:
            ctx.emit(MatchDeclined(**fields), subject=proposal.proposal_id)
    return Decision(proposal_id=data.proposal_id, status=status)
