"""Reading the packaged tables (see README.md) into the gazetteer's columns."""

from __future__ import annotations

import csv
import sys
from array import array
from collections.abc import Callable, Iterator
from importlib import resources

from diko_shared.geo.files import AREAS_FILE, LISTED_FILE, PLACES_FILE, POSTCODES_FILE
from diko_shared.geo.records import Area, PlaceTable, PostcodeArea


def _rows(name: str) -> Iterator[list[str]]:
    """The data rows of a packaged file, read line by line (no header, no comments)."""
    with resources.files("diko_shared.geo").joinpath(name).open(encoding="utf-8") as fh:
        rows = csv.reader(line for line in fh if not line.startswith("#"))
        next(rows)
        yield from rows


def _read_postcodes(areas: dict[str, Area]) -> list[PostcodeArea]:
    return [
        PostcodeArea(code, float(lat), float(lon), tuple(areas[k] for k in keys.split()))
        for code, lat, lon, keys in _rows(POSTCODES_FILE)
    ]


def read_tables() -> tuple[PlaceTable, dict[str, Area], Callable[[], list[PostcodeArea]]]:
    """The places as columns, the areas by key, and a reader of the postcodes for later."""
    intern = sys.intern
    areas = {
        intern(key): Area(intern(key), name, intern(kind)) for key, name, kind in _rows(AREAS_FILE)
    }
    table = PlaceTable([], [], [], [], array("d"), array("d"), [], array("d"), [])
    flagged: dict[str, int] = {}
    for name, ags, kind, code, lat, lon, pop, km, listed, *_ in _rows(PLACES_FILE):
        if listed:
            flagged[name] = len(table.names)
        table.names.append(name)
        table.ags.append(intern(ags))
        table.kinds.append(intern(kind))
        table.postcodes.append(intern(code))
        table.latitudes.append(float(lat))
        table.longitudes.append(float(lon))
        table.populations.append(int(pop) if pop else None)
        table.altmark_km.append(float(km))
    table.listed.extend(flagged[row[0]] for row in _rows(LISTED_FILE) if row[0] in flagged)
    return table, areas, lambda: _read_postcodes(areas)
