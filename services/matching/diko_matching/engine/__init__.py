"""diko's matching engine: a pure library (no I/O) the matching service calls.

- Stable assignment with capacities (instance.py, preferences.py, stable.py;
  stable_arrays.py for nationwide sizes): `solve`, `check_assignment`.
- Scored shortlists with reasons (scoring.py, profiles.py, candidates.py,
  shortlists.py): `score_pairs`, `explain_pair`, `shortlist_for_position`,
  `shortlist_for_applicant`, `instance_from_profiles`.
- Applicant-fair schedules (fair.py with fair_instance.py, fair_model.py,
  fair_stages.py, fair_slots.py): `plan_fair`. The timetables (HTML, PDF, .ics) are
  the service's (`diko_matching.fairs`), drawn from the contract's `Fair`.
- Synthetic instances (generate.py).

Names are imported lazily (PEP 562): `diko match solve` must not pay for
numpy, numba, scipy and pydantic when it needs none of them, since whole
process time is what staff wait for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diko_matching.engine.candidates import (
        Candidates,
        PreferenceCSR,
        preference_csr,
        score_pairs,
    )
    from diko_matching.engine.fair import FairInstance, FairPlan, Interview, plan_fair
    from diko_matching.engine.generate import (
        generate_fair,
        generate_profiles,
        nationwide_arrays,
        random_lists_instance,
    )
    from diko_matching.engine.instance import Instance, InstanceError, Optimal, Result
    from diko_matching.engine.preferences import Problem, compile_instance
    from diko_matching.engine.profiles import (
        ApplicantProfile,
        PositionProfile,
        ProfileArrays,
        ProfileInstance,
        to_arrays,
    )
    from diko_matching.engine.scoring import Criterion, Score, ScoringWeights
    from diko_matching.engine.shortlists import (
        explain_pair,
        instance_from_profiles,
        shortlist_for_applicant,
        shortlist_for_position,
    )
    from diko_matching.engine.stable import (
        blocking_pairs_of,
        check_assignment,
        match_problem,
        solve,
    )

_WHERE = {
    "Candidates": "candidates",
    "PreferenceCSR": "candidates",
    "preference_csr": "candidates",
    "score_pairs": "candidates",
    "FairInstance": "fair",
    "FairPlan": "fair",
    "Interview": "fair",
    "plan_fair": "fair",
    "generate_fair": "generate",
    "generate_profiles": "generate",
    "nationwide_arrays": "generate",
    "random_lists_instance": "generate",
    "Instance": "instance",
    "InstanceError": "instance",
    "Optimal": "instance",
    "Result": "instance",
    "Problem": "preferences",
    "compile_instance": "preferences",
    "ApplicantProfile": "profiles",
    "PositionProfile": "profiles",
    "ProfileArrays": "profiles",
    "ProfileInstance": "profiles",
    "to_arrays": "profiles",
    "Criterion": "scoring",
    "Score": "scoring",
    "ScoringWeights": "scoring",
    "explain_pair": "shortlists",
    "instance_from_profiles": "shortlists",
    "shortlist_for_applicant": "shortlists",
    "shortlist_for_position": "shortlists",
    "blocking_pairs_of": "stable",
    "check_assignment": "stable",
    "match_problem": "stable",
    "solve": "stable",
}
__all__ = [
    "ApplicantProfile",
    "Candidates",
    "Criterion",
    "FairInstance",
    "FairPlan",
    "Instance",
    "InstanceError",
    "Interview",
    "Optimal",
    "PositionProfile",
    "PreferenceCSR",
    "Problem",
    "ProfileArrays",
    "ProfileInstance",
    "Result",
    "Score",
    "ScoringWeights",
    "blocking_pairs_of",
    "check_assignment",
    "compile_instance",
    "explain_pair",
    "generate_fair",
    "generate_profiles",
    "instance_from_profiles",
    "match_problem",
    "nationwide_arrays",
    "plan_fair",
    "preference_csr",
    "random_lists_instance",
    "score_pairs",
    "shortlist_for_applicant",
    "shortlist_for_position",
    "solve",
    "to_arrays",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"diko_matching.engine.{module}"), name)
    globals()[name] = value
    return value
