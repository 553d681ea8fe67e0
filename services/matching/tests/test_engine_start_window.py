"""A start far outside the applicant's window is unacceptable, alike on every scoring path."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diko_matching.engine.candidates import FORMULA_SHA256, score_pairs
from diko_matching.engine.generate import generate_profiles
from diko_matching.engine.instance import members
from diko_matching.engine.profiles import ProfileInstance, to_arrays
from diko_matching.engine.reasons import _km
from diko_matching.engine.scoring import criteria_points
from diko_matching.engine.shortlists import (
    explain_pair,
    instance_from_profiles,
    shortlist_for_applicant,
    shortlist_for_position,
)
from diko_shared.german import NBSP


def _instance(available_from: str, start: str, **weights: float) -> ProfileInstance:
    return ProfileInstance.parse(
        {
            "applicants": {
                "a1": {
                    "home": "Stendal",
                    "occupations": ["25212"],
                    "school": "realschule",
                    "available_from": available_from,
                },
                "a2": {
                    "home": "Stendal",
                    "occupations": ["25212"],
                    "school": "realschule",
                    "available_from": "2027-08-01",
                    "available_until": "2027-09-30",
                },
            },
            "positions": {
                "p1": {"town": "Stendal", "occupation": "25212", "start": start},
            },
            "weights": weights,
        }
    )


def test_the_kernel_module_records_the_formula_it_compiles():
    """numba's cache ignores changes outside the kernel's file: a new formula must touch it."""
    source = inspect.getsource(criteria_points).encode()
    assert hashlib.sha256(source).hexdigest() == FORMULA_SHA256


def test_an_applicant_who_cannot_start_in_time_is_no_candidate():
    """The audit's case: available from 1 March 2028, the position starts 1 August 2027."""
    inst = _instance("2028-03-01", "2027-08-01")
    score = explain_pair(inst, "a1", "p1")
    assert not score.acceptable
    assert [c.key for c in score.criteria] == ["start.beyond_tolerance"]
    assert score.criteria[0].sentence == (
        f"Die Ausbildung beginnt am 1.{NBSP}August 2027, 213{NBSP}Tage vor dem gewünschten "
        f"Zeitraum (ab 1.{NBSP}März 2028); toleriert werden höchstens 120{NBSP}Tage."
    )
    assert [s.applicant_id for s in shortlist_for_position(inst, "p1")] == ["a2"]
    assert shortlist_for_applicant(inst, "a1") == []
    lists = instance_from_profiles(inst)
    assert lists.applicants["a1"] == []
    assert "a1" not in members(lists.positions["p1"])


def test_a_position_starting_long_after_the_window_is_no_candidate():
    inst = _instance("2027-08-01", "2028-03-01")  # a2 is available until 30 September 2027
    score = explain_pair(inst, "a2", "p1")
    assert not score.acceptable
    assert score.criteria[0].key == "start.beyond_tolerance"
    assert "153\u00a0Tage nach dem gewünschten Zeitraum" in score.criteria[0].sentence
    assert [s.applicant_id for s in shortlist_for_position(inst, "p1")] == ["a1"]


@pytest.mark.parametrize(
    ("available_from", "acceptable", "points"),
    [
        ("2027-08-01", True, 10.0),
        ("2027-09-30", True, 10.0 * (1 - 60 / 120)),
        ("2027-11-29", True, 0.0),  # exactly 120 days late: still a candidate, no start points
        ("2027-11-30", False, 0.0),
    ],
)
def test_within_the_tolerance_the_start_points_fall_linearly(available_from, acceptable, points):
    score = explain_pair(_instance(available_from, "2027-08-01"), "a1", "p1")
    assert score.acceptable is acceptable
    start = [c for c in score.criteria if c.key.startswith("start.")]
    assert start[0].points == pytest.approx(points)
    listed = shortlist_for_position(_instance(available_from, "2027-08-01"), "p1")
    assert ("a1" in {s.applicant_id for s in listed}) is acceptable


def test_the_tolerance_is_a_weight():
    wide = _instance("2028-03-01", "2027-08-01", start_tolerance_days=250)
    assert explain_pair(wide, "a1", "p1").acceptable
    late = _instance("2027-10-01", "2027-08-01", start_tolerance_days=30)
    narrow = explain_pair(late, "a1", "p1")
    assert not narrow.acceptable
    assert narrow.criteria[0].sentence.endswith("; toleriert werden höchstens 30\u00a0Tage.")


def _spread_starts(data: dict, seed: int) -> dict:
    """Windows and starts over two years, so that many pairs lie beyond the tolerance."""
    rng = np.random.default_rng(seed)
    first = dt.date(2027, 1, 1)
    for app in data["applicants"].values():
        begin = first + dt.timedelta(days=int(rng.integers(0, 540)))
        app["available_from"] = begin.isoformat()
        span = int(rng.integers(0, 200))
        app["available_until"] = (
            None if rng.random() < 0.4 else (begin + dt.timedelta(days=span)).isoformat()
        )
    for pos in data["positions"].values():
        pos["start"] = (first + dt.timedelta(days=int(rng.integers(0, 540)))).isoformat()
    return data


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([60.0, 120.0, 200.5]))
def test_explanations_and_the_kernel_agree_on_every_pair(seed, tolerance):
    """The per-pair Python path and the numba candidate kernel accept and score alike."""
    data = _spread_starts(generate_profiles(25, 30, seed=seed), seed)
    data["weights"] = {"start_tolerance_days": tolerance}
    inst = ProfileInstance.parse(data)
    arrays = to_arrays(inst)
    cands = score_pairs(arrays, inst.weights, list_length=len(arrays.pos_ids))
    rejected_for_start = 0
    for a, app_id in enumerate(arrays.app_ids):
        kernel = {
            arrays.pos_ids[p]: float(s)
            for p, s in zip(cands.position[a], cands.score[a], strict=True)
            if p >= 0
        }
        for pos_id in arrays.pos_ids:
            score = explain_pair(inst, app_id, pos_id)
            assert score.acceptable is (pos_id in kernel), (app_id, pos_id)
            if score.acceptable:
                assert score.total == pytest.approx(kernel[pos_id], abs=1e-9)
            elif score.criteria[0].key == "start.beyond_tolerance":
                rejected_for_start += 1
    assert rejected_for_start > 0


@pytest.mark.parametrize(
    ("km", "text"),
    [(0.0, "0"), (4.94, "4,9"), (4.96, "5"), (5.0, "5"), (9.46, "9,5"), (9.6, "10"), (20, "20")],
)
def test_kilometres_carry_a_decimal_only_when_fractional_and_below_ten(km, text):
    assert _km(km) == text
