"""The array path used at nationwide scale: CSR problems, numba kernels, blocking counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diko_matching.engine.candidates import preference_csr, score_pairs
from diko_matching.engine.generate import nationwide_arrays
from diko_matching.engine.instance import Instance
from diko_matching.engine.stable import solve
from diko_matching.engine.stable_arrays import ArrayProblem, blocking_pairs_arrays, solve_arrays


def _derived(seed: int):
    arrays = nationwide_arrays(300, 120, 260, seed=seed, n_towns=12)
    cands = score_pairs(arrays, list_length=8)
    return arrays, preference_csr(cands, len(arrays.pos_ids))


def _as_instance(arrays, csr) -> Instance:
    apps = {
        f"a{i:04d}": [f"p{p:04d}" for p in csr.app_pos[csr.app_indptr[i] : csr.app_indptr[i + 1]]]
        for i in range(len(arrays.app_ids))
    }
    poss = {
        f"p{j:04d}": [f"a{a:04d}" for a in csr.pos_app[csr.pos_indptr[j] : csr.pos_indptr[j + 1]]]
        for j in range(len(arrays.pos_ids))
    }
    caps = {f"p{j:04d}": int(c) for j, c in enumerate(arrays.capacity)}
    return Instance.from_lists(apps, poss, caps)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6))
def test_joined_build_equals_the_sort_join(seed):
    arrays, csr = _derived(seed)
    joined = ArrayProblem.from_joined(
        csr.app_indptr, csr.app_pos, csr.pos_indptr, csr.pos_entry, arrays.capacity
    )
    general = ArrayProblem.from_csr(
        csr.app_indptr, csr.app_pos, csr.pos_indptr, csr.pos_app, arrays.capacity
    )
    for name in ("app_pos", "app_rank", "pos_app", "pos_rank", "app_indptr", "pos_indptr"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(general, name), err_msg=name)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["applicant", "position"]))
def test_array_kernels_match_the_python_solver(seed, optimal):
    arrays, csr = _derived(seed)
    problem = ArrayProblem.from_joined(
        csr.app_indptr, csr.app_pos, csr.pos_indptr, csr.pos_entry, arrays.capacity
    )
    match = solve_arrays(problem, optimal)
    result = solve(_as_instance(arrays, csr), optimal=optimal, kernel="python")
    expected = {(int(a[1:]), int(p[1:])) for p, apps in result.assignment.items() for a in apps}
    assert {(a, int(p)) for a, p in enumerate(match) if p >= 0} == expected
    pairs, total = blocking_pairs_arrays(problem, match)
    assert total == 0
    assert len(pairs) == 0


def test_blocking_pairs_of_a_bad_matching_are_counted():
    arrays, csr = _derived(7)
    problem = ArrayProblem.from_joined(
        csr.app_indptr, csr.app_pos, csr.pos_indptr, csr.pos_entry, arrays.capacity
    )
    empty = np.full(problem.n_app, -1)
    pairs, total = blocking_pairs_arrays(problem, empty, limit=5)
    # With nobody placed, every acceptable pair at a position with a place blocks.
    assert total == int((problem.capacity[problem.app_pos] > 0).sum())
    assert pairs.shape == (min(5, total), 2)


@pytest.mark.parametrize("optimal", ["applicant", "position"])
def test_capacities_hold_on_the_array_path(optimal):
    arrays, csr = _derived(3)
    problem = ArrayProblem.from_joined(
        csr.app_indptr, csr.app_pos, csr.pos_indptr, csr.pos_entry, arrays.capacity
    )
    match = solve_arrays(problem, optimal)
    load = np.bincount(match[match >= 0], minlength=problem.n_pos)
    assert np.all(load <= problem.capacity)


@pytest.mark.parametrize("capacity", [[10**12, 10**30], np.array([10**12, 2**63 - 1])])
def test_capacities_are_capped_at_the_list_length(capacity):
    # a0 and a1 both want p0, which lists them both; p1 lists a1 only.
    app_indptr, app_pos = np.array([0, 1, 3]), np.array([0, 0, 1])
    pos_indptr, pos_app = np.array([0, 2, 3]), np.array([1, 0, 1])
    problem = ArrayProblem.from_csr(app_indptr, app_pos, pos_indptr, pos_app, capacity)
    assert problem.capacity.tolist() == [2, 1]
    assert solve_arrays(problem, "applicant").tolist() == [0, 0]
    assert solve_arrays(problem, "position").tolist() == [0, 0]
    joined = ArrayProblem.from_joined(
        np.array([0, 1, 2]), np.array([0, 0]), np.array([0, 2, 2]), np.array([1, 0]), capacity
    )
    assert joined.capacity.tolist() == [2, 0]
