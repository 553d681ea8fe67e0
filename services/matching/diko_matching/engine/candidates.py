"""Candidate generation and bulk scoring without the quadratic all-pairs loop.

Positions are bucketed by KldB block (the first `min_shared_prefix` digits:
no pair outside a shared block can be acceptable) and by a square grid of
`cell_km` cells on an equirectangular projection. Each applicant scans only
the buckets of its wished blocks in the cells its reach can touch, computes
the exact haversine distance there and keeps its best `list_length` positions
in a small heap. The projection uses the cosine of the northernmost latitude,
so projected east–west distances never exceed true ones and no position within
reach is missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from diko_matching.engine.profiles import ProfileArrays
from diko_matching.engine.scoring import ScoringWeights, criteria_points

EARTH_KM = 6371.0088
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320

_points = njit(cache=True)(criteria_points)

FORMULA_SHA256 = "ebd62b199e7cdc85cac47826386bc84e1b1bd2981f388cb149109cdb80554cdd"
"""SHA-256 of `criteria_points`' source, which the kernel below compiles in.

numba's on-disk cache of a kernel is invalidated only by changes to the
kernel's own file, not to functions it calls from other modules: a new
formula in scoring.py would keep running the old compiled one (also from the
service's cache volume). A test checks this hash, so changing the formula
means changing this file too, which invalidates the cached kernel.
"""


@dataclass(frozen=True, slots=True)
class Candidates:
    """Each applicant's best positions, best first (-1 pads a short row)."""

    position: np.ndarray  # int64 [n_app, list_length]
    score: np.ndarray  # float64 [n_app, list_length]
    n_acceptable: np.ndarray  # int64 [n_app], before the cut to list_length

    @property
    def n_pairs(self) -> int:
        """Pairs kept in the rows."""
        return int((self.position >= 0).sum())


@njit(cache=True)
def _haversine(
    lat1: float, lon1: float, cos1: float, lat2: float, lon2: float, cos2: float
) -> float:
    """Haversine on radians with the cosines precomputed (same formula as the gazetteer's)."""
    h = math.sin((lat2 - lat1) / 2) ** 2 + cos1 * cos2 * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


@njit(cache=True)
def _shared_prefix(a: int, b: int) -> int:
    div = 1
    for n in range(5, 0, -1):
        if a // div == b // div:
            return n
        div *= 10
    return 0


@njit(cache=True)
def _worse(s1: float, p1: int, s2: float, p2: int) -> bool:
    return s1 < s2 or (s1 == s2 and p1 > p2)


@njit(cache=True)
def _heap_push(hs: np.ndarray, hp: np.ndarray, size: int, cap: int, s: float, p: int) -> int:
    if size < cap:
        i = size
        hs[i] = s
        hp[i] = p
        while i > 0:
            parent = (i - 1) // 2
            if _worse(hs[i], hp[i], hs[parent], hp[parent]):
                hs[i], hs[parent] = hs[parent], hs[i]
                hp[i], hp[parent] = hp[parent], hp[i]
                i = parent
            else:
                break
        return size + 1
    if not _worse(hs[0], hp[0], s, p):
        return size
    hs[0] = s
    hp[0] = p
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        m = left
        if left + 1 < size and _worse(hs[left + 1], hp[left + 1], hs[left], hp[left]):
            m = left + 1
        if _worse(hs[m], hp[m], hs[i], hp[i]):
            hs[i], hs[m] = hs[m], hs[i]
            hp[i], hp[m] = hp[m], hp[i]
            i = m
        else:
            break
    return size


@njit(parallel=True, cache=True)
def _candidates_kernel(
    a_lat: np.ndarray,
    a_lon: np.ndarray,
    a_cos: np.ndarray,
    a_x: np.ndarray,
    a_y: np.ndarray,
    a_reach: np.ndarray,
    a_school: np.ndarray,
    a_from: np.ndarray,
    a_until: np.ndarray,
    wish_indptr: np.ndarray,
    wish_code: np.ndarray,
    q_lat: np.ndarray,
    q_lon: np.ndarray,
    q_cos: np.ndarray,
    q_x: np.ndarray,
    q_y: np.ndarray,
    q_code: np.ndarray,
    q_school: np.ndarray,
    q_start: np.ndarray,
    q_index: np.ndarray,
    bucket_start: np.ndarray,
    block_of_prefix: np.ndarray,
    block_div: int,
    cell_km: float,
    nx: int,
    ny: int,
    w: np.ndarray,
    list_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (q_*) come sorted by bucket; `q_index` gives their caller's index."""
    n_app = len(a_lat)
    out_pos = np.full((n_app, list_length), -1, np.int64)
    out_score = np.zeros((n_app, list_length), np.float64)
    n_ok = np.zeros(n_app, np.int64)
    ncell = nx * ny
    for a in prange(n_app):
        hs = np.empty(list_length, np.float64)
        hp = np.empty(list_length, np.int64)
        size = 0
        count = 0
        reach = a_reach[a]
        box = reach * 1.02
        box2 = box * box
        ax = a_x[a]
        ay = a_y[a]
        cx0 = max(0, math.floor((ax - box) / cell_km))
        cx1 = min(nx - 1, math.floor((ax + box) / cell_km))
        cy0 = max(0, math.floor((ay - box) / cell_km))
        cy1 = min(ny - 1, math.floor((ay + box) / cell_km))
        w0 = wish_indptr[a]
        w1 = wish_indptr[a + 1]
        for k in range(w0, w1):
            b = block_of_prefix[wish_code[k] // block_div]
            if b < 0:
                continue
            seen = False
            for j in range(w0, k):
                if block_of_prefix[wish_code[j] // block_div] == b:
                    seen = True
            if seen:
                continue
            for cy in range(cy0, cy1 + 1):
                row = b * ncell + cy * nx
                for t in range(bucket_start[row + cx0], bucket_start[row + cx1 + 1]):
                    dx = q_x[t] - ax
                    dy = q_y[t] - ay
                    if dx * dx + dy * dy > box2:  # projected distances never exceed true ones
                        continue
                    d = _haversine(a_lat[a], a_lon[a], a_cos[a], q_lat[t], q_lon[t], q_cos[t])
                    if d > reach:
                        continue
                    best = -1.0
                    for j in range(w0, w1):
                        pts = _points(
                            d,
                            reach,
                            _shared_prefix(wish_code[j], q_code[t]),
                            j - w0,
                            a_school[a],
                            q_school[t],
                            q_start[t],
                            a_from[a],
                            a_until[a],
                            w,
                        )
                        if pts[0] >= 0:
                            best = max(best, pts[0] + pts[1] + pts[2] + pts[3] + pts[4])
                    if best >= 0:
                        count += 1
                        size = _heap_push(hs, hp, size, list_length, best, q_index[t])
        n_ok[a] = count
        for i in range(size):  # heap -> row, best first
            m = 0
            for j in range(1, size - i):
                if _worse(hs[m], hp[m], hs[j], hp[j]):
                    m = j
            out_pos[a, i] = hp[m]
            out_score[a, i] = hs[m]
            last = size - i - 1
            hs[m], hs[last] = hs[last], hs[m]
            hp[m], hp[last] = hp[last], hp[m]
    return out_pos, out_score, n_ok


def score_pairs(
    arrays: ProfileArrays,
    weights: ScoringWeights | None = None,
    list_length: int = 50,
    cell_km: float = 15.0,
) -> Candidates:
    """Every applicant's best `list_length` acceptable positions with their scores.

    Equal scores are ordered by position index, so the result does not depend
    on the grid or on thread scheduling.
    """
    weights = weights or ScoringWeights()
    n_app = len(arrays.app_ids)
    if n_app == 0 or len(arrays.pos_ids) == 0:
        return Candidates(
            np.full((n_app, list_length), -1, np.int64),
            np.zeros((n_app, list_length)),
            np.zeros(n_app, np.int64),
        )
    block_div = 10 ** (5 - weights.min_shared_prefix)
    prefixes = arrays.p_code // block_div
    used = np.unique(prefixes)
    block_of_prefix = np.full(10**weights.min_shared_prefix, -1, np.int64)
    block_of_prefix[used] = np.arange(len(used))
    north = float(max(arrays.p_lat.max(), arrays.a_lat.max()))
    kx = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(north))
    x0 = float(min(arrays.p_lon.min(), arrays.a_lon.min())) * kx
    y0 = float(min(arrays.p_lat.min(), arrays.a_lat.min())) * KM_PER_DEG_LAT
    px = arrays.p_lon * kx - x0
    py = arrays.p_lat * KM_PER_DEG_LAT - y0
    ax = arrays.a_lon * kx - x0
    ay = arrays.a_lat * KM_PER_DEG_LAT - y0
    nx = int(max(px.max(), ax.max()) // cell_km) + 1
    ny = int(max(py.max(), ay.max()) // cell_km) + 1
    keys = block_of_prefix[prefixes] * (nx * ny) + (py // cell_km).astype(np.int64) * nx
    keys += (px // cell_km).astype(np.int64)
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=len(used) * nx * ny)
    bucket_start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    q_lat = np.radians(arrays.p_lat)[order]
    a_lat = np.radians(arrays.a_lat)
    pos, score, n_ok = _candidates_kernel(
        a_lat,
        np.radians(arrays.a_lon),
        np.cos(a_lat),
        ax,
        ay,
        arrays.a_reach,
        arrays.a_school,
        arrays.a_from,
        arrays.a_until,
        arrays.wish_indptr,
        arrays.wish_code,
        q_lat,
        np.radians(arrays.p_lon)[order],
        np.cos(q_lat),
        px[order],
        py[order],
        arrays.p_code[order],
        arrays.p_school[order],
        arrays.p_start[order],
        order.astype(np.int64),
        bucket_start,
        block_of_prefix,
        block_div,
        float(cell_km),
        nx,
        ny,
        weights.as_array(),
        list_length,
    )
    return Candidates(pos, score, n_ok)


@dataclass(frozen=True, slots=True)
class PreferenceCSR:
    """Both sides' strict lists derived from candidates, as CSR arrays.

    Applicants list their rows best first; a position lists exactly the
    applicants whose rows hold it, best score first (equal scores: lower
    applicant index first). `pos_entry[i]` is the applicant entry behind the
    i-th slot of the positions' lists.
    """

    app_indptr: np.ndarray
    app_pos: np.ndarray
    app_score: np.ndarray
    pos_indptr: np.ndarray
    pos_app: np.ndarray
    pos_score: np.ndarray
    pos_entry: np.ndarray


def preference_csr(cands: Candidates, n_pos: int) -> PreferenceCSR:
    """Preference lists of both sides from the scored candidates."""
    n_app, _ = cands.position.shape
    mask = cands.position >= 0
    lengths = mask.sum(axis=1)
    app_indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    app_pos = cands.position[mask]
    app_score = cands.score[mask]
    # Entries are already grouped by applicant in index order, so a stable sort
    # by (position, -score) keeps lower applicants first among equal scores.
    by_score = np.argsort(-app_score, kind="stable")
    entry = by_score[np.argsort(app_pos[by_score], kind="stable")]
    app_of = np.repeat(np.arange(n_app, dtype=np.int64), lengths)
    counts = np.bincount(app_pos, minlength=n_pos)
    return PreferenceCSR(
        app_indptr=app_indptr,
        app_pos=app_pos,
        app_score=app_score,
        pos_indptr=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        pos_app=app_of[entry],
        pos_score=app_score[entry],
        pos_entry=entry,
    )
