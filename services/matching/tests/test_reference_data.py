"""The shared reference data the engine relies on: gazetteer and occupations."""

import math

import pytest

from diko_shared.geo import UnknownPlaceError, haversine_km, load_gazetteer, normalise_place_name
from diko_shared.occupations import load_occupations, shared_prefix_length

REQUIRED_PLACES = [
    "Stendal", "Salzwedel", "Gardelegen", "Tangermünde", "Osterburg", "Havelberg",
    "Seehausen", "Tangerhütte", "Klötze", "Kalbe (Milde)", "Arendsee", "Bismark",
    "Beetzendorf", "Diesdorf", "Arneburg", "Goldbeck", "Schönhausen (Elbe)",
    "Werben (Elbe)", "Sandau", "Kläden",
]  # fmt: skip


def test_gazetteer_has_the_towns_and_enough_places():
    gaz = load_gazetteer()
    assert len(gaz.altmark_list) >= 60
    for name in REQUIRED_PLACES:
        assert name in gaz, name
        assert gaz.lookup(name).in_altmark, name
    assert {p.district for p in gaz.altmark_list} == {"Stendal", "Altmarkkreis Salzwedel"}


def test_every_listed_place_lies_in_the_altmark_and_has_a_postcode():
    for p in load_gazetteer().altmark_list:
        assert 52.35 < p.latitude < 53.05, p
        assert 10.75 < p.longitude < 12.30, p
        assert len(p.postcode) == 5, p
        assert p.postcode.isdigit(), p


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("osterburg", "Osterburg (Altmark)"),
        ("Hansestadt Osterburg (Altmark)", "Osterburg (Altmark)"),
        ("Tangermuende", "Tangermünde"),
        ("TANGERMÜNDE", "Tangermünde"),
        ("Kalbe", "Kalbe (Milde)"),
        ("Schoenhausen", "Schönhausen (Elbe)"),
        ("  hansestadt   stendal ", "Stendal"),
    ],
)
def test_lookup_normalises_names(typed, expected):
    assert load_gazetteer().lookup(typed).name == expected


def test_unknown_place_suggests_close_names():
    with pytest.raises(UnknownPlaceError) as err:
        load_gazetteer().lookup("Stendahl")
    assert "Stendal" in err.value.suggestions
    assert "Stendahl" in str(err.value)


def test_distances_are_plausible():
    gaz = load_gazetteer()
    # Stendal–Salzwedel is about 55 km as the crow flies, Stendal–Tangermünde about 10 km.
    assert 48 < gaz.distance_km("Stendal", "Salzwedel") < 60
    assert 7 < gaz.distance_km("Stendal", "Tangermünde") < 13
    assert gaz.distance_km("Stendal", "Stendal") == 0


def test_haversine_against_a_known_arc():
    # A quarter of a meridian: pole to equator.
    assert math.isclose(haversine_km(0, 0, 90, 0), math.pi / 2 * 6371.0088, rel_tol=1e-9)
    assert math.isclose(haversine_km(52, 11, 52, 12), haversine_km(52, 12, 52, 11))


def test_normalised_keys_of_the_altmark_list_are_unique_and_stable():
    keys = [normalise_place_name(p.name) for p in load_gazetteer().altmark_list]
    assert len(keys) == len(set(keys))
    assert normalise_place_name("Werben (Elbe)") == "werben"


def test_occupation_codes_are_kldb_apprenticeship_codes():
    cat = load_occupations()
    assert len(cat) >= 40
    for occ in cat.occupations:
        assert len(occ.code) == 5, occ
        assert occ.code.isdigit(), occ
        assert occ.code[4] == "2", occ  # Anforderungsniveau 2: fachlich ausgerichtet
        assert occ.popularity > 0
        assert occ.school in {"hauptschule", "realschule", "abitur"}
    assert "Kraftfahrzeugmechatroniker/in" in cat.names("25212")
    assert cat.label("71402") == "Kaufmann/-frau für Büromanagement"
    assert cat.code_popularity()["62102"] == 46


def test_shared_prefix_length():
    assert shared_prefix_length("25212", "25212") == 5
    assert shared_prefix_length("25212", "25222") == 3
    assert shared_prefix_length("26212", "26222") == 3
    assert shared_prefix_length("71402", "25212") == 0
