"""Stable assignment: stability, capacities, optimality against brute force, determinism."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diko_matching.engine.instance import Instance, InstanceError, members
from diko_matching.engine.preferences import compile_instance
from diko_matching.engine.stable import check_assignment, solve


@st.composite
def instances(draw, max_app: int = 4, max_pos: int = 3, ties: bool = True) -> Instance:
    """Small random instances with ties, unacceptable pairs and zero capacities."""
    n_app = draw(st.integers(1, max_app))
    n_pos = draw(st.integers(1, max_pos))
    apps = [f"a{i}" for i in range(n_app)]
    poss = [f"p{j}" for j in range(n_pos)]

    def weak(items: list[str]) -> list[str | list[str]]:
        chosen = draw(st.permutations(items))
        chosen = chosen[: draw(st.integers(0, len(chosen)))]
        out: list[str | list[str]] = []
        i = 0
        while i < len(chosen):
            size = draw(st.integers(1, 2)) if ties else 1
            group = list(chosen[i : i + size])
            out.append(group[0] if len(group) == 1 else group)
            i += size
        return out

    return Instance.from_lists(
        {a: weak(poss) for a in apps},
        {p: weak(apps) for p in poss},
        {p: draw(st.integers(0, 2)) for p in poss},
        optimal=draw(st.sampled_from(["applicant", "position"])),
        seed=draw(st.integers(0, 3)),
    )


def _weak_rank(lst: list[str | list[str]]) -> dict[str, int]:
    return {
        x: g for g, group in enumerate(lst) for x in ([group] if isinstance(group, str) else group)
    }


def brute_blocking(inst: Instance, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Blocking pairs straight from the definition, on the original weak lists."""
    a_rank = {a: _weak_rank(v) for a, v in inst.applicants.items()}
    p_rank = {p: _weak_rank(v) for p, v in inst.positions.items()}
    partner = dict(pairs)
    members: dict[str, list[str]] = {p: [] for p in inst.positions}
    for a, p in pairs:
        members[p].append(a)
    out = set()
    for a in inst.applicants:
        for p in inst.positions:
            if p not in a_rank[a] or a not in p_rank[p] or partner.get(a) == p:
                continue
            cur = partner.get(a)
            if cur is not None and a_rank[a][cur] <= a_rank[a][p]:
                continue
            full = len(members[p]) >= inst.capacities[p]
            if full and not any(p_rank[p][b] > p_rank[p][a] for b in members[p]):
                continue
            out.add((a, p))
    return out


def feasible_matchings(problem):
    """Every assignment within capacities over acceptable pairs (integer form)."""
    options = [
        [-1, *(p for p in lst if problem.acceptable(a, p))]
        for a, lst in enumerate(problem.app_pref)
    ]
    for choice in itertools.product(*options):
        load = [0] * problem.n_pos
        for p in choice:
            if p >= 0:
                load[p] += 1
        if all(load[p] <= problem.capacity[p] for p in range(problem.n_pos)):
            yield list(choice)


def strict_stable(problem, match) -> bool:
    p_rank = [{a: r for r, a in enumerate(x)} for x in problem.pos_pref]
    for a, lst in enumerate(problem.app_pref):
        for p in lst:
            if match[a] == p:
                break
            if not problem.acceptable(a, p):
                continue
            members = [b for b, q in enumerate(match) if q == p]
            if len(members) < problem.capacity[p] or any(
                p_rank[p][b] > p_rank[p][a] for b in members
            ):
                return False
    return all(match[a] < 0 or problem.acceptable(a, match[a]) for a in range(problem.n_app))


def as_match(problem, result) -> list[int]:
    a_idx = {a: i for i, a in enumerate(problem.app_ids)}
    p_idx = {p: j for j, p in enumerate(problem.pos_ids)}
    match = [-1] * problem.n_app
    for p, apps in result.assignment.items():
        for a in apps:
            match[a_idx[a]] = p_idx[p]
    return match


@settings(max_examples=300, deadline=None)
@given(instances())
def test_result_is_feasible_and_stable(inst):
    result = solve(inst)
    pairs = result.matched_pairs()
    for p, apps in result.assignment.items():
        assert len(apps) <= inst.capacities[p]
    seen = [a for a, _ in pairs]
    assert len(seen) == len(set(seen))
    assert set(seen) | set(result.unassigned) == set(inst.applicants)
    for a, p in pairs:  # only mutually acceptable pairs
        assert p in members(inst.applicants[a])
        assert a in members(inst.positions[p])
    assert brute_blocking(inst, pairs) == set()
    assert result.stable
    assert result.blocking_pairs == []


@settings(max_examples=300, deadline=None)
@given(instances())
def test_optimality_against_all_stable_matchings(inst):
    problem = compile_instance(inst)
    stable = [m for m in feasible_matchings(problem) if strict_stable(problem, m)]
    a_rank = [{p: r for r, p in enumerate(x)} for x in problem.app_pref]
    p_rank = [{a: r for r, a in enumerate(x)} for x in problem.pos_pref]

    def rank_a(a: int, p: int) -> int:
        return len(problem.pos_ids) + 1 if p < 0 else a_rank[a][p]

    best_app = as_match(problem, solve(inst, optimal="applicant"))
    best_pos = as_match(problem, solve(inst, optimal="position"))
    assert best_app in stable
    assert best_pos in stable
    for m in stable:
        for a in range(problem.n_app):
            assert rank_a(a, best_app[a]) <= rank_a(a, m[a])  # applicant-optimal
            assert rank_a(a, best_pos[a]) >= rank_a(a, m[a])  # applicant-pessimal
        for p in range(problem.n_pos):
            mine = sorted(p_rank[p][a] for a, q in enumerate(best_pos) if q == p)
            other = sorted(p_rank[p][a] for a, q in enumerate(m) if q == p)
            assert len(mine) == len(other)  # rural hospitals theorem
            assert all(x <= y for x, y in zip(mine, other, strict=True))  # position-optimal


@settings(max_examples=150, deadline=None)
@given(instances(max_app=6, max_pos=4), st.randoms(use_true_random=False))
def test_deterministic_for_a_seed_whatever_the_key_order(inst, rnd):
    data = inst.to_dict()
    apps = list(data["applicants"].items())
    poss = list(data["positions"].items())
    rnd.shuffle(apps)
    rnd.shuffle(poss)
    shuffled = Instance.from_dict({**data, "applicants": dict(apps), "positions": dict(poss)})
    assert solve(shuffled).to_dict() == solve(inst).to_dict()
    assert solve(inst).to_dict() == solve(inst).to_dict()


def test_the_lottery_breaks_ties_and_the_seed_changes_it():
    # Two applicants tie at the only place; who gets it depends on the seed only.
    data = {
        "applicants": {"a1": ["p1"], "a2": ["p1"]},
        "positions": {"p1": [["a1", "a2"]]},
        "capacities": {"p1": 1},
    }
    winners = {
        seed: solve(Instance.from_dict({**data, "seed": seed})).assignment["p1"][0]
        for seed in range(40)
    }
    assert set(winners.values()) == {"a1", "a2"}
    for seed, winner in winners.items():
        assert solve(Instance.from_dict({**data, "seed": seed})).assignment["p1"] == [winner]


@settings(max_examples=200, deadline=None)
@given(instances(max_app=7, max_pos=4), st.sampled_from(["applicant", "position"]))
def test_python_and_numba_kernels_agree(inst, optimal):
    a = solve(inst, optimal=optimal, kernel="python")
    b = solve(inst, optimal=optimal, kernel="numba")
    assert a == b


@settings(max_examples=300, deadline=None)
@given(instances(), st.randoms(use_true_random=False))
def test_blocking_pairs_of_a_hand_made_assignment(inst, rnd):
    problem = compile_instance(inst)
    candidates = list(feasible_matchings(problem))
    match = rnd.choice(candidates)
    assignment = {p: [] for p in inst.positions}
    for a, p in enumerate(match):
        if p >= 0:
            assignment[problem.pos_ids[p]].append(problem.app_ids[a])
    result = check_assignment(inst, assignment)
    pairs = {(a, p) for p, apps in assignment.items() for a in apps}
    expected = brute_blocking(inst, pairs)
    assert set(result.blocking_pairs) == expected
    assert result.stable is (not expected)
    assert result.matched_pairs() == pairs


def test_issue_example_shape():
    inst = Instance.from_dict(
        {
            "applicants": {"a1": ["p1", "p2"], "a2": ["p1"], "a3": ["p2"]},
            "positions": {"p1": ["a2", "a1"], "p2": ["a1"]},
            "capacities": {"p1": 2},
            "optimal": "applicant",
            "seed": 0,
        }
    )
    assert solve(inst).to_dict() == {
        "assignment": {"p1": ["a2", "a1"], "p2": []},
        "unassigned": ["a3"],
        "stable": True,
        "blocking_pairs": [],
    }


def test_a_blocking_pair_is_found_in_a_bad_assignment():
    inst = Instance.from_lists(
        {"a1": ["p1", "p2"], "a2": ["p2", "p1"]}, {"p1": ["a1", "a2"], "p2": ["a2", "a1"]}
    )
    result = check_assignment(inst, {"p1": ["a2"], "p2": ["a1"]})
    assert not result.stable
    assert set(result.blocking_pairs) == {("a1", "p1"), ("a2", "p2")}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"positions": {}}, "'applicants' must be"),
        (
            {"applicants": {"a1": ["p9"]}, "positions": {}},
            "unknown position 'p9' in the list of applicant 'a1'",
        ),
        (
            {"applicants": {}, "positions": {"p1": ["a9"]}},
            "unknown applicant 'a9' in the list of position 'p1'",
        ),
        ({"applicants": {"a1": ["p1", "p1"]}, "positions": {"p1": []}}, "duplicate entry 'p1'"),
        (
            {"applicants": {"a1": [["p1", "p2"], "p1"]}, "positions": {"p1": [], "p2": []}},
            "duplicate entry 'p1'",
        ),
        (
            {"applicants": {}, "positions": {"p1": []}, "capacities": {"p1": -1}},
            "negative capacity -1 for position 'p1'",
        ),
        (
            {"applicants": {}, "positions": {"p1": []}, "capacities": {"p1": 1.5}},
            "must be an integer",
        ),
        (
            {"applicants": {}, "positions": {"p1": []}, "capacities": {"p2": 1}},
            "unknown position 'p2'",
        ),
        ({"applicants": {}, "positions": {}, "optimal": "company"}, "'optimal' must be"),
        ({"applicants": {}, "positions": {}, "seed": "x"}, "'seed' must be an integer"),
        ({"applicants": {"a1": [[]]}, "positions": {}}, "empty tie group"),
        ({"applicants": {"a1": [3]}, "positions": {}}, "not an id string"),
        (
            {"applicants": {}, "positions": {}, "extra": 1},
            "unknown key 'extra' in the instance",
        ),
        ({"applicants": {}, "positions": {}, "capacity": {}}, "unknown key 'capacity'"),
    ],
)
def test_bad_instances_name_the_problem(data, message):
    with pytest.raises(InstanceError, match=message.replace("(", r"\(")):
        Instance.from_dict(data)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ({"p9": []}, "unknown position 'p9'"),
        ({"p1": ["a9"]}, "unknown applicant 'a9'"),
        ({"p1": ["a1", "a2"]}, "capacity 1"),
        ({"p1": ["a1"], "p2": ["a1"]}, "assigned twice"),
        ({"p2": ["a2"]}, "do not list each other"),
        ({"p1": [["a1"]]}, r"position 'p1' holds \['a1'\], not an applicant id string"),
        ({"p1": [{"a1": 1}]}, "not an applicant id string"),
        ({"p1": [1]}, "holds 1, not an applicant id string"),
    ],
)
def test_infeasible_assignments_are_rejected(assignment, message):
    inst = Instance.from_lists(
        {"a1": ["p1", "p2"], "a2": ["p1"]}, {"p1": ["a1", "a2"], "p2": ["a1", "a2"]}
    )
    with pytest.raises(InstanceError, match=message):
        check_assignment(inst, assignment)


def test_larger_random_instances_are_stable_with_both_kernels():
    rnd = random.Random(5)
    apps = {f"a{i}": rnd.sample([f"p{j}" for j in range(60)], 8) for i in range(300)}
    poss = {f"p{j}": [] for j in range(60)}
    for a, lst in apps.items():
        for p in lst:
            poss[p].append(a)
    for lst in poss.values():
        rnd.shuffle(lst)
    inst = Instance.from_lists(apps, poss, {p: rnd.randint(0, 4) for p in poss})
    for kernel in ("python", "numba"):
        for optimal in ("applicant", "position"):
            result = solve(inst, optimal=optimal, kernel=kernel)
            assert result.stable
            assert brute_blocking(inst, result.matched_pairs()) == set()


@settings(max_examples=60, deadline=None)
@given(
    instances(max_app=6, max_pos=3),
    st.sampled_from([10**12, 10**23, 2**63, 10**40]),
    st.sampled_from(["applicant", "position"]),
)
def test_huge_capacities_solve_like_capacities_of_the_list_length(inst, huge, optimal):
    """A position never holds more than it lists: 10**12 places must not size a heap."""
    big = Instance.from_lists(
        inst.applicants, inst.positions, dict.fromkeys(inst.positions, huge), seed=inst.seed
    )
    capped = Instance.from_lists(
        inst.applicants,
        inst.positions,
        {p: len(members(lst)) for p, lst in inst.positions.items()},
        seed=inst.seed,
    )
    expected = solve(capped, optimal=optimal, kernel="python")
    for kernel in ("python", "numba"):
        assert solve(big, optimal=optimal, kernel=kernel) == expected
    assert check_assignment(big, expected.assignment) == expected
