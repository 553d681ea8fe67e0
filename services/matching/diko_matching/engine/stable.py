"""Deferred acceptance with capacities, and blocking pairs of any assignment.

Two kernels compute the same thing: a pure-Python one over lists, which
starts instantly and solves staff-sized instances (tens of thousands of
applicants) in well under a second, and a numba one over CSR arrays
(`stable_arrays`) for nationwide sizes, where its one-off JIT cost (about
0.5 s to load from the on-disk cache, several seconds to compile the first
time) no longer matters. `solve(..., kernel="auto")` picks by size.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Literal

from diko_matching.engine.instance import Instance, InstanceError, Optimal, Result
from diko_matching.engine.preferences import Problem, compile_instance

Kernel = Literal["auto", "python", "numba"]
AUTO_NUMBA_ENTRIES = 1_000_000
"""From this many acceptable pairs on, "auto" uses the numba kernel."""
_UNMATCHED = 1 << 62


def applicant_proposing(problem: Problem) -> list[int]:
    """Applicant-optimal stable matching: the position of each applicant, or -1."""
    n = problem.n_app
    pos_rank = [{a: r for r, a in enumerate(pp)} for pp in problem.pos_pref]
    prefs = problem.app_pref
    cap = problem.capacity
    held: list[list[int]] = [[] for _ in range(problem.n_pos)]
    nxt = [0] * n
    free = list(range(n - 1, -1, -1))
    push, replace = heapq.heappush, heapq.heapreplace
    while free:
        a = free.pop()
        while a >= 0:
            lst = prefs[a]
            k = nxt[a]
            if k >= len(lst):
                break
            nxt[a] = k + 1
            p = lst[k]
            h = held[p]
            key = -(pos_rank[p][a] * n + a)  # max-heap on the position's rank
            if len(h) < cap[p]:
                push(h, key)
                a = -1
            elif h and h[0] < key:
                a = -replace(h, key) % n
    match = [-1] * n
    for p, h in enumerate(held):
        for key in h:
            match[-key % n] = p
    return match


def position_proposing(problem: Problem) -> list[int]:
    """Position-optimal stable matching: the position of each applicant, or -1."""
    app_rank = [{p: r for r, p in enumerate(ap)} for ap in problem.app_pref]
    prefs = problem.pos_pref
    cap = problem.capacity
    count = [0] * problem.n_pos
    nxt = [0] * problem.n_pos
    match = [-1] * problem.n_app
    rank_of_match = [0] * problem.n_app
    todo = [p for p in range(problem.n_pos - 1, -1, -1) if cap[p] > 0]
    while todo:
        p = todo.pop()
        lst = prefs[p]
        while count[p] < cap[p] and nxt[p] < len(lst):
            a = lst[nxt[p]]
            nxt[p] += 1
            r = app_rank[a][p]
            q = match[a]
            if q < 0:
                match[a], rank_of_match[a] = p, r
                count[p] += 1
            elif r < rank_of_match[a]:
                match[a], rank_of_match[a] = p, r
                count[p] += 1
                count[q] -= 1
                todo.append(q)
    return match


def blocking_pairs_of(problem: Problem, match: Sequence[int]) -> list[tuple[int, int]]:
    """Pairs (a, p) that strictly prefer each other to what `match` gives them.

    Strictness is judged on the original tie groups, so a matching that is
    stable for the lottery-broken lists is (weakly) stable here too.
    """
    assigned: list[list[int]] = [[] for _ in range(problem.n_pos)]
    for a, p in enumerate(match):
        if p >= 0:
            assigned[p].append(a)
    pos_weak_of = [
        dict(zip(pp, pw, strict=True))
        for pp, pw in zip(problem.pos_pref, problem.pos_weak, strict=True)
    ]
    worst = [
        max((pos_weak_of[p][a] for a in apps), default=-1)
        if len(apps) >= problem.capacity[p]
        else None
        for p, apps in enumerate(assigned)
    ]
    pairs: list[tuple[int, int]] = []
    for a, (lst, weak) in enumerate(zip(problem.app_pref, problem.app_weak, strict=True)):
        m = match[a]
        mine = _UNMATCHED if m < 0 else weak[lst.index(m)]
        for p, g in zip(lst, weak, strict=True):
            if g >= mine:
                break
            w = worst[p]
            if w is None or pos_weak_of[p][a] < w:
                pairs.append((a, p))
    return pairs


def _to_result(problem: Problem, match: Sequence[int], blocking: list[tuple[int, int]]) -> Result:
    members: list[list[int]] = [[] for _ in range(problem.n_pos)]
    for a, p in enumerate(match):
        if p >= 0:
            members[p].append(a)
    assignment: dict[str, list[str]] = {}
    for p, apps in enumerate(members):
        if len(apps) > 1:
            order = {a: r for r, a in enumerate(problem.pos_pref[p])}
            apps.sort(key=order.__getitem__)
        assignment[problem.pos_ids[p]] = [problem.app_ids[a] for a in apps]
    return Result(
        assignment=assignment,
        unassigned=[problem.app_ids[a] for a, p in enumerate(match) if p < 0],
        stable=not blocking,
        blocking_pairs=[(problem.app_ids[a], problem.pos_ids[p]) for a, p in blocking],
    )


def match_problem(
    problem: Problem, optimal: Optimal = "applicant", kernel: Kernel = "auto"
) -> list[int]:
    """The stable matching of a compiled problem, per applicant (-1 = unassigned)."""
    if kernel == "numba" or (kernel == "auto" and problem.n_entries >= AUTO_NUMBA_ENTRIES):
        from diko_matching.engine import stable_arrays

        arrays = stable_arrays.ArrayProblem.from_problem(problem)
        return stable_arrays.solve_arrays(arrays, optimal).tolist()
    if optimal == "applicant":
        return applicant_proposing(problem)
    return position_proposing(problem)


def solve(
    instance: Instance,
    *,
    optimal: Optimal | None = None,
    seed: int | None = None,
    kernel: Kernel = "auto",
) -> Result:
    """Stable assignment of an instance; `optimal` and `seed` override the instance's."""
    problem = compile_instance(instance, seed)
    match = match_problem(problem, optimal or instance.optimal, kernel)
    return _to_result(problem, match, blocking_pairs_of(problem, match))


def check_assignment(instance: Instance, assignment: Mapping[str, Sequence[str]]) -> Result:
    """Judge a given (e.g. hand-made) assignment: its blocking pairs and stability.

    Raises InstanceError for an assignment that is not feasible at all: unknown
    ids, an applicant placed twice, a capacity exceeded or a pair that does
    not list each other.
    """
    problem = compile_instance(instance)
    app_index = {a: i for i, a in enumerate(problem.app_ids)}
    pos_index = {p: i for i, p in enumerate(problem.pos_ids)}
    match = [-1] * problem.n_app
    for p_id, apps in assignment.items():
        if p_id not in pos_index:
            raise InstanceError(f"assignment names unknown position {p_id!r}")
        if isinstance(apps, str) or not isinstance(apps, Sequence):
            raise InstanceError(f"assignment of position {p_id!r} must be a list of applicant ids")
        p = pos_index[p_id]
        if len(apps) > problem.capacity[p]:
            raise InstanceError(
                f"position {p_id!r} is assigned {len(apps)} applicants "
                f"but has capacity {problem.capacity[p]}"
            )
        for a_id in apps:
            if a_id not in app_index:
                raise InstanceError(f"assignment names unknown applicant {a_id!r}")
            a = app_index[a_id]
            if match[a] >= 0:
                raise InstanceError(f"applicant {a_id!r} is assigned twice")
            if p not in problem.app_pref[a]:
                raise InstanceError(
                    f"applicant {a_id!r} and position {p_id!r} do not list each other"
                )
            match[a] = p
    return _to_result(problem, match, blocking_pairs_of(problem, match))
