"""Straight-line distances, and the points within a radius of a point.

The gazetteer holds some 35,000 points. A radius query over all of them in pure Python
takes tens of milliseconds; a grid of cells about 10 km on a side narrows it to the
cells the circle can touch, so that a query of 50 km around a town reads a few hundred
points. The exact test is always the haversine distance, the same function every
caller measures with, so the grid decides nothing but which points to look at.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEG = math.pi * EARTH_RADIUS_KM / 180  # along a meridian
CELL_LAT = 0.1
CELL_LON = 0.15  # about 10 km at 52° N


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km; within 0.5 % of the ellipsoidal distance in Germany."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class PointGrid:
    """Points by grid cell, for `within(lat, lon, km)`."""

    def __init__(self, latitudes: Sequence[float], longitudes: Sequence[float]) -> None:
        self.latitudes = list(latitudes)
        self.longitudes = list(longitudes)
        self._cells: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (lat, lon) in enumerate(zip(self.latitudes, self.longitudes, strict=True)):
            self._cells[(math.floor(lat / CELL_LAT), math.floor(lon / CELL_LON))].append(i)

    def __len__(self) -> int:
        return len(self.latitudes)

    def _candidates(self, lat: float, lon: float, km: float) -> list[int] | range:
        dlat = km / KM_PER_DEG * 1.001 + 1e-9
        south, north = lat - dlat, lat + dlat
        if south <= -89.0 or north >= 89.0:
            return range(len(self))
        widest = max(abs(south), abs(north))
        dlon = dlat / math.cos(math.radians(widest))
        if dlon >= 180.0 or not -180.0 <= lon - dlon <= lon + dlon <= 180.0:
            return range(len(self))  # near a pole or across the date line: look at all
        found: list[int] = []
        cells = self._cells
        for cy in range(math.floor(south / CELL_LAT), math.floor(north / CELL_LAT) + 1):
            for cx in range(
                math.floor((lon - dlon) / CELL_LON), math.floor((lon + dlon) / CELL_LON) + 1
            ):
                found.extend(cells.get((cy, cx), ()))
        return found

    def within(self, lat: float, lon: float, km: float) -> list[tuple[int, float]]:
        """(index, distance) of every point at most `km` away, nearest first (ties by index)."""
        if km < 0 or math.isnan(km):
            return []
        lats, lons = self.latitudes, self.longitudes
        hits = []
        for i in self._candidates(lat, lon, km):
            d = haversine_km(lat, lon, lats[i], lons[i])
            if d <= km:
                hits.append((i, d))
        hits.sort(key=lambda hit: (hit[1], hit[0]))
        return hits
