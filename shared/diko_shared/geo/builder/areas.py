"""Municipal boundaries: which municipality a point lies in, and how far one is.

VG250's municipalities are polygons of some 1.8 million vertices in all. A grid of
bounding boxes narrows each question to the few municipalities near the point; ray
casting answers it. Distances to a boundary are measured on a local equirectangular
projection, which is exact to well under a per cent at the few km asked about here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KM_PER_DEG_LAT = 111.2
CELL_DEG = 0.1

Ring = tuple[tuple[float, ...], tuple[float, ...]]  # longitudes, latitudes
Polygon = list[Ring]  # outer ring first, then holes


@dataclass
class Municipality:
    """One VG250 municipality (or unincorporated area) with its boundary."""

    ags: str
    name: str
    kind: str  # BEZ: "Stadt", "Gemeinde" or "Gemeindefreies Gebiet"
    polygons: list[Polygon] = field(default_factory=list)
    bbox: tuple[float, float, float, float] = (180.0, 90.0, -180.0, -90.0)

    def add(self, geometry: dict[str, Any]) -> None:
        parts = geometry["coordinates"]
        if geometry["type"] == "Polygon":
            parts = [parts]
        for rings in parts:
            polygon = [
                (tuple(p[0] for p in ring), tuple(p[1] for p in ring)) for ring in rings if ring
            ]
            self.polygons.append(polygon)
            xs, ys = polygon[0]
            w, s, e, n = self.bbox
            self.bbox = (min(w, min(xs)), min(s, min(ys)), max(e, max(xs)), max(n, max(ys)))

    def contains(self, lat: float, lon: float) -> bool:
        w, s, e, n = self.bbox
        if not (w <= lon <= e and s <= lat <= n):
            return False
        return any(
            _in_ring(lon, lat, poly[0]) and not any(_in_ring(lon, lat, h) for h in poly[1:])
            for poly in self.polygons
        )

    def distance_km(self, lat: float, lon: float) -> float:
        """0 inside, else the distance to the nearest boundary edge."""
        if self.contains(lat, lon):
            return 0.0
        kx = KM_PER_DEG_LAT * math.cos(math.radians(lat))
        best = math.inf
        for poly in self.polygons:
            for xs, ys in poly:
                best = min(best, _ring_distance(lon, lat, xs, ys, kx))
        return best

    def representative_point(self) -> tuple[float, float]:
        """A point inside the municipality: the centroid of its largest part, if inside."""
        xs, ys = max((poly[0] for poly in self.polygons), key=lambda r: abs(_area(*r)))
        area = _area(xs, ys)
        cx = cy = 0.0
        for i in range(len(xs) - 1):
            cross = xs[i] * ys[i + 1] - xs[i + 1] * ys[i]
            cx += (xs[i] + xs[i + 1]) * cross
            cy += (ys[i] + ys[i + 1]) * cross
        lon, lat = cx / (6 * area), cy / (6 * area)
        if self.contains(lat, lon):
            return lat, lon
        # Not convex enough: the middle of the widest inside stretch along that latitude.
        crossings = sorted(
            xs[i] + (lat - ys[i]) * (xs[i + 1] - xs[i]) / (ys[i + 1] - ys[i])
            for i in range(len(xs) - 1)
            if (ys[i] > lat) != (ys[i + 1] > lat)
        )
        spans = [(crossings[i + 1] - crossings[i], i) for i in range(0, len(crossings) - 1, 2)]
        _, i = max(spans)
        return lat, (crossings[i] + crossings[i + 1]) / 2


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    xs, ys = ring
    inside = False
    j = len(xs) - 1
    for i in range(len(xs)):
        yi, yj = ys[i], ys[j]
        if (yi > lat) != (yj > lat):
            xi, xj = xs[i], xs[j]
            if lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
                inside = not inside
        j = i
    return inside


def _area(xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    return sum(xs[i] * ys[i + 1] - xs[i + 1] * ys[i] for i in range(len(xs) - 1)) / 2


def _ring_distance(
    lon: float, lat: float, xs: tuple[float, ...], ys: tuple[float, ...], kx: float
) -> float:
    best = math.inf
    px, py = lon * kx, lat * KM_PER_DEG_LAT
    for i in range(len(xs) - 1):
        ax, ay = xs[i] * kx, ys[i] * KM_PER_DEG_LAT
        bx, by = xs[i + 1] * kx, ys[i + 1] * KM_PER_DEG_LAT
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
        best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
    return best


class AreaIndex:
    """Municipalities by grid cell of their bounding boxes."""

    def __init__(self, municipalities: list[Municipality]) -> None:
        self.by_ags = {m.ags: m for m in municipalities}
        self._cells: dict[tuple[int, int], list[Municipality]] = defaultdict(list)
        for m in municipalities:
            w, s, e, n = m.bbox
            for cx in range(_cell(w), _cell(e) + 1):
                for cy in range(_cell(s), _cell(n) + 1):
                    self._cells[(cx, cy)].append(m)

    def _around(self, lat: float, lon: float, km: float) -> list[Municipality]:
        dlat = km / KM_PER_DEG_LAT
        dlon = km / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
        seen: dict[str, Municipality] = {}
        for cx in range(_cell(lon - dlon), _cell(lon + dlon) + 1):
            for cy in range(_cell(lat - dlat), _cell(lat + dlat) + 1):
                for m in self._cells.get((cx, cy), ()):
                    w, s, e, n = m.bbox
                    if w - dlon <= lon <= e + dlon and s - dlat <= lat <= n + dlat:
                        seen[m.ags] = m
        return [seen[k] for k in sorted(seen)]

    def containing(self, lat: float, lon: float) -> Municipality | None:
        """The municipality the point lies in (the first by AGS where parts overlap)."""
        for m in self._around(lat, lon, 0.0):
            if m.contains(lat, lon):
                return m
        return None

    def nearby(
        self,
        lat: float,
        lon: float,
        km: float,
        where: Callable[[Municipality], bool] | None = None,
    ) -> list[tuple[float, Municipality]]:
        """Municipalities within `km` of the point (those `where` accepts), nearest first."""
        around = self._around(lat, lon, km)
        found = [(m.distance_km(lat, lon), m) for m in around if where is None or where(m)]
        return sorted(((d, m) for d, m in found if d <= km), key=lambda x: (x[0], x[1].ags))


def _cell(deg: float) -> int:
    return math.floor(deg / CELL_DEG)


def read_municipalities(features: list[dict[str, Any]]) -> list[Municipality]:
    """VG250 municipality features (land and water parts) merged by AGS."""
    by_ags: dict[str, Municipality] = {}
    for f in features:
        p = f["properties"]
        m = by_ags.setdefault(p["AGS"], Municipality(p["AGS"], p["GEN"], p["BEZ"]))
        m.add(f["geometry"])
    return [by_ags[k] for k in sorted(by_ags)]


class RegionOutline:
    """The boundary points of a region (some municipalities), for distances from outside."""

    def __init__(self, members: list[Municipality], spacing_km: float = 1.0) -> None:
        self.keys = {m.ags for m in members}
        points: list[tuple[float, float]] = []
        for m in members:
            for poly in m.polygons:
                for xs, ys in poly:
                    for x, y in zip(xs, ys, strict=True):
                        if not points or _planar_km(points[-1], (y, x)) >= spacing_km:
                            points.append((y, x))
        self.points = points

    def distance_km(self, lat: float, lon: float) -> float:
        kx = KM_PER_DEG_LAT * math.cos(math.radians(lat))
        best = min(
            ((lat - y) * KM_PER_DEG_LAT) ** 2 + ((lon - x) * kx) ** 2 for y, x in self.points
        )
        return math.sqrt(best)


def _planar_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    kx = KM_PER_DEG_LAT * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot((a[0] - b[0]) * KM_PER_DEG_LAT, (a[1] - b[1]) * kx)
