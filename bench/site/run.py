"""Building the project website: a full build of 500 companies, 2,000 open positions and
100 episodes, and the rebuild after one event of each kind, against the floors of the
same run: writing the full build's bytes into a fresh directory (no rendering, no
database) and hard-linking the built directory (what every rebuild does besides its
pages). Goals: the full build under 20 s, a rebuild after one event under 1 s.

Reads from the session's FerretDB like the service (`make stack`). Prints a table and
writes `bench/results/site.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from pymongo import AsyncMongoClient  # noqa: E402

from diko_media import store  # noqa: E402
from diko_media.links import Links  # noqa: E402
from diko_media.site import store as site_store  # noqa: E402
from diko_media.site.build import SiteBuilder  # noqa: E402
from diko_media.site.pages import SiteInfo  # noqa: E402
from diko_shared.geo.gazetteer import load_gazetteer  # noqa: E402
from harness.stack import SessionStack  # noqa: E402

RESULTS = ROOT / "bench" / "results"
FULL_GOAL_S = 20.0
EVENT_GOAL_S = 1.0
BASE = "http://127.0.0.1:8004"
OCCUPATIONS = [
    ("22342", "Tischler/in"), ("26112", "Mechatroniker/in"), ("29202", "Bäcker/in"),
    ("63302", "Fachverkäufer/in im Lebensmittelhandwerk"), ("25212", "Kfz-Mechatroniker/in"),
    ("71402", "Kaufmann/-frau für Büromanagement"), ("81302", "Pflegefachmann/-frau"),
    ("34212", "Anlagenmechaniker/in für Sanitär-, Heizungs- und Klimatechnik"),
    ("26212", "Elektroniker/in"), ("62102", "Kaufmann/-frau im Einzelhandel"),
    ("11102", "Landwirt/in"), ("29302", "Koch/Köchin"), ("32122", "Maurer/in"),
    ("24412", "Metallbauer/in"), ("82312", "Friseur/in"), ("51312", "Fachkraft für Lagerlogistik"),
]  # fmt: skip


def hexid(prefix: str, n: int) -> str:
    return f"{prefix}_{uuid.uuid5(uuid.NAMESPACE_OID, f'{prefix}{n}').hex[:20]}"


def towns() -> list[tuple[str, str]]:
    places = [p for p in load_gazetteer().altmark_list if p.kind in ("Stadt", "Gemeinde")]
    return [(p.name, p.postcode) for p in places][:60]


def documents(companies: int, positions: int, episodes: int) -> dict[str, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    given = {"status": "given", "declared_at": now}
    places = towns()
    company_docs = []
    for n in range(companies):
        town, postcode = places[n % len(places)]
        company_docs.append({
            "_id": hexid("cmp", n), "name": f"Betrieb Nummer {n} GmbH & Co. KG", "town": town,
            "postcode": postcode, "industry": "Handwerk", "consents": {"website": given},
        })  # fmt: skip
    position_docs = []
    for n in range(positions):
        company = company_docs[n % companies]
        code, name = OCCUPATIONS[n % len(OCCUPATIONS)]
        position_docs.append({
            "_id": hexid("pos", n), "company_id": company["_id"],
            "occupation": {"code": code, "name": name}, "places": 1 + n % 3, "places_taken": 0,
            "start_date": date(now.year + 1 + n % 2, 8, 1).isoformat(), "town": company["town"],
            "school_certificate": "hauptschule", "status": "open",
            "description": "Wir bilden seit vielen Jahren aus und freuen uns auf dich. " * 3,
            "posted_at": now - timedelta(minutes=n), "at": now - timedelta(minutes=n),
        })  # fmt: skip
    episode_docs = [
        {"_id": hexid("epi", n), "title": f"Folge {n}: zu Gast in der Altmark",
         "description": "Ein Betrieb erzählt von seiner Ausbildung.", "status": "published",
         "episode_number": n, "published_at": now - timedelta(days=n),
         "company_id": company_docs[n % companies]["_id"],
         "audio_url": f"https://audio.example/{n}.mp3", "audio_type": "audio/mpeg",
         "audio_bytes": 1_000_000, "duration_s": 1800}
        for n in range(1, episodes + 1)
    ]  # fmt: skip
    return {"companies": company_docs, "positions": position_docs, "episodes": episode_docs}


def floor_write(source: Path) -> float:
    """Writing the same files, already rendered, into a fresh directory."""
    files = [(p.relative_to(source), p.read_bytes()) for p in source.rglob("*") if p.is_file()]
    target = Path(tempfile.mkdtemp(prefix="site-floor-"))
    began = time.perf_counter()
    for relative, body in files:
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    seconds = time.perf_counter() - began
    shutil.rmtree(target)
    return seconds


def floor_link(source: Path) -> float:
    """Hard-linking the built directory into a fresh one."""
    target = Path(tempfile.mkdtemp(prefix="site-floor-"))
    began = time.perf_counter()
    shutil.copytree(source, target / "copy", copy_function=os.link)
    seconds = time.perf_counter() - began
    shutil.rmtree(target)
    return seconds


async def bench(companies: int, positions: int, episodes: int, runs: int) -> dict[str, Any]:
    stack = SessionStack.create()
    site_dir = Path(tempfile.mkdtemp(prefix="bench-site-"))
    try:
        async with AsyncMongoClient(stack.mongo_url) as client:
            db = client[stack.database("media")]
            docs = documents(companies, positions, episodes)
            await db[store.COMPANIES].insert_many(docs["companies"])
            await db[site_store.POSITIONS].insert_many(docs["positions"])
            await db[store.EPISODES].insert_many(docs["episodes"])
            info = SiteInfo(url=f"{BASE}/site/", name="DIKO Altmark",
                            contact_email="kontakt@diko.example", impressum="Impressum",
                            privacy="Datenschutz", today=date.today)  # fmt: skip
            builder = SiteBuilder(site_dir, info, Links(BASE))
            full, full_cpu = [], []
            for n in range(runs):
                cpu = time.process_time()
                outcome = await builder.build(db, [], f"sit_full{n:016d}", full=True)
                full.append(outcome.seconds)
                full_cpu.append(time.process_time() - cpu)
            current = (site_dir / "current").resolve()
            sizes = [p.stat().st_size for p in current.rglob("*.html")]
            write_floor = statistics.median(floor_write(current) for _ in range(runs))
            link_floor = statistics.median(floor_link(current) for _ in range(runs))
            events = await one_event_rebuilds(db, builder, docs, runs * 3)
    finally:
        shutil.rmtree(site_dir, ignore_errors=True)
        stack.destroy()
    full_s = statistics.median(full)
    return {
        "companies": companies, "positions": positions, "episodes": episodes,
        "files": outcome.files, "html_bytes": sum(sizes), "largest_page_bytes": max(sizes),
        "full_s": full_s, "full_cpu_s": statistics.median(full_cpu), "full_floor_s": write_floor,
        "full_ratio": full_s / write_floor, "full_goal_s": FULL_GOAL_S,
        "full_met": full_s < FULL_GOAL_S, "link_floor_s": link_floor, "events": [
            {**e, "ratio": e["median_s"] / link_floor, "goal_s": EVENT_GOAL_S,
             "met": e["max_s"] < EVENT_GOAL_S}
            for e in events
        ],
    }  # fmt: skip


async def one_event_rebuilds(
    db: Any, builder: SiteBuilder, docs: dict[str, list[dict[str, Any]]], runs: int
) -> list[dict[str, Any]]:
    """Each kind of event as its handler leaves the database, then the rebuild it causes."""
    now = datetime.now(UTC)
    results = []

    async def rebuild(mark: str, n: int) -> tuple[float, float]:
        cpu = time.process_time()
        outcome = await builder.build(db, [mark], f"sit_ev{n:018d}", full=False)
        assert not outcome.full
        return outcome.seconds, time.process_time() - cpu

    async def opened(n: int) -> float:
        template = docs["positions"][n]
        new = {**template, "_id": hexid("new", n), "posted_at": now, "at": now}
        await db[site_store.POSITIONS].insert_one(new)
        return await rebuild(f"position:{new['_id']}", n)

    async def closed(n: int) -> float:
        position_id = docs["positions"][100 + n]["_id"]
        await db[site_store.POSITIONS].update_one({"_id": position_id},
                                                  {"$set": {"status": "closed"}})  # fmt: skip
        return await rebuild(f"position:{position_id}", n)

    async def withdrawn(n: int) -> float:
        company_id = docs["companies"][10 + n]["_id"]
        await db[store.COMPANIES].update_one(
            {"_id": company_id}, {"$set": {"consents.website.status": "withdrawn"}}
        )
        return await rebuild(f"company:{company_id}", n)

    async def episode(n: int) -> float:
        await db[store.EPISODES].insert_one({**docs["episodes"][0], "_id": hexid("epn", n),
                                             "published_at": now})  # fmt: skip
        return await rebuild("episodes:all", n)

    for name, step in (("position.opened", opened), ("position.closed", closed),
                       ("company.consent_changed (withdrawn)", withdrawn),
                       ("episode.published", episode)):  # fmt: skip
        timed = [await step(n) for n in range(runs)]
        seconds = [t[0] for t in timed]
        cpu = [t[1] for t in timed]
        results.append({"event": name, "median_s": statistics.median(seconds),
                        "max_s": max(seconds), "cpu_median_s": statistics.median(cpu)})  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.site", description=__doc__)
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument("--positions", type=int, default=2000)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(bench(args.companies, args.positions, args.episodes, args.runs))
    print(f"full build: {result['files']} files in {result['full_s']:.2f} s "
          f"(CPU {result['full_cpu_s']:.2f} s) "
          f"(floor: writing them {result['full_floor_s']:.2f} s, ratio "
          f"{result['full_ratio']:.1f}; goal < {FULL_GOAL_S:.0f} s"
          f"{'' if result['full_met'] else ', MISSED'})")  # fmt: skip
    print(f"{'rebuild after':<40}{'median s':>10}{'max s':>8}{'CPU s':>7}{'floor s':>9}"
          f"{'ratio':>7}")  # fmt: skip
    for e in result["events"]:
        print(f"{e['event']:<40}{e['median_s']:>10.3f}{e['max_s']:>8.3f}{e['cpu_median_s']:>7.3f}"
              f"{result['link_floor_s']:>9.3f}{e['ratio']:>7.1f}"
              f"{'' if e['met'] else '  over goal'}")  # fmt: skip
    result["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result["load_average"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "site.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
