"""`python -m bench.companies [import|scan|search]`: the companies service at the network's scale.

Each part measures against a floor taken in the same run:

- **import**: `diko companies import` of 10,000 spreadsheet rows through the running
  companies service (a process on the local stack, private virtual host and database),
  report included; floor: the pipeline benchmark's raw floor (aio-pika publish and
  consume with one raw driver insert per message) for the same number of messages.
  Goal: under 60 s.
  Beside the time: the CPU per row of the service, of FerretDB and of RabbitMQ (from
  /proc), the store commands per row by command and collection (from the service's
  `diko_store_command_seconds`) and the load average. Then the same file once more,
  which must create nothing (its time too).
- **scan**: `duplicates.scan` over 50,000 companies with 500 planted near duplicates;
  floor: the quadratic comparison of every pair with the same library (RapidFuzz
  `cdist`), timed on a sample and scaled to all pairs. Reports recall of the planted pairs.
- **search**: 50,000 companies in the directory's bucket documents on FerretDB; a search
  loads the directory once (cold), then answers from memory after a one-document
  freshness check; floor: one FerretDB query with a plain filter on a 50,000-document
  collection (which FerretDB answers by scanning it).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient, InsertOne
from rapidfuzz import fuzz, process

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from bench.pipeline.__main__ import raw_floor  # noqa: E402
from diko_companies.directory import (  # noqa: E402
    DIRECTORY,
    CompanyRow,
    Directory,
    bucket,
    version_of,
)
from diko_companies.duplicates import Profile, fold, normalise_name, scan  # noqa: E402
from diko_companies.search import Centre, CompanyQuery, companies  # noqa: E402
from diko_shared.geo import load_gazetteer  # noqa: E402
from harness.stack import HARNESS_USER, SessionStack  # noqa: E402

RESULTS = REPO / "bench" / "results" / "companies.json"

TRADES = [
    "Tischlerei",
    "Bäckerei",
    "Fleischerei",
    "Autohaus",
    "Elektro",
    "Sanitär",
    "Malerbetrieb",
    "Dachdeckerei",
    "Zimmerei",
    "Friseursalon",
    "Gärtnerei",
    "Metallbau",
    "Kfz-Werkstatt",
    "Steuerbüro",
    "Pflegedienst",
    "Landhandel",
    "Agrargenossenschaft",
    "Gasthof",
    "Optik",
    "Physiotherapie",
    "Baustoffhandel",
    "Spedition",
    "Brunnenbau",
    "Fliesenleger",
]
SURNAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Kaiser",
]
FORMS = ["GmbH", "GmbH & Co. KG", "e.K.", "", "", "UG (haftungsbeschränkt)", "OHG"]
STREETS = ["Breite Straße", "Hauptstraße", "Am Markt", "Bahnhofstraße", "Lindenweg", "Dorfstraße"]


FIRST = [
    "Kra",
    "Hol",
    "Bre",
    "Wen",
    "Sto",
    "Lin",
    "Mar",
    "Fel",
    "Gro",
    "Ber",
    "Ste",
    "Han",
    "Rud",
    "Tre",
    "Wal",
    "Kno",
    "Fri",
    "Schu",
    "Mei",
    "Dor",
    "Pau",
    "Zie",
    "Lü",
    "Ha",
]
MIDDLE = ["", "de", "ter", "ro", "bel", "ko", "sen", "ri", "wa", "gen"]
LAST = ["ner", "mann", "ke", "berg", "ow", "dt", "ler", "ert", "ing", "au", "itz", "ers", "horst"]


def surname(rng: random.Random) -> str:
    """A made-up German-sounding surname: tens of thousands of them, as in a real register."""
    return (
        rng.choice(FIRST) + rng.choice(MIDDLE) + rng.choice(LAST)
        if rng.random() < 0.8
        else rng.choice(SURNAMES)
    )


def company_names(n: int, rng: random.Random) -> list[tuple[str, Any]]:
    places = list(load_gazetteer().places)
    made = set()
    rows = []
    while len(rows) < n:
        trade, owner = rng.choice(TRADES), surname(rng)
        name = f"{trade} {owner}" if rng.random() < 0.7 else f"{owner} {trade}"
        if rng.random() < 0.3:
            name = f"{name} {surname(rng)}"
        if name in made:
            continue
        made.add(name)
        rows.append((f"{name} {rng.choice(FORMS)}".strip(), rng.choice(places)))
    return rows


def misspell(name: str, rng: random.Random) -> str:
    """A near duplicate as people write it: umlauts, legal form, word order or a typo."""
    words = name.split()
    kind = rng.randrange(4)
    if kind == 0:
        return name.replace("ü", "ue").replace("ä", "ae").replace("ö", "oe") + " GmbH"
    if kind == 1:
        return " ".join([words[1], words[0], *words[2:]])
    if kind == 2:
        i = rng.randrange(1, len(words[0]) - 1)
        return words[0][:i] + words[0][i + 1 :] + " " + " ".join(words[1:])
    return name.upper()


# -- import ------------------------------------------------------------------------------------


def write_rows(path: Path, count: int) -> None:
    rng = random.Random(10)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(
            ["Firma", "Straße", "PLZ", "Ort", "Branche", "Ansprechpartner", "E-Mail", "Telefon"]
        )
        for n, (name, place) in enumerate(company_names(count, rng)):
            writer.writerow(
                [
                    name,
                    f"{rng.choice(STREETS)} {rng.randint(1, 80)}",
                    place.postcode,
                    place.name,
                    "Handwerk",
                    f"{rng.choice(SURNAMES)}",
                    f"kontakt{n}@firma{n}.example",
                    f"039{rng.randint(10, 99)} {rng.randint(10000, 99999)}",
                ]
            )


def free_port() -> int:
    """A port nobody listens on now: other worktrees run this benchmark on the same machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) the process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: The local stack's document store and broker (deploy/local/stack.py writes their pids).
STACK_PIDS = {
    "ferretdb": REPO / ".local" / "ferretdb" / "ferretdb.pid",
    "rabbitmq": REPO / ".local" / "rabbitmq" / "rabbitmq.pid",
}


def stack_pids() -> dict[str, int]:
    """The store's and the broker's processes, where this worktree's stack runs them."""
    pids = {}
    for name, path in STACK_PIDS.items():
        try:
            pid = int(path.read_text().strip())
            cpu_seconds(pid)
        except (OSError, ValueError):
            continue
        pids[name] = pid
    return pids


def store_commands(port: int) -> dict[tuple[str, str], tuple[float, float]]:
    """(command, collection) → (commands, seconds) the service sent its store so far."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    totals: dict[tuple[str, str], list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "diko_store_command_seconds":
            continue
        for sample in family.samples:
            index = {"diko_store_command_seconds_count": 0, "diko_store_command_seconds_sum": 1}
            if sample.name in index:
                key = (sample.labels["command"], sample.labels["collection"])
                totals.setdefault(key, [0.0, 0.0])[index[sample.name]] += sample.value
    return {key: (count, seconds) for key, (count, seconds) in totals.items()}


def commands_per_row(
    before: dict[tuple[str, str], tuple[float, float]],
    after: dict[tuple[str, str], tuple[float, float]],
    rows: int,
) -> dict[str, dict[str, float]]:
    """`command collection` → commands and store milliseconds per row, most frequent first."""
    used = []
    for key, (count, seconds) in after.items():
        was_count, was_seconds = before.get(key, (0.0, 0.0))
        if count > was_count:
            used.append((count - was_count, seconds - was_seconds, key))
    used.sort(reverse=True)
    return {
        f"{command} {collection}": {
            "per_row": round(count / rows, 3),
            "ms_per_row": round(seconds * 1000 / rows, 3),
        }
        for count, seconds, (command, collection) in used
    }


def start_companies(stack: SessionStack) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        **stack.service_env("companies"),
        "DIKO_HTTP_PORT": str(port),
        "DIKO_LOG_LEVEL": "WARNING",
    }
    # The outbox as deployed: the tests' lease of 2 s lets a loaded relay's entries be
    # swept and published a second time, which no production run does.
    for test_setting in ("DIKO_OUTBOX_LEASE_S", "DIKO_OUTBOX_SWEEP_S", "DIKO_DUE_POLL_S"):
        env.pop(test_setting)
    service = subprocess.Popen([sys.executable, "-m", "diko_companies"], cwd=REPO, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return service, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    service.kill()
    raise RuntimeError("the companies service did not become ready")


async def bind_event_sink(stack: SessionStack) -> None:
    """A queue for every event, as the other services' queues are in production.

    Without one the broker returns each event (no route) and the service logs it; it
    keeps only the newest thousand, nobody needs to read them.
    """
    connection = await aio_pika.connect(stack.amqp_url_as(HARNESS_USER))
    channel = await connection.channel()
    sink = await channel.declare_queue(
        "bench.events.sink", arguments={"x-max-length": 1000, "x-overflow": "drop-head"}
    )
    await sink.bind("diko.events", "#")
    await connection.close()


@dataclass
class ImportRun:
    """One `diko companies import` of the file: its time, the service's CPU, the report."""

    seconds: float
    service_cpu_s: float
    stack_cpu_s: dict[str, float]
    store_commands: dict[str, dict[str, float]]
    load_average: tuple[float, float]
    outcomes: dict[str, int]
    report_rows: int

    def cpu_ms_per_row(self, rows: int) -> dict[str, float]:
        """CPU milliseconds per row of the service, the store, the broker, and all three."""
        used = {"service": self.service_cpu_s, **self.stack_cpu_s}
        used["total"] = sum(used.values())
        return {name: round(seconds * 1000 / rows, 2) for name, seconds in used.items()}


def run_import(
    service: subprocess.Popen[bytes],
    port: int,
    stack: SessionStack,
    path: Path,
    window: int | None,
    rows: int,
) -> ImportRun:
    env = {
        "PATH": os.environ["PATH"],
        "DIKO_AMQP_URL": stack.amqp_url,
        "DIKO_MONGO_URL": stack.mongo_url,
    }
    diko = str(Path(sys.executable).with_name("diko"))
    load_before = os.getloadavg()[0]
    pids = stack_pids()
    stack_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    commands_before = store_commands(port)
    cpu_before = cpu_seconds(service.pid)
    started = time.perf_counter()
    result = subprocess.run(
        [
            diko,
            "companies",
            "import",
            str(path),
            *([] if window is None else ["--window", str(window)]),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    service_cpu = cpu_seconds(service.pid) - cpu_before
    stack_cpu = {name: cpu_seconds(pid) - stack_before[name] for name, pid in pids.items()}
    commands = commands_per_row(commands_before, store_commands(port), rows)
    if result.returncode != 0:
        raise RuntimeError(f"import failed: {result.stderr[-2000:]}")
    with path.with_name(f"{path.stem}.bericht.csv").open(encoding="utf-8-sig") as report:
        outcomes = [row["Ergebnis"] for row in csv.DictReader(report, delimiter=";")]
    return ImportRun(
        seconds,
        service_cpu,
        stack_cpu,
        commands,
        (round(load_before, 1), round(load_after, 1)),
        {o: outcomes.count(o) for o in sorted(set(outcomes))},
        len(outcomes),
    )


def bench_import(count: int, window: int | None) -> dict[str, Any]:
    """The file imported, then imported again: the second run must create nothing."""
    with SessionStack.create() as stack:
        floor = asyncio.run(raw_floor(stack, count, 256, 64))
        path = REPO / ".local" / "bench" / f"import-{count}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_rows(path, count)
        asyncio.run(bind_event_sink(stack))
        service, port = start_companies(stack)
        try:
            first = run_import(service, port, stack, path, window, count)
            again = run_import(service, port, stack, path, window, count)
        finally:
            service.terminate()
            service.wait(30)
    if any(outcome.startswith("angelegt") for outcome in again.outcomes):
        raise RuntimeError(f"the second import created companies: {again.outcomes}")
    return {
        "rows": count,
        "import_s": round(first.seconds, 2),
        "import_rows_per_s": round(count / first.seconds, 1),
        "floor_messages_per_s": floor.throughput,
        "ratio_of_floor": round(count / first.seconds / floor.throughput, 3),
        "service_cpu_ms_per_row": round(first.service_cpu_s * 1000 / count, 2),
        "cpu_ms_per_row": first.cpu_ms_per_row(count),
        "store_commands": first.store_commands,
        "report_rows": first.report_rows,
        "outcomes": first.outcomes,
        "goal_s": 60,
        "load_average": list(first.load_average),
        "second_run": {
            "import_s": round(again.seconds, 2),
            "service_cpu_ms_per_row": round(again.service_cpu_s * 1000 / count, 2),
            "cpu_ms_per_row": again.cpu_ms_per_row(count),
            "store_commands": again.store_commands,
            "outcomes": again.outcomes,
            "load_average": list(again.load_average),
        },
    }


# -- scan --------------------------------------------------------------------------------------


def profiles(
    n: int, planted: int, rng: random.Random
) -> tuple[list[Profile], set[tuple[str, str]]]:
    made = company_names(n - planted, rng)
    result = []
    for i, (name, place) in enumerate(made):
        result.append(
            Profile(
                f"cmp_{i:020x}",
                name,
                normalise_name(name),
                place.name,
                place.postcode,
                fold(rng.choice(STREETS)),
            )
        )
    pairs = set()
    for j in range(planted):
        original = result[rng.randrange(len(made))]
        twin_name = misspell(original.name, rng)
        twin = Profile(
            f"cmp_{len(made) + j:020x}",
            twin_name,
            normalise_name(twin_name),
            original.town,
            original.postcode,
            original.street,
        )
        result.append(twin)
        pairs.add(tuple(sorted((original.company_id, twin.company_id))))  # type: ignore[arg-type]
    return result, pairs


def bench_scan(count: int, planted: int) -> dict[str, Any]:
    rng = random.Random(50)
    people, pairs = profiles(count, planted, rng)
    started = time.perf_counter()
    result = scan(people, min_score=0.8)
    seconds = time.perf_counter() - started
    found = {tuple(sorted((a.company_id, b.company_id))) for a, b, _ in result.pairs}
    sample = [p.key for p in people[:2000]]
    t0 = time.perf_counter()
    process.cdist(sample, sample, scorer=fuzz.token_sort_ratio, workers=-1)
    sample_s = time.perf_counter() - t0
    all_pairs = count * (count - 1) / 2
    quadratic_s = sample_s * all_pairs / (len(sample) ** 2)
    return {
        "companies": count,
        "planted_pairs": planted,
        "scan_s": round(seconds, 2),
        "comparisons": result.comparisons,
        "share_of_all_pairs": round(result.comparisons / all_pairs, 4),
        "pairs_found": len(result.pairs),
        "planted_found": len(found & pairs),
        "recall": round(len(found & pairs) / planted, 3),
        "quadratic_floor_s": round(quadratic_s, 1),
        "speed_up": round(quadratic_s / seconds, 1),
    }


# -- search ------------------------------------------------------------------------------------


async def bench_search(count: int) -> dict[str, Any]:
    rng = random.Random(60)
    with SessionStack.create() as stack:
        client: AsyncMongoClient = AsyncMongoClient(stack.mongo_url, tz_aware=True)
        db = client[stack.database("companies")]
        buckets: dict[str, dict[str, Any]] = {}
        flat = []
        for i, (name, place) in enumerate(company_names(count, rng)):
            company_id = f"cmp_{rng.getrandbits(80):020x}"
            profile = Profile(
                company_id, name, normalise_name(name), place.name, place.postcode, ""
            )
            row = CompanyRow(
                profile, "Handwerk", place.latitude, place.longitude, frozenset(), None, False
            )
            buckets.setdefault(bucket("c", company_id), {})[company_id] = row.to_doc()
            flat.append({"_id": company_id, "name": name, "town": place.name, "n": i})
        await db[DIRECTORY].insert_many([{"_id": b, "r": rows} for b, rows in buckets.items()])
        versions: dict[str, dict[str, str]] = {}
        for name in buckets:
            versions.setdefault(version_of(name), {})[name] = "1"
        await db[DIRECTORY].insert_many([{"_id": v, "revs": r} for v, r in versions.items()])
        for start in range(0, len(flat), 2000):
            await db["flat"].bulk_write([InsertOne(d) for d in flat[start : start + 2000]])
        directory = Directory()
        t0 = time.perf_counter()
        await directory.refresh(db)
        cold = time.perf_counter() - t0
        stendal = load_gazetteer().lookup("Stendal")
        queries = [
            CompanyQuery(("tisch",), None, None, None, None, None, frozenset(), "name", 20, None),
            CompanyQuery(
                ("mueller",),
                None,
                None,
                Centre(stendal.latitude, stendal.longitude, 20),
                None,
                None,
                frozenset(),
                "distance",
                20,
                None,
            ),
            CompanyQuery(
                (), "Stendal", None, None, "Handwerk", None, frozenset(), "name", 20, None
            ),
        ]
        warm = []
        for _ in range(5):
            for query in queries:
                t1 = time.perf_counter()
                await directory.refresh(db)
                companies(directory, query)
                warm.append(time.perf_counter() - t1)
        floor = []
        for _ in range(3):
            t2 = time.perf_counter()
            # the same question as the first search, asked of FerretDB: sorted, so it scans
            cursor = db["flat"].find({"name": {"$regex": "^Tisch"}}).sort("name", 1).limit(20)
            await cursor.to_list(None)
            floor.append(time.perf_counter() - t2)
        await client.close()
    median_warm = statistics.median(warm)
    median_floor = statistics.median(floor)
    return {
        "companies": count,
        "directory_load_s": round(cold, 2),
        "search_median_ms": round(median_warm * 1000, 1),
        "search_max_ms": round(max(warm) * 1000, 1),
        "ferretdb_filter_query_ms": round(median_floor * 1000, 1),
        "speed_up": round(median_floor / median_warm, 1),
    }


def print_table(results: dict[str, Any]) -> None:
    lines = [("part", "measured", "floor", "ratio")]
    if "import" in results:
        r = results["import"]
        lines.append(
            (
                f"import {r['rows']:,} rows",
                f"{r['import_s']} s ({r['import_rows_per_s']}/s)",
                f"{r['floor_messages_per_s']} msg/s raw",
                f"{r['ratio_of_floor']} of floor",
            )
        )
    if "scan" in results:
        r = results["scan"]
        lines.append(
            (
                f"scan {r['companies']:,} companies",
                f"{r['scan_s']} s, recall {r['recall']}",
                f"{r['quadratic_floor_s']} s all pairs",
                f"{r['speed_up']}x faster",
            )
        )
    if "search" in results:
        r = results["search"]
        lines.append(
            (
                f"search {r['companies']:,} companies",
                f"{r['search_median_ms']} ms median",
                f"{r['ferretdb_filter_query_ms']} ms FerretDB query",
                f"{r['speed_up']}x faster",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["import", "scan", "search"])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--window", type=int, default=None, help="the import's window (default: the CLI's)"
    )
    parser.add_argument("--companies", type=int, default=50_000)
    args = parser.parse_args()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "scan" in args.parts:
        results["scan"] = bench_scan(args.companies, 500)
        print("scan", json.dumps(results["scan"], ensure_ascii=False))
    if "search" in args.parts:
        results["search"] = asyncio.run(bench_search(args.companies))
        print("search", json.dumps(results["search"], ensure_ascii=False))
    if "import" in args.parts:
        results["import"] = bench_import(args.rows, args.window)
        print("import", json.dumps(results["import"], ensure_ascii=False))
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
