"""The integer programs behind a fair plan: which wishes are granted, and when.

Two models describe the same decisions:

- the **wish model** has one binary per wish that can be met at all (applicant and
  company share a slot): is the wish granted? Capacity enters through Hall-type
  rows that every schedule obeys: a company cannot hold more interviews within a
  window of slots than its tables there, an applicant cannot hold more interviews
  than the slots their granted wishes span. It is a relaxation of the slot model,
  small and free of the slots' symmetry, so HiGHS proves each stage in a fraction
  of a second where the slot model takes minutes;
- the **slot model** has one binary per wish and common slot (the schedule itself).

`lexicographic` solves the stages on the wish model; the granted wishes are then
placed into slots (`fair_slots`). When they all fit, the relaxation's optimum is
attained by a real schedule and so is the slot model's optimum in every stage;
when they do not (possible, rarely, with gaps in availability), the plan falls back
to the slot model.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from diko_matching.engine.fair_instance import FairInstance, wish_weights

Row = tuple[np.ndarray, np.ndarray, float, float]
"""A sparse row: columns, coefficients, lower and upper bound."""

SUBSET_WISHES = 10
"""Up to this many wishes, every subset of an applicant's wishes gets its Hall row."""


@dataclass(frozen=True)
class GrantModel:
    """Binary columns, each standing for a wish (and, in the slot model, a slot)."""

    kind: str  # "wishes" or "slots"
    columns: list[tuple[str, str, int | None]]  # (applicant, company, slot or None)
    weight: np.ndarray  # the wish's weight, per column
    rows: list[Row]
    app_cols: dict[str, np.ndarray]  # per applicant: its columns
    need: dict[str, int]  # per applicant: min(min_interviews, number of wishes)
    total: dict[str, float]  # per applicant: the weight of all their wishes
    hall_rows: int = field(default=0)

    @property
    def n(self) -> int:
        return len(self.columns)


def slot_sets(inst: FairInstance) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """The slots each applicant and each company is present."""
    every = set(range(inst.n_slots))
    apps = {a: every if x.slots is None else set(x.slots) for a, x in inst.applicants.items()}
    comps = {c: every if x.slots is None else set(x.slots) for c, x in inst.companies.items()}
    return apps, comps


def common_slots(inst: FairInstance) -> dict[tuple[str, str], set[int]]:
    """Every wish with the slots applicant and company share (empty: it cannot be met)."""
    apps, comps = slot_sets(inst)
    return {
        (a, c): apps[a] & comps[c]
        for a in sorted(inst.applicants)
        for c in inst.applicants[a].wishes
    }


def _needs_and_totals(inst: FairInstance) -> tuple[dict[str, int], dict[str, float]]:
    weights = wish_weights(inst)
    need = {a: min(inst.min_interviews, len(x.wishes)) for a, x in inst.applicants.items()}
    total = {a: float(sum(weights[(a, c)] for c in x.wishes)) for a, x in inst.applicants.items()}
    return need, total


def wish_model(inst: FairInstance) -> GrantModel:
    """One binary per wish that can be met, with the Hall-type capacity rows."""
    weights = wish_weights(inst)
    common = {w: s for w, s in common_slots(inst).items() if s}
    columns = [(a, c, None) for a, c in common]
    index = {(a, c): k for k, (a, c, _) in enumerate(columns)}
    rows = _company_windows(inst, common, index) + _applicant_subsets(inst, common, index)
    need, total = _needs_and_totals(inst)
    return GrantModel(
        "wishes",
        columns,
        np.array([weights[(a, c)] for a, c, _ in columns], dtype=np.float64),
        rows,
        _by_applicant(inst, columns),
        need,
        total,
        hall_rows=len(rows),
    )


def _company_windows(
    inst: FairInstance, common: dict[tuple[str, str], set[int]], index: dict[tuple[str, str], int]
) -> list[Row]:
    """Within any window of slots, a company holds at most its tables times its slots there.

    Only windows from the first slot of some wish to the last slot of some wish can
    be tight; a row is kept only where the wishes inside exceed the capacity.
    """
    _, present = slot_sets(inst)
    by_company: dict[str, list[tuple[str, str]]] = {}
    for wish in common:
        by_company.setdefault(wish[1], []).append(wish)
    rows: list[Row] = []
    for c in sorted(by_company):
        wishes = by_company[c]
        cols = np.array([index[w] for w in wishes], dtype=np.int64)
        firsts = np.array([min(common[w]) for w in wishes])
        lasts = np.array([max(common[w]) for w in wishes])
        there = np.zeros(inst.n_slots + 1, dtype=np.int64)
        there[1:] = np.cumsum([t in present[c] for t in range(inst.n_slots)])
        tables = inst.companies[c].tables
        for first in np.unique(firsts):
            for last in np.unique(lasts[lasts >= first]):
                inside = cols[(firsts >= first) & (lasts <= last)]
                capacity = tables * int(there[last + 1] - there[first])
                if len(inside) > capacity:
                    rows.append((inside, np.ones(len(inside)), -np.inf, float(capacity)))
    return rows


def _applicant_subsets(
    inst: FairInstance, common: dict[tuple[str, str], set[int]], index: dict[tuple[str, str], int]
) -> list[Row]:
    """Wishes whose common slots together are fewer than the wishes cannot all be met.

    Up to `SUBSET_WISHES` wishes every subset is looked at (a thousand at most); only
    those with fewer slots than wishes become rows. Longer lists get the windows.
    """
    apps, _ = slot_sets(inst)
    rows: list[Row] = []
    for a in sorted(inst.applicants):
        wishes = [c for c in inst.applicants[a].wishes if (a, c) in common]
        if len(wishes) > SUBSET_WISHES:
            rows.extend(_applicant_windows(a, wishes, apps[a], common, index))
            continue
        for size in range(2, len(wishes) + 1):
            for subset in itertools.combinations(wishes, size):
                span = set().union(*(common[(a, c)] for c in subset))
                if len(span) < size:
                    cols = np.array([index[(a, c)] for c in subset], dtype=np.int64)
                    rows.append((cols, np.ones(size), -np.inf, float(len(span))))
    return rows


def _applicant_windows(
    a: str,
    wishes: list[str],
    present: set[int],
    common: dict[tuple[str, str], set[int]],
    index: dict[tuple[str, str], int],
) -> list[Row]:
    """Within any window of slots, an applicant holds at most one interview per slot."""
    rows: list[Row] = []
    for first in sorted({min(common[(a, c)]) for c in wishes}):
        for last in sorted({max(common[(a, c)]) for c in wishes}):
            inside = [
                index[(a, c)]
                for c in wishes
                if first <= min(common[(a, c)]) <= max(common[(a, c)]) <= last
            ]
            capacity = sum(1 for t in present if first <= t <= last)
            if last >= first and len(inside) > capacity:
                cols = np.array(inside, dtype=np.int64)
                rows.append((cols, np.ones(len(cols)), -np.inf, float(capacity)))
    return rows


def slot_model(inst: FairInstance) -> GrantModel:
    """One binary per wish and common slot: the schedule itself."""
    weights = wish_weights(inst)
    columns: list[tuple[str, str, int | None]] = []
    for (a, c), slots in common_slots(inst).items():
        columns.extend((a, c, t) for t in sorted(slots))
    groups: dict[tuple[str, ...], list[int]] = {}
    for k, (a, c, t) in enumerate(columns):
        groups.setdefault(("wish", a, c), []).append(k)
        groups.setdefault(("applicant", a, str(t)), []).append(k)
        groups.setdefault(("company", c, str(t)), []).append(k)
    rows: list[Row] = []
    for key, ks in groups.items():
        cap = float(inst.companies[key[1]].tables) if key[0] == "company" else 1.0
        rows.append((np.array(ks, dtype=np.int64), np.ones(len(ks)), -np.inf, cap))
    need, total = _needs_and_totals(inst)
    return GrantModel(
        "slots",
        columns,
        np.array([weights[(a, c)] for a, c, _ in columns], dtype=np.float64),
        rows,
        _by_applicant(inst, columns),
        need,
        total,
    )


def _by_applicant(
    inst: FairInstance, columns: list[tuple[str, str, int | None]]
) -> dict[str, np.ndarray]:
    cols: dict[str, list[int]] = {a: [] for a in inst.applicants}
    for k, (a, _, _) in enumerate(columns):
        cols[a].append(k)
    return {a: np.array(ks, dtype=np.int64) for a, ks in cols.items()}
