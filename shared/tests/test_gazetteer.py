"""The gazetteer of Germany: every place by name and postcode, the Altmark first."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diko_shared.geo import (
    ALTMARK,
    Gazetteer,
    Place,
    UnknownPlaceError,
    UnknownPostcodeError,
    UnknownRegionError,
    haversine_km,
    load_gazetteer,
)
from diko_shared.geo.distance import PointGrid
from diko_shared.geo.names import lookup_keys, normalise_place_name


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer()


# -- coverage ------------------------------------------------------------------------------


def test_every_municipality_of_germany_has_its_place_and_its_district_and_land(gaz) -> None:
    municipalities = {k: a for k, a in gaz.areas.items() if len(k) == 8}
    assert len(municipalities) > 11_000  # VG250 2016: 11,084 and 215 unincorporated areas
    assert sum(1 for k in gaz.areas if len(k) == 2) == 16
    assert sum(1 for k in gaz.areas if len(k) == 5) > 400
    seats = {p.ags: p for p in gaz.places if p.kind != "Ortsteil"}
    for key, area in municipalities.items():
        assert key[:5] in gaz.areas, key
        assert key[:2] in gaz.areas, key
        if area.kind != "Gemeindefreies Gebiet":
            assert seats[key].municipality == area.name, key
    assert all(p.ags in municipalities for p in gaz.places)


def test_every_postcode_serves_a_municipality_and_every_municipality_has_one(gaz) -> None:
    assert len(gaz.postcodes) > 10_000
    served: set[str] = set()
    for code, area in gaz.postcodes.items():
        assert len(code) == 5, code
        assert code.isdigit(), code
        assert area.municipalities, code
        assert 47.2 < area.latitude < 55.1, code
        assert 5.8 < area.longitude < 15.1, code
        served.update(m.key for m in area.municipalities)
    assert all(p.postcode in gaz.postcodes for p in gaz.places)
    for key, area in gaz.areas.items():
        if len(key) == 8 and area.kind != "Gemeindefreies Gebiet":
            assert key in served, key


@pytest.mark.parametrize(
    ("typed", "name", "district", "state"),
    [
        ("Wolfsburg", "Wolfsburg", "Wolfsburg", "Niedersachsen"),
        ("Magdeburg", "Magdeburg", "Magdeburg", "Sachsen-Anhalt"),
        ("Wittingen", "Wittingen", "Gifhorn", "Niedersachsen"),
        ("Lüchow", "Lüchow (Wendland)", "Lüchow-Dannenberg", "Niedersachsen"),
        ("Clenze", "Clenze", "Lüchow-Dannenberg", "Niedersachsen"),
        ("Brome", "Brome", "Gifhorn", "Niedersachsen"),
        ("Wittenberge", "Wittenberge", "Prignitz", "Brandenburg"),
        ("Perleberg", "Perleberg", "Prignitz", "Brandenburg"),
        ("Bad Wilsnack", "Bad Wilsnack", "Prignitz", "Brandenburg"),
        ("Rathenow", "Rathenow", "Havelland", "Brandenburg"),
        ("Havelberg", "Havelberg", "Stendal", "Sachsen-Anhalt"),
        ("Haldensleben", "Haldensleben", "Börde", "Sachsen-Anhalt"),
        ("Genthin", "Genthin", "Jerichower Land", "Sachsen-Anhalt"),
    ],
)
def test_places_near_the_altmark_s_edges_are_known(gaz, typed, name, district, state) -> None:
    place = gaz.lookup(typed)
    assert (place.name, place.district, place.state) == (name, district, state)
    assert place.in_altmark == (typed == "Havelberg")
    assert gaz.altmark_km(place) < 60


def test_the_altmark_list_is_kept_with_its_names_and_kinds(gaz) -> None:
    listed = gaz.altmark_list
    assert len(listed) == 83
    assert listed[0].name == "Stendal"
    assert listed[2].name == "Osterburg (Altmark)"
    assert {p.district for p in listed} == {"Stendal", "Altmarkkreis Salzwedel"}
    assert gaz.lookup("Diesdorf").kind == "Flecken"
    assert gaz.lookup("Stendal").latitude == 52.60578  # cities500's point, as before
    assert len(gaz.places_in("Altmark")) > 200  # of some 500 villages; the sources have these


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("osterburg", "Osterburg (Altmark)"),
        ("Hansestadt Osterburg (Altmark)", "Osterburg (Altmark)"),
        ("Tangermuende", "Tangermünde"),
        ("Tangerhuette", "Tangerhütte"),
        ("TANGERMÜNDE", "Tangermünde"),
        ("Kalbe", "Kalbe (Milde)"),
        ("Schoenhausen", "Schönhausen (Elbe)"),
        ("  hansestadt   stendal ", "Stendal"),
        ("Luechow", "Lüchow (Wendland)"),
        ("Lutherstadt Wittenberg", "Wittenberg"),
        ("Oelsnitz", "Oelsnitz/Erzgeb."),
        ("Sohland an der Spree", "Sohland a.d. Spree"),
        ("Buch am Buchrain", "Buch a. Buchrain"),
        ("Brandenburg", "Brandenburg an der Havel"),
        ("Koeln", "Köln"),
        ("Sankt Ingbert", "St. Ingbert"),
    ],
)
def test_names_are_found_however_they_are_spelled(gaz, typed, expected) -> None:
    assert gaz.lookup(typed).name == expected


def test_every_canonical_name_finds_its_own_place(gaz) -> None:
    for place in gaz.places:
        assert gaz.lookup(place.name) is place, place.name


# -- which place a bare name means ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected", "municipality"),
    [
        ("Osterburg", "Osterburg (Altmark)", "Osterburg (Altmark)"),
        ("Neuendorf", "Neuendorf", "Klötze"),
        ("Buch", "Buch", "Tangermünde"),  # not Berlin-Buch, though it is larger
        ("Kläden", "Kläden", "Bismark (Altmark)"),  # the listed one of the Altmark's two
        ("Klein Gartz", "Klein Gartz", "Salzwedel"),
        ("Essen", "Essen", "Essen"),  # the city before Essen (Oldenburg), which is nearer
        ("Halle", "Halle (Saale)", "Halle (Saale)"),
        ("Frankfurt", "Frankfurt (Oder)", "Frankfurt (Oder)"),  # nearer of the two cities
    ],
)
def test_a_bare_name_means_the_altmark_s_place_then_a_town_then_the_nearest(
    gaz, typed, expected, municipality
) -> None:
    place = gaz.lookup(typed)
    assert (place.name, place.municipality) == (expected, municipality)


def test_the_other_places_of_a_name_are_named_apart_and_found_by_region(gaz) -> None:
    other = gaz.lookup("Kläden (Arendsee)")
    assert other.municipality == "Arendsee (Altmark)"
    assert gaz.lookup("Kläden", within="Altmarkkreis Salzwedel") is other
    assert gaz.lookup("Kläden", postcode="39619") is other
    assert gaz.lookup("39619 Kläden") is other
    berlin_buch = gaz.lookup("Buch", within="Berlin")
    assert (berlin_buch.name, berlin_buch.postcode) == ("Buch (Berlin)", "13125")
    bavarian = gaz.lookup("Neuendorf", within="Bayern")
    assert bavarian.state == "Bayern"
    assert bavarian.name != "Neuendorf"
    assert gaz.lookup("Neuendorf (Bayern)") is bavarian
    assert gaz.lookup("Neuendorf", within="Brandenburg").state == "Brandenburg"
    assert gaz.lookup("Osterburg", within=ALTMARK).name == "Osterburg (Altmark)"
    assert gaz.lookup("Buch (13125)") is berlin_buch
    assert gaz.lookup("Tangermünde (Elbe)").name == "Tangermünde"  # a river, not a place
    with pytest.raises(UnknownPlaceError, match="unbekannter Ort 'Neuendorf \\(Saarland\\)'"):
        gaz.lookup("Neuendorf (Saarland)")


def test_for_every_name_the_place_it_means_follows_the_rules(gaz) -> None:
    """Altmark first; outside it a town first; then exactly the name; then the nearest."""
    groups: dict[str, list[Place]] = defaultdict(list)
    for place in gaz.places:
        for key in lookup_keys(place.name):
            groups[key].append(place)
    checked = 0
    for key, members in groups.items():
        if len(members) < 2:
            continue
        chosen = gaz.lookup(key)
        assert chosen in members, key
        if any(p.in_altmark for p in members):
            assert chosen.in_altmark, key
            continue
        if any(p.kind == "Stadt" for p in members):
            assert chosen.kind == "Stadt", key
            members = [p for p in members if p.kind == "Stadt"]
        exact = [p for p in members if normalise_place_name(p.name) == key]
        tier = exact or members
        assert chosen in tier, key
        assert gaz.altmark_km(chosen) == min(gaz.altmark_km(p) for p in tier), key
        checked += 1
    assert checked > 500


def test_a_tiny_gazetteer_ranks_by_the_same_rules() -> None:
    def village(name: str, ags: str, kind: str = "Ortsteil", lat: float = 52.0) -> Place:
        return Place(name, "Kreis", "Gemeinde", kind, "12345", lat, 11.0, ags, None, "Land")

    places = [
        village("Musterdorf (Nord)", "03000001"),
        village("Musterdorf", "03000002", lat=52.5),
        village("Musterdorf (Altmark)", "15090001"),
        village("Musterstadt (Hessen)", "06000001", kind="Stadt"),
        village("Musterstadt", "03000003", kind="Gemeinde"),
    ]
    km = {"Musterdorf (Nord)": 10.0, "Musterdorf": 20.0, "Musterstadt (Hessen)": 300.0}
    gaz = Gazetteer(places, altmark_km=km | {"Musterstadt": 5.0})
    assert gaz.lookup("Musterdorf").name == "Musterdorf (Altmark)"
    assert gaz.lookup("Musterdorf", within="03").name == "Musterdorf (Nord)"
    assert gaz.lookup("musterdorf (nord)").ags == "03000001"
    assert gaz.lookup("Musterstadt").name == "Musterstadt (Hessen)"  # a town before a village
    assert gaz.candidates("Musterdorf")[0].name == "Musterdorf (Altmark)"


# -- postcodes -----------------------------------------------------------------------------


def test_a_postcode_means_its_town_and_may_serve_several_municipalities(gaz) -> None:
    assert gaz.lookup("39606").name == "Osterburg (Altmark)"
    assert gaz.lookup("39606 Osterburg").name == "Osterburg (Altmark)"
    area = gaz.postcode("39606")
    assert len(area.municipalities) > 1
    assert area.municipalities[0].name == "Osterburg (Altmark)"
    villages = {p.name for p in gaz.places_with_postcode("39606")}
    assert {"Osterburg (Altmark)", "Krevese", "Flessau"} <= villages


def test_a_municipality_may_have_many_postcodes(gaz) -> None:
    berlin = gaz.postcodes_of("Berlin")
    assert len(berlin) > 150
    assert "10115" in berlin
    assert "13125" in berlin
    assert len(gaz.postcodes_of("Magdeburg")) > 10
    assert gaz.postcodes_of("Krevese") == ["39606"]


def test_a_postcode_and_a_name_that_do_not_belong_together_are_refused(gaz) -> None:
    with pytest.raises(UnknownPlaceError) as caught:
        gaz.lookup("10115 Osterburg")
    assert "mit der Postleitzahl 10115" in str(caught.value)
    assert "Osterburg (Altmark)" in caught.value.suggestions
    with pytest.raises(UnknownPostcodeError, match="unbekannte Postleitzahl '00000'"):
        gaz.lookup("00000")


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("Stendahl", "Stendal"),
        ("Osterbrug", "Osterburg (Altmark)"),
        ("Wolfsbrug", "Wolfsburg"),
        ("Salzwedl", "Salzwedel"),
    ],
)
def test_an_unknown_name_is_answered_in_german_with_close_names(gaz, typed, suggested) -> None:
    with pytest.raises(UnknownPlaceError) as caught:
        gaz.lookup(typed)
    assert caught.value.suggestions[0] == suggested
    assert str(caught.value).startswith(f"unbekannter Ort {typed!r} (meinten Sie: {suggested}")
    assert gaz.get(typed) is None
    assert typed not in gaz


def test_a_place_not_in_the_region_asked_for_names_the_region(gaz) -> None:
    with pytest.raises(UnknownPlaceError) as caught:
        gaz.lookup("Osterburg", within="Bayern")
    assert str(caught.value).startswith("unbekannter Ort 'Osterburg' in Bayern")
    with pytest.raises(UnknownPlaceError) as nowhere:
        gaz.lookup("Atlantis")
    assert nowhere.value.suggestions == []
    assert str(nowhere.value) == "unbekannter Ort 'Atlantis'"


def test_an_unknown_region_is_an_error_with_close_names(gaz) -> None:
    with pytest.raises(UnknownRegionError) as caught:
        gaz.lookup("Stendal", within="Brandenburgg")
    assert "unbekannte Region 'Brandenburgg'" in str(caught.value)
    assert caught.value.suggestions[0] == "Brandenburg"
    with pytest.raises(UnknownRegionError):
        gaz.get("Stendal", within="99")
    assert gaz.region("Landkreis Gifhorn").prefixes == ("03151",)
    assert gaz.region("15").prefixes == ("15",)
    assert gaz.region("Stendal").prefixes == ("15090",)


# -- distances and radius queries ----------------------------------------------------------


def _law_of_cosines(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0088 * math.acos(max(-1.0, min(1.0, c)))


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [  # straight-line distances between the city centres, as atlases give them (±2 %)
        ("Berlin", "München", 504),
        ("Hamburg", "Berlin", 255),
        ("Hamburg", "München", 612),
        ("Köln", "Frankfurt am Main", 152),
    ],
)
def test_distances_between_towns_are_the_known_ones(gaz, a, b, km) -> None:
    d = gaz.distance_km(a, b)
    assert d == pytest.approx(km, rel=0.02)
    pa, pb = gaz.lookup(a), gaz.lookup(b)
    reference = _law_of_cosines(pa.latitude, pa.longitude, pb.latitude, pb.longitude)
    assert d == pytest.approx(reference, abs=1e-6)
    assert gaz.distance_km(a, a) == 0


def test_distances_in_the_altmark_are_plausible(gaz) -> None:
    assert 48 < gaz.distance_km("Stendal", "Salzwedel") < 60
    assert 7 < gaz.distance_km("Stendal", "Tangermünde") < 13
    assert 50 < gaz.distance_km("Stendal", "Magdeburg") < 60


def test_haversine_against_a_known_arc() -> None:
    assert math.isclose(haversine_km(0, 0, 90, 0), math.pi / 2 * 6371.0088, rel_tol=1e-9)
    assert math.isclose(haversine_km(52, 11, 52, 12), haversine_km(52, 12, 52, 11))


def _brute_force(lats, lons, lat, lon, km) -> list[tuple[int, float]]:
    hits = [
        (i, haversine_km(lat, lon, a, b)) for i, (a, b) in enumerate(zip(lats, lons, strict=True))
    ]
    return sorted(((i, d) for i, d in hits if d <= km), key=lambda h: (h[1], h[0]))


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(46.5, 56.0),
    lon=st.floats(5.0, 16.0),
    km=st.floats(0.0, 80.0),
)
def test_places_within_a_radius_are_those_a_brute_force_finds(lat, lon, km) -> None:
    gaz = load_gazetteer()
    found = gaz.near(lat, lon, km)
    places = gaz.places
    expected = _brute_force(
        [p.latitude for p in places], [p.longitude for p in places], lat, lon, km
    )
    assert [(p.name, d) for p, d in found] == [(places[i].name, d) for i, d in expected]


@settings(max_examples=40, deadline=None)
@given(lat=st.floats(47.0, 55.5), lon=st.floats(5.5, 15.5), km=st.floats(0.0, 60.0))
def test_postcodes_within_a_radius_are_those_a_brute_force_finds(lat, lon, km) -> None:
    gaz = load_gazetteer()
    areas = list(gaz.postcodes.values())
    expected = _brute_force([a.latitude for a in areas], [a.longitude for a in areas], lat, lon, km)
    assert [(a.postcode, d) for a, d in gaz.postcodes_near(lat, lon, km)] == [
        (areas[i].postcode, d) for i, d in expected
    ]


@settings(max_examples=80, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0)), min_size=1, max_size=60
    ),
    centre=st.tuples(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0)),
    km=st.floats(0.0, 5_000.0),
)
def test_the_grid_agrees_with_a_brute_force_anywhere_on_earth(points, centre, km) -> None:
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    grid = PointGrid(lats, lons)
    assert grid.within(*centre, km) == _brute_force(lats, lons, *centre, km)


def test_places_around_a_town_are_sorted_by_distance(gaz) -> None:
    around = gaz.around("Stendal", 10)
    assert around[0][0].name == "Stendal"
    assert around[0][1] == 0
    assert {"Uenglingen", "Dahlen"} <= {p.name for p, _ in around}
    assert all(d <= 10 for _, d in around)
    assert [d for _, d in around] == sorted(d for _, d in around)
    only_altmark = gaz.near(52.7, 11.0, 30, within="Altmark")
    assert only_altmark
    assert all(p.in_altmark for p, _ in only_altmark)
