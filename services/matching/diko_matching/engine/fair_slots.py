"""Placing granted wishes into slots and tables.

The stages decide which wishes are granted (on the wish model); here each granted
wish gets a slot both sides are present, no applicant twice in a slot, no company
beyond its tables. Most constrained wishes first usually places them all at once;
if not, a small MILP (the slot model restricted to the granted wishes) maximises the
weight placed, starting from the wishes placed first; if it finds nothing better within
its time, those stand (a schedule with some granted wishes left out beats none). Tables
of one company are interchangeable, so they are numbered last.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from diko_matching.engine.fair_instance import FairInstance, wish_weights
from diko_matching.engine.fair_model import common_slots
from diko_matching.engine.fair_stages import step_gap
from diko_matching.engine.milp_stage import OPTIMAL, TIME_LIMIT, Stage

#: Placing is what turns a decision into a schedule, so it always gets at least this long.
PLACEMENT_FLOOR_S = 2.0

Booking = tuple[str, str, int]
"""(applicant, company, slot)"""


def place(
    inst: FairInstance, granted: list[tuple[str, str]], deadline: float
) -> tuple[Stage, list[Booking]]:
    """A slot for every granted wish if there is a way; else as much weight as fits."""
    started = time.perf_counter()
    weights = wish_weights(inst)
    wanted = float(sum(weights[w] for w in granted))
    common = common_slots(inst)
    booked = _most_constrained_first(inst, granted, common)
    if len(booked) == len(granted):
        return Stage("slots", OPTIMAL, wanted, wanted, 0.0, time.perf_counter() - started), booked
    stage, by_milp = _by_milp(inst, granted, common, weights, deadline, started, booked)
    got = float(sum(weights[(a, c)] for a, c, _ in booked))
    if stage.status == OPTIMAL or (stage.objective or 0.0) >= got:
        return stage, by_milp
    # The MILP found less (or nothing) in its time: the wishes placed first stand.
    bound = wanted if stage.bound is None else min(stage.bound, wanted)
    gap = None if got == 0 else (bound - got) / got
    return replace(stage, status=TIME_LIMIT, objective=got, bound=bound, gap=gap), booked


def _most_constrained_first(
    inst: FairInstance, granted: list[tuple[str, str]], common: dict[tuple[str, str], set[int]]
) -> list[Booking]:
    """Each granted wish in the freest slot left, most constrained first; misfits left out."""
    busy: set[tuple[str, int]] = set()
    used: dict[tuple[str, int], int] = {}
    booked: list[Booking] = []
    for a, c in sorted(granted, key=lambda w: (len(common[w]), w)):
        tables = inst.companies[c].tables
        free = [
            t for t in sorted(common[(a, c)]) if (a, t) not in busy and used.get((c, t), 0) < tables
        ]
        if not free:
            continue
        t = max(free, key=lambda t: (tables - used.get((c, t), 0), -t))
        busy.add((a, t))
        used[(c, t)] = used.get((c, t), 0) + 1
        booked.append((a, c, t))
    return booked


def _by_milp(
    inst: FairInstance,
    granted: list[tuple[str, str]],
    common: dict[tuple[str, str], set[int]],
    weights: dict[tuple[str, str], float],
    deadline: float,
    started: float,
    first: list[Booking],
) -> tuple[Stage, list[Booking]]:
    from scipy.sparse import coo_array

    from diko_matching.engine.highs_milp import solve_milp
    from diko_matching.engine.milp_stage import stage_from_result

    columns = [(a, c, t) for a, c in sorted(granted) for t in sorted(common[(a, c)])]
    groups: dict[tuple[str, ...], list[int]] = {}
    for k, (a, c, t) in enumerate(columns):
        groups.setdefault(("wish", a, c), []).append(k)
        groups.setdefault(("applicant", a, str(t)), []).append(k)
        groups.setdefault(("company", c, str(t)), []).append(k)
    keys = list(groups)
    r_idx = np.concatenate([np.full(len(groups[g]), i) for i, g in enumerate(keys)])
    c_idx = np.concatenate([groups[g] for g in keys])
    matrix = coo_array((np.ones(len(c_idx)), (r_idx, c_idx)), shape=(len(keys), len(columns)))
    upper = [float(inst.companies[g[1]].tables) if g[0] == "company" else 1.0 for g in keys]
    n = len(columns)
    weight = np.array([weights[(a, c)] for a, c, _ in columns])
    placed_first = set(first)
    res = solve_milp(
        -weight,
        np.ones(n),
        np.zeros(n),
        np.ones(n),
        matrix.tocsr(),
        np.full(len(keys), -np.inf),
        np.array(upper),
        time_limit=max(deadline - time.perf_counter(), PLACEMENT_FLOOR_S),
        rel_gap=step_gap(1.0, float(weight.sum())),
        start=np.array([float(col in placed_first) for col in columns]),
    )
    stage = stage_from_result("slots", res, time.perf_counter() - started, maximise=True)
    if res.x is None:
        return stage, []
    return stage, [columns[k] for k in range(n) if res.x[k] > 0.5]


def number_tables(bookings: list[Booking]) -> list[tuple[str, str, int, int]]:
    """(applicant, company, table, slot), tables numbered from 1 per company and slot."""
    next_table: dict[tuple[str, int], int] = {}
    out = []
    for a, c, t in sorted(bookings, key=lambda b: (b[2], b[1], b[0])):
        table = next_table.get((c, t), 0) + 1
        next_table[(c, t)] = table
        out.append((a, c, table, t))
    return out
