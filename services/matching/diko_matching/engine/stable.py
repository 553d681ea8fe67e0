"""Deferred acceptance with capacities, and blocking pairs of any assignment.

Two kernels compute the same thing: a pure-Python one over lists, which
starts instantly and solves staff-sized instances (tens of thousands of
applicants) in well under a second, and a numba one over CSR arrays
(`stable_arrays`) for nationwide sizes, where its one-off JIT cost (0.5 to
0.9 s to import numba and load from the on-disk cache, about 8 s to compile
the first time) no longer matters. `solve(..., kernel="auto")` picks by size.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Literal

from diko_matching.engine.instance import Instance, InstanceError, Optimal, Result
from diko_matching.engine.preferences import Problem, compile_instance

Kernel = Literal["auto", "python", "numba"]
AUTO_NUMBA_ENTRIES = 1_000_000
"""From this many entries in the applicants' lists on, "auto" uses the numba kernel."""
_UNMATCHED = 1 << 62


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small containers.

    The solvers allocate hundreds of thousands of lists and dicts without any
    reference cycles; each allocation burst triggers collections that walk
    the whole (large) instance again, which made building the integer lists
    of a 20,000-applicant instance several times slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def applicant_proposing(problem: Problem) -> list[int]:
    """Applicant-optimal stable matching: the position of each applicant, or -1.

    McVitie–Wilson order: applicants enter one by one and a rejected one
    proposes on at once. Each position holds a max-heap of its held
    applicants keyed by its rank of them (encoded as one int per entry).
    """
    n = problem.n_app
    rank_of = [ranks.get for ranks in problem.pos_rank]
    prefs = problem.app_pref
    cap = problem.capacity
    held: list[list[int]] = [[] for _ in range(problem.n_pos)]
    nxt = [0] * n
    push, replace = heapq.heappush, heapq.heapreplace
    for start in range(n):
        a = start
        lst = prefs[a]
        k = 0
        while True:
            if k >= len(lst):
                nxt[a] = k
                break
            p = lst[k]
            k += 1
            r = rank_of[p](a)
            if r is None:  # p does not list a: unacceptable
                continue
            h = held[p]
            key = -(r * n + a)  # max-heap on the position's rank
            if len(h) < cap[p]:
                push(h, key)
                nxt[a] = k
                break
            if h and h[0] < key:
                nxt[a] = k
                a = -replace(h, key) % n  # the displaced applicant proposes on
                lst = prefs[a]
                k = nxt[a]
    match = [-1] * n
    for p, h in enumerate(held):
        for key in h:
            match[-key % n] = p
    return match


def position_proposing(problem: Problem) -> list[int]:
    """Position-optimal stable matching: the position of each applicant, or -1."""
    app_rank = problem.app_rank()
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
            r = app_rank[a].get(p)
            if r is None:  # a does not list p: unacceptable
                continue
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
    pos_weak_of: list[dict[int, int] | None] = [None] * problem.n_pos
    worst: list[int | None] = [None] * problem.n_pos  # None: the position has room
    for p, apps in enumerate(assigned):
        weak = problem.pos_weak[p]
        if weak is None:
            rank_of = problem.pos_rank[p]
        else:
            rank_of = dict(zip(problem.pos_pref[p], weak, strict=True))
        pos_weak_of[p] = rank_of
        if len(apps) >= problem.capacity[p]:
            worst[p] = max((rank_of[a] for a in apps), default=-1)
    pairs: list[tuple[int, int]] = []
    for a, lst in enumerate(problem.app_pref):
        m = match[a]
        weak = problem.app_weak[a]
        if weak is None:
            stop = len(lst) if m < 0 else lst.index(m)
            better = lst[:stop]
        else:
            mine = _UNMATCHED if m < 0 else weak[lst.index(m)]
            better = [p for p, g in zip(lst, weak, strict=True) if g < mine]
        for p in better:
            mine_at_p = pos_weak_of[p].get(a)  # type: ignore[union-attr]
            if mine_at_p is None:  # unacceptable pair
                continue
            w = worst[p]
            if w is None or mine_at_p < w:
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
            apps.sort(key=problem.pos_rank[p].__getitem__)
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
    with gc_paused():
        problem = compile_instance(instance, seed)
        match = match_problem(problem, optimal or instance.optimal, kernel)
        return _to_result(problem, match, blocking_pairs_of(problem, match))


def check_assignment(instance: Instance, assignment: Mapping[str, Sequence[str]]) -> Result:
    """Judge a given (e.g. hand-made) assignment: its blocking pairs and stability.

    Raises InstanceError for an assignment that is not feasible at all: entries
    that are not id strings, unknown ids, an applicant placed twice, a capacity
    exceeded or a pair that does not list each other.
    """
    with gc_paused():
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
            if not isinstance(a_id, str):  # a nested list or object is no id (and unhashable)
                raise InstanceError(
                    f"assignment of position {p_id!r} holds {a_id!r}, not an applicant id string"
                )
            if a_id not in app_index:
                raise InstanceError(f"assignment names unknown applicant {a_id!r}")
            a = app_index[a_id]
            if match[a] >= 0:
                raise InstanceError(f"applicant {a_id!r} is assigned twice")
            if not problem.acceptable(a, p):
                raise InstanceError(
                    f"applicant {a_id!r} and position {p_id!r} do not list each other"
                )
            match[a] = p
    return _to_result(problem, match, blocking_pairs_of(problem, match))
