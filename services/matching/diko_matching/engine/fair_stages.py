"""The lexicographic stages of a fair plan, each an exact MILP (scipy's HiGHS).

1. **minimum**: minimise the total shortfall below each applicant's minimum,
   min(min_interviews, number of wishes);
2. **wishes**: maximise the weighted number of granted wishes;
3. **fairness**, leximin: maximise the smallest share of an applicant's wish weight
   that is granted, then the second smallest, and so on. Level by level:

   - *fairness 1*: the best level t every applicant can reach;
   - *fairness k count, fairness k+1*: one MILP for two steps, minimising
     count - t/2: first the fewest applicants at or below level k (the count), then,
     with that count, the best level t that everyone not on a level reaches. Since t
     lies in [0, 1], one applicant fewer always outweighs any t, so the minimum is
     lexicographic and exact. The count is kept as a constraint; which applicants
     sit on a level stays open (fixing them could cost the levels above).

   Shares are fractions g/T of integers, so each level is an exact fraction and
   "above t" means at least one weight unit more. The leximin ends when everyone
   left reaches a share of 1, everyone left is at or below the level, everyone left
   has every wish that can be met at all, or time is up.

Each stage keeps the optimum of the ones before as a constraint. If a stage stops at
the time limit with a solution, later stages keep the value it found (and are
relative to it); once the limit has passed, no further stage starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy.sparse import coo_array

from diko_matching.engine.fair_model import GrantModel, Row
from diko_matching.engine.highs_milp import solve_milp
from diko_matching.engine.milp_stage import OPTIMAL, Stage, not_run, stage_from_result

#: The relative gap HiGHS must close before it calls a stage optimal, where a stage has
#: no coarser step of its own.
REL_GAP = 1e-9


def step_gap(step: float, largest: float) -> float:
    """A relative gap that proves optimality when the objective moves in `step`s.

    Every stage's objective takes discrete values: whole numbers (shortfall, weight,
    count), or shares that differ by at least 1/T² for the largest wish weight T. Once
    the bound is less than half a step from the solution found (relative to at most
    `largest`), no better value exists: the solution is optimal, and HiGHS need not
    close the rest of the gap, which it spends most of its time on.
    """
    return max(REL_GAP, 0.5 * step / max(largest, 1e-12))


@dataclass(frozen=True, slots=True)
class Level:
    """A settled leximin level: this many applicants have exactly this share."""

    share: Fraction
    applicants: int


@dataclass
class Outcome:
    """What the stages found: the stages, the best solution, the leximin levels."""

    stages: list[Stage] = field(default_factory=list)
    x: np.ndarray | None = None
    levels: list[Level] = field(default_factory=list)


class Program:
    """A MILP grown stage by stage: the model's binaries, then the stages' own columns."""

    def __init__(self, model: GrantModel) -> None:
        # HiGHS's presolve, run anew at every stage, cost the wish model's leximin more
        # than it saved (1.4 to 1.8 times the time with it); the slot model keeps it.
        self.presolve = model.kind != "wishes"
        self.lb = [0.0] * model.n
        self.ub = [1.0] * model.n
        self.integer = [1] * model.n
        self.rows: list[Row] = list(model.rows)
        self.keyed: dict[tuple[str, str], Row] = {}

    @property
    def n(self) -> int:
        return len(self.lb)

    def add_columns(self, count: int, lb: float, ub: float, *, integer: bool) -> np.ndarray:
        first = self.n
        self.lb.extend([lb] * count)
        self.ub.extend([ub] * count)
        self.integer.extend([int(integer)] * count)
        return np.arange(first, first + count, dtype=np.int64)

    def add_row(self, cols: Sequence[int], vals: Sequence[float], lo: float, hi: float) -> None:
        self.rows.append(
            (np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=np.float64), lo, hi)
        )

    def set_row(
        self, key: tuple[str, str], cols: Sequence[int], vals: Sequence[float], lo: float, hi: float
    ) -> None:
        """A row that a later call with the same key replaces."""
        self.keyed[key] = (np.asarray(cols, dtype=np.int64), np.asarray(vals, np.float64), lo, hi)

    def drop_row(self, key: tuple[str, str]) -> None:
        self.keyed.pop(key, None)

    def fix(self, col: int, value: float) -> None:
        self.lb[col] = self.ub[col] = value

    def start_from(self, x: np.ndarray, values: dict[int, float] | None = None) -> np.ndarray:
        """A start for the program as it is now: an earlier stage's solution `x`, extended.

        Integer columns are rounded, every column is kept within its bounds (a column
        fixed since takes its value), new columns are 0 unless `values` says otherwise.
        """
        start = np.zeros(self.n)
        start[: len(x)] = x
        integer = np.array(self.integer, dtype=bool)
        start[integer] = np.round(start[integer])
        start = np.clip(start, self.lb, self.ub)
        for col, value in (values or {}).items():
            start[col] = value
        return start

    def solve(
        self,
        name: str,
        cols: np.ndarray | list[int],
        vals: np.ndarray | list[float],
        *,
        maximise: bool,
        deadline: float,
        gap: float = REL_GAP,
        start: np.ndarray | None = None,
    ) -> tuple[Stage, np.ndarray | None]:
        """Optimise `vals · x[cols]` within the time left, from `start` if given.

        Not run if no time is left.
        """
        left = deadline - time.perf_counter()
        if left <= 0:
            return not_run(name), None
        c = np.zeros(self.n)
        c[np.asarray(cols, dtype=np.int64)] = np.asarray(vals, dtype=np.float64) * (
            -1.0 if maximise else 1.0
        )
        rows = [*self.rows, *self.keyed.values()]
        r_idx = np.concatenate([np.full(len(r[0]), i, dtype=np.int64) for i, r in enumerate(rows)])
        c_idx = np.concatenate([r[0] for r in rows])
        values = np.concatenate([r[1] for r in rows])
        matrix = coo_array((values, (r_idx, c_idx)), shape=(len(rows), self.n)).tocsr()
        started = time.perf_counter()
        res = solve_milp(
            c,
            np.array(self.integer),
            np.array(self.lb),
            np.array(self.ub),
            matrix,
            np.array([r[2] for r in rows]),
            np.array([r[3] for r in rows]),
            time_limit=left,
            rel_gap=gap,
            start=start,
            presolve=self.presolve,
        )
        stage = stage_from_result(name, res, time.perf_counter() - started, maximise)
        return stage, (None if res.x is None else np.asarray(res.x))


def granted_weight(model: GrantModel, x: np.ndarray, applicant: str) -> int:
    cols = model.app_cols[applicant]
    return round(float(model.weight[cols] @ np.round(x[cols]))) if len(cols) else 0


def lexicographic(model: GrantModel, deadline: float) -> Outcome:
    """Minimum, wishes and the leximin levels, on the model given."""
    out = Outcome()
    prog = Program(model)
    if model.n == 0:  # no wish can be met: nothing to decide, and that is optimal
        short = float(sum(model.need.values()))
        out.stages = [
            Stage("minimum", OPTIMAL, short, short, 0.0, 0.0),
            Stage("wishes", OPTIMAL, 0.0, 0.0, 0.0, 0.0),
        ]
        out.x = np.zeros(0)
        _leximin(model, prog, deadline, out)
        return out
    if not _minimum(model, prog, deadline, out):
        out.stages.extend(not_run(name) for name in ("wishes", "fairness 1"))
        return out
    if not _wishes(model, prog, deadline, out):
        out.stages.append(not_run("fairness 1"))
        return out
    _leximin(model, prog, deadline, out)
    return out


def _minimum(model: GrantModel, prog: Program, deadline: float, out: Outcome) -> bool:
    """Stage 1; applicants whose wishes share no slot with anyone add a constant."""
    reachable = [a for a in sorted(model.app_cols) if len(model.app_cols[a])]
    unreachable = sum(model.need[a] for a in model.app_cols if not len(model.app_cols[a]))
    short = prog.add_columns(len(reachable), 0.0, np.inf, integer=False)
    for a, s in zip(reachable, short, strict=True):
        cols = model.app_cols[a]
        prog.add_row([*cols, s], np.ones(len(cols) + 1), float(model.need[a]), np.inf)
    most = float(sum(model.need.values()))
    gap = step_gap(1.0, most)
    stage, x = prog.solve(
        "minimum", short, np.ones(len(short)), maximise=False, deadline=deadline, gap=gap
    )
    out.stages.append(stage.shifted(unreachable))
    if x is None:
        return False
    out.x = x
    found = round(float(x[short].sum()))
    prog.add_row(short, np.ones(len(short)), -np.inf, found + 1e-6)
    return True


def _wishes(model: GrantModel, prog: Program, deadline: float, out: Outcome) -> bool:
    cols = np.arange(model.n)
    gap = step_gap(1.0, float(model.weight.sum()))
    stage, x = prog.solve(
        "wishes",
        cols,
        model.weight,
        maximise=True,
        deadline=deadline,
        gap=gap,
        start=None if out.x is None else prog.start_from(out.x),
    )
    out.stages.append(stage)
    if x is None:
        return False
    out.x = x
    found = float(model.weight @ np.round(x[: model.n]))
    prog.add_row(cols, model.weight, found - 1e-6, np.inf)
    return True


def _leximin(model: GrantModel, prog: Program, deadline: float, out: Outcome) -> None:
    """The fairness levels (see the module's docstring), until settled or out of time."""
    totals = {a: round(model.total[a]) for a in model.app_cols}
    nothing = sum(1 for a in model.app_cols if totals[a] > 0 and not len(model.app_cols[a]))
    if nothing:
        out.levels.append(Level(Fraction(0), nothing))
    free = [a for a in sorted(model.app_cols) if totals[a] > 0 and len(model.app_cols[a])]
    if not free:
        return
    most = {a: round(float(model.weight[model.app_cols[a]].sum())) for a in free}
    # Per applicant: (indicator column, level) for each level it may sit on exactly.
    at: dict[str, list[tuple[int, Fraction]]] = {a: [] for a in free}
    settled = 0  # how many of `free` sit on the levels so far (the count is kept as a row)
    largest = max(totals[a] for a in free)
    step = 1.0 / largest**2  # two shares differ by at least 1/T²
    t = _reach(prog, model, free, totals, at)
    start = None
    if out.x is not None and len(out.x):
        lowest = min(Fraction(granted_weight(model, out.x, a), totals[a]) for a in free)
        start = prog.start_from(out.x, {t: float(lowest)})
    stage, x = prog.solve(
        "fairness 1",
        [t],
        [1.0],
        maximise=True,
        deadline=deadline,
        gap=step_gap(step, 1.0),
        start=start,
    )
    k = 1
    while True:
        if x is None:
            out.stages.append(stage)
            return
        out.x = x
        rising = [a for a in free if not any(x[col] > 0.5 for col, _ in at[a])]
        shares = {a: Fraction(granted_weight(model, x, a), totals[a]) for a in free}
        level = min(shares[a] for a in rising)
        if stage.status != OPTIMAL:
            out.stages.append(stage)
            return
        # The exact value the solution attains: the level, or the count less half the level.
        exact = float(level) if k == 1 else settled - float(level) / 2
        out.stages.append(stage.with_objective(exact))
        if all(granted_weight(model, x, a) == most[a] for a in rising):
            # Everyone left has every wish that can be met at all: nobody can rise further.
            for share in sorted({shares[a] for a in rising}):
                out.levels.append(Level(share, sum(1 for a in rising if shares[a] == share)))
            return
        _drop_reach(prog, free, t)
        # Only applicants whose total weight the level divides, and who can get as much as
        # the level's share of it, can sit exactly on it.
        here = [
            a for a in free if (level * totals[a]).denominator == 1 and level * totals[a] <= most[a]
        ]
        columns = prog.add_columns(len(here), 0.0, 1.0, integer=True)
        on_it: dict[int, float] = {}
        for a, col in zip(here, columns, strict=True):
            at[a].append((int(col), level))
            if a in rising and shares[a] == level:
                on_it[int(col)] = 1.0
        for a in free:
            _keep_at_or_above(prog, model, a, totals[a], at[a], level)
        everyone = [col for a in free for col, _ in at[a]]
        if level >= 1:  # everyone left sits on 1, the highest share there is
            out.levels.append(Level(level, len(free) - settled))
            return
        # The fewest applicants on this level and, with that fixed, the next level: one
        # MILP, minimising count - t/2 (exact, since t lies in [0, 1]).
        t = _reach(prog, model, free, totals, at)
        # The last solution, with those on this level marked, is a start: the count it
        # gives is an upper bound from the first node on.
        above = [shares[a] for a in rising if shares[a] > level]
        start = prog.start_from(x, {**on_it, t: float(min(above, default=1))})
        stage, x = prog.solve(
            f"fairness {k} count, fairness {k + 1}",
            [*everyone, t],
            [*np.ones(len(everyone)), -0.5],
            maximise=False,
            deadline=deadline,
            gap=step_gap(0.5 * step, float(len(free))),
            start=start,
        )
        if x is None or stage.status != OPTIMAL:
            out.stages.append(stage)
            if x is not None:
                out.x = x
            return
        count = round(float(x[everyone].sum()))
        prog.add_row(everyone, np.ones(len(everyone)), -np.inf, count + 1e-6)
        out.levels.append(Level(level, count - settled))
        settled = count
        if count == len(free):
            out.stages.append(stage.with_objective(float(count) - 0.5))
            return
        k += 1


def _reach(
    prog: Program,
    model: GrantModel,
    free: list[str],
    totals: dict[str, int],
    at: dict[str, list[tuple[int, Fraction]]],
) -> int:
    """A level column t that everyone not on an earlier level reaches."""
    t = int(prog.add_columns(1, 0.0, 1.0, integer=False)[0])
    for a in free:
        cols, earlier = model.app_cols[a], [col for col, _ in at[a]]
        prog.set_row(
            ("reach", a),
            [*cols, t, *earlier],
            [*model.weight[cols], -totals[a], *([totals[a]] * len(earlier))],
            0.0,
            np.inf,
        )
    return t


def _drop_reach(prog: Program, free: list[str], t: int) -> None:
    for a in free:
        prog.drop_row(("reach", a))
    prog.fix(t, 0.0)


def _keep_at_or_above(
    prog: Program,
    model: GrantModel,
    a: str,
    total: int,
    levels: list[tuple[int, Fraction]],
    latest: Fraction,
) -> None:
    """One row per applicant: on a level it may sit (at least that level), else above `latest`.

    G ≥ Σ ⌈level·T⌉·e + (⌊latest·T⌋ + 1)·(1 − Σ e), with at most one indicator e set.
    """
    cols = model.app_cols[a]
    above = math.floor(latest * total) + 1
    indicators = [col for col, _ in levels]
    coefficients = [above - math.ceil(level * total) for _, level in levels]
    prog.set_row(
        ("keep", a),
        [*cols, *indicators],
        [*model.weight[cols], *coefficients],
        float(above),
        np.inf,
    )
    if len(indicators) > 1:
        prog.set_row(("one", a), indicators, np.ones(len(indicators)), -np.inf, 1.0)
