"""Common dual apprenticeships (Ausbildungsberufe) with their KldB 2010 Berufsgattung.

Several apprenticeships share one 5-digit Berufsgattung (Verkäufer/in and
Kaufmann/-frau im Einzelhandel are both 62102), so the code is the matching key
and the name is for people. Codes that share a prefix are related: the KldB is a
hierarchy (Berufsbereich 1 digit, Hauptgruppe 2, Gruppe 3, Untergruppe 4,
Gattung 5 where the fifth digit is the Anforderungsniveau).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

SCHOOL_LEVELS = ("hauptschule", "realschule", "abitur")


@dataclass(frozen=True, slots=True)
class Occupation:
    """One apprenticeship: KldB 2010 code, name, relative popularity, usual certificate."""

    code: str
    name: str
    popularity: float
    school: str
    certain: bool


def shared_prefix_length(a: str, b: str) -> int:
    """How many leading KldB digits two codes share (5 = the same Berufsgattung)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class OccupationCatalogue:
    """The packaged occupations, by code and in file order."""

    def __init__(self, occupations: list[Occupation]) -> None:
        self.occupations: tuple[Occupation, ...] = tuple(occupations)
        self._by_code: dict[str, list[Occupation]] = {}
        for occ in self.occupations:
            self._by_code.setdefault(occ.code, []).append(occ)

    def __len__(self) -> int:
        return len(self.occupations)

    def codes(self) -> list[str]:
        """The distinct codes, in file order."""
        return list(self._by_code)

    def names(self, code: str) -> list[str]:
        """The apprenticeship names filed under one code ([] if unknown)."""
        return [o.name for o in self._by_code.get(code, [])]

    def label(self, code: str) -> str:
        """A human label for a code: its first apprenticeship name, else the code."""
        names = self.names(code)
        return names[0] if names else f"KldB {code}"

    def code_popularity(self) -> dict[str, float]:
        """Summed popularity per code, for drawing realistic synthetic demand."""
        out: dict[str, float] = {}
        for occ in self.occupations:
            out[occ.code] = out.get(occ.code, 0.0) + occ.popularity
        return out


def _read() -> list[Occupation]:
    pkg = resources.files("diko_shared.occupations")
    text = pkg.joinpath("ausbildungsberufe.csv").read_text("utf-8")
    return [
        Occupation(
            code=row["code"],
            name=row["name"],
            popularity=float(row["popularity"]),
            school=row["school"],
            certain=row["certain"] == "yes",
        )
        for row in csv.DictReader(text.splitlines())
    ]


@lru_cache(maxsize=1)
def load_occupations() -> OccupationCatalogue:
    """The packaged catalogue (read once per process)."""
    return OccupationCatalogue(_read())
