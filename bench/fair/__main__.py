"""`python -m bench.fair`: the applicant-fair plan at 40 companies × 300 applicants × 16 slots.

Goal: every stage proven optimal within 60 s on this machine. Generated fairs
(`generate_fair`, seeds 1 to 3 by default), each planned in a fresh process with the
goal's time limit; the table lists per fair the seconds, whether every stage was proven
optimal, how many stages ran, the slowest stage and the leximin profile's ends, and per
stage kind the largest gap, and where the time went (the model, the first stages, the
leximin's MILPs with the slowest level, the placement). As a floor in the same run, the
slot model's first stage alone (the model one would write first: a binary per wish and
slot) on the same fair, with the same limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
GOAL_S = 60.0

WORKER = """
import json, sys, time
from diko_matching.engine.fair import FairInstance, plan_fair
from diko_matching.engine.fair_model import slot_model
from diko_matching.engine.fair_stages import lexicographic
from diko_matching.engine.generate import generate_fair
companies, applicants, slots, seed, limit, mode = sys.argv[1:7]
data = generate_fair(int(companies), int(applicants), int(slots), seed=int(seed))
inst = FairInstance.parse(data)
t = time.perf_counter()
if mode == "plan":
    plan = plan_fair(inst, time_limit=float(limit))
    out = {"seconds": time.perf_counter() - t, "summary": plan.summary,
           "stages": [s.to_dict() for s in plan.stages]}
else:
    outcome = lexicographic(slot_model(inst), time.perf_counter() + float(limit))
    out = {"seconds": time.perf_counter() - t, "stages": [s.to_dict() for s in outcome.stages[:2]]}
print(json.dumps(out))
"""


def run(args: list[str]) -> dict:
    """One fair in a fresh process (HiGHS's diagnostics go to stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="applicant-fair plans at 40 x 300 x 16")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=GOAL_S)
    parser.add_argument("--floor-limit", type=float, default=120.0)
    args = parser.parse_args()
    load = os.getloadavg()
    rows = []
    for seed in args.seeds:
        print(f"fair seed {seed} ...", flush=True)
        plan = run(["40", "300", "16", str(seed), str(args.time_limit), "plan"])
        floor = run(["40", "300", "16", str(seed), str(args.floor_limit), "floor"])
        stages = plan["stages"]
        slowest = max(stages, key=lambda s: s["seconds"])
        gaps = {}
        for s in stages:
            kind = " ".join(w for w in s["name"].split() if not w.isdigit())
            gap = s["gap"] if s["gap"] is not None else float("inf")
            gaps[kind] = max(gaps.get(kind, 0.0), gap)
        levels = plan["summary"]["levels"]
        leximin = [s for s in stages if s["name"].startswith("fairness")]
        slowest_level = max(leximin, key=lambda s: s["seconds"], default=None)
        rows.append(
            {
                "seed": seed,
                "seconds": round(plan["seconds"], 2),
                "proven_optimal": plan["summary"]["proven_optimal"],
                "stages": len(stages),
                "fairness_levels": len(levels),
                "slowest_stage": f"{slowest['name']} ({slowest['seconds']:.2f} s)",
                "largest_gap_by_kind": gaps,
                "worst_share": plan["summary"]["worst_share"],
                "below_minimum": plan["summary"]["below_minimum"],
                "shortfall": plan["summary"]["shortfall"],
                "interviews": plan["summary"]["interviews"],
                "granted_weight": plan["summary"]["granted_weight"],
                "where_the_time_goes": {
                    "model": round(plan["seconds"] - sum(s["seconds"] for s in stages), 2),
                    "minimum_and_wishes": round(
                        sum(s["seconds"] for s in stages if s["name"] in ("minimum", "wishes")), 2
                    ),
                    "leximin": round(sum(s["seconds"] for s in leximin), 2),
                    "leximin_milps": len(leximin),
                    "slowest_level": slowest_level,
                    "placement": round(
                        sum(s["seconds"] for s in stages if s["name"] == "slots"), 2
                    ),
                },
                "floor_minimum_stage": floor["stages"][0],
                "floor_seconds": round(floor["seconds"], 2),
                "summary": plan["summary"],
                "plan_stages": stages,
            }
        )
    lines = [
        f"Applicant fair, 40 companies x 300 applicants x 16 slots, time limit "
        f"{args.time_limit:.0f} s (load before: {load[0]:.1f} on {os.cpu_count()} cores)",
        "",
        "| seed | seconds | every stage optimal | stages | leximin levels | slowest stage "
        "| largest gap | worst share | below minimum (shortfall) "
        "| slot model's first stage alone |",
        "| ---: | ---: | :---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        floor = r["floor_minimum_stage"]
        largest = max(r["largest_gap_by_kind"].values())
        proven = "yes" if r["proven_optimal"] else "no"
        lines.append(
            f"| {r['seed']} | {r['seconds']:.1f} | {proven} | {r['stages']} "
            f"| {r['fairness_levels']} | {r['slowest_stage']} | {largest:.1e} "
            f"| {r['worst_share']:.3f} | {r['below_minimum']} ({r['shortfall']}) "
            f"| {floor['status']}, {floor['seconds']:.1f} s |"
        )
    lines += [
        "",
        "Where the time goes (seconds): building the model, the minimum and wishes stages, "
        "the leximin's MILPs (one per level) with the slowest, placing the granted wishes.",
        "",
        "| seed | model | minimum + wishes | leximin (MILPs) | slowest level | placement |",
        "| ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        w = r["where_the_time_goes"]
        slow = w["slowest_level"]
        slowest = f"{slow['name']} ({slow['seconds']:.2f} s)" if slow else "-"
        lines.append(
            f"| {r['seed']} | {w['model']:.1f} | {w['minimum_and_wishes']:.1f} "
            f"| {w['leximin']:.1f} ({w['leximin_milps']}) | {slowest} | {w['placement']:.1f} |"
        )
    load_after = os.getloadavg()
    met = all(r["proven_optimal"] and r["seconds"] <= GOAL_S for r in rows)
    lines += [
        "",
        f"Goal (every stage proven optimal within {GOAL_S:.0f} s): {'met' if met else 'missed'}. "
        f"Load average after: {load_after[0]:.1f}.",
    ]
    table = "\n".join(lines)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": load,
            "load_after": load_after,
        },
        "time_limit_s": args.time_limit,
        "fairs": rows,
        "goal_met": met,
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
    }
    (RESULTS / "fair.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (RESULTS / "fair.md").write_text(table + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS}: fair.json, fair.md")


if __name__ == "__main__":
    main()
