"""The Altmark gazetteer: towns and villages with coordinates, looked up by name.

Staff type place names the way they say them ("Osterburg", "osterburg (altmark)",
"Tangermuende", "Hansestadt Stendal"), so lookups normalise case, umlauts, the
"Hansestadt"/"Stadt" prefixes and parenthesised suffixes such as "(Altmark)".
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

EARTH_RADIUS_KM = 6371.0088

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e"})
_PREFIX = re.compile(r"^(hansestadt|stadt|gemeinde|flecken)\s+")
_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")
_SPACES = re.compile(r"[\s\-_/]+")


@dataclass(frozen=True, slots=True)
class Place:
    """One place of the gazetteer; coordinates in WGS 84 degrees.

    `ags` is the municipality's official key (Amtlicher Gemeindeschlüssel); `population`
    is GeoNames' figure for the place itself, where it gives one.
    """

    name: str
    district: str
    municipality: str
    kind: str
    postcode: str
    latitude: float
    longitude: float
    ags: str = ""
    population: int | None = None


class UnknownPlaceError(KeyError):
    """A name that is not in the gazetteer; the message suggests close names."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" (meinten Sie: {', '.join(suggestions)}?)" if suggestions else ""
        self.name = name
        self.suggestions = suggestions
        super().__init__(f"unbekannter Ort {name!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


def normalise_place_name(name: str) -> str:
    """The lookup key of a place name: lower case, umlauts spelled out, no suffix."""
    key = name.strip().lower().translate(_UMLAUTS)
    key = _SUFFIX.sub("", key)
    key = _PREFIX.sub("", key)
    return _SPACES.sub(" ", key).strip()


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km; accurate to well under 1 % at Altmark scale."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class Gazetteer:
    """Places by normalised name, with distances between them."""

    def __init__(self, places: list[Place]) -> None:
        self.places: tuple[Place, ...] = tuple(places)
        self._by_key: dict[str, Place] = {}
        for place in self.places:
            key = normalise_place_name(place.name)
            if key in self._by_key:
                raise ValueError(f"two places share the lookup key {key!r}")
            self._by_key[key] = place

    def __len__(self) -> int:
        return len(self.places)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalise_place_name(name) in self._by_key

    def get(self, name: str) -> Place | None:
        """The place called `name`, or None."""
        return self._by_key.get(normalise_place_name(name))

    def lookup(self, name: str) -> Place:
        """The place called `name`; raises UnknownPlaceError with suggestions."""
        place = self.get(name)
        if place is None:
            key = normalise_place_name(name)
            close = difflib.get_close_matches(key, list(self._by_key), n=3, cutoff=0.75)
            raise UnknownPlaceError(name, [self._by_key[k].name for k in close])
        return place

    def distance_km(self, a: str | Place, b: str | Place) -> float:
        """Straight-line distance between two places (names or Place objects)."""
        pa = a if isinstance(a, Place) else self.lookup(a)
        pb = b if isinstance(b, Place) else self.lookup(b)
        return haversine_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude)


def _read_places() -> list[Place]:
    text = resources.files("diko_shared.geo").joinpath("altmark.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]  # the sources
    return [
        Place(
            name=row["name"],
            district=row["district"],
            municipality=row["municipality"],
            kind=row["kind"],
            postcode=row["postcode"],
            latitude=float(row["latitude"]),
            longitude=float(row["longitude"]),
            ags=row.get("ags") or "",
            population=int(row["population"]) if row.get("population") else None,
        )
        for row in csv.DictReader(lines)
    ]


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The packaged Altmark gazetteer (read once per process)."""
    return Gazetteer(_read_places())
