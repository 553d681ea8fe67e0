"""From weak, string-keyed preference lists to strict integer lists the solvers use.

Ties are broken by one seeded lottery per side (single tie-breaking): every
applicant draws one number that all positions use to order tied applicants,
and every position draws one that all applicants use. Ids are numbered in
sorted order before the draw, so the result depends on the seed and the
lists, never on the order of keys in the file. A pair is acceptable only if
each side lists the other; other entries are dropped here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diko_matching.engine.instance import Instance, WeakList


@dataclass(frozen=True, slots=True)
class Problem:
    """An instance in integer form: strict, mutually acceptable lists, best first.

    `app_weak[a][k]` is the tie-group index of the k-th entry of applicant a
    on a's original list (equal values were tied); `pos_weak` likewise. The
    blocking-pair check uses them so that a lottery-broken tie never counts
    as a strict preference.
    """

    app_ids: list[str]
    pos_ids: list[str]
    capacity: list[int]
    app_pref: list[list[int]]
    app_weak: list[list[int]]
    pos_pref: list[list[int]]
    pos_weak: list[list[int]]

    @property
    def n_app(self) -> int:
        return len(self.app_ids)

    @property
    def n_pos(self) -> int:
        return len(self.pos_ids)

    @property
    def n_entries(self) -> int:
        """Acceptable pairs (each counted once)."""
        return sum(len(x) for x in self.app_pref)


def _lottery(n: int, rng: random.Random) -> list[int]:
    order = list(range(n))
    rng.shuffle(order)
    ticket = [0] * n
    for place, i in enumerate(order):
        ticket[i] = place
    return ticket


def _strict(
    groups: WeakList, index: dict[str, int], ticket: list[int]
) -> tuple[list[int], list[int]]:
    pref: list[int] = []
    weak: list[int] = []
    for g, group in enumerate(groups):
        members = [index[x] for x in group]
        if len(members) > 1:
            members.sort(key=ticket.__getitem__)
        pref.extend(members)
        weak.extend([g] * len(members))
    return pref, weak


def compile_instance(instance: Instance, seed: int | None = None) -> Problem:
    """Number the ids, break ties with the seeded lottery and drop unacceptable pairs."""
    rng = random.Random(instance.seed if seed is None else seed)
    app_ids = sorted(instance.applicants)
    pos_ids = sorted(instance.positions)
    app_index = {a: i for i, a in enumerate(app_ids)}
    pos_index = {p: i for i, p in enumerate(pos_ids)}
    app_ticket = _lottery(len(app_ids), rng)
    pos_ticket = _lottery(len(pos_ids), rng)

    app_pref, app_weak = [], []
    for a in app_ids:
        pref, weak = _strict(instance.applicants[a], pos_index, pos_ticket)
        app_pref.append(pref)
        app_weak.append(weak)
    pos_pref, pos_weak = [], []
    for p in pos_ids:
        pref, weak = _strict(instance.positions[p], app_index, app_ticket)
        pos_pref.append(pref)
        pos_weak.append(weak)

    listed_by_pos = [set(x) for x in pos_pref]
    listed_by_app = [set(x) for x in app_pref]
    for a in range(len(app_ids)):
        keep = [k for k, p in enumerate(app_pref[a]) if a in listed_by_pos[p]]
        if len(keep) != len(app_pref[a]):
            app_pref[a] = [app_pref[a][k] for k in keep]
            app_weak[a] = [app_weak[a][k] for k in keep]
    for p in range(len(pos_ids)):
        keep = [k for k, a in enumerate(pos_pref[p]) if p in listed_by_app[a]]
        if len(keep) != len(pos_pref[p]):
            pos_pref[p] = [pos_pref[p][k] for k in keep]
            pos_weak[p] = [pos_weak[p][k] for k in keep]

    capacity = [instance.capacities[p] for p in pos_ids]
    return Problem(app_ids, pos_ids, capacity, app_pref, app_weak, pos_pref, pos_weak)
