"""One MILP through HiGHS's own Python interface (highspy), optionally from a start.

scipy's `milp` drives the same solver but takes no starting solution. The fair's stages
are a chain in which each stage's solution, extended by the new stage's columns, is
feasible for the next: handed to HiGHS as its first incumbent, it prunes the search
from the first node, and a stage cut short by the time limit still has a solution.

The result has the fields of scipy's `OptimizeResult` that `milp_stage.stage_from_result`
reads (`status` 0 optimal, 1 time limit, 2 otherwise; `x`, `fun`, `mip_dual_bound`,
`mip_gap`), so both solvers' results are read alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csr_array

OPTIMAL, TIME_LIMIT, OTHER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class MilpResult:
    """What one run found, in `scipy.optimize.milp`'s terms."""

    status: int
    x: np.ndarray | None
    fun: float | None
    mip_dual_bound: float | None
    mip_gap: float | None


def solve_milp(
    cost: np.ndarray,
    integer: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    matrix: csr_array,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    *,
    time_limit: float,
    rel_gap: float,
    start: np.ndarray | None = None,
    presolve: bool = True,
) -> MilpResult:
    """Minimise `cost · x` subject to the rows and bounds; `start` is tried as an incumbent.

    `presolve=False` skips HiGHS's presolve: a chain of stages on one small model pays
    for it at every stage and gains less than it costs (see `fair_stages`).
    """
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if not presolve:
        h.setOptionValue("presolve", "off")
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = matrix.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer
    ]
    h.passModel(lp)
    if start is not None:
        given = highspy.HighsSolution()
        given.col_value = np.asarray(start, dtype=np.float64)
        given.value_valid = True
        h.setSolution(given)
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = OPTIMAL
    elif model_status == highspy.HighsModelStatus.kTimeLimit:
        status = TIME_LIMIT
    else:
        status = OTHER
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    return MilpResult(
        status,
        x,
        float(info.objective_function_value) if has_x else None,
        float(info.mip_dual_bound),
        float(info.mip_gap),
    )
