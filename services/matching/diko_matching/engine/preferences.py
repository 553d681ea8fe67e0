"""From weak, string-keyed preference lists to strict integer lists the solvers use.

Ties are broken by one seeded lottery per side (single tie-breaking): every
applicant draws one number that all positions use to order tied applicants,
and every position draws one that all applicants use. Ids are numbered in
sorted order before the draw, so the result depends on the seed and the
lists, never on the order of keys in the file.

A pair is acceptable only if each side lists the other. The lists are kept
as given (filtering a million entries up front costs more than the solve);
every consumer skips an entry the other side does not list, which one
dictionary lookup it needs anyway tells: `pos_rank[p].get(a) is None`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diko_matching.engine.instance import Instance, WeakList


@dataclass(frozen=True, slots=True)
class Problem:
    """An instance in integer form: strict lists, best first, unacceptable entries included.

    `app_weak[a][k]` is the tie-group index on a's original list of its k-th
    entry (equal values were tied), or None when a's list had no ties (then
    the entry's index is its rank). `pos_weak` likewise. The blocking-pair
    check uses them so that a lottery-broken tie never counts as a strict
    preference. `pos_rank[p]` maps an applicant to its strict rank at p.
    """

    app_ids: list[str]
    pos_ids: list[str]
    capacity: list[int]
    app_pref: list[list[int]]
    app_weak: list[list[int] | None]
    pos_pref: list[list[int]]
    pos_weak: list[list[int] | None]
    pos_rank: list[dict[int, int]]

    @property
    def n_app(self) -> int:
        return len(self.app_ids)

    @property
    def n_pos(self) -> int:
        return len(self.pos_ids)

    @property
    def n_entries(self) -> int:
        """Entries of the applicants' lists (an upper bound of the acceptable pairs)."""
        return sum(map(len, self.app_pref))

    def acceptable(self, a: int, p: int) -> bool:
        """Whether applicant a and position p list each other."""
        return a in self.pos_rank[p] and p in self.app_pref[a]

    def app_rank(self) -> list[dict[int, int]]:
        """Each applicant's strict rank of the positions it lists."""
        return [dict(zip(pref, range(len(pref)), strict=True)) for pref in self.app_pref]

    def weak_ranks(self, side: str, i: int) -> list[int]:
        """The tie-group indices of one list ('app' or 'pos'), entry by entry."""
        weak = (self.app_weak if side == "app" else self.pos_weak)[i]
        if weak is not None:
            return weak
        return list(range(len((self.app_pref if side == "app" else self.pos_pref)[i])))


def _lottery(n: int, rng: random.Random) -> list[int]:
    order = list(range(n))
    rng.shuffle(order)
    ticket = [0] * n
    for place, i in enumerate(order):
        ticket[i] = place
    return ticket


def _strict(
    lst: WeakList, index: dict[str, int], ticket: list[int]
) -> tuple[list[int], list[int] | None]:
    try:
        return list(map(index.__getitem__, lst)), None
    except TypeError:  # a tie group (a list) is unhashable: take the slow path
        pass
    pref: list[int] = []
    weak: list[int] = []
    for g, element in enumerate(lst):
        group = [index[element]] if isinstance(element, str) else [index[x] for x in element]
        group.sort(key=ticket.__getitem__)
        pref.extend(group)
        weak.extend([g] * len(group))
    return pref, weak


def _strict_side(
    lists: list[WeakList],
    known: list[list[int] | None],
    index: dict[str, int],
    ticket: list[int],
) -> tuple[list[list[int]], list[list[int] | None]]:
    prefs: list[list[int]] = []
    weaks: list[list[int] | None] = []
    for lst, ints in zip(lists, known, strict=True):
        if ints is not None:  # numbered during validation, no ties
            prefs.append(ints)
            weaks.append(None)
            continue
        pref, weak = _strict(lst, index, ticket)
        prefs.append(pref)
        weaks.append(weak)
    return prefs, weaks


def compile_instance(instance: Instance, seed: int | None = None) -> Problem:
    """Number the ids, break ties with the seeded lottery and drop unacceptable pairs."""
    rng = random.Random(instance.seed if seed is None else seed)
    numbered = instance.numbered
    if numbered is None:
        app_ids, pos_ids = sorted(instance.applicants), sorted(instance.positions)
        app_known: list[list[int] | None] = [None] * len(app_ids)
        pos_known: list[list[int] | None] = [None] * len(pos_ids)
    else:
        app_ids, pos_ids = numbered.app_ids, numbered.pos_ids
        app_known, pos_known = numbered.app_lists, numbered.pos_lists
    app_index = {a: i for i, a in enumerate(app_ids)}
    pos_index = {p: i for i, p in enumerate(pos_ids)}
    app_ticket = _lottery(len(app_ids), rng)
    pos_ticket = _lottery(len(pos_ids), rng)

    app_pref, app_weak = _strict_side(
        [instance.applicants[a] for a in app_ids], app_known, pos_index, pos_ticket
    )
    pos_pref, pos_weak = _strict_side(
        [instance.positions[p] for p in pos_ids], pos_known, app_index, app_ticket
    )
    pos_rank = [dict(zip(pref, range(len(pref)), strict=True)) for pref in pos_pref]
    capacity = [instance.capacities[p] for p in pos_ids]
    return Problem(app_ids, pos_ids, capacity, app_pref, app_weak, pos_pref, pos_weak, pos_rank)
