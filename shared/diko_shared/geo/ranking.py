"""Which of several places of one name a bare name means: the Altmark's first.

The network works in the Altmark, so "Osterburg", "Neuendorf" or "Buch" mean the
Altmark's place where it has one, and the place on the Altmark's list where it has two.
Outside the Altmark a town (Stadt) comes before a village of the same name ("Essen" is
the city on the Ruhr, not Essen (Oldenburg) 100 km nearer; "Halle" is Halle (Saale)),
then a place of exactly that name before one it is short for, then the place nearest
to the Altmark, then the larger, then the name.
"""

from __future__ import annotations

ALTMARK_DISTRICTS = ("15081", "15090")
"""The Altmark: Altmarkkreis Salzwedel and Landkreis Stendal, by their official keys."""


def in_altmark(ags: str) -> bool:
    return ags[:5] in ALTMARK_DISTRICTS


def group_rank(rank: tuple, alias: bool) -> tuple:
    """The rank among places found by one key: after Altmark, list and town rights, a
    place of exactly that name ('Neuendorf') before one it is short for ('Neuendorf im
    Sande', 'Neuendorf b. Elmshorn')."""
    return (*rank[:3], alias, *rank[3:])


def rank_key(
    ags: str, listed: bool, kind: str, altmark_km: float, population: int | None, name: str
) -> tuple[bool, bool, bool, float, int, str, str]:
    """Sort key of places of one name: the first is the one a bare name means."""
    return (
        not in_altmark(ags),
        not listed,
        kind != "Stadt",
        altmark_km,
        -(population or 0),
        name,
        ags,
    )
