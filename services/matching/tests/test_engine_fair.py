"""Fair schedules: validity on random instances, optimality against exhaustive search."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult

from diko_matching.engine.fair import FairInstance, plan_fair, wish_weights
from diko_matching.engine.generate import generate_fair
from diko_matching.engine.instance import InstanceError
from diko_matching.engine.milp_stage import stage_from_result


@st.composite
def fair_instances(draw, max_app: int = 3, max_comp: int = 2, max_slots: int = 3) -> FairInstance:
    n_slots = draw(st.integers(1, max_slots))
    comps = {
        f"c{j}": {
            "tables": draw(st.integers(1, 2)),
            "slots": draw(
                st.none() | st.lists(st.integers(0, n_slots - 1), unique=True, min_size=1)
            ),
        }
        for j in range(draw(st.integers(1, max_comp)))
    }
    apps = {
        f"a{i}": {
            "wishes": draw(
                st.permutations(list(comps)).map(lambda p: p[: draw(st.integers(0, len(p)))])
            ),
            "slots": draw(st.none() | st.lists(st.integers(0, n_slots - 1), unique=True)),
        }
        for i in range(draw(st.integers(1, max_app)))
    }
    return FairInstance.parse(
        {
            "n_slots": n_slots,
            "min_interviews": draw(st.integers(0, 2)),
            "companies": comps,
            "applicants": apps,
        }
    )


def check_valid(inst: FairInstance, plan) -> None:
    seen_app_slot, seen_table_slot, seen_wish = set(), set(), set()
    for i in plan.interviews:
        app, comp = inst.applicants[i.applicant], inst.companies[i.company]
        assert i.company in app.wishes
        assert app.slots is None or i.slot in app.slots
        assert comp.slots is None or i.slot in comp.slots
        assert 1 <= i.table <= comp.tables
        assert (i.applicant, i.slot) not in seen_app_slot  # no applicant booked twice in a slot
        assert (i.company, i.table, i.slot) not in seen_table_slot  # no table booked twice
        assert (i.applicant, i.company) not in seen_wish  # each wish at most once
        seen_app_slot.add((i.applicant, i.slot))
        seen_table_slot.add((i.company, i.table, i.slot))
        seen_wish.add((i.applicant, i.company))


def objective(inst: FairInstance, pairs: list[tuple[str, str, int]]) -> tuple:
    """(−shortfall, granted weight, shares sorted ascending) of a schedule: larger is better.

    As the README defines them: each applicant's minimum is min(min_interviews, number
    of wishes), met or not; every applicant with wishes has a share (0 if none granted),
    and leximin compares the sorted shares from the worst-off up.
    """
    weights = wish_weights(inst)
    count = dict.fromkeys(inst.applicants, 0)
    got = dict.fromkeys(inst.applicants, 0.0)
    for a, c, _ in pairs:
        count[a] += 1
        got[a] += weights[(a, c)]
    shortfall, shares = 0, []
    for a, app in inst.applicants.items():
        shortfall += max(0, min(inst.min_interviews, len(app.wishes)) - count[a])
        if app.wishes:
            shares.append(got[a] / sum(weights[(a, c)] for c in app.wishes))
    return (-shortfall, sum(got.values()), tuple(round(x, 9) for x in sorted(shares)))


def exhaustive_best(inst: FairInstance) -> tuple[float, float, float]:
    wishes = [(a, c) for a, app in inst.applicants.items() for c in app.wishes]
    best = None
    for choice in itertools.product(range(-1, inst.n_slots), repeat=len(wishes)):
        pairs = [(a, c, t) for (a, c), t in zip(wishes, choice, strict=True) if t >= 0]
        ok = True
        per_app_slot, per_comp_slot = set(), {}
        for a, c, t in pairs:
            app, comp = inst.applicants[a], inst.companies[c]
            if (app.slots is not None and t not in app.slots) or (
                comp.slots is not None and t not in comp.slots
            ):
                ok = False
                break
            if (a, t) in per_app_slot:
                ok = False
                break
            per_app_slot.add((a, t))
            per_comp_slot[(c, t)] = per_comp_slot.get((c, t), 0) + 1
            if per_comp_slot[(c, t)] > comp.tables:
                ok = False
                break
        if ok:
            value = objective(inst, pairs)
            best = value if best is None or value > best else best
    return best


@settings(max_examples=60, deadline=None)
@given(fair_instances())
def test_plan_is_optimal_against_exhaustive_search(inst):
    plan = plan_fair(inst, time_limit=20)
    check_valid(inst, plan)
    got = objective(inst, [(i.applicant, i.company, i.slot) for i in plan.interviews])
    best = exhaustive_best(inst)
    assert got[0] == best[0]
    assert got[1] == pytest.approx(best[1])
    assert got[2] == best[2]  # leximin: the whole sorted vector of shares
    assert all(s.status == "optimal" for s in plan.stages)
    assert plan.summary["proven_optimal"] is True


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6))
def test_plans_are_valid_on_generated_fairs(seed):
    inst = FairInstance.parse(generate_fair(6, 40, 8, seed=seed))
    plan = plan_fair(inst, time_limit=30)
    check_valid(inst, plan)
    summary = plan.summary
    assert summary["interviews"] == len(plan.interviews)
    assert summary["granted_weight"] <= summary["possible_weight"]
    names = [s.name for s in plan.stages]
    assert names[:3] == ["minimum", "wishes", "fairness 1"]
    placed = names.index("slots")
    assert all(n.startswith("fairness ") for n in names[2:placed])
    # A placement that leaves a granted wish out solves again on the slot model.
    again = [n.removeprefix("slot model: ") for n in names[placed + 1 :]]
    assert all(n != m for n, m in zip(again, names[placed + 1 :], strict=True))
    assert again[:2] in ([], ["minimum", "wishes"])
    assert all(n.startswith("fairness ") for n in again[2:])
    for s in plan.stages:
        assert s.gap is None or s.gap >= 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"n_slots": 2, "companies": {}, "applicants": {"a": {"wishes": ["x"]}}},
            "unknown company 'x'",
        ),
        (
            {"n_slots": 2, "companies": {"x": {}}, "applicants": {"a": {"wishes": ["x", "x"]}}},
            "duplicate wish",
        ),
        ({"n_slots": 2, "companies": {"x": {"slots": [5]}}, "applicants": {}}, "outside 0..1"),
        ({"n_slots": 0, "companies": {}, "applicants": {}}, "n_slots"),
        (
            {"n_slots": 2, "companies": {"x": {"tables": 0}}, "applicants": {}},
            r"companies\.x\.tables",
        ),
    ],
)
def test_bad_fair_instances_name_the_problem(data, message):
    with pytest.raises(InstanceError, match=message):
        FairInstance.parse(data)


def _fair(**changes):
    data = {
        "n_slots": 2,
        "companies": {"c1": {"name": "Tischlerei Müller", "tables": 1}},
        "applicants": {"a1": {"wishes": ["c1"]}},
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_fair(n_slots=True), "n_slots: Input should be a valid integer"),
        (_fair(n_slots="3"), "n_slots: Input should be a valid integer"),
        (_fair(n_slots=3.0), "n_slots: Input should be a valid integer"),
        (_fair(slot_minutes="15"), "slot_minutes"),
        (_fair(companies={"c1": {"tables": "2"}}), r"companies\.c1\.tables"),
        (_fair(companies={"c1": {"slots": [0, 0]}}), "company 'c1' lists slot 0 twice"),
        (
            _fair(applicants={"a1": {"wishes": ["c1"], "slots": [1, 0, 1]}}),
            "applicant 'a1' lists slot 1 twice",
        ),
        (_fair(applicants={"a1": {"wishes": ["c1"], "slots": ["0"]}}), r"applicants\.a1\.slots"),
        (_fair(applicants={"a1": {"wishes": "c1"}}), r"applicants\.a1\.wishes"),
        (_fair(min_interviews=False), "min_interviews"),
        (_fair(date="13.03.2027"), "is not a date of the form YYYY-MM-DD"),
        (_fair(start="9 Uhr"), "is not a time of the form HH:MM"),
        (_fair(start="25:00"), "start"),
        (
            _fair(n_slots=200, slot_minutes=240),
            "200 slots of 240 minutes from 09:00 end after midnight; at most 3 fit the day",
        ),
        (_fair(n_slots=61), "61 slots of 15 minutes from 09:00 end after midnight; at most 60"),
    ],
)
def test_fair_instances_are_strict(data, message):
    with pytest.raises(InstanceError, match=message):
        FairInstance.parse(data)


def test_a_day_that_ends_at_midnight_fits():
    data = _fair(
        n_slots=4,
        start="23:00",
        date="2027-03-13",
        applicants={
            "a1": {"name": "Lena Schröder", "wishes": ["c1"]},
            "a2": {"wishes": ["c1"], "slots": [3]},
        },
    )
    inst = FairInstance.parse(data)
    assert inst.slot_clock(4) == "24:00"
    plan = plan_fair(inst, time_limit=20)
    assert [i["time"] for i in plan.to_dict(inst)["interviews"] if i["applicant"] == "a2"] == [
        "23:45"
    ]


def test_a_limit_that_has_passed_runs_no_stage():
    inst = FairInstance.parse(generate_fair(40, 300, 16, seed=1))
    plan = plan_fair(inst, time_limit=1e-9)
    assert [(s.name, s.status) for s in plan.stages] == [
        ("minimum", "not_run"),
        ("wishes", "not_run"),
        ("fairness 1", "not_run"),
    ]  # building the model only: no stage has a floor of its own
    assert plan.interviews == []
    assert plan.summary["proven_optimal"] is False
    report = json.dumps(plan.to_dict(inst), allow_nan=False)
    assert json.loads(report)["stages"][0] == {
        "name": "minimum",
        "status": "not_run",
        "objective": None,
        "bound": None,
        "gap": None,
        "seconds": 0.0,
    }


def test_the_time_limit_covers_all_stages():
    # At this size the leximin needs far more than the limit; the slots are placed after.
    inst = FairInstance.parse(generate_fair(40, 300, 16, seed=1))
    plan = plan_fair(inst, time_limit=2.0)
    check_valid(inst, plan)
    if all(s.status == "not_run" for s in plan.stages):  # a machine too busy to build the model
        assert plan.interviews == []
        return
    names = [s.name for s in plan.stages]
    statuses = [s.status for s in plan.stages]
    assert names[-1] == "slots"  # the granted wishes still get their rounds and tables
    # Optimal stages, then the one the limit ended, then (on a busy machine) stages not run.
    before = statuses[:-1]
    ended = next(k for k, status in enumerate(before) if status != "optimal")
    assert before[ended] in ("time_limit", "time_limit_no_solution", "not_run")
    assert all(status == "not_run" for status in before[ended + 1 :])
    assert plan.summary["proven_optimal"] is False
    # Wishes were granted (the minimum stage found a solution): a schedule, never none.
    assert plan.interviews
    weights = wish_weights(inst)
    assert plan.stages[-1].objective == sum(
        weights[(i.applicant, i.company)] for i in plan.interviews
    )
    json.dumps(plan.to_dict(inst), allow_nan=False)


# Results exactly as scipy's milp returns them from HiGHS (copied from real runs).
NO_SOLUTION = OptimizeResult(
    status=1,
    message="Time limit reached. (HiGHS Status 13: model_status is Time limit reached; "
    "primal_status is None)",
    success=False,
    x=None,
    fun=None,
    mip_node_count=None,
    mip_dual_bound=None,
    mip_gap=None,
)
UNBOUNDED_GAP = OptimizeResult(
    status=1,
    message="Time limit reached. (HiGHS Status 13: Time limit reached)",
    success=False,
    x=np.zeros(3),
    fun=0.0,
    mip_node_count=0,
    mip_dual_bound=-1.0,
    mip_gap=float("inf"),
)


def test_stages_without_numbers_report_null_not_nan():
    for maximise in (False, True):
        stage = stage_from_result("fairness", NO_SOLUTION, 0.5, maximise)
        assert stage.status == "time_limit_no_solution"
        assert (stage.objective, stage.bound, stage.gap) == (None, None, None)
        json.dumps(stage.to_dict(), allow_nan=False)
    stage = stage_from_result("fairness", UNBOUNDED_GAP, 0.5, maximise=True)
    assert stage.status == "time_limit"
    assert stage.to_dict() == {
        "name": "fairness",
        "status": "time_limit",
        "objective": 0.0,
        "bound": 1.0,
        "gap": None,
        "seconds": 0.5,
    }
    assert "-0.0" not in json.dumps(stage.to_dict(), allow_nan=False)


def _pairs(plan) -> set[tuple[str, str]]:
    return {(i.applicant, i.company) for i in plan.interviews}


def test_the_minimum_counts_every_wish_and_names_who_falls_short_and_why():
    # a1 wished two companies but is never there when they are: 2 interviews short, share 0.
    # a2 and a3 compete for c2's one table in the one round they share with it.
    inst = FairInstance.parse(
        {
            "n_slots": 3,
            "min_interviews": 2,
            "companies": {
                "c1": {"name": "Tischlerei Müller", "slots": [0]},
                "c2": {"name": "Autohaus Krüger", "slots": [1]},
                "c3": {"name": "Pflegedienst Sonnenschein"},
            },
            "applicants": {
                "a1": {"name": "Jonas", "wishes": ["c1", "c2"], "slots": [2]},
                "a2": {"name": "Mia", "wishes": ["c2", "c3"], "slots": [1, 2]},
                "a3": {"name": "Paul", "wishes": ["c2", "c3"], "slots": [1]},
            },
        }
    )
    plan = plan_fair(inst, time_limit=20)
    summary = plan.summary
    assert summary["worst_share"] == 0.0  # not 1/3: a1 counts, with nothing granted
    by = {b.applicant: b for b in plan.below}
    assert set(by) == {"a1", "a3"}
    assert (by["a1"].interviews, by["a1"].needed) == (0, 2)
    assert by["a1"].missing == (("c1", "no_common_slot"), ("c2", "no_common_slot"))
    assert summary["below_minimum"] == 2
    assert summary["shortfall"] == 2 + 1
    # Paul is there only in round 1: one interview at most. Mia gets both of hers (c2 in
    # round 1, c3 in round 2) only if Paul talks to c3, so c2's one table is full for him.
    assert _pairs(plan) == {("a2", "c2"), ("a2", "c3"), ("a3", "c3")}
    assert by["a3"].missing == (("c2", "company_full"),)
    report = plan.to_dict(inst)["summary"]["below_minimum_applicants"]
    assert [b["applicant"] for b in report] == ["a1", "a3"]


def test_leximin_lifts_the_second_worst_off_too():
    # Everyone ties at the bottom whatever happens (a1 and a2 share one table in one
    # round); maximin stops there, leximin also gives a3 both of its wishes.
    inst = FairInstance.parse(
        {
            "n_slots": 2,
            "min_interviews": 0,
            "companies": {"c1": {"slots": [0]}, "c2": {}},
            "applicants": {
                "a1": {"wishes": ["c1"], "slots": [0]},
                "a2": {"wishes": ["c1"], "slots": [0]},
                "a3": {"wishes": ["c2", "c1"]},
                "a4": {"wishes": ["c2"], "slots": [1]},
            },
        }
    )
    plan = plan_fair(inst, time_limit=20)
    shares = sorted(objective(inst, [(i.applicant, i.company, i.slot) for i in plan.interviews])[2])
    assert shares == sorted(exhaustive_best(inst)[2])
    assert plan.summary["levels"][0] == {"share": 0.0, "applicants": 1}
    assert [lv["share"] for lv in plan.summary["levels"]][-1] == 1.0
    assert plan.summary["proven_optimal"] is True


def test_a_granted_set_that_fits_no_schedule_is_planned_on_the_slot_model():
    # The wish model's capacity rows allow a0 both companies plus a3 at c1; but a0's
    # only round with c0 (3) leaves round 1 for c1, which a3 needs too.
    data = {
        "n_slots": 4,
        "min_interviews": 2,
        "companies": {"c0": {"tables": 2, "slots": [3]}, "c1": {"tables": 1}},
        "applicants": {
            "a0": {"wishes": ["c1", "c0"], "slots": [1, 3]},
            "a1": {"wishes": ["c0", "c1"], "slots": [2]},
            "a2": {"wishes": ["c1"], "slots": [2]},
            "a3": {"wishes": ["c1"], "slots": [1]},
        },
    }
    inst = FairInstance.parse(data)
    plan = plan_fair(inst, time_limit=20)
    check_valid(inst, plan)
    names = [s.name for s in plan.stages]
    assert "slots" in names
    assert any(n.startswith("slot model: ") for n in names)
    got = objective(inst, [(i.applicant, i.company, i.slot) for i in plan.interviews])
    assert got == exhaustive_best(inst)
    assert plan.summary["proven_optimal"] is True
