"""`python -m bench.matching_service`: the matching service at the Altmark's scale.

One session against the local stack (`make stack`), in a private virtual host and
database: 5,000 applicants and 1,000 positions (generated Altmark profiles, written to
the service's collections before it starts, as a year of registrations would leave
them), one matching service process, and through the broker:

- **match.run**: the reply's wall time (request sent until reply received), against
  the engine alone on the same data in the same process (`runs.plan_run`: scoring,
  preference lists, deferred acceptance, blocking pairs), first run (it proposes the
  whole assignment) and second run (everything proposed already);
- **re-proposal latency**: a decline (`match.decide`) until the position's next
  `match.proposed` reaches a queue bound to the events, and an applicant's change
  (`applicant.update`) until the first event it causes; p50 and p99 against the goal of
  one second, and against the service's own round trip of a query (`applicant.get`)
  as the floor in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from diko_matching import domain  # noqa: E402
from diko_matching.engine.generate import generate_profiles  # noqa: E402
from diko_matching.index import ApplicantEntry, PositionEntry  # noqa: E402
from diko_matching.runs import plan_run  # noqa: E402
from diko_shared.contract.common import Occupation  # noqa: E402
from diko_shared.contract.envelope import new_envelope  # noqa: E402
from diko_shared.contract.matching import (  # noqa: E402
    DecideMatch,
    GetApplicant,
    RunMatching,
)
from diko_shared.geo import load_gazetteer  # noqa: E402
from diko_shared.messaging import topology  # noqa: E402
from diko_shared.messaging.publisher import Outgoing  # noqa: E402
from diko_shared.occupations import load_occupations  # noqa: E402
from harness.bus import Bus  # noqa: E402
from harness.processes import ServiceProcess  # noqa: E402
from harness.stack import SessionStack  # noqa: E402

RESULTS = REPO / "bench" / "results"
SCHOOL = {
    "ohne": "none",
    "hauptschule": "hauptschule",
    "realschule": "realschule",
    "abitur": "abitur",
}
GOAL_S = 1.0


def seed(stack: SessionStack, n_applicants: int, n_positions: int) -> tuple[list, list]:
    """Write the generated people into the service's database; their read-model entries."""
    data = generate_profiles(n_applicants, n_positions, seed=11)
    gaz, catalogue = load_gazetteer(), load_occupations()
    now = datetime.now(UTC)
    applicants, docs = [], []
    for i, (_, p) in enumerate(sorted(data["applicants"].items())):
        place = gaz.lookup(p["home"])
        applicant_id = f"apl_{i:020x}"
        doc = {
            "_id": applicant_id,
            "first_name": "Bewerber",
            "last_name": f"Nr. {i}",
            "email": f"bewerber{i}@example.org",
            "home_town": place.name,
            "reach_km": float(p["reach_km"]),
            "driving_licence": p["licence"],
            "school_certificate": SCHOOL[p["school"]],
            "desired_occupations": p["occupations"],
            "earliest_start": p["available_from"],
            "status": "active",
            "registered_at": now,
            "updated_at": now,
        }
        docs.append(doc)
        applicants.append(
            ApplicantEntry(
                applicant_id,
                "active",
                f"Bewerber Nr. {i}",
                doc["email"],
                place.name,
                place.latitude,
                place.longitude,
                doc["reach_km"],
                doc["driving_licence"],
                doc["school_certificate"],
                tuple(p["occupations"]),
                date.fromisoformat(p["available_from"]),
            )
        )
    positions, copies = [], []
    for j, (_, p) in enumerate(sorted(data["positions"].items())):
        place = gaz.lookup(p["town"])
        position_id, company_id = f"pos_{j:020x}", f"cmp_{j:020x}"
        occupation = Occupation(code=p["occupation"], name=catalogue.label(p["occupation"]))
        copies.append(
            {
                "_id": position_id,
                "company_id": company_id,
                "company_name": p["company"],
                "occupation": occupation.model_dump(),
                "places": p["places"],
                "start_date": p["start"],
                "town": place.name,
                "school_certificate": SCHOOL[p["school"]],
                "status": "open",
                "status_at": now,
                "fields_at": now,
                "received_at": now,
            }
        )
        positions.append(
            PositionEntry(
                position_id,
                company_id,
                p["company"],
                occupation,
                p["places"],
                date.fromisoformat(p["start"]),
                place.name,
                place.latitude,
                place.longitude,
                SCHOOL[p["school"]],
                "open",
            )
        )
    with MongoClient(stack.mongo_url) as client:
        db = client[stack.database("matching")]
        db["applicants"].insert_many(docs)
        db["positions"].insert_many(copies)
    return applicants, positions


def engine_alone(applicants: list, positions: list, runs: int) -> float:
    """The median of `plan_run` on the same data: what the run computes, without I/O."""
    times = []
    policy = domain.Policy()
    for _ in range(runs):
        t = time.perf_counter()
        plan_run(applicants, positions, [p.places for p in positions], set(), policy.weights)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    stack: SessionStack, service: ServiceProcess, declines: int, changes: int
) -> dict[str, Any]:
    async with Bus(stack.amqp_url) as bus:
        events: list[tuple[float, dict[str, Any]]] = []
        channel = await bus.connection.channel()  # type: ignore[union-attr]
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(topology.EVENTS.name, "match.*")

        async def collect(message: Any) -> None:
            events.append((time.perf_counter(), json.loads(message.body)))
            await message.ack()

        await queue.consume(collect)

        t = time.perf_counter()
        first = await bus.ok(RunMatching(seed=1), timeout=900)
        first_s = time.perf_counter() - t
        t = time.perf_counter()
        second = await bus.ok(RunMatching(seed=1), timeout=900)
        second_s = time.perf_counter() - t
        await asyncio.sleep(0)  # let the consumer catch up before picking proposals
        run_proposals = [
            p
            for _, e in events
            if e["type"] == "match.proposed" and e["data"].get("cause") == "run"
            for p in e["data"]["proposals"]
        ]

        floor = []
        for p in run_proposals[:50]:
            t = time.perf_counter()
            await bus.ok(GetApplicant(applicant_id=p["applicant"]["applicant_id"]))
            floor.append(time.perf_counter() - t)

        decline_latencies = []
        used_positions: set[str] = set()
        for p in run_proposals:
            if len(decline_latencies) >= declines:
                break
            x = p["position"]["position_id"]
            if x in used_positions:
                continue
            used_positions.add(x)
            mark = len(events)
            t = time.perf_counter()
            await bus.publisher.send(DecideMatch(proposal_id=p["proposal_id"], decision="decline"))
            arrived = await _wait(
                events,
                mark,
                lambda e, x=x: (
                    e["type"] == "match.proposed"
                    and e["data"]["subject_id"] == x
                    and e["data"].get("cause") == "declined"
                ),
                30,
            )
            if arrived is not None:
                decline_latencies.append(arrived - t)

        change_latencies = []
        movers = [
            p["applicant"]["applicant_id"] for p in run_proposals[declines : declines + changes]
        ]
        for applicant_id in movers:
            mark = len(events)
            data = {"applicant_id": applicant_id, "reach_km": 50.0, "driving_licence": True}
            envelope = new_envelope("applicant.update", data, source="bench")
            t = time.perf_counter()
            await bus.publisher.publish(Outgoing.from_envelope(topology.COMMANDS.name, envelope))
            arrived = await _wait(
                events,
                mark,
                lambda e, a=applicant_id: (
                    e["type"] in ("match.proposed", "match.withdrawn")
                    and (e["data"].get("subject_id") == a or e["data"].get("applicant_id") == a)
                ),
                30,
            )
            if arrived is not None:
                change_latencies.append(arrived - t)
        await channel.close()
    return {
        "run": {
            "first": first,
            "first_s": first_s,
            "second_s": second_s,
            "second_proposed": second["proposed"],
        },
        "floor_get_s": floor,
        "decline_s": decline_latencies,
        "change_s": change_latencies,
    }


async def _wait(events: list, mark: int, predicate: Any, timeout: float) -> float | None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for at, event in events[mark:]:
            if predicate(event):
                return at
        await asyncio.sleep(0.002)
    return None


def handler_means(service: ServiceProcess) -> dict[str, float]:
    """Mean time inside the handler per queue (ms): what a hop costs beyond the messaging."""
    out = {}
    for queue in (
        "matching.match.decide",
        "matching.on.match.declined",
        "matching.applicant.update",
        "matching.on.applicant.updated",
    ):
        total = service.metric("diko_handler_seconds_sum", queue=queue)
        count = service.metric("diko_handler_seconds_count", queue=queue)
        out[queue] = round(total / count * 1000, 1) if count else 0.0
    return out


def stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def _goal(latency: dict[str, float | int]) -> str:
    return "met" if latency.get("p99_ms", 1e9) <= GOAL_S * 1000 else "missed"


def _latency(name: str, latency: dict[str, float | int], goal: bool = True) -> str:
    count, p50, p99 = (latency.get(k) for k in ("count", "p50_ms", "p99_ms"))
    return f"| {name} | {count} | {p50} | {p99} | {_goal(latency) if goal else ''} |"


def _table(
    args: argparse.Namespace,
    load: tuple[float, float, float],
    engine_s: float,
    run: dict[str, Any],
    report: dict[str, Any],
    floor: dict[str, float | int],
    decline: dict[str, float | int],
    change: dict[str, float | int],
    handlers: dict[str, float],
) -> str:
    first = run["first"]
    return "\n".join(
        [
            f"matching service, {args.applicants:,} applicants x {args.positions:,} positions "
            f"(load before: {load[0]:.1f} on {os.cpu_count()} cores)",
            "",
            "| step | seconds | ratio to the engine alone |",
            "| --- | ---: | ---: |",
            f"| engine alone (plan_run, median of 3) | {engine_s:.2f} | 1 |",
            f"| match.run, first (proposes {first['proposed']:,} pairs, "
            f"{first['assigned']:,} assigned) | {run['first_s']:.2f} | "
            f"{report['run_first_ratio']}× |",
            f"| match.run, second (nothing new) | {run['second_s']:.2f} | "
            f"{report['run_second_ratio']}× |",
            "",
            "| latency | count | p50 ms | p99 ms | goal (p99 ≤ 1 s) |",
            "| --- | ---: | ---: | ---: | :---: |",
            _latency("applicant.get round trip (floor)", floor, goal=False),
            _latency("decline → next match.proposed", decline),
            _latency("applicant.update → first event", change),
            "",
            "Mean time inside the handlers (ms): "
            + ", ".join(f"{q.removeprefix('matching.')} {ms}" for q, ms in handlers.items()),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="the matching service at the Altmark's scale")
    parser.add_argument("--applicants", type=int, default=5000)
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--declines", type=int, default=100)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    load = os.getloadavg()
    with SessionStack.create() as stack:
        print(
            f"seeding {args.applicants} applicants and {args.positions} positions ...", flush=True
        )
        applicants, positions = seed(stack, args.applicants, args.positions)
        print("engine alone (plan_run, median of 3) ...", flush=True)
        engine_s = engine_alone(applicants, positions, 3)
        service = ServiceProcess(
            "matching-bench",
            "diko_matching",
            None,
            stack.service_env("matching", DIKO_LOG_LEVEL="WARNING"),
        )
        t = time.perf_counter()
        service.start(timeout=600)
        start_s = time.perf_counter() - t
        try:
            print("match.run, declines, changes ...", flush=True)
            measured = asyncio.run(measure(stack, service, args.declines, args.changes))
            handlers = handler_means(service)
        finally:
            service.stop()
    run = measured["run"]
    floor = stats(measured["floor_get_s"])
    decline = stats(measured["decline_s"])
    change = stats(measured["change_s"])
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_before": load,
        },
        "applicants": args.applicants,
        "positions": args.positions,
        "service_start_s": round(start_s, 2),
        "engine_alone_s": round(engine_s, 3),
        "run_first_s": round(run["first_s"], 3),
        "run_second_s": round(run["second_s"], 3),
        "run_first_ratio": round(run["first_s"] / engine_s, 1),
        "run_second_ratio": round(run["second_s"] / engine_s, 1),
        "run_first": run["first"]
        | {"unassigned_applicants": len(run["first"]["unassigned_applicants"])},
        "floor_applicant_get": floor,
        "decline_to_proposed": decline,
        "change_to_event": change,
        "goal_s": GOAL_S,
        "handler_mean_ms": handlers,
    }
    table = _table(args, load, engine_s, run, report, floor, decline, change, handlers)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "matching_service.json").write_text(
        json.dumps(report, indent=2, default=str), encoding="utf-8"
    )
    (RESULTS / "matching_service.md").write_text(table + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS}: matching_service.json, matching_service.md")


if __name__ == "__main__":
    main()
