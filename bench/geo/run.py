"""Gazetteer benchmarks: loading, lookups, radius queries, geocoding a nationwide instance.

Run from the repository root: `python -m bench.geo` (or `make bench BENCH=geo`); no
stack needed. Prints a table and writes `bench/results/geo.json`. Every figure is set
against a raw floor measured in the same run:

- load: a fresh process that has imported the service shell (as a service has) reads
  the gazetteer and answers its first lookups; the floor is the same process reading
  the same three CSV files with the csv module and nothing else. CPU seconds (the
  process's own, not disturbed by other work on the machine) and the growth of its
  resident memory. `--before REV` also loads the gazetteer of an older commit
  (`git archive REV shared`), e.g. the 83-place Altmark gazetteer.
- lookups: names as people type them (canonical, lower case, ASCII spellings, bare
  ambiguous names, 'PLZ Name') against a dict lookup of pre-normalised keys.
- radius: places within 50 km of 2,000 random points in Germany through the grid,
  against a pure-Python scan of every place (the brute force the tests compare with).
- nationwide geocoding: 450,000 homes and 200,000 training towns drawn from the
  gazetteer's municipalities by population, each turned into coordinates by
  `lookup` as matching's `to_arrays` does, against the dict floor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"

_PROBE = """
import json, resource, sys, time
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
import diko_shared.service  # what a service process has imported before its first message
r0, c0, t0 = rss(), time.process_time(), time.perf_counter()
if sys.argv[1] == "floor":
    import csv
    from importlib import resources
    tables = []
    for name in ("areas.csv", "places.csv", "postcodes.csv"):
        with resources.files("diko_shared.geo").joinpath(name).open(encoding="utf-8") as fh:
            tables.append(list(csv.reader(l for l in fh if not l.startswith("#"))))
    found = [row for row in tables[1] if row[0] == "Osterburg (Altmark)"]
else:
    from diko_shared.geo import load_gazetteer
    gaz = load_gazetteer()
    found = [gaz.lookup("Osterburg"), gaz.lookup("Tangermuende")]
    try:
        found.append(gaz.lookup("39606"))
    except Exception:
        pass
print(json.dumps({
    "cpu_s": time.process_time() - c0,
    "wall_s": time.perf_counter() - t0,
    "rss_growth_mib": rss() - r0,
    "rss_mib": rss(),
}))
"""


def _probe(kind: str, pythonpath: str | None = None, runs: int = 5) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, kind],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=ROOT,
        )
        results.append(json.loads(out.stdout))
    best = min(results, key=lambda r: r["cpu_s"])
    median_cpu = sorted(r["cpu_s"] for r in results)[len(results) // 2]
    return {**best, "median_cpu_s": median_cpu}


def _old_shared(rev: str, into: Path) -> str:
    archive = into / "old.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "archive", rev, "shared"], cwd=ROOT, stdout=fh, check=True)
    with tarfile.open(archive) as tf:
        tf.extractall(into, filter="data")
    return str(into / "shared")


def bench_load(before: str | None) -> dict[str, Any]:
    out = {"floor": _probe("floor"), "gazetteer": _probe("gazetteer")}
    if before:
        with tempfile.TemporaryDirectory() as tmp:
            out["before"] = {"rev": before, **_probe("gazetteer", _old_shared(before, Path(tmp)))}
    return out


def _typed_names(gaz: Any, n: int, rng: random.Random) -> list[str]:
    """Names as people type them: canonical, lower case, ASCII, bare, with a postcode."""
    places = gaz.places
    out = []
    for _ in range(n):
        p = places[rng.randrange(len(places))]
        form = rng.randrange(5)
        if form == 0:
            out.append(p.name)
        elif form == 1:
            out.append(p.name.lower())
        elif form == 2:
            out.append(p.name.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae"))
        elif form == 3:
            out.append(p.name.split(" (")[0])
        else:
            out.append(f"{p.postcode} {p.name}")
    return out


def bench_lookups(n: int = 100_000) -> dict[str, Any]:
    from diko_shared.geo import load_gazetteer
    from diko_shared.geo.names import full_key

    gaz = load_gazetteer()
    rng = random.Random(1)
    typed = _typed_names(gaz, n, rng)
    floor_index = {full_key(p.name): p for p in gaz.places}
    keys = [full_key(p.name) for p in (gaz.places[rng.randrange(len(gaz))] for _ in range(n))]
    t = time.perf_counter()
    for k in keys:
        floor_index.get(k)
    floor_s = time.perf_counter() - t
    t = time.perf_counter()
    for name in typed:
        gaz.lookup(name)
    ours_s = time.perf_counter() - t
    codes = [gaz.places[rng.randrange(len(gaz))].postcode for _ in range(n // 10)]
    t = time.perf_counter()
    for code in codes:
        gaz.lookup(code)
    postcode_s = time.perf_counter() - t
    return {
        "lookups": n,
        "floor_per_s": n / floor_s,
        "names_per_s": n / ours_s,
        "postcodes_per_s": len(codes) / postcode_s,
        "names_us": ours_s / n * 1e6,
        "floor_us": floor_s / n * 1e6,
    }


def bench_radius(queries: int = 2_000, km: float = 50.0) -> dict[str, Any]:
    from diko_shared.geo import haversine_km, load_gazetteer

    gaz = load_gazetteer()
    rng = random.Random(2)
    points = [(rng.uniform(47.5, 54.8), rng.uniform(6.0, 14.9)) for _ in range(queries)]
    places = gaz.places
    t = time.perf_counter()
    found = sum(len(gaz.near(lat, lon, km)) for lat, lon in points)
    ours_s = time.perf_counter() - t
    sample = points[:200]
    t = time.perf_counter()
    brute = 0
    for lat, lon in sample:
        brute += sum(1 for p in places if haversine_km(lat, lon, p.latitude, p.longitude) <= km)
    brute_s = (time.perf_counter() - t) * len(points) / len(sample)
    return {
        "queries": queries,
        "km": km,
        "places_found_per_query": found / queries,
        "ms_per_query": ours_s / queries * 1e3,
        "brute_force_ms_per_query": brute_s / queries * 1e3,
        "speed_up": brute_s / ours_s,
    }


def bench_nationwide(n_homes: int = 450_000, n_towns: int = 200_000) -> dict[str, Any]:
    from diko_shared.geo import load_gazetteer
    from diko_shared.geo.names import full_key

    gaz = load_gazetteer()
    rng = random.Random(3)
    towns = [p for p in gaz.places if p.kind != "Ortsteil"]
    weights = [(p.population or 300) for p in towns]
    homes = [p.name for p in rng.choices(towns, weights, k=n_homes)]
    firms = [p.name for p in rng.choices(towns, [w**1.2 for w in weights], k=n_towns)]
    names = homes + firms
    floor_index = {full_key(p.name): (p.latitude, p.longitude) for p in gaz.places}
    t = time.perf_counter()
    floor = [floor_index[full_key(n)] for n in names]
    floor_s = time.perf_counter() - t
    t = time.perf_counter()
    coords = [(p.latitude, p.longitude) for p in map(gaz.lookup, names)]
    ours_s = time.perf_counter() - t
    assert coords == floor
    return {
        "homes": n_homes,
        "towns": n_towns,
        "distinct_places": len(set(names)),
        "seconds": ours_s,
        "floor_seconds": floor_s,
        "ratio_to_floor": ours_s / floor_s,
    }


def _sizes() -> dict[str, int]:
    geo = ROOT / "shared" / "diko_shared" / "geo"
    return {p.name: p.stat().st_size for p in sorted(geo.iterdir()) if p.suffix in (".csv", "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before", help="also load the gazetteer of this git revision")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load": bench_load(args.before),
        "lookups": bench_lookups(100_000 // scale),
        "radius": bench_radius(2_000 // scale),
        "nationwide": bench_nationwide(450_000 // scale, 200_000 // scale),
        "file_bytes": _sizes(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "geo.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(render(result))


def render(r: dict[str, Any]) -> str:
    load = r["load"]
    rows = [
        "| what | ours | raw floor | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    g, f = load["gazetteer"], load["floor"]
    rows.append(
        f"| load and first lookups, CPU s (median) | {g['cpu_s']:.3f} ({g['median_cpu_s']:.3f}) "
        f"| {f['cpu_s']:.3f} ({f['median_cpu_s']:.3f}) | {g['cpu_s'] / f['cpu_s']:.1f}× |"
    )
    rows.append(
        f"| resident memory added, MiB | {g['rss_growth_mib']:.1f} | {f['rss_growth_mib']:.1f} "
        f"| {g['rss_growth_mib'] / f['rss_growth_mib']:.1f}× |"
    )
    if "before" in load:
        b = load["before"]
        rows.append(
            f"| before ({b['rev'][:7]}, 83 places): CPU s, MiB | {b['cpu_s']:.3f}, "
            f"{b['rss_growth_mib']:.1f} | | |"
        )
    lk = r["lookups"]
    rows.append(
        f"| name lookups per second ({lk['names_us']:.1f} µs each) | {lk['names_per_s']:,.0f} "
        f"| {lk['floor_per_s']:,.0f} | {lk['floor_per_s'] / lk['names_per_s']:.1f}× slower |"
    )
    rows.append(f"| postcode lookups per second | {lk['postcodes_per_s']:,.0f} | | |")
    rd = r["radius"]
    rows.append(
        f"| places within {rd['km']:g} km ({rd['places_found_per_query']:.0f} found), ms "
        f"| {rd['ms_per_query']:.2f} | {rd['brute_force_ms_per_query']:.2f} (brute force) "
        f"| {rd['speed_up']:.0f}× faster |"
    )
    nw = r["nationwide"]
    rows.append(
        f"| geocoding {nw['homes']:,} homes and {nw['towns']:,} towns, s "
        f"| {nw['seconds']:.2f} | {nw['floor_seconds']:.2f} | {nw['ratio_to_floor']:.1f}× |"
    )
    sizes = ", ".join(f"{k} {v / 1024:,.0f} KiB" for k, v in r["file_bytes"].items())
    return "\n".join(rows) + f"\n\nfiles: {sizes}"
