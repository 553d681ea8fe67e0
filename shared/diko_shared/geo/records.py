"""The gazetteer's records: places, areas, postcodes, regions, and its errors."""

from __future__ import annotations

from array import array
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from diko_shared.geo.ranking import ALTMARK_DISTRICTS, in_altmark


@dataclass(frozen=True, slots=True)
class Place:
    """One place: a municipality (kind Stadt, Gemeinde, Flecken) or a part of one (Ortsteil).

    `name` is canonical: unique, and the lookup of it gives this place. `district` is the
    Landkreis or kreisfreie Stadt, `state` the Land; `ags` is the municipality's official
    key (Amtlicher Gemeindeschlüssel); `postcode` the one GeoNames gives the place;
    `population` GeoNames' figure for the place itself, where it gives one.
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
    state: str = ""

    @property
    def in_altmark(self) -> bool:
        return in_altmark(self.ags)


@dataclass(frozen=True, slots=True)
class Area:
    """A Land (2-digit key), district (5) or municipality (8) of VG250."""

    key: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class PostcodeArea:
    """A postcode: the mean point of its records and the municipalities it serves."""

    postcode: str
    latitude: float
    longitude: float
    municipalities: tuple[Area, ...]  # the one with most records first


@dataclass(frozen=True, slots=True)
class Region:
    """Places whose municipality key starts with one of `prefixes`."""

    name: str
    prefixes: tuple[str, ...]

    def contains(self, ags: str) -> bool:
        return ags.startswith(self.prefixes)


ALTMARK = Region("Altmark", ALTMARK_DISTRICTS)


class UnknownPlaceError(KeyError):
    """A name the gazetteer does not know (where asked: in that region or postcode).

    The message is German, for people; `suggestions` are canonical names close to it.
    """

    def __init__(self, name: str, suggestions: list[str], where: str | None = None) -> None:
        self.name = name
        self.suggestions = suggestions
        self.where = where
        super().__init__(self._message())

    def _message(self) -> str:
        place = f"unbekannter Ort {self.name!r}" + (f" {self.where}" if self.where else "")
        return place + self._hint()

    def _hint(self) -> str:
        return f" (meinten Sie: {', '.join(self.suggestions)}?)" if self.suggestions else ""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownPostcodeError(UnknownPlaceError):
    """A postcode that no place has."""

    def _message(self) -> str:
        return f"unbekannte Postleitzahl {self.name!r}" + self._hint()


class UnknownRegionError(UnknownPlaceError):
    """A region (Land, district, municipality, 'Altmark', key) the gazetteer does not know."""

    def _message(self) -> str:
        return f"unbekannte Region {self.name!r}" + self._hint()


@dataclass
class PlaceTable:
    """The places as columns, as the packaged file holds them: one index per place."""

    names: list[str]
    ags: list[str]
    kinds: list[str]
    postcodes: list[str]
    latitudes: array[float]
    longitudes: array[float]
    populations: list[int | None]
    altmark_km: array[float]
    listed: list[int]  # indices, in the order of the Altmark list

    @classmethod
    def of(
        cls,
        places: list[Place],
        listed: Collection[str] = (),
        altmark_km: Mapping[str, float] | None = None,
    ) -> PlaceTable:
        index = {p.name: i for i, p in enumerate(places)}
        km = altmark_km or {}
        return cls(
            [p.name for p in places],
            [p.ags for p in places],
            [p.kind for p in places],
            [p.postcode for p in places],
            array("d", (p.latitude for p in places)),
            array("d", (p.longitude for p in places)),
            [p.population for p in places],
            array("d", (km.get(p.name, 0.0) for p in places)),
            [index[n] for n in listed],
        )
