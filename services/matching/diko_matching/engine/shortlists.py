"""Shortlists with reasons, and preference lists derived from profiles.

Staff hand a company a shortlist with reasons rather than an automatic
assignment ("Passgenaue Besetzung"), so every entry carries its breakdown.
The same scores give both sides' preference lists, so that a stable run can
start from profiles as well as from explicit lists.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from diko_matching.engine.candidates import preference_csr, score_pairs
from diko_matching.engine.instance import Instance, InstanceError
from diko_matching.engine.profiles import ProfileArrays, ProfileInstance, to_arrays
from diko_matching.engine.scoring import PairFacts, Score, effective_reach, explain
from diko_shared.geo import UnknownPlaceError, haversine_km, load_gazetteer
from diko_shared.occupations import load_occupations, shared_prefix_length

TIE_DECIMALS = 2
"""Scores equal to this many decimals are ties, broken by the run's lottery."""


def _as_profiles(inst: ProfileInstance | Any) -> ProfileInstance:
    return inst if isinstance(inst, ProfileInstance) else ProfileInstance.parse(inst)


def explain_pair(inst: ProfileInstance, applicant_id: str, position_id: str) -> Score:
    """The score of one pair with its German reasons (also for unacceptable pairs)."""
    if applicant_id not in inst.applicants:
        raise InstanceError(f"unknown applicant {applicant_id!r}")
    if position_id not in inst.positions:
        raise InstanceError(f"unknown position {position_id!r}")
    gaz = load_gazetteer()
    app = inst.applicants[applicant_id]
    pos = inst.positions[position_id]
    try:
        home, town = gaz.lookup(app.home), gaz.lookup(pos.town)
    except UnknownPlaceError as exc:
        raise InstanceError(str(exc)) from None
    catalogue = load_occupations()
    dist = haversine_km(home.latitude, home.longitude, town.latitude, town.longitude)
    base = PairFacts(
        home=home.name,
        town=town.name,
        dist_km=dist,
        reach_km=effective_reach(app.reach_km, app.licence, inst.weights),
        licence=app.licence,
        position_code=pos.occupation,
        position_label=catalogue.label(pos.occupation),
        wish_code=app.occupations[0],
        wish_label=catalogue.label(app.occupations[0]),
        wish_rank=0,
        n_wishes=len(app.occupations),
        shared_prefix=shared_prefix_length(app.occupations[0], pos.occupation),
        school_held=app.school,
        school_required=pos.school,
        start=pos.start,
        avail_from=app.available_from,
        avail_until=app.available_until,
    )
    scored = []
    for rank, code in enumerate(app.occupations):
        facts = replace(
            base,
            wish_code=code,
            wish_label=catalogue.label(code),
            wish_rank=rank,
            shared_prefix=shared_prefix_length(code, pos.occupation),
        )
        scored.append((explain(applicant_id, position_id, facts, inst.weights), facts))
    acceptable = [score for score, _ in scored if score.acceptable]
    if acceptable:
        return max(acceptable, key=lambda score: score.total)  # the first wish on ties
    # Unacceptable: the wish closest in occupation tells why (distance, or no related wish).
    return max(scored, key=lambda sf: sf[1].shared_prefix)[0]


def _subset(
    arrays: ProfileArrays, apps: np.ndarray | None, poss: np.ndarray | None
) -> ProfileArrays:
    a = np.arange(len(arrays.app_ids)) if apps is None else apps
    p = np.arange(len(arrays.pos_ids)) if poss is None else poss
    lengths = np.diff(arrays.wish_indptr)[a]
    wish = (
        np.concatenate(
            [arrays.wish_code[arrays.wish_indptr[i] : arrays.wish_indptr[i + 1]] for i in a]
        )
        if len(a)
        else np.empty(0, np.int64)
    )
    return ProfileArrays(
        app_ids=[arrays.app_ids[i] for i in a],
        pos_ids=[arrays.pos_ids[j] for j in p],
        a_lat=arrays.a_lat[a],
        a_lon=arrays.a_lon[a],
        a_reach=arrays.a_reach[a],
        a_school=arrays.a_school[a],
        a_from=arrays.a_from[a],
        a_until=arrays.a_until[a],
        wish_indptr=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        wish_code=wish.astype(np.int64),
        p_lat=arrays.p_lat[p],
        p_lon=arrays.p_lon[p],
        p_code=arrays.p_code[p],
        p_school=arrays.p_school[p],
        p_start=arrays.p_start[p],
        capacity=arrays.capacity[p],
    )


def shortlist_for_applicant(
    inst: ProfileInstance | Any, applicant_id: str, k: int = 10
) -> list[Score]:
    """The applicant's k best acceptable positions, best first, with reasons."""
    inst = _as_profiles(inst)
    arrays = to_arrays(inst)
    try:
        a = arrays.app_ids.index(applicant_id)
    except ValueError:
        raise InstanceError(f"unknown applicant {applicant_id!r}") from None
    # A row longer than the positions there are holds nothing more (and k may be absurd).
    length = max(1, min(k, len(arrays.pos_ids)))
    cands = score_pairs(_subset(arrays, np.array([a]), None), inst.weights, list_length=length)
    return [
        explain_pair(inst, applicant_id, arrays.pos_ids[p]) for p in cands.position[0] if p >= 0
    ]


def shortlist_for_position(
    inst: ProfileInstance | Any, position_id: str, k: int = 10
) -> list[Score]:
    """The position's k best acceptable applicants, best first, with reasons."""
    inst = _as_profiles(inst)
    arrays = to_arrays(inst)
    try:
        p = arrays.pos_ids.index(position_id)
    except ValueError:
        raise InstanceError(f"unknown position {position_id!r}") from None
    cands = score_pairs(_subset(arrays, None, np.array([p])), inst.weights, list_length=1)
    ok = np.flatnonzero(cands.position[:, 0] >= 0)
    order = ok[np.lexsort((ok, -cands.score[ok, 0]))][:k]
    return [explain_pair(inst, arrays.app_ids[a], position_id) for a in order]


def _tied(ids: list[str], scores: np.ndarray) -> list[str | list[str]]:
    out: list[str | list[str]] = []
    rounded = np.round(scores, TIE_DECIMALS)
    i = 0
    while i < len(ids):
        j = i + 1
        while j < len(ids) and rounded[j] == rounded[i]:
            j += 1
        out.append(ids[i] if j == i + 1 else ids[i:j])
        i = j
    return out


def instance_from_profiles(data: ProfileInstance | Any) -> Instance:
    """Explicit weak preference lists for both sides, derived from the pair scores.

    Applicants rank their `list_length` best positions; positions rank every
    applicant who ranks them. Both use the pair's score, and equal scores (to
    two decimals) are tied for the lottery to break.
    """
    inst = _as_profiles(data)
    arrays = to_arrays(inst)
    cands = score_pairs(arrays, inst.weights, inst.list_length)
    csr = preference_csr(cands, len(arrays.pos_ids))
    app_indptr, app_pos, app_score = csr.app_indptr, csr.app_pos, csr.app_score
    pos_indptr, pos_app, pos_score = csr.pos_indptr, csr.pos_app, csr.pos_score
    pos_ids, app_ids = arrays.pos_ids, arrays.app_ids
    applicants = {
        a: _tied(
            [pos_ids[p] for p in app_pos[app_indptr[i] : app_indptr[i + 1]]],
            app_score[app_indptr[i] : app_indptr[i + 1]],
        )
        for i, a in enumerate(app_ids)
    }
    positions = {
        p: _tied(
            [app_ids[a] for a in pos_app[pos_indptr[j] : pos_indptr[j + 1]]],
            pos_score[pos_indptr[j] : pos_indptr[j + 1]],
        )
        for j, p in enumerate(pos_ids)
    }
    capacities = {p: int(c) for p, c in zip(pos_ids, arrays.capacity, strict=True)}
    return Instance(applicants, positions, capacities, inst.optimal, inst.seed)


def shortlists_to_dict(scores: list[Score]) -> list[dict[str, object]]:
    """JSON form of a shortlist."""
    return [s.to_dict() for s in scores]
