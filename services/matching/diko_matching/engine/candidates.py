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
def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
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
    a_reach: np.ndarray,
    a_school: np.ndarray,
    a_from: np.ndarray,
    a_until: np.ndarray,
    wish_indptr: np.ndarray,
    wish_code: np.ndarray,
    p_lat: np.ndarray,
    p_lon: np.ndarray,
    p_code: np.ndarray,
    p_school: np.ndarray,
    p_start: np.ndarray,
    order: np.ndarray,
    bucket_start: np.ndarray,
    block_of_prefix: np.ndarray,
    block_div: int,
    x0: float,
    y0: float,
    kx: float,
    cell_km: float,
    nx: int,
    ny: int,
    w: np.ndarray,
    list_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        ax = (a_lon[a] * kx - x0) / cell_km
        ay = (a_lat[a] * KM_PER_DEG_LAT - y0) / cell_km
        r = reach * 1.02 / cell_km
        cx0 = max(0, math.floor(ax - r))
        cx1 = min(nx - 1, math.floor(ax + r))
        cy0 = max(0, math.floor(ay - r))
        cy1 = min(ny - 1, math.floor(ay + r))
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
                for cx in range(cx0, cx1 + 1):
                    key = b * ncell + cy * nx + cx
                    for t in range(bucket_start[key], bucket_start[key + 1]):
                        p = order[t]
                        d = _haversine(a_lat[a], a_lon[a], p_lat[p], p_lon[p])
                        if d > reach:
                            continue
                        best = -1.0
                        for j in range(w0, w1):
                            pts = _points(
                                d,
                                reach,
                                _shared_prefix(wish_code[j], p_code[p]),
                                j - w0,
                                a_school[a],
                                p_school[p],
                                p_start[p],
                                a_from[a],
                                a_until[a],
                                w,
                            )
                            if pts[0] >= 0:
                                s = pts[0] + pts[1] + pts[2] + pts[3] + pts[4]
                                best = max(best, s)
                        if best >= 0:
                            count += 1
                            size = _heap_push(hs, hp, size, list_length, best, p)
        n_ok[a] = count
        # heap -> rows, best first (selection from the small heap)
        for i in range(size):
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
    """Every applicant's best `list_length` acceptable positions with their scores."""
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
    kx = KM_PER_DEG_LON_EQUATOR * math.cos(
        math.radians(float(max(arrays.p_lat.max(), arrays.a_lat.max())))
    )
    px = arrays.p_lon * kx
    py = arrays.p_lat * KM_PER_DEG_LAT
    ax = arrays.a_lon * kx
    ay = arrays.a_lat * KM_PER_DEG_LAT
    x0 = float(min(px.min(), ax.min()))
    y0 = float(min(py.min(), ay.min()))
    nx = int((max(px.max(), ax.max()) - x0) // cell_km) + 1
    ny = int((max(py.max(), ay.max()) - y0) // cell_km) + 1
    cxs = ((px - x0) // cell_km).astype(np.int64)
    cys = ((py - y0) // cell_km).astype(np.int64)
    keys = block_of_prefix[prefixes] * (nx * ny) + cys * nx + cxs
    order = np.argsort(keys, kind="stable").astype(np.int64)
    counts = np.bincount(keys, minlength=len(used) * nx * ny)
    bucket_start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    pos, score, n_ok = _candidates_kernel(
        arrays.a_lat,
        arrays.a_lon,
        arrays.a_reach,
        arrays.a_school,
        arrays.a_from,
        arrays.a_until,
        arrays.wish_indptr,
        arrays.wish_code,
        arrays.p_lat,
        arrays.p_lon,
        arrays.p_code,
        arrays.p_school,
        arrays.p_start,
        order,
        bucket_start,
        block_of_prefix,
        block_div,
        x0,
        y0,
        kx,
        float(cell_km),
        nx,
        ny,
        weights.as_array(),
        list_length,
    )
    return Candidates(pos, score, n_ok)


def preference_csr(
    cands: Candidates, n_pos: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both sides' lists from the candidates: applicants by their rows, positions by score.

    Returns (app_indptr, app_pos, app_score, pos_indptr, pos_app, pos_score); a
    position lists exactly the applicants whose rows hold it, best score first
    (ties: lower applicant index first; the stable run's lottery re-breaks them).
    """
    n_app, _ = cands.position.shape
    mask = cands.position >= 0
    lengths = mask.sum(axis=1)
    app_indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    app_pos = cands.position[mask]
    app_score = cands.score[mask]
    app_of = np.repeat(np.arange(n_app, dtype=np.int64), lengths)
    order = np.lexsort((app_of, -app_score, app_pos))
    pos_app = app_of[order]
    pos_score = app_score[order]
    pos_indptr = np.concatenate(([0], np.cumsum(np.bincount(app_pos, minlength=n_pos)))).astype(
        np.int64
    )
    return app_indptr, app_pos, app_score, pos_indptr, pos_app, pos_score
