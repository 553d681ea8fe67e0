"""How one stage of a lexicographic MILP ended, in numbers JSON can carry.

HiGHS reports a stage that ran out of time without a solution with `None`s,
and an unbounded relative gap (objective 0) as infinity; written as floats
those became `NaN` and `Infinity`, which no JSON reader accepts. Here every
unknown number is None (`null`), and a stage the time limit left no time
for says so (`not_run`) instead of overrunning the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

OPTIMAL = "optimal"
TIME_LIMIT = "time_limit"
TIME_LIMIT_NO_SOLUTION = "time_limit_no_solution"
NOT_RUN = "not_run"
"""The time limit had passed before the stage could start."""
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Stage:
    """How one lexicographic stage ended; None where a number is unknown."""

    name: str
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float

    def shifted(self, offset: float) -> Stage:
        """The same stage with a constant added to its objective (and bound), gap anew."""
        if offset == 0:
            return self
        objective = None if self.objective is None else self.objective + offset
        bound = None if self.bound is None else self.bound + offset
        return replace(self, objective=objective, bound=bound, gap=_gap(self, objective, bound))

    def with_objective(self, value: float) -> Stage:
        """The stage with its objective replaced by the exact value its solution attains."""
        return replace(self, objective=value)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (rounded; unknown numbers are null)."""
        return {
            "name": self.name,
            "status": self.status,
            "objective": _rounded(self.objective, 6),
            "bound": _rounded(self.bound, 6),
            "gap": _rounded(self.gap, 6),
            "seconds": round(self.seconds, 3),
        }


def _rounded(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits) + 0.0  # + 0.0: no "-0.0"


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def _gap(stage: Stage, objective: float | None, bound: float | None) -> float | None:
    """HiGHS's relative gap, |objective - bound| / |objective|, for shifted numbers."""
    if stage.status == OPTIMAL:
        return 0.0
    if objective is None or bound is None:
        return None
    if objective == 0:
        return 0.0 if bound == 0 else None
    return abs(objective - bound) / abs(objective)


def not_run(name: str) -> Stage:
    """A stage skipped because the time limit had passed."""
    return Stage(name, NOT_RUN, None, None, None, 0.0)


def stage_from_result(name: str, res: Any, seconds: float, maximise: bool) -> Stage:
    """A stage from `scipy.optimize.milp`'s result of the minimisation it solved.

    A maximising stage minimised the negated objective, so its objective and
    bound are negated back. The gap is HiGHS's relative gap: 0 when proven
    optimal, None when it is unknown or unbounded (a time-limited objective
    of 0); the bound is None when HiGHS has none.
    """
    has_x = res.x is not None
    if res.status == 0:
        status = OPTIMAL
    elif res.status == 1:
        status = TIME_LIMIT if has_x else TIME_LIMIT_NO_SOLUTION
    else:
        status = FAILED
    sign = -1.0 if maximise else 1.0
    objective = _finite(res.fun) if has_x else None
    bound = _finite(getattr(res, "mip_dual_bound", None))
    gap = _finite(getattr(res, "mip_gap", None))
    if status == OPTIMAL:
        bound = objective if bound is None else bound
        gap = 0.0 if gap is None else gap
    elif objective is None:
        gap = None
    return Stage(
        name,
        status,
        None if objective is None else sign * objective,
        None if bound is None else sign * bound,
        gap,
        seconds,
    )
