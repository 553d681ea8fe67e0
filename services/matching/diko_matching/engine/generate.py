"""Synthetic instances: realistic Altmark profiles, plain random lists, nationwide arrays.

Profiles use the shared gazetteer (people live and train where the towns are)
and the KldB apprenticeship catalogue with its popularity weights, so that
shortlists and stable runs behave as they would on the network's real data.
Everything is drawn from `numpy.random.default_rng(seed)`: the same seed gives
the same instance.
"""

from __future__ import annotations

import numpy as np

from diko_matching.engine.instance import Instance

SCHOOLS = ("hauptschule", "realschule", "abitur")
_SCHOOL_SHARE = (0.25, 0.5, 0.25)
_KIND_WEIGHT = {"Stadt": 6.0, "Gemeinde": 2.0, "Flecken": 2.0, "Ortsteil": 1.0}
_SEATS = {"Stendal": 5.0, "Salzwedel": 3.0, "Gardelegen": 2.0}
"""Extra weight for the district towns, where most people live and most firms are."""


def _place_weights(names: list[str], kinds: list[str]) -> np.ndarray:
    w = np.array(
        [_KIND_WEIGHT.get(k, 1.0) * _SEATS.get(n, 1.0) for n, k in zip(names, kinds, strict=True)]
    )
    return w / w.sum()


def random_lists_instance(
    n_applicants: int,
    n_positions: int,
    list_length: int,
    seed: int = 0,
    mean_capacity: float = 5.0,
) -> Instance:
    """Strict random lists of a fixed length with popular and unpopular positions.

    Positions are drawn with Pareto-distributed popularity (a few are wanted
    by many); each position ranks exactly the applicants who list it, in its
    own random order. This is the benchmark shape of the issue
    (20,000 x 4,000 with lists of 30) that the `matching` package also reads.
    """
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.5, n_positions) + 1.0
    popularity /= popularity.sum()
    k = min(list_length, n_positions)
    # Gumbel top-k: k distinct positions per applicant, drawn by popularity.
    pos_ids = [f"p{j:06d}" for j in range(n_positions)]
    app_ids = [f"a{i:06d}" for i in range(n_applicants)]
    logp = np.log(popularity)
    applicants: dict[str, list[str]] = {}
    lists = np.empty((n_applicants, k), dtype=np.int64)
    for start in range(0, n_applicants, 4096):
        stop = min(start + 4096, n_applicants)
        keys = logp + rng.gumbel(size=(stop - start, n_positions))
        top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
        lists[start:stop] = np.take_along_axis(top, order, axis=1)
    listed_by: list[list[int]] = [[] for _ in range(n_positions)]
    for i, row in enumerate(lists.tolist()):
        applicants[app_ids[i]] = [pos_ids[j] for j in row]
        for j in row:
            listed_by[j].append(i)
    positions: dict[str, list[str]] = {}
    for j, apps in enumerate(listed_by):
        order = rng.permutation(len(apps))
        positions[pos_ids[j]] = [app_ids[apps[o]] for o in order]
    caps = np.maximum(1, rng.poisson(mean_capacity - 1, n_positions) + 1)
    return Instance(
        applicants={a: [[p] for p in v] for a, v in applicants.items()},
        positions={p: [[a] for a in v] for p, v in positions.items()},
        capacities={p: int(c) for p, c in zip(pos_ids, caps, strict=True)},
    )
