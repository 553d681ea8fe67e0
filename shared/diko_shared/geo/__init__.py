"""Reference geography shared by the services: the gazetteer of Germany (the Altmark
first) with postcodes, regions, distances and radius queries."""

from diko_shared.geo.distance import haversine_km
from diko_shared.geo.gazetteer import (
    ALTMARK,
    Area,
    Gazetteer,
    Place,
    PostcodeArea,
    Region,
    UnknownPlaceError,
    UnknownPostcodeError,
    UnknownRegionError,
    load_gazetteer,
)
from diko_shared.geo.names import normalise_place_name

__all__ = [
    "ALTMARK",
    "Area",
    "Gazetteer",
    "Place",
    "PostcodeArea",
    "Region",
    "UnknownPlaceError",
    "UnknownPostcodeError",
    "UnknownRegionError",
    "haversine_km",
    "load_gazetteer",
    "normalise_place_name",
]
