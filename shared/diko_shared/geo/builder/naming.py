"""Canonical names: one per place, unique, and a bare name kept for the place it means.

Germany has 40 places called Neuendorf. The one a bare "Neuendorf" means (see
`ranking`) keeps the bare name; every other one is named so that it is unique and says
where it is: "Kläden (Arendsee)" for the Ortsteil of Arendsee (Altmark) when the listed
Kläden is the one in Bismark, "Halle (Landkreis Holzminden)" for the village beside
Halle (Saale). A place whose own name already tells it apart ("Essen (Oldenburg)") keeps
it. Staff see and store these names, so the lookup of a canonical name gives its place.
"""

from __future__ import annotations

from collections import defaultdict

from diko_shared.geo.builder.assemble import PlaceRec
from diko_shared.geo.names import fold, full_key, lookup_keys, normalise_place_name, split_suffix
from diko_shared.geo.ranking import group_rank, rank_key

MAX_NAME = 100  # the contract's limit for a town


def _rank(rec: PlaceRec) -> tuple:
    return rank_key(rec.ags, rec.listed, rec.kind, rec.altmark_km, rec.population, rec.name)


def district_label(name: str, kind: str) -> str:
    """'Landkreis Gifhorn', 'Kreis Steinfurt'; a city that is its own district by its name."""
    short = split_suffix(name)[0]
    says_it = any(word in fold(short) for word in ("kreis", "region"))
    return f"{kind} {short}" if kind in ("Landkreis", "Kreis") and not says_it else short


def _qualifiers(rec: PlaceRec, municipality: str, district: str, bare: str) -> list[str]:
    town = split_suffix(municipality)[0]
    options = []
    if fold(town) != fold(bare):
        options.append(town)
    options.append(district)
    options.append(f"{town}, {district}")
    options.append(f"{rec.postcode} {town}")
    return [q for i, q in enumerate(options) if q not in options[:i] and fold(q) != fold(bare)]


def assign_canonical_names(
    recs: list[PlaceRec],
    municipality_names: dict[str, str],
    district_labels: dict[str, str],
) -> None:
    """Rename the places in place so that every name is canonical (see the module)."""
    groups: dict[str, list[PlaceRec]] = defaultdict(list)
    for rec in recs:
        for key in lookup_keys(rec.name):
            groups[key].append(rec)
    must_qualify: set[int] = set()
    for key, members in groups.items():
        ranked = sorted(
            members, key=lambda r: group_rank(_rank(r), normalise_place_name(r.name) != key)
        )
        for rec in ranked[1:]:
            if full_key(rec.name) == key:  # a bare name that belongs to the first
                must_qualify.add(id(rec))
    taken: set[str] = set()
    qualify: list[PlaceRec] = []
    for rec in sorted(recs, key=_rank):
        if id(rec) in must_qualify or full_key(rec.name) in taken:
            qualify.append(rec)
        else:
            taken.add(full_key(rec.name))
    for rec in sorted(qualify, key=_rank):
        bare = split_suffix(rec.name)[0]
        names = [
            f"{bare} ({q})"
            for q in _qualifiers(
                rec, municipality_names[rec.ags], district_labels[rec.ags[:5]], bare
            )
        ]
        names += [f"{bare} ({rec.postcode} {n})" for n in range(2, 100)]
        name = next(n for n in names if full_key(n) not in taken and len(n) <= MAX_NAME)
        taken.add(full_key(name))
        rec.name = name
