"""Scores, reasons, candidate generation against brute force, preferences from profiles."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from diko_matching.engine.candidates import score_pairs
from diko_matching.engine.generate import generate_profiles, nationwide_arrays
from diko_matching.engine.instance import InstanceError, members
from diko_matching.engine.profiles import ProfileInstance, to_arrays
from diko_matching.engine.scoring import NO_END, ScoringWeights, criteria_points
from diko_matching.engine.shortlists import (
    explain_pair,
    instance_from_profiles,
    shortlist_for_applicant,
    shortlist_for_position,
)
from diko_matching.engine.stable import solve
from diko_shared.geo import haversine_km
from diko_shared.german import NBSP


def _shared(a: int, b: int) -> int:
    return next((n for n in range(5, 0, -1) if a // 10 ** (5 - n) == b // 10 ** (5 - n)), 0)


def brute_scores(arrays, weights: ScoringWeights) -> dict[tuple[int, int], float]:
    """Every acceptable pair's score by looping over all pairs and all wishes."""
    w = weights.as_array()
    out = {}
    for a in range(len(arrays.app_ids)):
        wishes = arrays.wish_code[arrays.wish_indptr[a] : arrays.wish_indptr[a + 1]]
        for p in range(len(arrays.pos_ids)):
            d = haversine_km(arrays.a_lat[a], arrays.a_lon[a], arrays.p_lat[p], arrays.p_lon[p])
            best = -1.0
            for rank, code in enumerate(wishes):
                pts = criteria_points(
                    d,
                    arrays.a_reach[a],
                    _shared(int(code), int(arrays.p_code[p])),
                    rank,
                    arrays.a_school[a],
                    arrays.p_school[p],
                    arrays.p_start[p],
                    arrays.a_from[a],
                    arrays.a_until[a],
                    w,
                )
                if pts[0] >= 0:
                    best = max(best, sum(pts))
            if best >= 0:
                out[(a, p)] = best
    return out


def _check_against_brute(arrays, weights, list_length, cell_km):
    cands = score_pairs(arrays, weights, list_length=list_length, cell_km=cell_km)
    brute = brute_scores(arrays, weights)
    for a in range(len(arrays.app_ids)):
        mine = sorted(
            ((s, p) for (x, p), s in brute.items() if x == a), key=lambda t: (-t[0], t[1])
        )
        assert cands.n_acceptable[a] == len(mine)
        row = [
            (float(s), int(p))
            for s, p in zip(cands.score[a], cands.position[a], strict=True)
            if p >= 0
        ]
        assert [p for _, p in row] == [p for _, p in mine[:list_length]]
        assert [s for s, _ in row] == pytest.approx([s for s, _ in mine[:list_length]], abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 12), st.sampled_from([3.0, 15.0, 40.0]))
def test_candidates_equal_brute_force_on_altmark_profiles(seed, list_length, cell_km):
    inst = ProfileInstance.parse(generate_profiles(40, 60, seed=seed))
    _check_against_brute(to_arrays(inst), inst.weights, list_length, cell_km)


@pytest.mark.parametrize("min_prefix", [2, 3, 4, 5])
def test_candidates_equal_brute_force_nationwide_shape(min_prefix):
    arrays = nationwide_arrays(150, 400, 900, seed=min_prefix, n_towns=40)
    weights = ScoringWeights(min_shared_prefix=min_prefix)
    _check_against_brute(arrays, weights, list_length=20, cell_km=15.0)


@pytest.mark.parametrize("tolerance", [30.0, 120.0])
def test_candidates_equal_brute_force_with_starts_beyond_the_tolerance(tolerance):
    """The nationwide arrays with windows and starts spread over a year and a half."""
    arrays = nationwide_arrays(150, 400, 900, seed=int(tolerance), n_towns=40)
    rng = np.random.default_rng(1)
    begin = arrays.a_from + rng.integers(-200, 300, len(arrays.a_from))
    until = np.where(rng.random(len(begin)) < 0.5, NO_END, begin + rng.integers(0, 150, len(begin)))
    start = arrays.p_start + rng.integers(-200, 300, len(arrays.p_start))
    spread = replace(arrays, a_from=begin, a_until=until, p_start=start)
    weights = ScoringWeights(start_tolerance_days=tolerance)
    _check_against_brute(spread, weights, list_length=20, cell_km=15.0)
    assert len(brute_scores(spread, weights)) < len(brute_scores(arrays, weights))


def _profiles(**changes) -> ProfileInstance:
    data = {
        "applicants": {
            "a1": {
                "home": "Osterburg",
                "occupations": ["25212", "26212"],
                "reach_km": 30,
                "school": "realschule",
                "available_from": "2027-08-01",
            }
        },
        "positions": {
            "p1": {
                "town": "Stendal",
                "occupation": "25212",
                "school": "realschule",
                "start": "2027-08-01",
            },
            "p2": {"town": "Salzwedel", "occupation": "25212", "start": "2027-08-01"},
            "p3": {"town": "Stendal", "occupation": "25222", "start": "2027-08-01"},
            "p4": {"town": "Stendal", "occupation": "71402", "start": "2027-08-01"},
            "p5": {
                "town": "Stendal",
                "occupation": "26212",
                "school": "abitur",
                "start": "2027-12-01",
            },
        },
    }
    for key, value in changes.items():
        data["applicants"]["a1"][key] = value
    return ProfileInstance.parse(data)


def test_a_pair_is_explained_in_german_with_stable_keys():
    score = explain_pair(_profiles(), "a1", "p1")
    assert score.acceptable
    keys = [c.key for c in score.criteria]
    assert keys == [
        "occupation.exact",
        "distance.within_reach",
        "school.met",
        "start.within_window",
        "wish.rank",
    ]
    assert score.total == pytest.approx(sum(c.points for c in score.criteria))
    assert score.criteria[1].sentence == (
        f"Vom Wohnort Osterburg (Altmark) bis zum Ausbildungsort Stendal sind es 21{NBSP}km; "
        f"erreichbar sind 30{NBSP}km."
    )
    assert score.criteria[0].sentence == (
        "Die Stelle bildet im Wunschberuf Kraftfahrzeugmechatroniker/in (KldB 25212) aus."
    )
    assert score.criteria[2].sentence == (
        "Der Realschulabschluss erfüllt die Anforderung der Stelle (mindestens Realschulabschluss)."
    )


def test_beyond_reach_is_unacceptable_and_a_licence_widens_the_reach():
    far = explain_pair(_profiles(), "a1", "p2")  # Salzwedel is about 40 km from Osterburg
    assert not far.acceptable
    assert far.criteria[0].key == "distance.beyond_reach"
    assert far.criteria[0].sentence == (
        f"Vom Wohnort Osterburg (Altmark) bis zum Ausbildungsort Salzwedel sind es 41{NBSP}km, "
        f"mehr als die erreichbaren 30{NBSP}km."
    )
    near = explain_pair(_profiles(licence=True), "a1", "p2")
    assert near.acceptable
    assert f"erreichbar sind 45{NBSP}km mit Führerschein." in near.criteria[1].sentence


def test_related_occupation_counts_less_and_unrelated_is_unacceptable():
    exact = explain_pair(_profiles(), "a1", "p1")
    related = explain_pair(_profiles(), "a1", "p3")
    unrelated = explain_pair(_profiles(), "a1", "p4")
    assert related.acceptable
    assert related.criteria[0].key == "occupation.related"
    assert related.criteria[0].points == pytest.approx(0.4 * 40)
    assert related.total < exact.total
    assert not unrelated.acceptable
    assert unrelated.criteria[0].key == "occupation.unrelated"


def test_school_start_and_wish_rank_reduce_the_score():
    # second wish, Abitur required, December start after a window ending in September
    score = explain_pair(_profiles(available_until="2027-09-30"), "a1", "p5")
    by_key = {c.key: c for c in score.criteria}
    assert by_key["school.below"].points == pytest.approx(15 * 0.3)
    assert by_key["school.below"].sentence == (
        "Die Stelle verlangt das Abitur; vorhanden ist der Realschulabschluss."
    )
    assert 0 < by_key["start.outside_window"].points < 10
    assert f"bis 30.{NBSP}September 2027" in by_key["start.outside_window"].sentence
    assert by_key["wish.rank"].points == pytest.approx(10 * 0.75)
    assert by_key["wish.rank"].sentence == (
        "Unter zwei Wunschberufen steht Elektroniker/in Energie- und Gebäudetechnik "
        "an zweiter Stelle."
    )


def test_weights_are_configurable_and_validated():
    data = _profiles().model_dump(mode="json")
    data["weights"] = {"distance": 0.0, "occupation": 90.0}
    score = explain_pair(ProfileInstance.parse(data), "a1", "p1")
    assert {c.key: c.points for c in score.criteria}["distance.within_reach"] == 0
    assert score.criteria[0].points == 90
    with pytest.raises(ValidationError):
        ScoringWeights(distance=-1)
    with pytest.raises(ValidationError):
        ScoringWeights(unknown=1)
    data["weights"] = {"distance": -5}
    with pytest.raises(InstanceError, match=r"weights\.distance"):
        ProfileInstance.parse(data)


def test_bad_profiles_name_the_problem():
    data = _profiles().model_dump(mode="json")
    data["applicants"]["a1"]["home"] = "Atlantis"
    with pytest.raises(InstanceError, match=r"applicants\.a1\.home: unbekannter Ort 'Atlantis'"):
        instance_from_profiles(data)
    data = _profiles().model_dump(mode="json")
    data["positions"]["p1"]["occupation"] = "2521"
    with pytest.raises(InstanceError, match=r"positions\.p1\.occupation"):
        ProfileInstance.parse(data)


def test_shortlists_are_sorted_and_agree_with_explanations():
    inst = ProfileInstance.parse(generate_profiles(120, 40, seed=3))
    for p in list(inst.positions)[:10]:
        short = shortlist_for_position(inst, p, k=5)
        totals = [s.total for s in short]
        assert totals == sorted(totals, reverse=True)
        assert all(s.acceptable and s.position_id == p for s in short)
    for a in list(inst.applicants)[:10]:
        short = shortlist_for_applicant(inst, a, k=4)
        assert len(short) <= 4
        assert [s.total for s in short] == sorted((s.total for s in short), reverse=True)
    with pytest.raises(InstanceError, match="unknown position"):
        shortlist_for_position(inst, "nope")


def test_preferences_from_profiles_give_a_stable_run():
    data = generate_profiles(200, 60, seed=4)
    inst = instance_from_profiles(data)
    profiles = ProfileInstance.parse(data)
    for a, lst in list(inst.applicants.items())[:30]:
        totals = [explain_pair(profiles, a, p).total for p in members(lst)]
        assert totals == sorted(totals, reverse=True)
    for p, lst in inst.positions.items():
        for a in members(lst):
            assert p in members(inst.applicants[a])  # positions list exactly who lists them
    assert any(not isinstance(x, str) for v in inst.positions.values() for x in v)  # ties exist
    result = solve(inst)
    assert result.stable
    for p, apps in result.assignment.items():
        assert len(apps) <= data["positions"][p]["places"]


def test_generated_instances_are_deterministic_and_realistic():
    a = generate_profiles(50, 20, seed=9)
    assert a == generate_profiles(50, 20, seed=9)
    assert a != generate_profiles(50, 20, seed=10)
    inst = ProfileInstance.parse(a)  # valid against the profile schema, places in the gazetteer
    assert len(inst.applicants) == 50
    assert len(to_arrays(inst).app_ids) == 50
    assert all(
        dt.date(2027, 8, 1) <= x.start <= dt.date(2027, 9, 1) for x in inst.positions.values()
    )


def test_nationwide_arrays_add_up():
    arrays = nationwide_arrays(2000, 500, 1300, seed=1, n_towns=50)
    assert int(arrays.capacity.sum()) == 1300
    assert int(arrays.capacity.min()) >= 1
    assert len(arrays.wish_code) == arrays.wish_indptr[-1]
    assert np.all(np.diff(arrays.wish_indptr) >= 1)


def test_bad_wish_codes_and_duplicate_wishes_are_rejected():
    data = _profiles().model_dump(mode="json")
    data["applicants"]["a1"]["occupations"] = ["25212", "2521x"]
    with pytest.raises(InstanceError, match=r"applicants\.a1\.occupations\.1"):
        ProfileInstance.parse(data)
    data["applicants"]["a1"]["occupations"] = ["25212", "25212"]
    with pytest.raises(InstanceError, match="duplicate entry"):
        ProfileInstance.parse(data)


@pytest.mark.parametrize(
    ("where", "key", "value", "message"),
    [
        ("a1", "licence", "yes", r"applicants\.a1\.licence: Input should be a valid boolean"),
        ("a1", "licence", 1, r"applicants\.a1\.licence"),
        ("a1", "reach_km", "30", r"applicants\.a1\.reach_km: Input should be a valid number"),
        ("a1", "reach_km", True, r"applicants\.a1\.reach_km"),
        ("a1", "home", 39606, r"applicants\.a1\.home: Input should be a valid string"),
        ("a1", "available_from", 1800000000, r"applicants\.a1\.available_from"),
        ("a1", "available_from", "1.8.2027", "is not a date of the form YYYY-MM-DD"),
        ("a1", "available_until", "2027-02-30", r"applicants\.a1\.available_until"),
        ("p1", "places", "2", r"positions\.p1\.places: Input should be a valid integer"),
        ("p1", "places", 2.0, r"positions\.p1\.places"),
        ("p1", "start", "2027-08-01T00:00", r"positions\.p1\.start"),
        (None, "seed", True, r"seed: Input should be a valid integer"),
        (None, "list_length", "5", r"list_length"),
        (None, "weights", {"distance": "30"}, r"weights\.distance: Input should be a valid number"),
    ],
)
def test_profiles_are_strict_about_types(where, key, value, message):
    data = _profiles().model_dump(mode="json")
    if where is None:
        data[key] = value
    else:
        data["applicants" if where.startswith("a") else "positions"][where][key] = value
    with pytest.raises(InstanceError, match=message):
        ProfileInstance.parse(data)


def test_profiles_keep_iso_dates_and_whole_numbers_for_kilometres():
    data = _profiles().model_dump(mode="json")
    data["applicants"]["a1"]["reach_km"] = 30  # an integer is a number
    data["applicants"]["a1"]["available_until"] = "2027-09-30"
    data["weights"] = {"distance": 30}
    inst = ProfileInstance.parse(data)
    assert inst.applicants["a1"].available_until == dt.date(2027, 9, 30)
    assert inst.positions["p1"].start == dt.date(2027, 8, 1)
    assert inst.weights.distance == 30.0


def test_reason_keys_follow_the_facts_not_the_weights():
    """Weight 0 for school and start must not turn a missed requirement into a met one."""
    data = _profiles(available_until="2027-09-30").model_dump(mode="json")
    data["weights"] = {"school": 0, "start": 0}
    below = explain_pair(ProfileInstance.parse(data), "a1", "p5")  # Abitur required, December
    keys = {c.key: c for c in below.criteria}
    assert set(keys) >= {"school.below", "start.outside_window"}
    assert keys["school.below"].points == keys["start.outside_window"].points == 0
    assert "Die Stelle verlangt das Abitur;" in keys["school.below"].sentence
    assert "62\u00a0Tage nach dem gewünschten Zeitraum" in keys["start.outside_window"].sentence
    met = explain_pair(ProfileInstance.parse(data), "a1", "p1")
    assert [c.key for c in met.criteria][2:4] == ["school.met", "start.within_window"]


def test_the_german_sentences_read_naturally():
    data = _profiles().model_dump(mode="json")
    data["applicants"]["a2"] = {
        "home": "Stendal",
        "occupations": ["22342"],
        "school": "ohne",
        "available_from": "2027-09-01",
    }
    data["positions"]["p6"] = {
        "town": "Stendal",
        "occupation": "22342",
        "school": "hauptschule",
        "start": "2027-08-31",
    }
    data["positions"]["p7"] = {
        "town": "Stendal",
        "occupation": "22342",
        "school": "ohne",
        "start": "2027-09-01",
    }
    inst = ProfileInstance.parse(data)
    assert [c.sentence for c in explain_pair(inst, "a2", "p6").criteria] == [
        "Die Stelle bildet im Wunschberuf Tischler/in (KldB 22342) aus.",
        "Wohnort und Ausbildungsort sind beide Stendal.",
        "Die Stelle verlangt mindestens den Hauptschulabschluss; "
        "ein Schulabschluss liegt nicht vor.",
        f"Die Ausbildung beginnt am 31.{NBSP}August 2027, einen Tag vor dem gewünschten "
        f"Zeitraum (ab 1.{NBSP}September 2027).",
        "Als Wunschberuf ist nur Tischler/in angegeben.",
    ]
    sentences = [c.sentence for c in explain_pair(inst, "a2", "p7").criteria]
    assert sentences[2] == "Die Stelle setzt keinen Schulabschluss voraus."
    assert sentences[3] == (
        f"Die Ausbildung beginnt am 1.{NBSP}September 2027, im gewünschten Zeitraum "
        f"(ab 1.{NBSP}September 2027)."
    )
    assert explain_pair(inst, "a1", "p3").criteria[0].sentence == (
        "Der Ausbildungsberuf Land- und Baumaschinenmechatroniker/in (KldB 25222) ist mit dem "
        "Wunschberuf Kraftfahrzeugmechatroniker/in (KldB 25212) verwandt: Die ersten drei "
        "Ziffern der KldB-Codes stimmen überein."
    )
    assert explain_pair(inst, "a1", "p4").criteria[0].sentence == (
        "Der Ausbildungsberuf Kaufmann/-frau für Büromanagement (KldB 71402) passt zu keinem "
        "der Wunschberufe; am nächsten kommt ihm Kraftfahrzeugmechatroniker/in (KldB 25212)."
    )
    assert explain_pair(inst, "a1", "p1").criteria[4].sentence == (
        "Unter zwei Wunschberufen steht Kraftfahrzeugmechatroniker/in an erster Stelle."
    )


def test_a_code_outside_the_catalogue_is_named_once():
    data = _profiles().model_dump(mode="json")
    data["applicants"]["a1"]["occupations"] = ["62199"]
    data["positions"]["p1"]["occupation"] = "62199"
    sentences = [c.sentence for c in explain_pair(ProfileInstance.parse(data), "a1", "p1").criteria]
    assert sentences[0] == "Die Stelle bildet im Wunschberuf KldB 62199 aus."
    assert sentences[4] == "Als Wunschberuf ist nur KldB 62199 angegeben."
    assert not any("(KldB 62199)" in s for s in sentences)
