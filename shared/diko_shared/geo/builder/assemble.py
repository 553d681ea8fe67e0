"""From the three data sets to the gazetteer's tables: places, postcodes, areas.

* Every VG250 municipality becomes a place (kind Stadt or Gemeinde), its point that
  of the GeoNames place of the same name inside it, else GeoNames' postal point of
  that name, else a point inside its boundary.
* Every other GeoNames place (cities500) and every village the postal export names
  becomes an Ortsteil of the municipality it lies in.
* Every postal record ties its postcode to the municipality it lies in; records that
  name a large customer ("Finanzamt Passau") give a postcode but no place.
* The places of `altmark.csv` (the Altmark list the network works with) keep their
  names and kinds and are marked as listed.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from diko_shared.geo.builder.areas import AreaIndex, Municipality, RegionOutline
from diko_shared.geo.distance import haversine_km
from diko_shared.geo.names import fold, normalise_place_name, short_key

ALTMARK_DISTRICTS = ("15081", "15090")
NEAR_KM = 8.0  # how far a coarse postal point may lie from the municipality it names
EDGE_KM = 3.0  # how far outside every boundary a GeoNames point may lie (coast, rivers)

_EXTRA_PREFIX = re.compile(r"^(luftkurort|flecken|hansestadt)\s+", re.IGNORECASE)
_NOT_A_PLACE = re.compile(
    r"\b(gmbh|mbh|ag|kg|kgaa|se|eg|ohg|gbr|e\.? ?v|co|inc|ltd|amt|aemter|verwaltung|"
    r"gericht|polizei|bank|kasse|versicherung|klinik|klinikum|krankenhaus|post|verlag|"
    r"filiale|niederlassung|zentrale|direktion|abteilung|abt|werk|werke|universitaet|"
    r"hochschule|schule|kammer|agentur|stiftung|verband|landratsamt|finanzamt|"
    r"stadtverwaltung|rathaus|kreisverwaltung|postfach|logistik|service|services|institut)\b|\d"
)


@cache
def match_key(name: str) -> str:
    """The key names are compared by: normalised, without 'Luftkurort'/'Flecken'."""
    return normalise_place_name(_EXTRA_PREFIX.sub("", name.strip()))


@dataclass
class PlaceRec:
    """A place while the build assembles it."""

    name: str
    ags: str
    kind: str
    latitude: float
    longitude: float
    source: str
    population: int | None = None
    geonameid: int | None = None
    listed: bool = False
    postcode: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)  # its postal records
    altmark_km: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return match_key(self.name), self.ags


@dataclass
class Tables:
    """What the build writes."""

    places: list[PlaceRec]
    postcodes: dict[str, tuple[float, float, list[str]]]  # code -> lat, lon, AGS (main first)
    areas: list[tuple[str, str, str]]  # key, name, kind: Länder, districts, municipalities
    notes: list[str]


@dataclass
class Listed:
    """One line of altmark.csv: a place the network works with, as staff name it."""

    name: str
    municipality: str
    kind: str


def _postal_keys(city: str, municipality: str) -> set[str]:
    """'Salzwedel Stappenbeck' is Stappenbeck in Salzwedel: both readings count."""
    key = match_key(city)
    keys = {key}
    prefix = match_key(municipality) + " "
    if key.startswith(prefix):
        keys.add(key[len(prefix) :])
    return keys


def _split_after(name: str, municipality: str) -> list[str] | None:
    """'Mülsen Ortmannsdorf, Marienau' in Mülsen -> ['Ortmannsdorf', 'Marienau']."""
    words = name.split()
    n = len(municipality.split())
    if len(words) <= n or fold(" ".join(words[:n])) != fold(municipality):
        return None
    rest = " ".join(words[n:])
    if _NOT_A_PLACE.search(fold(rest)):
        return None
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    return parts or None


class Assembler:
    """Holds the sources and the area index while the tables are assembled."""

    def __init__(
        self,
        cities: list[dict[str, Any]],
        postal: list[dict[str, Any]],
        municipalities: list[Municipality],
        districts: dict[str, tuple[str, str]],
        states: dict[str, str],
        altmark_outline: RegionOutline,
    ) -> None:
        self.cities = cities
        self.postal = postal
        self.index = AreaIndex(municipalities)
        self.municipalities = municipalities
        self.districts = districts
        self.states = states
        self.outline = altmark_outline
        self.mkey = {m.ags: match_key(m.name) for m in municipalities}
        self.mshort = {m.ags: {self.mkey[m.ags], short_key(m.name)} for m in municipalities}
        self.mfold = {m.ags: fold(m.name) for m in municipalities}
        self.notes: list[str] = []

    # -- where each source record lies ------------------------------------------------

    def _home(self, lat: float, lon: float, km: float = EDGE_KM) -> Municipality | None:
        inside = self.index.containing(lat, lon)
        if inside is not None:
            return inside
        near = self.index.nearby(lat, lon, km)
        return near[0][1] if near else None

    def _place_cities(self) -> dict[str, list[dict[str, Any]]]:
        by_ags: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.cities:
            home = self._home(r["latitude"], r["longitude"])
            if home is None:
                self.notes.append(f"cities500 {r['geonameid']} {r['name']}: outside every area")
                continue
            by_ags[home.ags].append(r)
        return by_ags

    def _classify_postal(
        self, r: dict[str, Any], city_keys: dict[str, set[str]]
    ) -> tuple[str, str | None, list[str]]:
        """(AGS, role, village names): role 'municipality', 'village' or None (a customer)."""
        lat, lon, key = r["latitude"], r["longitude"], match_key(r["city"])
        home = self._home(lat, lon, NEAR_KM)
        if home is None:
            raise SystemExit(f"postal {r['postal_code']} {r['city']}: outside every area")
        keys = {key, short_key(r["city"])}
        if self.mshort[home.ags] & keys:
            return home.ags, "municipality", []
        reach = NEAR_KM if r["accuracy"] == 0 else 1.5
        for _, m in self.index.nearby(lat, lon, reach, lambda m: bool(self.mshort[m.ags] & keys)):
            return m.ags, "municipality", []
        folded = fold(r["city"])
        for _, m in self.index.nearby(
            lat, lon, NEAR_KM, lambda m: folded.startswith(self.mfold[m.ags] + " ")
        ):
            parts = _split_after(r["city"], m.name)
            if parts is not None:
                if [match_key(p) for p in parts] == [self.mkey[m.ags]]:
                    return m.ags, "municipality", []
                return m.ags, "village", parts
        if _NOT_A_PLACE.search(folded):
            return home.ags, None, []
        if r["accuracy"] > 0:
            return home.ags, "village", [r["city"]]
        for _, m in self.index.nearby(lat, lon, 5.0, lambda m: key in city_keys.get(m.ags, set())):
            return m.ags, "village", [r["city"]]
        return home.ags, None, []

    # -- the tables -------------------------------------------------------------------

    def build(self, listed: list[Listed]) -> Tables:
        cities = self._place_cities()
        city_keys = {
            ags: {match_key(n) for r in rs for n in [r["name"], *r["alternatenames"]] if n}
            for ags, rs in cities.items()
        }
        pairs: dict[str, list[str]] = defaultdict(list)  # postcode -> AGS of each record
        municipal_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        village_rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in self.postal:
            ags, role, parts = self._classify_postal(r, city_keys)
            pairs[str(r["postal_code"])].append(ags)
            if role == "municipality":
                municipal_rows[ags].append(r)
            for part in parts:
                village_rows[(match_key(part), ags)].append({**r, "city": part})

        places: dict[tuple[str, str], PlaceRec] = {}
        by_geonameid: dict[int, PlaceRec] = {}
        for m in self.municipalities:
            rec = self._municipal_place(m, cities.get(m.ags, []), municipal_rows[m.ags])
            if rec is not None:
                places[rec.key] = rec
                if rec.geonameid is not None:
                    by_geonameid[rec.geonameid] = rec
        self._add_cities(cities, places, by_geonameid)
        self._add_villages(village_rows, places)
        for ags, rows in municipal_rows.items():
            key = (self.mkey[ags], ags)
            if key in places:
                places[key].rows.extend(rows)
        for item in listed:
            self._apply_listed(item, places, cities, by_geonameid)

        recs = sorted(places.values(), key=lambda p: (p.ags, p.kind == "Ortsteil", p.name))
        rows_by_ags: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in recs:
            rows_by_ags[rec.ags].extend(rec.rows)
        for rec in recs:
            rec.postcode = self._postcode(rec, municipal_rows[rec.ags], rows_by_ags[rec.ags])
            rec.altmark_km = self._altmark_km(rec)
        return Tables(recs, self._postcodes(pairs, recs), self._areas(), self.notes)

    @staticmethod
    def _add_cities(
        cities: dict[str, list[dict[str, Any]]],
        places: dict[tuple[str, str], PlaceRec],
        by_geonameid: dict[int, PlaceRec],
    ) -> None:
        """Every other GeoNames place: an Ortsteil; of two of one name, the larger."""
        for ags, rs in cities.items():
            for r in rs:
                if r["geonameid"] in by_geonameid:
                    continue  # a municipality's own point
                rec = PlaceRec(
                    r["name"],
                    ags,
                    "Ortsteil",
                    r["latitude"],
                    r["longitude"],
                    "cities500",
                    r["population"] or None,
                    r["geonameid"],
                )
                old = places.get(rec.key)
                if old is not None:
                    if old.source != "cities500" or old.kind != "Ortsteil":
                        continue
                    if (r["population"], -r["geonameid"]) <= (
                        old.population or 0,
                        -(old.geonameid or 0),
                    ):
                        continue
                    if old.geonameid is not None:
                        by_geonameid.pop(old.geonameid, None)
                places[rec.key] = rec
                by_geonameid[r["geonameid"]] = rec

    @staticmethod
    def _add_villages(
        village_rows: dict[tuple[str, str], list[dict[str, Any]]],
        places: dict[tuple[str, str], PlaceRec],
    ) -> None:
        """Every village the postal export names that GeoNames' places lack: an Ortsteil."""
        for (key, ags), rows in sorted(village_rows.items()):
            rec = places.get((key, ags))
            if rec is None:
                best = min(rows, key=lambda r: (-r["accuracy"], r["postal_code"]))
                rec = PlaceRec(
                    best["city"], ags, "Ortsteil", best["latitude"], best["longitude"], "postal"
                )
                places[(key, ags)] = rec
            rec.rows.extend(rows)

    def _municipal_place(
        self, m: Municipality, cities: list[dict[str, Any]], rows: list[dict[str, Any]]
    ) -> PlaceRec | None:
        if m.kind == "Gemeindefreies Gebiet":
            return None
        key = self.mkey[m.ags]
        by_name = [r for r in cities if match_key(r["name"]) == key]
        by_alias = [r for r in cities if any(match_key(a) == key for a in r["alternatenames"] if a)]
        short = short_key(m.name)
        by_short = [r for r in cities if short_key(r["name"]) == short]
        found = by_name or by_alias or by_short
        if found:
            best = max(found, key=lambda r: (r["population"], -r["geonameid"]))
            return PlaceRec(
                m.name,
                m.ags,
                m.kind,
                best["latitude"],
                best["longitude"],
                "cities500",
                best["population"] or None,
                best["geonameid"],
            )
        if rows:
            best = min(rows, key=lambda r: (-r["accuracy"], r["postal_code"]))
            return PlaceRec(m.name, m.ags, m.kind, best["latitude"], best["longitude"], "postal")
        lat, lon = m.representative_point()
        return PlaceRec(m.name, m.ags, m.kind, round(lat, 5), round(lon, 5), "vg250")

    def _apply_listed(
        self,
        item: Listed,
        places: dict[tuple[str, str], PlaceRec],
        cities: dict[str, list[dict[str, Any]]],
        by_geonameid: dict[int, PlaceRec],
    ) -> None:
        """A place of the Altmark list: found as the first build found it, named as listed."""
        m = next(
            (
                x
                for x in self.municipalities
                if x.ags[:5] in ALTMARK_DISTRICTS and x.name == item.municipality
            ),
            None,
        )
        if m is None:
            raise SystemExit(f"{item.name}: no VG250 municipality {item.municipality!r}")
        key = match_key(item.name)
        rec: PlaceRec | None = None
        if key == self.mkey[m.ags]:
            rec = places.get((key, m.ags))
        else:
            in_area = [
                r for r in cities.get(m.ags, []) if m.contains(r["latitude"], r["longitude"])
            ]
            by_name = [r for r in in_area if match_key(r["name"]) == key]
            by_alias = [
                r for r in in_area if any(match_key(a) == key for a in r["alternatenames"] if a)
            ]
            found = by_name or by_alias
            if found:
                best = max(found, key=lambda r: (r["population"], -r["geonameid"]))
                rec = by_geonameid.get(best["geonameid"])
                if rec is not None and rec.kind != "Ortsteil":  # the municipality's own point
                    rec = PlaceRec(
                        item.name,
                        m.ags,
                        item.kind,
                        rec.latitude,
                        rec.longitude,
                        rec.source,
                        rec.population,
                        rec.geonameid,
                    )
            if rec is None:
                rec = places.get((key, m.ags))
            if rec is None:
                hits = [
                    r
                    for r in self.postal
                    if m.contains(r["latitude"], r["longitude"])
                    and key in _postal_keys(r["city"], m.name)
                ]
                if hits:
                    best = min(hits, key=lambda r: (-r["accuracy"], r["postal_code"]))
                    rec = PlaceRec(
                        item.name, m.ags, item.kind, best["latitude"], best["longitude"], "postal"
                    )
        if rec is None:
            self.notes.append(f"left out, in none of the sources: {item.name}")
            return
        places.pop(rec.key, None)
        rec.name, rec.kind, rec.listed = item.name, item.kind, True
        rec.rows.extend(
            r
            for r in self.postal
            if m.contains(r["latitude"], r["longitude"]) and key in _postal_keys(r["city"], m.name)
        )
        places[rec.key] = rec

    def _postcode(
        self, rec: PlaceRec, municipal: list[dict[str, Any]], local: list[dict[str, Any]]
    ) -> str:
        """The postcode GeoNames gives the place, else its municipality's, else the nearest."""
        for rows in (rec.rows, municipal, local):
            if rows:
                best = min(
                    rows,
                    key=lambda r: (
                        haversine_km(rec.latitude, rec.longitude, r["latitude"], r["longitude"]),
                        str(r["postal_code"]),
                    ),
                )
                return str(best["postal_code"])
        best = min(
            self.postal,
            key=lambda r: (
                haversine_km(rec.latitude, rec.longitude, r["latitude"], r["longitude"]),
                str(r["postal_code"]),
            ),
        )
        self.notes.append(
            f"{rec.name} ({rec.ags}): no postal record, nearest {best['postal_code']}"
        )
        return str(best["postal_code"])

    def _altmark_km(self, rec: PlaceRec) -> float:
        if rec.ags[:5] in ALTMARK_DISTRICTS:
            return 0.0
        return round(self.outline.distance_km(rec.latitude, rec.longitude), 1)

    def _postcodes(
        self, pairs: dict[str, list[str]], recs: list[PlaceRec]
    ) -> dict[str, tuple[float, float, list[str]]]:
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for r in self.postal:
            points[str(r["postal_code"])].append((r["latitude"], r["longitude"]))
        for rec in recs:  # a municipality without a record of its own: its place's postcode
            if rec.kind != "Ortsteil" and rec.ags not in pairs[rec.postcode]:
                pairs[rec.postcode].append(rec.ags)
        out = {}
        for code in sorted(pairs):
            counts: dict[str, int] = defaultdict(int)
            for ags in pairs[code]:
                counts[ags] += 1
            lats = [p[0] for p in points[code]]
            lons = [p[1] for p in points[code]]
            out[code] = (
                round(math.fsum(lats) / len(lats), 4),
                round(math.fsum(lons) / len(lons), 4),
                sorted(counts, key=lambda a: (-counts[a], a)),
            )
        return out

    def _areas(self) -> list[tuple[str, str, str]]:
        rows = [(k, n, "Land") for k, n in sorted(self.states.items())]
        rows += [(k, n, kind) for k, (n, kind) in sorted(self.districts.items())]
        rows += [(m.ags, m.name, m.kind) for m in self.municipalities]
        return rows
