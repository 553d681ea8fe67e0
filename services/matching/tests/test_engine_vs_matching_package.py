"""Equality with the `matching` package (hospital-resident games) on random instances."""

from __future__ import annotations

import random
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matching.games import HospitalResident

from diko_matching.engine.instance import Instance
from diko_matching.engine.stable import solve


def random_instance(seed: int, n_app: int, n_pos: int, list_len: int) -> Instance:
    """Strict lists; positions rank exactly the applicants who list them."""
    rnd = random.Random(seed)
    pos_ids = [f"p{j}" for j in range(n_pos)]
    apps = {
        f"a{i}": rnd.sample(pos_ids, rnd.randint(0, min(list_len, n_pos))) for i in range(n_app)
    }
    poss: dict[str, list[str]] = {p: [] for p in pos_ids}
    for a, lst in apps.items():
        for p in lst:
            poss[p].append(a)
    for lst in poss.values():
        rnd.shuffle(lst)
    return Instance.from_lists(apps, poss, {p: rnd.randint(1, 3) for p in pos_ids})


def package_pairs(inst: Instance, optimal: str) -> set[tuple[str, str]]:
    # The package cannot take an empty list; such players stay unmatched anyway.
    residents = {a: lst for a, lst in inst.applicants.items() if lst}
    hospitals = {p: lst for p, lst in inst.positions.items() if lst}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capacities = {p: inst.capacities[p] for p in hospitals}
        game = HospitalResident.create_from_dictionaries(residents, hospitals, capacities)
        result = game.solve(optimal="resident" if optimal == "applicant" else "hospital")
    return {(r.name, h.name) for h, rs in result.items() for r in rs}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(1, 60),
    st.integers(1, 15),
    st.integers(1, 6),
    st.sampled_from(["applicant", "position"]),
)
def test_same_matching_as_the_matching_package(seed, n_app, n_pos, list_len, optimal):
    inst = random_instance(seed, n_app, n_pos, list_len)
    ours = solve(inst, optimal=optimal)
    assert ours.matched_pairs() == package_pairs(inst, optimal)


@pytest.mark.parametrize("optimal", ["applicant", "position"])
def test_same_matching_at_a_few_hundred_applicants(optimal):
    inst = random_instance(11, 300, 60, 10)
    for kernel in ("python", "numba"):
        assert solve(inst, optimal=optimal, kernel=kernel).matched_pairs() == package_pairs(
            inst, optimal
        )
