"""One handler per command, query and event the matching service consumes.

Handlers read by `_id` and through the read model (`index.py`), decide with `domain`,
claim what must happen once in `store`, and stage their events; the platform commits
and publishes them. Proposing lives in `proposing.py`, decisions in `decisions.py`,
runs in `runs.py`, explanations in `explaining.py`, fairs in `fairs/`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from diko_matching import choosing, decisions, domain, eligibility, proposing, rights, store
from diko_matching.index import Index, PositionEntry, as_written
from diko_matching.registration import confirming
from diko_matching.registration.confirming import Confirmations
from diko_shared.contract.companies import (
    CompanyMerged,
    CompanyUpdated,
    PositionClosed,
    PositionFilled,
    PositionOpened,
    PositionReopened,
    PositionUpdated,
)
from diko_shared.contract.matching import (
    Applicant,
    ApplicantChange,
    ApplicantRef,
    ApplicantRegistered,
    ApplicantUpdated,
    ApplicantWithdrawal,
    ApplicantWithdrawn,
    DecideMatch,
    Decision,
    GetApplicant,
    GetShortlist,
    MatchDeclined,
    RegisterApplicant,
    Shortlist,
    UpdateApplicant,
    WithdrawApplicant,
)
from diko_shared.messaging.errors import Conflict, NotFound, TransientError
from diko_shared.messaging.handling import Context
from diko_shared.rights.participant import is_erased

# -- applicants ----------------------------------------------------------------------------


async def register_applicant(
    ctx: Context[RegisterApplicant],
    *,
    index: Index,
    retention: timedelta,
    confirmations: Confirmations,
) -> ApplicantRef:
    """`applicant.register`: a known home town and known, distinct occupations; with
    `confirm_email`, held until the mailed link is opened (double opt-in)."""
    home_town = domain.check_registration(ctx.data)
    applicant_id = ctx.new_id("apl")
    if await is_erased(ctx.db, applicant_id):  # an old registration replayed after erasure
        raise Conflict(f"Bewerber/in {applicant_id} wurde gelöscht; bitte neu anmelden")
    applicant = domain.new_applicant(ctx.data, applicant_id, home_town)
    written = await store.insert_applicant(ctx.db, applicant, ctx.occurred_at)
    await index.announce(ctx.db, [("applicant", applicant_id)], as_written("applicant", written))
    ctx.write(rights.keep_until(ctx, applicant_id, ctx.occurred_at + retention))
    ctx.emit(domain.registered(applicant), subject=applicant.applicant_id)
    if applicant.email_confirmed is False:
        expires = ctx.occurred_at + confirmations.ttl
        link = await confirmations.link(ctx.db, applicant_id, expires)
        ctx.send(confirming.notice(applicant, link, expires), subject=applicant_id)
    return ApplicantRef(applicant_id=applicant.applicant_id)


async def get_applicant(ctx: Context[GetApplicant]) -> Applicant:
    """`applicant.get`: the stored applicant, and why they are held if they are."""
    applicant = await _applicant(ctx, ctx.data.applicant_id)
    return domain.with_hold(applicant, eligibility.berlin_today(ctx.occurred_at))


async def _applicant(ctx: Context[Any], applicant_id: str) -> Applicant:
    applicant = await store.find_applicant(ctx.db, applicant_id)
    if applicant is None:
        raise NotFound(f"Bewerber/in {applicant_id} ist nicht bekannt")
    return applicant


async def update_applicant(
    ctx: Context[UpdateApplicant], *, index: Index, retention: timedelta
) -> ApplicantChange:
    """`applicant.update`: the fields sent; `applicant.updated` if any changed."""
    current = await _applicant(ctx, ctx.data.applicant_id)
    redone = await store.change_of(ctx.db, current.applicant_id, ctx.key)
    if redone is not None:  # a redelivery: the change is written, announce it again
        applicant, changed = current, redone
    else:
        applicant, changed = domain.changed_applicant(current, ctx.data)
        if changed:
            await store.save_applicant(ctx.db, applicant, ctx.occurred_at, ctx.key, changed)
            await index.announce(ctx.db, [("applicant", applicant.applicant_id)])
    if changed:
        ctx.write(rights.keep_until(ctx, applicant.applicant_id, ctx.occurred_at + retention))
        ctx.emit(domain.updated(applicant, changed), subject=applicant.applicant_id)
    return ApplicantChange(
        applicant_id=applicant.applicant_id, status=applicant.status, changed=changed
    )


async def withdraw_applicant(
    ctx: Context[WithdrawApplicant], *, index: Index
) -> ApplicantWithdrawal:
    """`applicant.withdraw`: the applicant leaves every open shortlist, once."""
    applicant_id = ctx.data.applicant_id
    await _applicant(ctx, applicant_id)
    while True:
        held = await store.claim(
            ctx.db, store.PLACEMENTS, applicant_id, {"proposal_id": None}, ctx.key
        )
        if held.key == ctx.key:
            break
        if await decisions.settle(ctx.db, held, store.PLACEMENTS):
            if held["proposal_id"] is not None:
                raise domain.applicant_placed_cannot_withdraw(applicant_id, held["proposal_id"])
            return ApplicantWithdrawal(
                applicant_id=applicant_id, status="withdrawn", withdrawn_proposals=[]
            )
    withdrawn_applicant = await store.set_applicant_status(ctx.db, applicant_id, "withdrawn")
    await index.announce(
        ctx.db, [("applicant", applicant_id)], as_written("applicant", withdrawn_applicant)
    )
    await index.catch_up(ctx.db, through_own=True)
    withdrawn = []
    for entry in index.proposals_of_applicant(applicant_id):
        # Open ones, and on a redelivery those this message withdrew before.
        if entry.status in ("proposed", "withdrawn") and await decisions.withdraw(
            ctx, index, entry.proposal_id, "applicant_withdrawn"
        ):
            withdrawn.append(entry.proposal_id)
    ctx.emit(
        ApplicantWithdrawn(
            applicant_id=applicant_id, reason=ctx.data.reason, withdrawn_proposals=withdrawn
        ),
        subject=applicant_id,
    )
    return ApplicantWithdrawal(
        applicant_id=applicant_id, status="withdrawn", withdrawn_proposals=withdrawn
    )


async def propose_for_applicant(
    ctx: Context[ApplicantRegistered], *, index: Index, policy: domain.Policy
) -> None:
    """`applicant.registered`: propose the open positions that suit the new applicant."""
    trigger = domain.trigger_id("applicant", ctx.data.applicant_id)
    if await store.claim_trigger(ctx.db, trigger, ctx.key):
        await proposing.for_applicant(
            ctx, index, policy, ctx.data.applicant_id, "applicant_registered"
        )


async def applicant_changed(
    ctx: Context[ApplicantUpdated], *, index: Index, policy: domain.Policy
) -> None:
    """`applicant.updated`: withdraw what no longer suits, propose what suits now."""
    applicant_id = ctx.data.applicant_id
    if not (domain.PROFILE_FIELDS | domain.ELIGIBILITY_FIELDS) & set(ctx.data.changed):
        return
    await index.catch_up(ctx.db)
    applicant = index.applicants.get(applicant_id)
    if applicant is None:
        return
    held = applicant.held(eligibility.berlin_today(ctx.occurred_at)) is not None
    for entry in index.proposals_of_applicant(applicant_id):
        position = index.positions.get(entry.position_id)
        if entry.status not in ("proposed", "withdrawn") or position is None:
            continue
        if held or not choosing.explain(applicant, position, policy.weights).acceptable:
            await decisions.withdraw(ctx, index, entry.proposal_id, "applicant_changed")
    await proposing.for_applicant(ctx, index, policy, applicant_id, "applicant_changed")


# -- positions and companies ----------------------------------------------------------------


async def propose_for_position(
    ctx: Context[PositionOpened], *, index: Index, policy: domain.Policy
) -> None:
    """`position.opened`: keep a copy of the position and propose its best applicants."""
    position_id = ctx.data.position_id
    stored = await store.keep_position(ctx.db, domain.position_copy(ctx.data), ctx.occurred_at)
    await index.announce(ctx.db, [("position", position_id)], as_written("position", stored))
    trigger = domain.trigger_id("position", position_id)
    if stored["status"] == "open" and await store.claim_trigger(ctx.db, trigger, ctx.key):
        await proposing.for_position(
            ctx, index, policy, position_id, "position_opened", announced=True
        )


async def position_changed(
    ctx: Context[PositionUpdated], *, index: Index, policy: domain.Policy
) -> None:
    """`position.updated`: new places, a new status, edited fields; proposals follow."""
    event = ctx.data
    before = await store.find_position_document(ctx.db, event.position_id)
    if before is None:  # `position.opened` has not arrived yet: try again later
        raise TransientError(f"position {event.position_id} is not known yet")
    current = store.position_of(before)
    edited = domain.edited_copy(current, event)
    stored = await store.upsert_position(
        ctx.db,
        edited,
        ctx.occurred_at,
        status=event.status is not None,
        fields=True,
        read=before,
    )
    await index.announce(ctx.db, [("position", event.position_id)], as_written("position", stored))
    await index.catch_up(ctx.db, through_own=True)
    position = index.positions.get(event.position_id)
    if position is None:
        return
    if position.status != "open":
        reason = "position_closed" if position.status == "closed" else "position_filled"
        await _withdraw_open(ctx, index, event.position_id, reason)
        return
    fit_changed = domain.edit_changes_fit(event)
    if fit_changed:
        await _withdraw_unsuitable(ctx, index, policy, position)
    if fit_changed or event.places > current.places or current.status != "open":
        cause = "places_added" if event.places > current.places else "position_changed"
        await proposing.for_position(ctx, index, policy, event.position_id, cause, announced=True)


async def _withdraw_unsuitable(
    ctx: Context[Any], index: Index, policy: domain.Policy, position: PositionEntry
) -> None:
    for entry in index.proposals_of_position(position.position_id):
        applicant = index.applicants.get(entry.applicant_id)
        if entry.status not in ("proposed", "withdrawn") or applicant is None:
            continue
        if not choosing.explain(applicant, position, policy.weights).acceptable:
            await decisions.withdraw(ctx, index, entry.proposal_id, "position_changed")


async def _withdraw_open(ctx: Context[Any], index: Index, position_id: str, reason: str) -> None:
    for entry in index.proposals_of_position(position_id):
        if entry.status in ("proposed", "withdrawn"):
            await decisions.withdraw(ctx, index, entry.proposal_id, reason)


async def position_closed(ctx: Context[PositionClosed], *, index: Index) -> None:
    """`position.closed`: no more proposals; the open ones are withdrawn."""
    current = await store.find_position(ctx.db, ctx.data.position_id)
    if current is None:
        raise TransientError(f"position {ctx.data.position_id} is not known yet")
    closed = domain.with_status(current, "closed")
    stored = await store.upsert_position(ctx.db, closed, ctx.occurred_at, status=True, fields=False)
    await index.announce(ctx.db, [("position", closed.position_id)], as_written("position", stored))
    await index.catch_up(ctx.db, through_own=True)
    position = index.positions.get(closed.position_id)
    if position is not None and position.status == "closed":
        await _withdraw_open(ctx, index, closed.position_id, "position_closed")


async def position_reopened(
    ctx: Context[PositionReopened], *, index: Index, policy: domain.Policy
) -> None:
    """`position.reopened`: open again; proposed anew to those not proposed before."""
    copy = domain.position_copy(ctx.data)
    stored = await store.upsert_position(ctx.db, copy, ctx.occurred_at, status=True, fields=True)
    await index.announce(ctx.db, [("position", copy.position_id)], as_written("position", stored))
    await proposing.for_position(
        ctx, index, policy, copy.position_id, "position_reopened", announced=True
    )


async def position_filled(ctx: Context[PositionFilled], *, index: Index) -> None:
    """`position.filled`: no longer proposed; the open proposals are withdrawn."""
    copy = domain.filled_copy(ctx.data)
    stored = await store.upsert_position(ctx.db, copy, ctx.occurred_at, status=True, fields=False)
    await index.announce(ctx.db, [("position", copy.position_id)], as_written("position", stored))
    await index.catch_up(ctx.db, through_own=True)
    position = index.positions.get(copy.position_id)
    if position is not None and position.status == "filled":
        await _withdraw_open(ctx, index, copy.position_id, "position_filled")


async def company_renamed(ctx: Context[CompanyUpdated], *, index: Index) -> None:
    """`company.updated`: the company's positions and proposals carry its name."""
    await index.catch_up(ctx.db)
    positions = sorted(index.by_company.get(ctx.data.company_id, ()))
    await _repoint(ctx, index, positions, ctx.data.company_id, ctx.data.name)


async def company_merged(ctx: Context[CompanyMerged], *, index: Index) -> None:
    """`company.merged`: the merged company's positions belong to the survivor now."""
    await index.catch_up(ctx.db)
    data = ctx.data
    moved = set(data.position_ids) | set(index.by_company.get(data.merged_id, ()))
    await _repoint(ctx, index, sorted(moved), data.survivor_id, data.survivor_name)


async def _repoint(
    ctx: Context[Any], index: Index, position_ids: list[str], company_id: str, name: str
) -> None:
    changed = await store.rename_company(ctx.db, position_ids, company_id, name)
    proposals = [p.proposal_id for x in changed for p in index.proposals_of_position(x)]
    for proposal_id in proposals:
        await store.rename_proposal_company(ctx.db, proposal_id, company_id, name)
    await index.announce(
        ctx.db, [*(("position", x) for x in changed), *(("proposal", p) for p in proposals)]
    )


# -- proposals and decisions ---------------------------------------------------------------


async def get_shortlist(ctx: Context[GetShortlist], *, index: Index) -> Shortlist:
    """`match.shortlist`: every proposal made for a position, ranked, with its status."""
    position_id = ctx.data.position_id
    if await store.find_position(ctx.db, position_id) is None:
        raise NotFound(f"Ausbildungsstelle {position_id} ist dem Matching nicht bekannt")
    await index.catch_up(ctx.db)
    listed = []
    for entry in index.proposals_of_position(position_id):
        stored = await store.find_proposal(ctx.db, entry.proposal_id)
        if stored is not None:
            listed.append(
                domain.Listed(stored.proposal, stored.status, stored.withdrawn_reason)  # type: ignore[arg-type]
            )
    return Shortlist(position_id=position_id, candidates=domain.shortlist(listed, ctx.data.limit))


async def decide_match(
    ctx: Context[DecideMatch], *, index: Index, policy: domain.Policy
) -> Decision:
    """`match.decide`: the first decision on a proposal holds and is announced once.

    A decline proposes the position's next best candidates in the same message: staff
    see them one hop sooner than through `match.declined`, which only tops up what a
    decline that died on the way left undone.
    """
    decision = await decisions.decide(ctx, index)
    if decision.status == "declined":
        entry = index.proposals.get(decision.proposal_id)
        if entry is not None:
            await proposing.for_position(ctx, index, policy, entry.position_id, "declined")
    return decision


async def propose_after_decline(
    ctx: Context[MatchDeclined], *, index: Index, policy: domain.Policy
) -> None:
    """`match.declined`: the position's next best candidates, if the decline has not.

    The decline proposes them itself (`decide_match`); here the position is found topped
    up and nothing is announced, unless that message died between its decision and them.
    """
    await proposing.for_position(ctx, index, policy, ctx.data.position_id, "declined")
