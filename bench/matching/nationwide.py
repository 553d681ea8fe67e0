"""The nationwide-scale run in a process of its own, so that its peak memory is its own.

Prints one JSON object with the timings. Run by `bench.matching.run`; can be
run alone: `python -m bench.matching.nationwide [--applicants N ...]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np

from diko_matching.engine.candidates import preference_csr, score_pairs
from diko_matching.engine.generate import nationwide_arrays
from diko_matching.engine.scoring import ScoringWeights
from diko_matching.engine.stable_arrays import ArrayProblem, blocking_pairs_arrays, solve_arrays


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run(n_app: int, n_pos: int, n_places: int, list_length: int, seed: int) -> dict[str, object]:
    out: dict[str, object] = {
        "applicants": n_app,
        "positions": n_pos,
        "places": n_places,
        "list_length": list_length,
    }
    t = time.perf_counter()
    tiny = nationwide_arrays(300, 100, 200, seed=1, n_towns=10)
    tiny_csr = preference_csr(score_pairs(tiny, list_length=5), 100)
    tiny_problem = ArrayProblem.from_joined(
        tiny_csr.app_indptr,
        tiny_csr.app_pos,
        tiny_csr.pos_indptr,
        tiny_csr.pos_entry,
        tiny.capacity,
    )
    for optimal in ("applicant", "position"):
        blocking_pairs_arrays(tiny_problem, solve_arrays(tiny_problem, optimal))
    out["jit_first_calls_s"] = time.perf_counter() - t

    t = time.perf_counter()
    arrays = nationwide_arrays(n_app, n_pos, n_places, seed=seed)
    out["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    cands = score_pairs(arrays, ScoringWeights(), list_length)
    out["score_s"] = time.perf_counter() - t
    out["acceptable_pairs"] = int(cands.n_acceptable.sum())
    out["listed_pairs"] = cands.n_pairs
    t = time.perf_counter()
    csr = preference_csr(cands, n_pos)
    problem = ArrayProblem.from_joined(
        csr.app_indptr, csr.app_pos, csr.pos_indptr, csr.pos_entry, arrays.capacity
    )
    out["preferences_s"] = time.perf_counter() - t
    out["peak_gib_before_solve"] = _peak_gib()
    del cands
    for optimal in ("applicant", "position"):
        t = time.perf_counter()
        match = solve_arrays(problem, optimal)
        out[f"solve_{optimal}_s"] = time.perf_counter() - t
        out[f"assigned_{optimal}"] = int((match >= 0).sum())
        t = time.perf_counter()
        _, blocking = blocking_pairs_arrays(problem, match)
        out[f"blocking_check_{optimal}_s"] = time.perf_counter() - t
        out[f"blocking_pairs_{optimal}"] = int(blocking)
        load = np.bincount(match[match >= 0], minlength=n_pos)
        out[f"capacity_respected_{optimal}"] = bool(np.all(load <= arrays.capacity))
    out["peak_gib"] = _peak_gib()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applicants", type=int, default=450_000)
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument("--places", type=int, default=500_000)
    parser.add_argument("--list-length", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = run(args.applicants, args.positions, args.places, args.list_length, args.seed)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
