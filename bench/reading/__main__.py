"""`python -m bench.reading`: what reading a message costs, before and after tolerant events.

Reading is the first step of every message the pipeline takes: validate the envelope and
its payload. The change that made events tolerant and messages versioned must not make
it slower by more than a few percent. Both sides run in processes of their own, in turns,
on the same machine and the same bodies (each side's producers' own: before without
`dataschema`, after with it):

- before: the `diko_shared` of the commit before the change (`git archive`), reading as
  its pipeline did, `Envelope[payload].model_validate_json`;
- after: this checkout's pipeline `Reader` with the service's real metrics;
- the floor: `json.loads` of the same body, in the same process.

Times are the best of many rounds (the least disturbed by other work on the machine);
the ratio after / before is what the goal is about.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "reading.json"
#: The file the change added: the commit before the one that added it is "before".
MARKER = "shared/diko_shared/contract/versions.py"
GOAL = 1.05


def before_rev() -> str:
    added = subprocess.run(
        ["git", "log", "--format=%H", "--diff-filter=A", "--", MARKER],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^"


def old_shared(rev: str, into: Path) -> Path:
    archive = into / "old.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", rev, "shared"], cwd=REPO, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "shared"


def probe(shared: Path, loops: int, rounds: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shared), str(REPO)])}
    out = subprocess.run(
        [sys.executable, "-m", "bench.reading.probe", str(loops), str(rounds)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def best(runs: list[dict[str, Any]]) -> dict[str, float]:
    cases = runs[0]["cases"]
    return {case: min(run["cases"][case]["best_us"] for run in runs) for case in cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the commit to compare with (default: before the change)")
    parser.add_argument("--loops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--turns", type=int, default=5, help="alternating runs of each side")
    args = parser.parse_args()
    rev = args.before or before_rev()
    with tempfile.TemporaryDirectory() as tmp:
        old = old_shared(rev, Path(tmp))
        new = REPO / "shared"
        runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for _ in range(args.turns):
            runs["before"].append(probe(old, args.loops, args.rounds))
            runs["after"].append(probe(new, args.loops, args.rounds))
    if runs["before"][0]["after"] or not runs["after"][0]["after"]:
        raise SystemExit(f"the sides are mixed up: {runs['before'][0]['diko_shared']}")
    before, after = best(runs["before"]), best(runs["after"])
    rows = []
    for case, after_us in after.items():
        type_, _, what = case.partition(": ")
        if what == "json.loads":
            continue
        floor = after[f"{type_}: json.loads"]
        before_us = before.get(case) if what == "read" else before.get(f"{type_}: read")
        rows.append(
            {
                "type": type_,
                "case": what,
                "before_us": before_us,
                "after_us": after_us,
                "after_over_before": round(after_us / before_us, 3) if before_us else None,
                "floor_us": floor,
                "after_over_floor": round(after_us / floor, 2),
            }
        )
    same = [r["after_over_before"] for r in rows if r["case"] == "read"]
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "before": rev,
        "parameters": {"loops": args.loops, "rounds": args.rounds, "turns": args.turns},
        "load_average": os.getloadavg()[0],
        "goal": f"reading what producers send costs at most {GOAL:.2f}x what it cost before",
        "worst_ratio": max(same),
        "goal_met": max(same) <= GOAL,
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(render(result))


def render(result: dict[str, Any]) -> str:
    lines = [
        f"reading one message (best of {result['parameters']['turns']} turns × "
        f"{result['parameters']['rounds']} rounds; before = {result['before']})",
        f"{'type':<18} {'case':<24} {'before µs':>10} {'after µs':>10} {'after/before':>13} "
        f"{'after/json.loads':>17}",
    ]
    for row in result["rows"]:
        ratio = row["after_over_before"]
        lines.append(
            f"{row['type']:<18} {row['case']:<24} {row['before_us'] or 0:>10.2f} "
            f"{row['after_us']:>10.2f} {ratio if ratio is not None else '':>13} "
            f"{row['after_over_floor']:>17}"
        )
    verdict = "met" if result["goal_met"] else "NOT met"
    lines.append(f"goal: {result['goal']}: worst {result['worst_ratio']} — {verdict}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
