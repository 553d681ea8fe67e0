"""diko's matching engine: a pure library (no I/O) the matching service calls.

- stable assignment with capacities: `solve`, `check_assignment` (instance.py,
  preferences.py, stable.py, stable_arrays.py for nationwide sizes)
"""

from diko_matching.engine.instance import Instance, InstanceError, Optimal, Result
from diko_matching.engine.preferences import Problem, compile_instance
from diko_matching.engine.stable import check_assignment, match_problem, solve

__all__ = [
    "Instance",
    "InstanceError",
    "Optimal",
    "Problem",
    "Result",
    "check_assignment",
    "compile_instance",
    "match_problem",
    "solve",
]
