"""Deferred acceptance on CSR arrays, compiled with numba, for nationwide sizes.

Preference lists are strict here (ties already broken) and stored as CSR:
`app_pos[app_indptr[a]:app_indptr[a+1]]` are the positions applicant a lists,
best first. `app_rank[k]` is the rank the position of entry k gives the
applicant (-1 if it does not list them: the pair is unacceptable and
skipped); `pos_app`/`pos_rank` mirror that for the positions.

The kernels are compiled on first use and cached on disk (`cache=True`):
compiling takes a few seconds once per machine, loading from the cache
about half a second per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from diko_matching.engine.instance import Optimal
from diko_matching.engine.preferences import Problem


@dataclass(frozen=True, slots=True)
class ArrayProblem:
    """Strict preference lists of both sides as CSR arrays with cross ranks."""

    n_app: int
    n_pos: int
    capacity: np.ndarray
    app_indptr: np.ndarray
    app_pos: np.ndarray
    app_rank: np.ndarray
    pos_indptr: np.ndarray
    pos_app: np.ndarray
    pos_rank: np.ndarray

    @classmethod
    def from_csr(
        cls,
        app_indptr: np.ndarray,
        app_pos: np.ndarray,
        pos_indptr: np.ndarray,
        pos_app: np.ndarray,
        capacity: Sequence[int] | np.ndarray,
    ) -> ArrayProblem:
        """Build from both sides' lists; computes the cross ranks by a sort-join.

        Capacities are capped at the length of each position's list (see
        `effective_capacity`).
        """
        n_app = len(app_indptr) - 1
        n_pos = len(pos_indptr) - 1
        app_indptr = np.ascontiguousarray(app_indptr, dtype=np.int64)
        pos_indptr = np.ascontiguousarray(pos_indptr, dtype=np.int64)
        app_pos = np.ascontiguousarray(app_pos, dtype=np.int32)
        pos_app = np.ascontiguousarray(pos_app, dtype=np.int32)
        capacity = effective_capacity(capacity, pos_indptr)
        app_of_entry = np.repeat(np.arange(n_app, dtype=np.int64), np.diff(app_indptr))
        pos_of_entry = np.repeat(np.arange(n_pos, dtype=np.int64), np.diff(pos_indptr))
        app_local = np.arange(len(app_pos), dtype=np.int64) - app_indptr[app_of_entry]
        pos_local = np.arange(len(pos_app), dtype=np.int64) - pos_indptr[pos_of_entry]
        app_keys = app_pos.astype(np.int64) * n_app + app_of_entry
        pos_keys = pos_of_entry * n_app + pos_app
        app_rank = _lookup(app_keys, pos_keys, pos_local)
        pos_rank = _lookup(pos_keys, app_keys, app_local)
        return cls(
            n_app,
            n_pos,
            capacity,
            app_indptr,
            app_pos,
            app_rank,
            pos_indptr,
            pos_app,
            pos_rank,
        )

    @classmethod
    def from_joined(
        cls,
        app_indptr: np.ndarray,
        app_pos: np.ndarray,
        pos_indptr: np.ndarray,
        pos_entry: np.ndarray,
        capacity: Sequence[int] | np.ndarray,
    ) -> ArrayProblem:
        """Build when positions rank exactly the applicants who rank them.

        `pos_entry[i]` is the applicant-list entry that the i-th slot of the
        positions' lists stands for (as `preference_csr` produces it), so the
        cross ranks follow without any join.
        """
        app_indptr = np.ascontiguousarray(app_indptr, dtype=np.int64)
        pos_indptr = np.ascontiguousarray(pos_indptr, dtype=np.int64)
        n_app = len(app_indptr) - 1
        n_pos = len(pos_indptr) - 1
        app_pos = np.ascontiguousarray(app_pos, dtype=np.int32)
        app_of_entry = np.repeat(np.arange(n_app, dtype=np.int64), np.diff(app_indptr))
        pos_of_slot = np.repeat(np.arange(n_pos, dtype=np.int64), np.diff(pos_indptr))
        slots = np.arange(len(pos_entry), dtype=np.int64)
        app_rank = np.empty(len(app_pos), dtype=np.int64)
        app_rank[pos_entry] = slots - pos_indptr[pos_of_slot]
        pos_rank = pos_entry - app_indptr[app_of_entry[pos_entry]]
        return cls(
            n_app,
            n_pos,
            effective_capacity(capacity, pos_indptr),
            app_indptr,
            app_pos,
            app_rank,
            pos_indptr,
            app_of_entry[pos_entry].astype(np.int32),
            pos_rank.astype(np.int64),
        )

    @classmethod
    def from_problem(cls, problem: Problem) -> ArrayProblem:
        """The array form of a compiled (already acceptable-only) problem."""
        app_len = np.fromiter((len(x) for x in problem.app_pref), np.int64, problem.n_app)
        pos_len = np.fromiter((len(x) for x in problem.pos_pref), np.int64, problem.n_pos)
        app_indptr = np.concatenate(([0], np.cumsum(app_len)))
        pos_indptr = np.concatenate(([0], np.cumsum(pos_len)))
        app_pos = np.fromiter(
            (p for x in problem.app_pref for p in x), np.int32, int(app_indptr[-1])
        )
        pos_app = np.fromiter(
            (a for x in problem.pos_pref for a in x), np.int32, int(pos_indptr[-1])
        )
        return cls.from_csr(app_indptr, app_pos, pos_indptr, pos_app, problem.capacity)


def effective_capacity(capacity: Sequence[int] | np.ndarray, pos_indptr: np.ndarray) -> np.ndarray:
    """Each capacity capped at the length of its position's list, as int64.

    A position never holds more applicants than it lists, so the cap changes
    no result; it keeps the applicant-proposing kernel, which sizes one heap
    slot per place, from allocating a trillion slots for `"capacity": 10**12`
    and any capacity beyond int64 from overflowing on the way into numpy.
    """
    lengths = np.diff(pos_indptr)
    if isinstance(capacity, np.ndarray) and capacity.dtype.kind in "iu":
        return np.ascontiguousarray(np.minimum(capacity, lengths), dtype=np.int64)
    capped = [min(int(c), int(n)) for c, n in zip(capacity, lengths.tolist(), strict=True)]
    return np.array(capped, dtype=np.int64)


def _lookup(keys: np.ndarray, table_keys: np.ndarray, table_values: np.ndarray) -> np.ndarray:
    """table_values at the position of each key in table_keys, or -1 if absent.

    Both sides are sorted first so that the binary searches walk memory in
    order; searching unsorted keys was ten times slower at 20 million entries.
    """
    out = np.full(len(keys), -1, dtype=np.int64)
    if len(keys) == 0 or len(table_keys) == 0:
        return out
    t_order = np.argsort(table_keys, kind="stable")
    t_sorted = table_keys[t_order]
    k_order = np.argsort(keys, kind="stable")
    k_sorted = keys[k_order]
    at = np.minimum(np.searchsorted(t_sorted, k_sorted), len(t_sorted) - 1)
    found = t_sorted[at] == k_sorted
    out[k_order[found]] = table_values[t_order[at[found]]]
    return out


@njit(cache=True)
def _sift_down(rank: np.ndarray, who: np.ndarray, base: int, size: int) -> None:
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        big = left
        if left + 1 < size and rank[base + left + 1] > rank[base + left]:
            big = left + 1
        if rank[base + big] <= rank[base + i]:
            return
        rank[base + i], rank[base + big] = rank[base + big], rank[base + i]
        who[base + i], who[base + big] = who[base + big], who[base + i]
        i = big


@njit(cache=True)
def _sift_up(rank: np.ndarray, who: np.ndarray, base: int, i: int) -> None:
    while i > 0:
        parent = (i - 1) // 2
        if rank[base + parent] >= rank[base + i]:
            return
        rank[base + i], rank[base + parent] = rank[base + parent], rank[base + i]
        who[base + i], who[base + parent] = who[base + parent], who[base + i]
        i = parent


@njit(cache=True)
def _applicant_proposing(
    n_app: int,
    n_pos: int,
    capacity: np.ndarray,
    app_indptr: np.ndarray,
    app_pos: np.ndarray,
    app_rank: np.ndarray,
) -> np.ndarray:
    base = np.zeros(n_pos + 1, np.int64)
    for p in range(n_pos):
        base[p + 1] = base[p] + capacity[p]
    heap_rank = np.empty(base[n_pos], np.int64)
    heap_who = np.empty(base[n_pos], np.int64)
    size = np.zeros(n_pos, np.int64)
    nxt = app_indptr[:-1].copy()
    for start in range(n_app - 1, -1, -1):
        a = start
        while a >= 0:
            k = nxt[a]
            if k >= app_indptr[a + 1]:
                break
            nxt[a] = k + 1
            r = app_rank[k]
            if r < 0:
                continue
            p = app_pos[k]
            b = base[p]
            if size[p] < capacity[p]:
                heap_rank[b + size[p]] = r
                heap_who[b + size[p]] = a
                _sift_up(heap_rank, heap_who, b, size[p])
                size[p] += 1
                a = -1
            elif size[p] > 0 and heap_rank[b] > r:
                loser = heap_who[b]
                heap_rank[b] = r
                heap_who[b] = a
                _sift_down(heap_rank, heap_who, b, size[p])
                a = loser
    match = np.full(n_app, -1, np.int64)
    for p in range(n_pos):
        for i in range(size[p]):
            match[heap_who[base[p] + i]] = p
    return match


@njit(cache=True)
def _position_proposing(
    n_app: int,
    n_pos: int,
    capacity: np.ndarray,
    pos_indptr: np.ndarray,
    pos_app: np.ndarray,
    pos_rank: np.ndarray,
) -> np.ndarray:
    match = np.full(n_app, -1, np.int64)
    rank_of_match = np.zeros(n_app, np.int64)
    count = np.zeros(n_pos, np.int64)
    nxt = pos_indptr[:-1].copy()
    todo = np.empty(n_pos + len(pos_app) + 1, np.int64)
    top = 0
    for p in range(n_pos - 1, -1, -1):
        if capacity[p] > 0:
            todo[top] = p
            top += 1
    while top > 0:
        top -= 1
        p = todo[top]
        while count[p] < capacity[p] and nxt[p] < pos_indptr[p + 1]:
            k = nxt[p]
            nxt[p] = k + 1
            r = pos_rank[k]
            if r < 0:
                continue
            a = pos_app[k]
            q = match[a]
            if q < 0:
                match[a] = p
                rank_of_match[a] = r
                count[p] += 1
            elif r < rank_of_match[a]:
                match[a] = p
                rank_of_match[a] = r
                count[p] += 1
                count[q] -= 1
                todo[top] = q
                top += 1
    return match


@njit(cache=True)
def _blocking(
    n_pos: int,
    capacity: np.ndarray,
    app_indptr: np.ndarray,
    app_pos: np.ndarray,
    app_rank: np.ndarray,
    match: np.ndarray,
    limit: int,
) -> tuple[np.ndarray, int]:
    n_app = len(match)
    count = np.zeros(n_pos, np.int64)
    worst = np.full(n_pos, -1, np.int64)
    for a in range(n_app):
        p = match[a]
        if p >= 0:
            count[p] += 1
            for k in range(app_indptr[a], app_indptr[a + 1]):
                if app_pos[k] == p:
                    worst[p] = max(worst[p], app_rank[k])
                    break
    out = np.empty((limit, 2), np.int64)
    n = 0
    total = 0
    for a in range(n_app):
        for k in range(app_indptr[a], app_indptr[a + 1]):
            p = app_pos[k]
            if p == match[a]:
                break
            r = app_rank[k]
            if r < 0:
                continue
            if count[p] < capacity[p] or r < worst[p]:
                if n < limit:
                    out[n, 0] = a
                    out[n, 1] = p
                    n += 1
                total += 1
    return out[:n], total


def solve_arrays(problem: ArrayProblem, optimal: Optimal = "applicant") -> np.ndarray:
    """The stable matching: for each applicant its position index, or -1."""
    if optimal == "applicant":
        return _applicant_proposing(
            problem.n_app,
            problem.n_pos,
            problem.capacity,
            problem.app_indptr,
            problem.app_pos,
            problem.app_rank,
        )
    return _position_proposing(
        problem.n_app,
        problem.n_pos,
        problem.capacity,
        problem.pos_indptr,
        problem.pos_app,
        problem.pos_rank,
    )


def blocking_pairs_arrays(
    problem: ArrayProblem, match: np.ndarray, limit: int = 1000
) -> tuple[np.ndarray, int]:
    """Up to `limit` blocking pairs (applicant, position) of `match`, and their total count."""
    return _blocking(
        problem.n_pos,
        problem.capacity,
        problem.app_indptr,
        problem.app_pos,
        problem.app_rank,
        np.asarray(match, dtype=np.int64),
        limit,
    )
