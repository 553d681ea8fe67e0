"""Applicant-fair schedules for a Bewerberbörse: who meets which company, when, where.

The schedule is an exact lexicographic optimisation (`fair_stages`): the minimum
number of interviews per applicant where possible, then the weighted number of
granted wishes, then fairness as leximin (the worst-off applicant's share of their
own wish weight first, then the second worst-off, and so on). The stages are solved
on the wish model (`fair_model`: which wishes are granted, with Hall-type capacity
rows), and the granted wishes are then placed into slots and tables (`fair_slots`).
When every granted wish finds a slot, which is the rule, each stage's optimum is
proven for the schedule itself; otherwise the plan is solved again on the slot model.

Each applicant's minimum is min(min_interviews, number of wishes), whether or not
the wishes can be met; applicants whose wishes share no slot with the company count
in the shortfall and in the fairness stages (with a share of 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from diko_matching.engine.fair_instance import (
    DAY_MINUTES,
    FairApplicant,
    FairCompany,
    FairInstance,
    wish_weights,
)
from diko_matching.engine.fair_model import common_slots, slot_model, wish_model
from diko_matching.engine.fair_slots import number_tables, place
from diko_matching.engine.fair_stages import Level, lexicographic
from diko_matching.engine.milp_stage import OPTIMAL, Stage

__all__ = [
    "DAY_MINUTES",
    "FairApplicant",
    "FairCompany",
    "FairInstance",
    "FairPlan",
    "Interview",
    "Shortfall",
    "plan_fair",
    "wish_weights",
]

NO_COMMON_SLOT = "no_common_slot"
"""The applicant and the company are never there at the same time."""
COMPANY_FULL = "company_full"
"""Every table of the company is booked in every slot the two share."""
BUSY = "busy"
"""In the shared slots where the company had a free table, the applicant had other interviews."""
NOT_SCHEDULED = "not_scheduled"
"""A shared slot had room on both sides: the plan stopped before it was proven optimal."""


@dataclass(frozen=True, slots=True)
class Interview:
    """One booked interview."""

    applicant: str
    company: str
    table: int
    slot: int
    wish_rank: int


@dataclass(frozen=True, slots=True)
class FairPlan:
    """The schedule and what it achieved."""

    interviews: list[Interview]
    stages: list[Stage]
    summary: dict[str, Any] = field(default_factory=dict)
    below: list[Shortfall] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)

    def to_dict(self, instance: FairInstance) -> dict[str, Any]:
        """JSON form: interviews with clock times, the summary and the stages."""
        return {
            "interviews": [
                {
                    "applicant": i.applicant,
                    "company": i.company,
                    "table": i.table,
                    "slot": i.slot,
                    "time": instance.slot_clock(i.slot),
                    "wish_rank": i.wish_rank + 1,
                }
                for i in self.interviews
            ],
            "summary": {
                **self.summary,
                "below_minimum_applicants": [b.to_dict() for b in self.below],
            },
            "stages": [s.to_dict() for s in self.stages],
        }


@dataclass(frozen=True, slots=True)
class Shortfall:
    """An applicant with fewer interviews than their minimum, and why each wish failed."""

    applicant: str
    interviews: int
    needed: int
    missing: tuple[tuple[str, str], ...]  # (company, reason) per wish without an interview

    def to_dict(self) -> dict[str, Any]:
        return {
            "applicant": self.applicant,
            "interviews": self.interviews,
            "needed": self.needed,
            "missing": [{"company": c, "reason": r} for c, r in self.missing],
        }


def plan_fair(instance: FairInstance | Any, time_limit: float = 60.0) -> FairPlan:
    """The lexicographically best schedule found within `time_limit` seconds.

    The limit covers building the model and every stage: a stage gets the time that
    is left, and once none is left the later stages are reported `not_run`. Placing
    the granted wishes into slots follows (usually at once; a MILP gets at least
    `fair_slots.PLACEMENT_FLOOR_S`), since without it there is no schedule.
    """
    deadline = time.perf_counter() + time_limit
    inst = instance if isinstance(instance, FairInstance) else FairInstance.parse(instance)
    model = wish_model(inst)
    outcome = lexicographic(model, deadline)
    stages = list(outcome.stages)
    levels = outcome.levels
    bookings: list[tuple[str, str, int]] = []
    proven = bool(stages) and all(s.status == OPTIMAL for s in stages)
    if outcome.x is not None:
        granted = [(a, c) for k, (a, c, _) in enumerate(model.columns) if outcome.x[k] > 0.5]
        placed, bookings = place(inst, granted, deadline)
        stages.append(placed)
        if len(bookings) < len(granted):
            proven = False
            if time.perf_counter() < deadline:
                fallback = slot_model(inst)
                again = lexicographic(fallback, deadline)
                stages.extend(replace(s, name=f"slot model: {s.name}") for s in again.stages)
                if again.x is not None:
                    bookings = [
                        (a, c, t)
                        for k, (a, c, t) in enumerate(fallback.columns)
                        if again.x[k] > 0.5 and t is not None
                    ]
                    levels = again.levels
                    proven = all(s.status == OPTIMAL for s in again.stages)
    interviews = [
        Interview(a, c, table, t, inst.applicants[a].wishes.index(c))
        for a, c, table, t in number_tables(bookings)
    ]
    below = shortfalls(inst, interviews)
    summary = _summary(inst, interviews, below, levels, proven)
    return FairPlan(interviews, stages, summary, below, levels)


def shortfalls(inst: FairInstance, interviews: list[Interview]) -> list[Shortfall]:
    """Every applicant below min(min_interviews, number of wishes), with why each wish failed."""
    common = common_slots(inst)
    busy = {(i.applicant, i.slot) for i in interviews}
    booked: dict[tuple[str, int], int] = {}
    for i in interviews:
        booked[(i.company, i.slot)] = booked.get((i.company, i.slot), 0) + 1
    got: dict[str, set[str]] = {a: set() for a in inst.applicants}
    for i in interviews:
        got[i.applicant].add(i.company)
    out = []
    for a in sorted(inst.applicants):
        wishes = inst.applicants[a].wishes
        needed = min(inst.min_interviews, len(wishes))
        if len(got[a]) >= needed:
            continue
        missing = []
        for c in wishes:
            if c in got[a]:
                continue
            shared = common[(a, c)]
            full = {t for t in shared if booked.get((c, t), 0) >= inst.companies[c].tables}
            if not shared:
                reason = NO_COMMON_SLOT
            elif full == shared:
                reason = COMPANY_FULL
            elif all((a, t) in busy for t in shared - full):
                reason = BUSY
            else:
                reason = NOT_SCHEDULED
            missing.append((c, reason))
        out.append(Shortfall(a, len(got[a]), needed, tuple(missing)))
    return out


def _summary(
    inst: FairInstance,
    interviews: list[Interview],
    below: list[Shortfall],
    levels: list[Level],
    proven: bool,
) -> dict[str, Any]:
    weights = wish_weights(inst)
    granted: dict[str, float] = dict.fromkeys(inst.applicants, 0.0)
    for i in interviews:
        granted[i.applicant] += weights[(i.applicant, i.company)]
    shares = []
    for a, app in inst.applicants.items():
        total = sum(weights[(a, c)] for c in app.wishes)
        if total > 0:
            shares.append(granted[a] / total)
    return {
        "applicants": len(inst.applicants),
        "companies": len(inst.companies),
        "slots": inst.n_slots,
        "interviews": len(interviews),
        "wishes": sum(len(a.wishes) for a in inst.applicants.values()),
        "granted_weight": float(sum(granted.values())),
        "possible_weight": float(sum(weights.values())),
        "worst_share": round(min(shares), 6) if shares else None,
        "below_minimum": len(below),
        "shortfall": sum(b.needed - b.interviews for b in below),
        "levels": [{"share": round(float(v.share), 6), "applicants": v.applicants} for v in levels],
        "proven_optimal": proven,
    }
