"""Applicant-fair schedules for a Bewerberbörse: who meets which company, when, where.

The schedule is an exact lexicographic optimisation, solved as three mixed
integer programs with scipy's HiGHS (`scipy.optimize.milp`), each stage
keeping the optimum of the one before:

1. the minimum number of interviews per applicant, where possible
   (minimise the total shortfall below `min_interviews`);
2. the weighted number of granted wishes (a higher-ranked wish weighs more:
   rank r of a list of at most L wishes weighs L - r);
3. fairness, the worst-off applicant first: maximise the smallest share of
   an applicant's own wish weight that is granted.

Tables of one company are interchangeable, so the model counts interviews
per company and slot against its number of tables and the tables are
numbered afterwards. Every stage has a time limit; the plan reports for each
stage whether it was proven optimal, the bound and the gap.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from diko_matching.engine.fields import IsoDate, IsoTime, first_error
from diko_matching.engine.instance import InstanceError
from diko_matching.engine.milp_stage import OPTIMAL, Stage, not_run, stage_from_result

_STRICT = ConfigDict(extra="forbid", strict=True)
DAY_MINUTES = 24 * 60


class FairCompany(BaseModel):
    """A company at the fair: its tables and the slots it is there."""

    model_config = _STRICT

    name: str = Field("", description="shown in the timetables; the id if empty")
    tables: int = Field(1, ge=1, le=50)
    slots: list[int] | None = Field(None, description="slots present (0-based); None = all")


class FairApplicant(BaseModel):
    """An applicant: ranked wishes (company ids) and the slots they can attend."""

    model_config = _STRICT

    name: str = Field("", description="shown in the timetables; the id if empty")
    wishes: list[str] = Field(default_factory=list, description="company ids, best first")
    slots: list[int] | None = Field(None, description="slots available (0-based); None = all")


def _check_slots(slots: list[int] | None, owner: str, n_slots: int) -> None:
    for t in slots or []:
        if not 0 <= t < n_slots:
            raise ValueError(f"{owner} lists slot {t}, outside 0..{n_slots - 1}")
    if slots is not None and len(set(slots)) != len(slots):
        twice = next(t for t in slots if slots.count(t) > 1)
        raise ValueError(f"{owner} lists slot {twice} twice")


class FairInstance(BaseModel):
    """Input of a fair plan; the whole day must lie between 00:00 and 24:00."""

    model_config = _STRICT

    title: str = "Bewerberbörse"
    date: IsoDate | None = None
    start: IsoTime = dt.time(9, 0)
    slot_minutes: int = Field(15, ge=1, le=240)
    n_slots: int = Field(ge=1, le=200)
    min_interviews: int = Field(2, ge=0, le=50)
    companies: dict[str, FairCompany]
    applicants: dict[str, FairApplicant]

    @model_validator(mode="after")
    def _check_ids(self) -> FairInstance:
        first = self.start.hour * 60 + self.start.minute
        if first + self.n_slots * self.slot_minutes > DAY_MINUTES:
            most = (DAY_MINUTES - first) // self.slot_minutes
            raise ValueError(
                f"{self.n_slots} slots of {self.slot_minutes} minutes from "
                f"{self.start.strftime('%H:%M')} end after midnight; at most {most} fit the day"
            )
        for c, comp in self.companies.items():
            _check_slots(comp.slots, f"company {c!r}", self.n_slots)
        for a, app in self.applicants.items():
            if len(set(app.wishes)) != len(app.wishes):
                raise ValueError(f"duplicate wish in the list of applicant {a!r}")
            for c in app.wishes:
                if c not in self.companies:
                    raise ValueError(f"unknown company {c!r} in the wishes of applicant {a!r}")
            _check_slots(app.slots, f"applicant {a!r}", self.n_slots)
        return self

    @classmethod
    def parse(cls, data: Any) -> FairInstance:
        """Validate decoded JSON; the first problem becomes a one-line InstanceError."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InstanceError(first_error(exc)) from None

    def slot_time(self, slot: int) -> dt.time:
        """Clock time at which a slot starts (slot n_slots, the end, may be 24:00 = 00:00)."""
        base = dt.datetime.combine(dt.date(2000, 1, 1), self.start)
        return (base + dt.timedelta(minutes=self.slot_minutes * slot)).time()

    def slot_clock(self, slot: int) -> str:
        """ "HH:MM" at which a slot starts; the end of a day that fills it is "24:00"."""
        minutes = self.start.hour * 60 + self.start.minute + self.slot_minutes * slot
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


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
            "summary": self.summary,
            "stages": [s.to_dict() for s in self.stages],
        }


def wish_weights(instance: FairInstance) -> dict[tuple[str, str], float]:
    """Weight of each wish: rank r of a list of at most L wishes weighs L - r."""
    longest = max((len(a.wishes) for a in instance.applicants.values()), default=0)
    return {
        (a, c): float(longest - r)
        for a, app in instance.applicants.items()
        for r, c in enumerate(app.wishes)
    }


@dataclass(frozen=True, slots=True)
class _Model:
    var: list[tuple[str, str, int]]  # (applicant, company, slot) per binary variable
    weight: np.ndarray
    rows: list[tuple[np.ndarray, np.ndarray, float, float]]  # sparse row: cols, vals, lb, ub
    app_vars: dict[str, list[int]]
    need: dict[str, int]


def _build(instance: FairInstance) -> _Model:
    weights = wish_weights(instance)
    all_slots = set(range(instance.n_slots))
    var: list[tuple[str, str, int]] = []
    by_wish: dict[tuple[str, str], list[int]] = {}
    by_app_slot: dict[tuple[str, int], list[int]] = {}
    by_comp_slot: dict[tuple[str, int], list[int]] = {}
    app_vars: dict[str, list[int]] = {a: [] for a in instance.applicants}
    for a in sorted(instance.applicants):
        app = instance.applicants[a]
        a_slots = all_slots if app.slots is None else set(app.slots)
        for c in app.wishes:
            comp = instance.companies[c]
            c_slots = all_slots if comp.slots is None else set(comp.slots)
            for t in sorted(a_slots & c_slots):
                k = len(var)
                var.append((a, c, t))
                by_wish.setdefault((a, c), []).append(k)
                by_app_slot.setdefault((a, t), []).append(k)
                by_comp_slot.setdefault((c, t), []).append(k)
                app_vars[a].append(k)
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    for ks in by_wish.values():
        rows.append((np.array(ks), np.ones(len(ks)), -np.inf, 1.0))
    for ks in by_app_slot.values():
        rows.append((np.array(ks), np.ones(len(ks)), -np.inf, 1.0))
    for (c, _), ks in by_comp_slot.items():
        rows.append((np.array(ks), np.ones(len(ks)), -np.inf, float(instance.companies[c].tables)))
    weight = np.array([weights[(a, c)] for a, c, _ in var])
    reachable: dict[str, int] = dict.fromkeys(instance.applicants, 0)
    for a, _ in by_wish:
        reachable[a] += 1
    need = {a: min(instance.min_interviews, reachable[a]) for a in instance.applicants}
    return _Model(var, weight, rows, app_vars, need)


def plan_fair(instance: FairInstance | Any, time_limit: float = 60.0) -> FairPlan:
    """The lexicographically best schedule found within `time_limit` seconds.

    The limit covers building the model and all three stages: a stage gets
    the time that is left, and once none is left the later stages are
    reported `not_run` rather than run past the limit.
    """
    deadline = time.perf_counter() + time_limit
    inst = instance if isinstance(instance, FairInstance) else FairInstance.parse(instance)
    model = _build(inst)
    n = len(model.var)
    apps = [a for a in sorted(inst.applicants) if model.app_vars[a]]
    # Columns: n interview binaries, then one shortfall per applicant, then z (the worst share).
    n_short = len(apps)
    n_cols = n + n_short + 1
    col_short = {a: n + i for i, a in enumerate(apps)}
    z_col = n + n_short

    rows = list(model.rows)
    totals: dict[str, float] = {}
    for (a, _), w in wish_weights(inst).items():
        totals[a] = totals.get(a, 0.0) + w
    for a in apps:
        ks = model.app_vars[a]
        # shortfall_a + sum x_a >= need_a
        cols = np.array([*ks, col_short[a]])
        rows.append((cols, np.ones(len(cols)), float(model.need[a]), np.inf))
        # z * total_weight_a - sum w x_a <= 0
        cols = np.array([*ks, z_col])
        vals = np.concatenate((-model.weight[ks], [totals[a]]))
        rows.append((cols, vals, -np.inf, 0.0))

    integrality = np.zeros(n_cols)
    integrality[:n] = 1
    bounds = Bounds(np.zeros(n_cols), np.concatenate((np.ones(n), np.full(n_short, np.inf), [1.0])))
    stages: list[Stage] = []
    x_best: np.ndarray | None = None

    def solve_stage(name: str, c: np.ndarray, extra: list) -> None:
        nonlocal x_best
        if time.perf_counter() >= deadline:
            stages.append(not_run(name))
            return
        all_rows = rows + extra
        r_idx = np.concatenate(
            [np.full(len(cols), i) for i, (cols, _, _, _) in enumerate(all_rows)]
        )
        c_idx = np.concatenate([cols for cols, _, _, _ in all_rows])
        vals = np.concatenate([v for _, v, _, _ in all_rows])
        a_mat = coo_array((vals, (r_idx, c_idx)), shape=(len(all_rows), n_cols)).tocsr()
        lb = np.array([r[2] for r in all_rows])
        ub = np.array([r[3] for r in all_rows])
        left = deadline - time.perf_counter()
        if left <= 0:
            stages.append(not_run(name))
            return
        t0 = time.perf_counter()
        res = milp(
            c,
            integrality=integrality,
            bounds=bounds,
            constraints=LinearConstraint(a_mat, lb, ub),
            options={"time_limit": left, "mip_rel_gap": 1e-9, "disp": False},
        )
        stages.append(stage_from_result(name, res, time.perf_counter() - t0, name != "minimum"))
        if res.x is not None:
            x_best = res.x

    extra: list = []
    if n and apps:
        c1 = np.zeros(n_cols)
        c1[n : n + n_short] = 1.0
        solve_stage("minimum", c1, extra)
        if x_best is None:  # nothing to keep: the later stages cannot start from it
            stages.extend(not_run(name) for name in ("wishes", "fairness"))
        else:
            shortfall = float(np.round(x_best[n : n + n_short].sum()))
            extra.append((np.arange(n, n + n_short), np.ones(n_short), -np.inf, shortfall + 1e-6))
            c2 = np.zeros(n_cols)
            c2[:n] = -model.weight
            solve_stage("wishes", c2, extra)
            granted = float(model.weight @ np.round(x_best[:n]))
            extra.append((np.arange(n), model.weight, granted - 1e-6, np.inf))
            c3 = np.zeros(n_cols)
            c3[z_col] = -1.0
            solve_stage("fairness", c3, extra)
    chosen = [] if x_best is None else [k for k in range(n) if x_best[k] > 0.5]
    return FairPlan(_interviews(inst, model, chosen), stages, _summary(inst, model, chosen, stages))


def _interviews(inst: FairInstance, model: _Model, chosen: list[int]) -> list[Interview]:
    out: list[Interview] = []
    next_table: dict[tuple[str, int], int] = {}
    for k in sorted(chosen, key=lambda k: (model.var[k][2], model.var[k][1], model.var[k][0])):
        a, c, t = model.var[k]
        table = next_table.get((c, t), 0) + 1
        next_table[(c, t)] = table
        out.append(Interview(a, c, table, t, inst.applicants[a].wishes.index(c)))
    return out


def _summary(
    inst: FairInstance, model: _Model, chosen: list[int], stages: list[Stage]
) -> dict[str, Any]:
    weights = wish_weights(inst)
    got: dict[str, list[int]] = {a: [] for a in inst.applicants}
    for k in chosen:
        a, c, _ = model.var[k]
        got[a].append(inst.applicants[a].wishes.index(c))
    shares = []
    for a, app in inst.applicants.items():
        total = sum(weights[(a, c)] for c in app.wishes)
        if total > 0 and model.app_vars[a]:
            shares.append(sum(weights[(a, app.wishes[r])] for r in got[a]) / total)
    below = [a for a in inst.applicants if len(got[a]) < model.need[a]]
    return {
        "applicants": len(inst.applicants),
        "companies": len(inst.companies),
        "slots": inst.n_slots,
        "interviews": len(chosen),
        "wishes": sum(len(a.wishes) for a in inst.applicants.values()),
        "granted_weight": float(sum(model.weight[k] for k in chosen)),
        "possible_weight": float(sum(weights.values())),
        "worst_share": round(min(shares), 6) if shares else None,
        "below_minimum": len(below),
        "shortfall": sum(max(0, model.need[a] - len(got[a])) for a in inst.applicants),
        "proven_optimal": all(s.status == OPTIMAL for s in stages),
    }
