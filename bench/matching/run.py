"""Matching engine benchmarks: whole process against the `matching` package, nationwide scale.

Run from the repository root: `python -m bench.matching` (or `make bench
BENCH=matching`). Options: `--quick` (small sizes only, no nationwide run),
`--skip-package` (do not run the slow baseline). Prints a table and writes
`bench/results/matching.json`, `bench/results/matching_stable.csv` and
`bench/results/matching_scaling.png`.

Stable assignment, whole process against whole process: both sides start a
fresh Python, read the same instance file (`diko match generate --kind
lists` shape: lists of 30, Pareto-popular positions), solve and print the
assignment. Ours is `python -m diko_matching.cli solve FILE` (pure-Python
kernel at these sizes: no JIT involved); the baseline is
`bench/matching/package_solve.py FILE` with the recursion limit raised. The
two assignments are compared pair by pair. Wall time is the median (and the
minimum) of our runs and the median of the baseline's runs (three unless
`--package-runs` says otherwise; at 20,000 each takes minutes); the speed-up
divides the baseline's median by our median (and by our minimum, the run least
disturbed by other work on a shared machine). Peak memory comes from `/usr/bin/time -f %M`.

Nationwide: `bench.matching.nationwide` in its own process with an empty
numba cache directory, so its first calls include compiling every kernel
(reported separately as `jit_first_calls_s`); the solve times then exclude it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
TIME = shutil.which("time") and "/usr/bin/time"


def _timed(
    cmd: list[str], out_path: Path, timeout: float, env: dict[str, str] | None = None
) -> dict:
    """Run a command, stdout to a file; wall seconds and peak RSS (MiB) where measurable."""
    rss_file = out_path.with_suffix(".rss")
    full = [TIME, "-f", "%M", "-o", str(rss_file), *cmd] if TIME and os.path.exists(TIME) else cmd
    t = time.perf_counter()
    with out_path.open("w") as fh:
        proc = subprocess.run(
            full,
            stdout=fh,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    rss = None
    if rss_file.exists():
        text = rss_file.read_text().strip().splitlines()
        rss = int(text[-1]) / 1024 if text and text[-1].isdigit() else None
    return {"seconds": wall, "peak_mib": rss}


def _pairs(path: Path) -> set[tuple[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {(a, p) for p, apps in data["assignment"].items() for a in apps}


def bench_stable(
    sizes: list[tuple[int, int]],
    runs: int,
    package: bool,
    package_max: int,
    work: Path,
    package_runs: int = 1,
) -> list[dict]:
    from diko_matching.engine.generate import random_lists_instance

    rows = []
    for n_app, n_pos in sizes:
        inst_path = work / f"lists_{n_app}x{n_pos}.json"
        inst_path.write_text(
            json.dumps(random_lists_instance(n_app, n_pos, 30, seed=1).to_dict()), encoding="utf-8"
        )
        ours = [
            _timed(
                [sys.executable, "-m", "diko_matching.cli", "solve", str(inst_path)],
                work / f"ours_{n_app}.json",
                timeout=600,
            )
            for _ in range(runs)
        ]
        row = {
            "applicants": n_app,
            "positions": n_pos,
            "list_length": 30,
            "file_mib": inst_path.stat().st_size / 2**20,
            "ours_s": statistics.median(r["seconds"] for r in ours),
            "ours_min_s": min(r["seconds"] for r in ours),
            "ours_runs_s": [round(r["seconds"], 4) for r in ours],
            "ours_peak_mib": max((r["peak_mib"] or 0) for r in ours) or None,
            "package_s": None,
            "package_peak_mib": None,
            "speedup": None,
            "speedup_vs_min": None,
            "same_assignment": None,
        }
        if package and n_app <= package_max:
            bases = [
                _timed(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "matching" / "package_solve.py"),
                        str(inst_path),
                    ],
                    work / f"package_{n_app}.json",
                    timeout=3600,
                )
                for _ in range(package_runs)
            ]
            base = {
                "seconds": statistics.median(r["seconds"] for r in bases),
                "peak_mib": max((r["peak_mib"] or 0) for r in bases) or None,
            }
            row["package_runs_s"] = [round(r["seconds"], 2) for r in bases]
            row["package_s"] = base["seconds"]
            row["package_peak_mib"] = base["peak_mib"]
            row["speedup"] = base["seconds"] / row["ours_s"]
            row["speedup_vs_min"] = base["seconds"] / row["ours_min_s"]
            row["same_assignment"] = _pairs(work / f"ours_{n_app}.json") == _pairs(
                work / f"package_{n_app}.json"
            )
        rows.append(row)
        print(
            f"  stable {n_app:>6} x {n_pos:<5} ours {row['ours_s']:7.3f} s"
            + (
                f"  package {row['package_s']:8.2f} s  x{row['speedup']:.0f}"
                if row["package_s"]
                else ""
            ),
            flush=True,
        )
    return rows


def bench_nationwide(work: Path) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(work / "numba-cache"))
    out = work / "nationwide.json"
    measured = _timed(
        [sys.executable, "-m", "bench.matching.nationwide"], out, timeout=3600, env=env
    )
    result = json.loads(out.read_text())
    result["process_s"] = measured["seconds"]
    result["process_peak_mib"] = measured["peak_mib"]
    return result


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = scaling_figure(rows)
    fig.savefig(path, dpi=120, bbox_inches="tight", pad_inches=0.15)  # keeps any label whole
    plt.close(fig)


def scaling_figure(rows: list[dict]) -> Any:
    """The scaling plot of the stable rows (a matplotlib Figure, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [r["applicants"] for r in rows]
    ax.plot(xs, [r["ours_s"] for r in rows], "o-", label="diko match solve (whole process)")
    base = [(r["applicants"], r["package_s"]) for r in rows if r["package_s"]]
    if base:
        ax.plot(
            [x for x, _ in base], [y for _, y in base], "s-", label="matching 1.4.3 (whole process)"
        )
        for (x, y), r in zip(base, [r for r in rows if r["package_s"]], strict=True):
            ax.annotate(
                f"×{r['speedup']:.0f}",
                (x, y),
                textcoords="offset points",
                xytext=(4, 6),
                fontsize=8,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Room inside the axes for the "×218" of the last point, which the right edge clipped.
    ax.margins(x=0.1, y=0.12)
    ax.set_xlabel("applicants (positions = applicants / 5, lists of 30)")
    ax.set_ylabel("wall time, s")
    ax.set_title("Stable assignment, applicant-optimal")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _fmt(x: float | None, fmt: str, suffix: str = "") -> str:
    return "–" if x is None else format(x, fmt) + suffix


def _table(rows: list[dict], nationwide: dict | None) -> str:
    lines = [
        "| applicants | positions | ours, median (min) s | matching 1.4.3, median s "
        "| speed-up, median (min) | same result | ours peak MiB | matching peak MiB |",
        "| ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: |",
    ]
    for r in rows:
        same = r["same_assignment"]
        lines.append(
            f"| {r['applicants']:,} | {r['positions']:,} "
            f"| {r['ours_s']:.3f} ({r['ours_min_s']:.3f}) "
            f"| {_fmt(r['package_s'], '.2f')} | {_fmt(r['speedup'], '.0f', '×')} "
            f"({_fmt(r['speedup_vs_min'], '.0f', '×')}) "
            f"| {'–' if same is None else ('yes' if same else 'NO')} "
            f"| {_fmt(r['ours_peak_mib'], '.0f')} | {_fmt(r['package_peak_mib'], '.0f')} |"
        )
    if nationwide:
        n = nationwide
        lines += [
            "",
            f"Nationwide: {n['applicants']:,} applicants, {n['positions']:,} positions, "
            f"{n['places']:,} places, lists up to {n['list_length']}",
            "",
            "| step | seconds |",
            "| --- | ---: |",
            f"| numba: compile every kernel (empty cache) | {n['jit_first_calls_s']:.1f} |",
            f"| generate the arrays | {n['generate_s']:.1f} |",
            f"| scoring and candidates ({n['acceptable_pairs']:,} acceptable pairs, "
            f"{n['listed_pairs']:,} listed) | {n['score_s']:.1f} |",
            f"| preference lists of both sides | {n['preferences_s']:.1f} |",
            f"| solve, applicant-optimal ({n['assigned_applicant']:,} placed) "
            f"| {n['solve_applicant_s']:.2f} |",
            f"| solve, position-optimal ({n['assigned_position']:,} placed) "
            f"| {n['solve_position_s']:.2f} |",
            f"| blocking-pair check (found {n['blocking_pairs_applicant']} and "
            f"{n['blocking_pairs_position']}) | {n['blocking_check_applicant_s']:.2f} |",
            f"| whole process (peak memory {n['peak_gib']:.2f} GiB) | {n['process_s']:.1f} |",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="matching engine benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes only, no nationwide run")
    parser.add_argument(
        "--skip-package", action="store_true", help="do not run the matching package"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of our CLI per size (median)")
    parser.add_argument(
        "--package-runs", type=int, default=3, help="runs of the matching package per size (median)"
    )
    args = parser.parse_args()
    sizes = [(1000, 200), (2000, 400), (5000, 1000), (10000, 2000), (20000, 4000)]
    if args.quick:
        sizes = sizes[:3]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-matching-") as tmp:
        work = Path(tmp)
        print("stable assignment, whole process:", flush=True)
        rows = bench_stable(
            sizes, args.runs, not args.skip_package, 20000, work, package_runs=args.package_runs
        )
        nationwide = None
        if not args.quick:
            print("nationwide (own process, cold numba cache) ...", flush=True)
            nationwide = bench_nationwide(work)
    table = _table(rows, nationwide)  # the fair has its own benchmark: bench.fair
    print()
    print(table)
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        },
        "stable": rows,
        "nationwide": nationwide,
    }
    (RESULTS / "matching.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    with (RESULTS / "matching_stable.csv").open("w", newline="") as fh:
        keys = [k for k in rows[0] if k not in ("ours_runs_s", "package_runs_s")]
        writer = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (RESULTS / "matching.md").write_text(table + "\n", encoding="utf-8")
    _plot(rows, RESULTS / "matching_scaling.png")
    print(
        f"\nwritten to {RESULTS}: matching.json, matching_stable.csv, matching.md, "
        "matching_scaling.png"
    )


if __name__ == "__main__":
    main()
