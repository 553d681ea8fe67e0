"""The gazetteer: every German municipality and postcode, and the places people write as
their town, looked up by name, by postcode, or around a point; the Altmark first.

People type "Osterburg", "osterburg (altmark)", "Tangermuende", "39606 Osterburg",
"39606" or "Neuendorf (Brandenburg)". A canonical name with its bracket finds that
place ("Kläden (Arendsee)"); any other name finds every place of that name (or short
for it), of which the Altmark's comes first (see `ranking`), and the bare name of a
place is its canonical name only where it is that first one. A postcode narrows the
choice, and so does a region in brackets or in `within=`.

The tables are packaged CSV files (see README.md and `tables`), read once per process on
first use; the records and errors are in `records`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import lru_cache

from diko_shared.geo.distance import PointGrid, haversine_km
from diko_shared.geo.names import (
    fold,
    full_key,
    lookup_keys,
    name_keys,
    normalise_place_name,
    split_suffix,
)
from diko_shared.geo.ranking import group_rank, rank_key
from diko_shared.geo.records import (
    ALTMARK,
    Area,
    Place,
    PlaceTable,
    PostcodeArea,
    Region,
    UnknownPlaceError,
    UnknownPostcodeError,
    UnknownRegionError,
)
from diko_shared.geo.tables import read_tables

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
    "load_gazetteer",
]

_POSTCODE = re.compile(r"^\d{5}$")
_POSTCODE_AND_NAME = re.compile(r"^(\d{5})\s+(\S.*)$")
_DIGITS = re.compile(r"^\d{1,8}$")
_MEMO_SIZE = 100_000
_REGION_KEYS = (full_key, normalise_place_name, lambda name: lookup_keys(name)[-1])
"""A region's name is compared as written, then without a suffix, then in its short form."""


class Gazetteer:
    """Places by name and postcode, with distances and radius queries.

    `Gazetteer(places, ...)` builds one from Place objects (tests, tools);
    `load_gazetteer()` reads the packaged one, whose Place objects are made when asked for.
    """

    def __init__(
        self,
        places: Iterable[Place],
        *,
        listed: Collection[str] = (),
        altmark_km: Mapping[str, float] | None = None,
        areas: Iterable[Area] = (),
        postcodes: Iterable[PostcodeArea] = (),
    ) -> None:
        given = list(places)
        codes = list(postcodes)
        self._setup(
            PlaceTable.of(given, listed, altmark_km), {a.key: a for a in areas}, lambda: codes
        )
        self._made = dict(enumerate(given))

    @classmethod
    def from_table(
        cls,
        table: PlaceTable,
        areas: dict[str, Area],
        postcodes: Callable[[], Iterable[PostcodeArea]],
    ) -> Gazetteer:
        """A gazetteer over columns; the postcodes are read when first needed."""
        gazetteer = cls.__new__(cls)
        gazetteer._setup(table, areas, postcodes)
        gazetteer._made = {}
        return gazetteer

    def _setup(
        self,
        table: PlaceTable,
        areas: dict[str, Area],
        postcodes: Callable[[], Iterable[PostcodeArea]],
    ) -> None:
        self._table = table
        self.areas = areas
        self._read_postcodes = postcodes
        self._postcodes: dict[str, PostcodeArea] | None = None
        self._by_full: dict[str, int] = {}
        self._groups: dict[str, list[int]] = defaultdict(list)
        self._seat: dict[str, int] = {}
        for i, name in enumerate(table.names):
            key, base, short = name_keys(name)
            if key in self._by_full:
                raise ValueError(f"two places share the lookup key {key!r}")
            self._by_full[key] = i
            self._groups[base].append(i)
            if short != base:
                self._groups[short].append(i)
            if table.kinds[i] != "Ortsteil":
                self._seat.setdefault(table.ags[i], i)
        self._listed = set(table.listed)
        self._sorted: set[str] = set()
        self._keys: list[str] | None = None
        self._ranks: dict[int, tuple] = {}
        self._all: tuple[Place, ...] | None = None
        self._by_postcode: dict[str, list[int]] | None = None
        self._postcodes_of: dict[str, list[str]] | None = None
        self._regions: dict[str, Region] = {}
        self._memo: dict[tuple[str, Region | None, str | None], int] = {}
        self._area_index: list[dict[str, list[str]]] | None = None
        self._place_grid: PointGrid | None = None
        self._postcode_grid: PointGrid | None = None
        self._postcode_list: list[PostcodeArea] = []

    def __len__(self) -> int:
        return len(self._table.names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    # -- the places -----------------------------------------------------------------------

    def _place(self, i: int) -> Place:
        place = self._made.get(i)
        if place is None:
            t = self._table
            ags = t.ags[i]
            place = Place(
                t.names[i],
                self.areas[ags[:5]].name,
                self.areas[ags].name,
                t.kinds[i],
                t.postcodes[i],
                t.latitudes[i],
                t.longitudes[i],
                ags,
                t.populations[i],
                self.areas[ags[:2]].name,
            )
            self._made[i] = place
        return place

    @property
    def places(self) -> tuple[Place, ...]:
        """Every place, in the order of the tables (made on first use)."""
        if self._all is None:
            self._all = tuple(self._place(i) for i in range(len(self)))
        return self._all

    @property
    def altmark_list(self) -> tuple[Place, ...]:
        """The places of the Altmark list the network works with, in the list's order."""
        return tuple(self._place(i) for i in self._table.listed)

    def _rank(self, i: int) -> tuple:
        rank = self._ranks.get(i)
        if rank is None:
            t = self._table
            rank = rank_key(
                t.ags[i],
                i in self._listed,
                t.kinds[i],
                t.altmark_km[i],
                t.populations[i],
                t.names[i],
            )
            self._ranks[i] = rank
        return rank

    # -- by name --------------------------------------------------------------------------

    def candidates(self, name: str) -> list[Place]:
        """Every place `name` can mean, the one a bare name means first."""
        return [self._place(i) for i in self._group(normalise_place_name(name))]

    def _group(self, key: str) -> list[int]:
        members = self._groups.get(key, [])
        if key not in self._sorted and len(members) > 1:
            names = self._table.names
            members.sort(
                key=lambda i: group_rank(self._rank(i), normalise_place_name(names[i]) != key)
            )
            self._sorted.add(key)
        return members

    def get(
        self, name: str, *, within: str | Region | None = None, postcode: str | None = None
    ) -> Place | None:
        """The place `name` means, or None (a region that does not exist still raises)."""
        region = None if within is None else self.region(within)
        try:
            return self._resolve(name, region, postcode)
        except UnknownRegionError:
            raise
        except UnknownPlaceError:
            return None

    def lookup(
        self, name: str, *, within: str | Region | None = None, postcode: str | None = None
    ) -> Place:
        """The place `name` means: a canonical name, another spelling, 'PLZ', 'PLZ Name'.

        `within` (a Land, district, municipality, 'Altmark' or key prefix) and `postcode`
        choose among places of one name; raises UnknownPlaceError with close names.
        """
        region = None if within is None else self.region(within)
        return self._resolve(name, region, postcode)

    def _resolve(self, text: str, region: Region | None, postcode: str | None) -> Place:
        """The place, remembered: a nationwide instance names the same towns again and
        again (650,000 homes and training towns, some 11,000 distinct names)."""
        memo = (text, region, postcode)
        i = self._memo.get(memo)
        if i is None:
            i = self._find(text, region, postcode)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[memo] = i
        return self._place(i)

    def _find(self, text: str, region: Region | None, postcode: str | None) -> int:
        text = text.strip()
        if _POSTCODE.match(text):
            i = self._postcode_place(text)
            if region is not None and not region.contains(self._table.ags[i]):
                raise UnknownPlaceError(text, [], f"in {region.name}")
            return i
        both = _POSTCODE_AND_NAME.match(text)
        if both:
            if postcode is not None and postcode != both.group(1):
                raise UnknownPlaceError(text, [], f"mit der Postleitzahl {postcode}")
            postcode, text = both.group(1), both.group(2)
        if postcode is not None and postcode not in self.postcodes:
            raise UnknownPostcodeError(postcode, [])
        hint = split_suffix(text)[1]
        exact = self._by_full.get(full_key(text)) if hint else None
        if exact is not None and self._fits(exact, region, postcode):
            return exact  # a name with its bracket: 'Kläden (Arendsee)'
        members = self._group(normalise_place_name(text))
        if exact is None and hint:
            members = self._narrow_by_hint(members, hint)
        for i in members:
            if self._fits(i, region, postcode):
                return i
        raise UnknownPlaceError(
            text, self.suggest(text, region, postcode), self._where(region, postcode)
        )

    def _fits(self, i: int, region: Region | None, postcode: str | None) -> bool:
        ags = self._table.ags[i]
        if region is not None and not region.contains(ags):
            return False
        if postcode is None or self._table.postcodes[i] == postcode:
            return True
        return any(m.key == ags for m in self.postcodes[postcode].municipalities)

    def _narrow_by_hint(self, members: list[int], hint: str) -> list[int]:
        """'Neuendorf (Brandenburg)', 'Kläden (Arendsee)', 'Buch (13125)': the bracket
        narrows the places of that name. A bracket that names nothing we know is ignored,
        and so is one that names only a municipality none of them lies in: official
        suffixes name rivers and landscapes ('Tangermünde (Elbe)'; Elbe is also a village).
        A Land, district or postcode that none of them lies in leaves none."""
        if _POSTCODE.match(hint) and hint in self.postcodes:
            return [i for i in members if self._fits(i, None, hint)]
        try:
            region = self.region(hint)
        except UnknownRegionError:
            return members
        narrowed = [i for i in members if region.contains(self._table.ags[i])]
        if narrowed or any(len(p) < 8 for p in region.prefixes):
            return narrowed
        return members

    @staticmethod
    def _where(region: Region | None, postcode: str | None) -> str | None:
        parts = []
        if region is not None:
            parts.append(f"in {region.name}")
        if postcode is not None:
            parts.append(f"mit der Postleitzahl {postcode}")
        return " ".join(parts) or None

    def suggest(
        self,
        text: str,
        region: Region | None = None,
        postcode: str | None = None,
        limit: int = 3,
    ) -> list[str]:
        """Canonical names close to `text` (typos, other spellings), the likeliest first:
        of each close name the place it means, in the region or postcode where asked."""
        from rapidfuzz import fuzz, process  # only for unknown names; 5 MiB most never need

        close = process.extract(
            normalise_place_name(text),
            self._group_keys(),
            scorer=fuzz.ratio,
            limit=20,
            score_cutoff=75,
        )
        scored: dict[int, float] = {}
        for key, score, _ in close:
            members = self._group(key)
            fitting = [i for i in members if self._fits(i, region, postcode)]
            for i in (fitting or members)[:2]:
                scored[i] = max(scored.get(i, 0.0), score + (5 if fitting else 0))
        chosen = sorted(scored, key=lambda i: (-scored[i], self._rank(i)))
        return [self._table.names[i] for i in chosen[:limit]]

    def _group_keys(self) -> list[str]:
        if self._keys is None:
            self._keys = list(self._groups)
        return self._keys

    # -- by postcode ----------------------------------------------------------------------

    def postcode(self, code: str) -> PostcodeArea:
        """The postcode's point and municipalities; raises UnknownPostcodeError."""
        area = self.postcodes.get(code.strip())
        if area is None:
            raise UnknownPostcodeError(code, [])
        return area

    def postcode_place(self, code: str) -> Place:
        """The place a bare postcode means: its largest municipality's own place."""
        return self._place(self._postcode_place(code))

    def _postcode_place(self, code: str) -> int:
        area = self.postcode(code)
        own = sorted(
            self._postcode_index()[0].get(area.postcode, []),
            key=lambda i: (self._table.kinds[i] == "Ortsteil", self._rank(i)[4], self._rank(i)),
        )
        if own:
            return own[0]
        for m in area.municipalities:
            if m.key in self._seat:
                return self._seat[m.key]
        raise UnknownPostcodeError(code, [])

    def places_with_postcode(self, code: str) -> list[Place]:
        """The places GeoNames gives this postcode, municipalities first."""
        area = self.postcode(code)
        found = sorted(
            self._postcode_index()[0].get(area.postcode, []),
            key=lambda i: (self._table.kinds[i] == "Ortsteil", self._rank(i)),
        )
        return [self._place(i) for i in found]

    def postcodes_of(self, place: str | Place) -> list[str]:
        """Every postcode of the place's municipality (a city has many)."""
        p = place if isinstance(place, Place) else self.lookup(place)
        return sorted(set(self._postcode_index()[1].get(p.ags, [])) | {p.postcode})

    @property
    def postcodes(self) -> dict[str, PostcodeArea]:
        """Every postcode (read on first use)."""
        if self._postcodes is None:
            self._postcode_list = list(self._read_postcodes())
            self._postcodes = {a.postcode: a for a in self._postcode_list}
        return self._postcodes

    def _postcode_index(self) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
        """Places by their postcode; postcodes by municipality."""
        if self._by_postcode is None or self._postcodes_of is None:
            by_postcode: dict[str, list[int]] = defaultdict(list)
            for i, code in enumerate(self._table.postcodes):
                by_postcode[code].append(i)
            of: dict[str, list[str]] = defaultdict(list)
            for area in self.postcodes.values():
                for m in area.municipalities:
                    of[m.key].append(area.postcode)
            self._by_postcode, self._postcodes_of = by_postcode, of
        return self._by_postcode, self._postcodes_of

    # -- regions --------------------------------------------------------------------------

    def region(self, text: str | Region) -> Region:
        """A region by name: 'Altmark', a Land, a district ('Landkreis Gifhorn', 'Gifhorn'),
        a municipality, or a key prefix ('15', '15081'); raises UnknownRegionError."""
        if isinstance(text, Region):
            return text
        found = self._regions.get(text)
        if found is None:
            found = self._find_region(text.strip())
            self._regions[text] = found
        return found

    def _find_region(self, text: str) -> Region:
        if fold(text) == "altmark":
            return ALTMARK
        if _DIGITS.match(text):
            if any(k.startswith(text) for k in (*self.areas, *self._table.ags)):
                return Region(text, (text,))
            raise UnknownRegionError(text, [])
        for level, key_of in enumerate(_REGION_KEYS):
            keys = sorted(set(self._areas_by_key(level).get(key_of(text), [])))
            if keys:
                kept = tuple(k for k in keys if not any(k != o and k.startswith(o) for o in keys))
                return Region(self._region_name(kept, text), kept)
        labels = {
            normalise_place_name(a.name): a.name if a.kind == "Land" else f"{a.kind} {a.name}"
            for a in self.areas.values()
            if len(a.key) <= 5
        }
        from rapidfuzz import fuzz, process  # only for unknown regions

        close = process.extract(
            normalise_place_name(text), list(labels), scorer=fuzz.ratio, limit=3, score_cutoff=75
        )
        raise UnknownRegionError(text, [labels[c[0]] for c in close])

    def _areas_by_key(self, level: int) -> dict[str, list[str]]:
        """Area keys by the name keys of their names ('Stendal', 'Landkreis Stendal')."""
        if self._area_index is None:
            self._area_index = [defaultdict(list) for _ in _REGION_KEYS]
            for area in self.areas.values():
                for index, key_of in zip(self._area_index, _REGION_KEYS, strict=True):
                    for name in (area.name, f"{area.kind} {area.name}"):
                        index[key_of(name)].append(area.key)
        return self._area_index[level]

    def _region_name(self, keys: tuple[str, ...], text: str) -> str:
        if len(keys) == 1 and keys[0] in self.areas:
            area = self.areas[keys[0]]
            return area.name if area.kind in ("Land", "Stadt", "Gemeinde") else text
        return text

    def places_in(self, within: str | Region) -> list[Place]:
        """Every place of a region, in the order of the tables."""
        region = self.region(within)
        t = self._table
        return [self._place(i) for i in range(len(self)) if region.contains(t.ags[i])]

    def municipality(self, ags: str) -> Area:
        return self.areas[ags]

    # -- distances ------------------------------------------------------------------------

    def distance_km(self, a: str | Place, b: str | Place) -> float:
        """Straight-line distance between two places (names or Place objects)."""
        pa = a if isinstance(a, Place) else self.lookup(a)
        pb = b if isinstance(b, Place) else self.lookup(b)
        return haversine_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude)

    def altmark_km(self, place: str | Place) -> float:
        """How far the place lies from the Altmark's boundary (0 inside), as the build
        measured it; what ranks places of one name outside the Altmark."""
        p = place if isinstance(place, Place) else self.lookup(place)
        i = self._by_full[full_key(p.name)]
        return self._table.altmark_km[i]

    def near(
        self, latitude: float, longitude: float, km: float, *, within: str | Region | None = None
    ) -> list[tuple[Place, float]]:
        """Places at most `km` from the point, nearest first, with their distances."""
        if self._place_grid is None:
            self._place_grid = PointGrid(self._table.latitudes, self._table.longitudes)
        region = None if within is None else self.region(within)
        hits = self._place_grid.within(latitude, longitude, km)
        ags = self._table.ags
        return [(self._place(i), d) for i, d in hits if region is None or region.contains(ags[i])]

    def postcodes_near(
        self, latitude: float, longitude: float, km: float
    ) -> list[tuple[PostcodeArea, float]]:
        """Postcodes whose mean point is at most `km` from the point, nearest first."""
        areas = list(self.postcodes.values())  # in the order of the file, as the grid
        if self._postcode_grid is None:
            self._postcode_grid = PointGrid(
                [a.latitude for a in areas], [a.longitude for a in areas]
            )
        return [(areas[i], d) for i, d in self._postcode_grid.within(latitude, longitude, km)]

    def around(self, text: str, km: float) -> list[tuple[Place, float]]:
        """Places at most `km` from a town or postcode (its place), nearest first."""
        centre = self.lookup(text)
        return self.near(centre.latitude, centre.longitude, km)


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The packaged gazetteer, read on first use and kept for the process."""
    return Gazetteer.from_table(*read_tables())
