"""Solve an explicit-list instance file with the `matching` package (the baseline).

Reads the same JSON the diko CLI reads, runs `HospitalResident` with the
recursion limit raised (the package recurses once per proposal and fails
from a few hundred applicants on without it) and prints the assignment as
JSON, so that both whole processes do the same work: start, read, solve, print.
"""

from __future__ import annotations

import json
import sys
import warnings

from matching.games import HospitalResident


def main(path: str, optimal: str = "applicant") -> None:
    sys.setrecursionlimit(1_000_000)
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    residents = {a: lst for a, lst in data["applicants"].items() if lst}
    hospitals = {p: lst for p, lst in data["positions"].items() if lst}
    capacities = {p: data["capacities"].get(p, 1) for p in hospitals}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        game = HospitalResident.create_from_dictionaries(residents, hospitals, capacities)
        result = game.solve(optimal="resident" if optimal == "applicant" else "hospital")
    assignment = {h.name: sorted(r.name for r in rs) for h, rs in result.items()}
    json.dump({"assignment": assignment}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
