"""`fair.plan` and `fair.get`.

A plan is computed once per message: the fair is stored under its id (derived from the
message) before `fair.planned` is announced, so that a redelivery announces the same
plan instead of planning again (HiGHS may find another of several optimal schedules).
"""

from __future__ import annotations

from typing import Any

from diko_matching import domain, store
from diko_matching.fairs.model import fair_of
from diko_matching.fairs.planner import Planner
from diko_matching.fairs.setup import fair_setup
from diko_matching.index import Index
from diko_shared.contract.matching import Fair, FairPlanned, FairRef, GetFair, PlanFair
from diko_shared.messaging.errors import NotFound
from diko_shared.messaging.handling import Context
from diko_shared.rights.holdings import SCRUBBED


async def plan_fair(
    ctx: Context[PlanFair], *, index: Index, policy: domain.Policy, planner: Planner
) -> FairRef:
    """`fair.plan`: check, plan (in the worker process), keep, announce."""
    fair_id = ctx.new_id("fair")
    stored = await store.find_document(ctx.db, store.FAIRS, fair_id)
    if stored is None:
        await index.catch_up(ctx.db)
        setup = fair_setup(ctx.data, index, policy)
        plan = await planner.plan(setup.instance().model_dump(mode="json"), ctx.data.time_limit_s)
        fair = fair_of(fair_id, setup, plan)
        document = {"key": ctx.key, "fair": fair.model_dump(mode="json"), "at": store.now()}
        stored = await store.keep_once(ctx.db, store.FAIRS, fair_id, document)
    planned = FairPlanned.of(Fair.model_validate(_unscrubbed(stored["fair"]), strict=False))
    ctx.emit(planned, subject=fair_id)
    return FairRef(fair_id=fair_id, summary=planned.summary, stages=planned.stages)


async def find_fair(db: object, fair_id: str) -> Fair | None:
    stored = await store.find_document(db, store.FAIRS, fair_id)  # type: ignore[arg-type]
    return (
        None if stored is None else Fair.model_validate(_unscrubbed(stored["fair"]), strict=False)
    )


def _unscrubbed(fair: dict[str, Any]) -> dict[str, Any]:
    """The stored fair with an erased applicant's overwritten address read as none: the
    erasure leaves `gelöscht` where the address was, which is no e-mail address."""
    applicants = [
        {**a, "email": None} if a.get("email") == SCRUBBED else a
        for a in fair.get("applicants", [])
    ]
    return {**fair, "applicants": applicants}


async def get_fair(ctx: Context[GetFair]) -> Fair:
    """`fair.get`: the planned fair with its schedule."""
    fair = await find_fair(ctx.db, ctx.data.fair_id)
    if fair is None:
        raise NotFound(f"Bewerberbörse {ctx.data.fair_id} ist nicht bekannt")
    return fair
