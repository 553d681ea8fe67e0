"""Reference geography shared by the services: the Altmark gazetteer and distances."""

from diko_shared.geo.gazetteer import (
    Gazetteer,
    Place,
    UnknownPlaceError,
    haversine_km,
    load_gazetteer,
    normalise_place_name,
)

__all__ = [
    "Gazetteer",
    "Place",
    "UnknownPlaceError",
    "haversine_km",
    "load_gazetteer",
    "normalise_place_name",
]
