"""`python -m bench.stories`: whole stories per second through all four services.

Against the local stack (`make stack`), in a virtual host and databases of its own, for
one and for two replicas of every service (`--replicas 1,2`):

- **the floor**, measured before each round of stories: each service's own pipeline
  alone, a query it answers from its store by id (`company.get`, `applicant.get`,
  `staff.get`, `post.get`; not a search, whose cost would grow with the collection)
  sent `--concurrency` at a time: messages per second per service; the slowest of the
  four is the floor;
- **the stories** (tests/harness/storyload.py): company, applicant, position, post,
  proposal, e-mail, acceptance, fill, e-mail; `--concurrency` stories at a time. Stories
  per second, messages the services handled per second (`diko_messages_total`, every
  replica), and the latency of each step from the story's `position.open` request: the
  position opened, matching's proposal, the proposal's e-mail handed to SMTP
  (`notification.sent`), the position filled, its e-mail;
- per process (each service, RabbitMQ, FerretDB, and this one, the load generator): CPU
  seconds used and the largest RSS (from /proc), whether the machine's CPUs were the
  limit (all their CPU time over wall time and cores) and which process was the busiest;
- the CPU of all those processes together for one message of the stories and for one
  query of each floor: the ratio story/floor is about the floor query's CPU over the
  story message's, times the two CPU-busy shares, so it says how much heavier a story's
  message is than the query the floor is made of;
- where the store's time went: each service's `diko_store_command_seconds` during the
  stories, by command and collection, longest first (a FerretDB query that reads a
  whole collection shows here); the store commands a story issues, in all and the most
  frequent ones (what a second replica adds shows here), and FerretDB's CPU a command.

The services run with their production intervals for the background loops (the outbox
sweep and lease, the due poll: `PRODUCTION_TIMINGS`), not the test suite's quick ones,
whose polling would be counted as the stories' store commands.

Before each floor and each round of stories the benchmark waits until the processes
have gone quiet (`settle`): what a round of stories leaves running (site builds, drafts,
due items) would otherwise share the CPU with the floor and lower it.

The floor and the stories alternate in `--rounds` rounds (3); rates are the medians of
the rounds, because one floor measurement varies by a third between runs even on the
quiet machine. Each service's floor is 1,000 queries (`--queries`), two to three
seconds: 300, under a second, had moved the median floor by a fifth between two runs
of the same code.

Goals, as ratios in the same run: the story path handles at least half the messages per
second of the slowest service alone; two replicas give at least 1.5× one replica where
the CPUs allow. Writes bench/results/stories.json, bench/results/stories.md and
bench/results/stories.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from diko_shared.contract.base import Payload  # noqa: E402
from diko_shared.contract.companies import GetCompany  # noqa: E402
from diko_shared.contract.matching import GetApplicant  # noqa: E402
from diko_shared.contract.media import GetPost  # noqa: E402
from diko_shared.contract.notifications import GetStaff  # noqa: E402
from diko_shared.settings import ServiceSettings  # noqa: E402
from harness.bus import Bus  # noqa: E402
from harness.chaos import SERVICES, System  # noqa: E402
from harness.processes import run_until_stopped  # noqa: E402
from harness.stack import SessionStack  # noqa: E402
from harness.storyload import STEPS, StoryLoad  # noqa: E402

RESULTS = REPO / "bench" / "results"
#: The local stack's broker and document store (deploy/local/stack.py writes their pids).
STACK_PIDS = {
    "rabbitmq": REPO / ".local" / "rabbitmq" / "rabbitmq.pid",
    "ferretdb": REPO / ".local" / "ferretdb" / "ferretdb.pid",
}
TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stack_pids() -> dict[str, int]:
    """The broker's and the store's processes, where the stack runs them here."""
    pids = {}
    for name, path in STACK_PIDS.items():
        try:
            pid = int(path.read_text().strip())
            Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError):
            continue
        pids[f"{name}-1"] = pid
    return pids


def all_pids(system: System) -> dict[str, int]:
    """Every service replica's process, the broker's and the store's, by name."""
    return {
        name: process.process.pid
        for name, process in system.processes.items()
        if process.process is not None
    } | stack_pids()


#: This process: it publishes the stories' requests and reads their events and replies.
LOAD = "load"


def load_pids(system: System) -> dict[str, int]:
    """`all_pids` and the load generator's: every process a story or a query costs CPU."""
    return all_pids(system) | {f"{LOAD}-1": os.getpid()}


class Sampler:
    """CPU seconds and the largest RSS of every process (services, broker, store, the load
    generator) while it runs."""

    def __init__(self, system: System) -> None:
        self.pids = load_pids(system)
        self.cpu_start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.rss = dict.fromkeys(self.pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for name, pid in self.pids.items():
                self.rss[name] = max(self.rss[name], rss_mb(pid))

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        self._thread.join()
        per_service: dict[str, dict[str, float]] = {}
        for name, pid in self.pids.items():
            service = name.rsplit("-", 1)[0]
            entry = per_service.setdefault(service, {"cpu_s": 0.0, "rss_mb_max": 0.0})
            entry["cpu_s"] += cpu_seconds(pid) - self.cpu_start[name]
            entry["rss_mb_max"] = max(entry["rss_mb_max"], self.rss[name])
        return {s: {k: round(v, 1) for k, v in e.items()} for s, e in per_service.items()}


#: The services, the broker and the store together use less than this share of one core
#: when the system is quiet (idle, they use a few per cent: the broker's housekeeping).
QUIET_SHARE = 0.15
#: The window the share is measured over, and how long the system may take to go quiet.
QUIET_WINDOW_S = 1.0
QUIET_TIMEOUT_S = 180.0


async def settle(system: System) -> float:
    """Wait until every process has finished what the last stories left it (site builds,
    post drafts, due items, deliveries), so that the floor is measured alone and the next
    stories start on an idle machine; the seconds it took.

    Measured without this wait, the floor after a round of stories shared the CPU with
    media's leftover site builds: the companies floor fell from about 370 to about 260
    queries a second, and the story/floor ratio rose by a third with it.
    """
    pids = all_pids(system)
    began = time.monotonic()
    while True:
        before = sum(cpu_seconds(pid) for pid in pids.values())
        await asyncio.sleep(QUIET_WINDOW_S)
        used = sum(cpu_seconds(pid) for pid in pids.values()) - before
        if used < QUIET_SHARE * QUIET_WINDOW_S:
            return time.monotonic() - began
        if time.monotonic() - began > QUIET_TIMEOUT_S:
            raise TimeoutError(f"the system did not go quiet in {QUIET_TIMEOUT_S:.0f} s")


def handled(system: System) -> dict[str, float]:
    """Messages each service has handled so far (every replica)."""
    totals = dict.fromkeys(SERVICES, 0.0)
    for name, process in system.processes.items():
        totals[name.rsplit("-", 1)[0]] += process.metric("diko_messages_total")
    return totals


StoreTimes = dict[tuple[str, str, str], tuple[float, float]]


def store_seconds(system: System) -> StoreTimes:
    """(service, command, collection) → (seconds, commands) the store took so far, every replica."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[tuple[str, str, str], list[float]] = {}
    for name, process in system.processes.items():
        service = name.rsplit("-", 1)[0]
        text = process.get("/metrics").text
        for family in text_string_to_metric_families(text):
            if family.name != "diko_store_command_seconds":
                continue
            for sample in family.samples:
                index = {"diko_store_command_seconds_sum": 0, "diko_store_command_seconds_count": 1}
                if sample.name not in index:
                    continue
                key = (service, sample.labels["command"], sample.labels["collection"])
                totals.setdefault(key, [0.0, 0.0])[index[sample.name]] += sample.value
    return {key: (seconds, count) for key, (seconds, count) in totals.items()}


def store_delta(before: StoreTimes, after: StoreTimes) -> StoreTimes:
    """What the store took between two readings of `store_seconds`."""
    delta = {}
    for key, (seconds, count) in after.items():
        was_s, was_n = before.get(key, (0.0, 0.0))
        if count - was_n > 0:
            delta[key] = (seconds - was_s, count - was_n)
    return delta


def merge_store(parts: list[StoreTimes]) -> StoreTimes:
    merged: dict[tuple[str, str, str], tuple[float, float]] = {}
    for part in parts:
        for key, (seconds, count) in part.items():
            was_s, was_n = merged.get(key, (0.0, 0.0))
            merged[key] = (was_s + seconds, was_n + count)
    return merged


def store_share(times: StoreTimes, top: int = 12) -> list[dict[str, Any]]:
    """The commands that took the store longest during the stories, longest first."""
    rows = [
        {
            "service": service,
            "command": command,
            "collection": collection,
            "seconds": round(seconds, 2),
            "commands": int(count),
            "ms_each": round(seconds / count * 1000, 2),
        }
        for (service, command, collection), (seconds, count) in times.items()
    ]
    return sorted(rows, key=lambda r: -r["seconds"])[:top]


#: The command kinds the markdown lists a story (the JSON keeps them all).
MARKDOWN_CALLS = 15


def store_calls(times: StoreTimes, stories: int) -> list[dict[str, Any]]:
    """Every command kind, most often issued first, as commands a story."""
    rows = [
        {
            "service": service,
            "command": command,
            "collection": collection,
            "per_story": round(count / max(1, stories), 2),
        }
        for (service, command, collection), (_, count) in times.items()
    ]
    return sorted(rows, key=lambda r: -r["per_story"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def floor(
    load: StoryLoad, queries: int, concurrency: int, pids: dict[str, int]
) -> tuple[dict[str, float], dict[str, float]]:
    """Queries per second each service answers alone (one service busy at a time), and
    the CPU milliseconds a query cost all of `pids` together (service, broker, store and
    the load generator)."""
    [run] = [r for r in load.runs if not r.error][:1] or [load.runs[0]]
    post_id = next(
        d["post_id"]
        for d in load.recorder.data.values()
        if d.get("position_id") == run.position_id and "post_id" in d
    )
    asks: dict[str, Payload] = {
        "companies": GetCompany(company_id=run.company_id),
        "matching": GetApplicant(applicant_id=run.applicant_id),
        "notifications": GetStaff(staff_id=load.staff_id),
        "media": GetPost(post_id=post_id),
    }
    rates: dict[str, float] = {}
    costs: dict[str, float] = {}
    for service, payload in asks.items():
        sem = asyncio.Semaphore(concurrency)

        async def one(payload: Payload = payload, sem: asyncio.Semaphore = sem) -> None:
            async with sem:
                await load.ask(payload)

        await asyncio.gather(*(one() for _ in range(20)))  # warm up
        cpu_before = sum(cpu_seconds(pid) for pid in pids.values())
        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(queries)))
        rates[service] = round(queries / (time.monotonic() - started), 1)
        used = sum(cpu_seconds(pid) for pid in pids.values()) - cpu_before
        costs[service] = round(used * 1000 / queries, 2)
    return rates, costs


async def stories_round(
    system: System, load: StoryLoad, args: argparse.Namespace, first: int
) -> dict[str, Any]:
    """One round of `--stories` stories: what the services handled, and at what cost."""
    before = handled(system)
    store_before = store_seconds(system)
    sampler = Sampler(system)
    load.runs.clear()
    started = time.monotonic()
    runs = await load.run(args.stories, args.concurrency, first=first)
    wall = time.monotonic() - started
    usage = sampler.stop()
    after = handled(system)
    return {
        "runs": list(runs),
        "wall": wall,
        "messages": {s: after[s] - before[s] for s in SERVICES},
        "usage": usage,
        "store": store_delta(store_before, store_seconds(system)),
    }


#: The settings' defaults for the outbox relay's and the due loop's intervals.
PRODUCTION_TIMINGS = {
    f"DIKO_{name.upper()}": str(ServiceSettings.model_fields[name].default)
    for name in ("outbox_sweep_s", "outbox_lease_s", "due_poll_s")
}


async def measure(stack: SessionStack, replicas: int, args: argparse.Namespace) -> dict[str, Any]:
    """`--rounds` rounds of the floor followed by the stories; medians of the rounds.

    One floor measurement lasts seconds and varied by half between runs on the quiet
    machine, so floor and stories alternate and each ratio is taken from the medians.
    """
    system = System(stack, None, replicas, label="bench", timings=PRODUCTION_TIMINGS)
    rounds: list[dict[str, Any]] = []
    try:
        system.start()
        async with Bus(stack.amqp_url, source="bench") as bus:
            load = StoryLoad(bus, timeout=60.0)
            await load.open()
            await load.run(args.warmup, args.concurrency)  # caches, kernels, indexes
            for number in range(args.rounds):
                quiet = await settle(system)
                rates, costs = await floor(load, args.queries, args.concurrency, load_pids(system))
                quiet += await settle(system)
                first = args.warmup + number * args.stories
                result = await stories_round(system, load, args, first)
                result |= {"rates": rates, "costs": costs}
                rounds.append(result | {"settled_s": round(quiet, 1)})
                print(
                    f"  round {number + 1}: quiet after {quiet:.1f} s; floor (queries/s, each "
                    f"service alone) {rates}; {len(result['runs'])} stories in "
                    f"{result['wall']:.1f} s"
                )
    finally:
        system.stop()
    return summarise(replicas, rounds)


def summarise(replicas: int, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the rounds for the rates; sums for CPU and store time; all stories' latencies."""
    done = [r for round_ in rounds for r in round_["runs"] if not r.error]
    total = sum(len(round_["runs"]) for round_ in rounds)
    wall = sum(round_["wall"] for round_ in rounds)
    rates = {
        service: round(statistics.median(r["rates"][service] for r in rounds), 1)
        for service in rounds[0]["rates"]
    }
    slowest = min(rates, key=rates.__getitem__)
    per_round = [sum(r["messages"].values()) / r["wall"] for r in rounds]
    story_rate = statistics.median(per_round)
    messages = {s: sum(r["messages"][s] for r in rounds) for s in SERVICES}
    usage: dict[str, dict[str, float]] = {}
    for round_ in rounds:
        for name, u in round_["usage"].items():
            entry = usage.setdefault(name, {"cpu_s": 0.0, "rss_mb_max": 0.0})
            entry["cpu_s"] = round(entry["cpu_s"] + u["cpu_s"], 1)
            entry["rss_mb_max"] = max(entry["rss_mb_max"], u["rss_mb_max"])
    total_cpu = sum(u["cpu_s"] for u in usage.values())
    busiest = max(usage, key=lambda name: usage[name]["cpu_s"])
    store = merge_store([r["store"] for r in rounds])
    commands = sum(count for _, count in store.values())
    store_cpu = usage.get("ferretdb", {}).get("cpu_s")
    return {
        "replicas": replicas,
        "rounds": len(rounds),
        "stories": total,
        "failed": total - len(done),
        "wall_s": round(wall, 1),
        "stories_per_s": round(
            statistics.median(
                len([r for r in round_["runs"] if not r.error]) / round_["wall"]
                for round_ in rounds
            ),
            2,
        ),
        "messages_per_story": round(sum(messages.values()) / max(1, len(done)), 1),
        "messages_per_s": round(story_rate, 1),
        "messages_per_s_by_round": [round(rate, 1) for rate in per_round],
        "messages_per_s_by_service": {s: round(m / wall, 1) for s, m in messages.items()},
        "floor_queries_per_s": rates,
        "floor_queries_per_s_by_round": [r["rates"] for r in rounds],
        "quiet_after_s_by_round": [r["settled_s"] for r in rounds],
        "floor_slowest": slowest,
        "story_over_floor": round(story_rate / rates[slowest], 2),
        "cpu_ms_per_message": round(total_cpu * 1000 / max(1.0, sum(messages.values())), 2),
        "floor_cpu_ms_per_query": round(statistics.median(r["costs"][slowest] for r in rounds), 2),
        "floor_cpu_ms_per_query_by_service": {
            service: round(statistics.median(r["costs"][service] for r in rounds), 2)
            for service in rounds[0]["costs"]
        },
        "latency_s": {
            step: {
                "p50": round(percentile([r.times[step] for r in done], 0.5), 3),
                "p99": round(percentile([r.times[step] for r in done], 0.99), 3),
            }
            for step in STEPS
        }
        if done
        else {},
        "resources": usage,
        "cpu_busy_share": round(total_cpu / (wall * CORES), 2),
        "busiest_process": {"name": busiest, "cores": round(usage[busiest]["cpu_s"] / wall, 2)},
        "store_time": store_share(store),
        "store_commands_per_story": round(commands / max(1, total), 1),
        "store_calls_per_story": store_calls(store, total),
        "store_cpu_ms_per_command": round(store_cpu * 1000 / commands, 2)
        if store_cpu and commands
        else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "_latencies": {step: [r.times[step] for r in done] for step in STEPS},
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| replicas | stories/s | messages/s | msgs/story | floor (slowest alone) | "
        "story/floor | CPU ms a message (stories / floor) | CPU busy | busiest process | "
        "store commands a story | store CPU ms a command | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['replicas']} | {r['stories_per_s']} | {r['messages_per_s']} | "
            f"{r['messages_per_story']} | {r['floor_queries_per_s'][r['floor_slowest']]} "
            f"({r['floor_slowest']}) | {r['story_over_floor']} | "
            f"{r['cpu_ms_per_message']} / {r['floor_cpu_ms_per_query']} | "
            f"{r['cpu_busy_share']:.0%} | "
            f"{r['busiest_process']['name']} ({r['busiest_process']['cores']} cores) | "
            f"{r['store_commands_per_story']} | {r['store_cpu_ms_per_command']} | "
            f"{r['load_average'][0]} |"
        )
    lines += ["", "| replicas | step | p50 s | p99 s |", "|---|---|---|---|"]
    for r in results:
        for step, q in r["latency_s"].items():
            lines.append(f"| {r['replicas']} | {step} | {q['p50']} | {q['p99']} |")
    lines += ["", "| replicas | service | CPU s | RSS MB (max) | msgs/s |", "|---|---|---|---|---|"]
    for r in results:
        for service, u in r["resources"].items():
            lines.append(
                f"| {r['replicas']} | {service} | {u['cpu_s']} | {u['rss_mb_max']} | "
                f"{r['messages_per_s_by_service'].get(service, '')} |"
            )
    lines += [
        "",
        "| replicas | service | command | collection | store s | commands | ms each |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for t in r["store_time"]:
            lines.append(
                f"| {r['replicas']} | {t['service']} | {t['command']} | {t['collection']} | "
                f"{t['seconds']} | {t['commands']} | {t['ms_each']} |"
            )
    lines += [
        "",
        "| replicas | service | command | collection | commands a story |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        for t in r["store_calls_per_story"][:MARKDOWN_CALLS]:
            lines.append(
                f"| {r['replicas']} | {t['service']} | {t['command']} | {t['collection']} | "
                f"{t['per_story']} |"
            )
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in results:
        data = [r["_latencies"][step] for step in STEPS]
        positions = [i + (r["replicas"] - 1.5) * 0.35 for i in range(len(STEPS))]
        left.boxplot(data, positions=positions, widths=0.3, showfliers=False)
    left.set_xticks(range(len(STEPS)), STEPS, rotation=20)
    left.set_ylabel("seconds since position.open")
    left.set_title("step latency (left box: 1 replica, right: 2)")
    names = [f"{r['replicas']} replica(s)" for r in results]
    # The floor behind, the story path in front: its colour stays the legend's.
    right.bar(
        names,
        [r["floor_queries_per_s"][r["floor_slowest"]] for r in results],
        color="#f5c9a0",
        label="slowest service alone",
    )
    right.bar(names, [r["messages_per_s"] for r in results], color="#1f6fb4", label="story path")
    right.set_ylabel("messages per second")
    right.set_title("throughput against the floor")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=120)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--rounds", type=int, default=3, help="floor + stories rounds (medians)")
    args = parser.parse_args()
    results = []
    for replicas in (int(n) for n in args.replicas.split(",")):
        with SessionStack.create() as stack:
            print(f"{replicas} replica(s): {args.stories} stories, {args.concurrency} at a time")
            stopped = "bench.stories: stopped; the services it started are stopped too"
            results.append(run_until_stopped(measure(stack, replicas, args), stopped))
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(results, RESULTS / "stories.png")
    scaling = None
    if len(results) == 2:
        scaling = round(results[1]["messages_per_s"] / results[0]["messages_per_s"], 2)
    summary = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cores": CORES, "python": platform.python_version()},
        "parameters": vars(args),
        "goals": {
            "story_over_floor_at_least": 0.5,
            "two_over_one_replica_at_least": 1.5,
        },
        "two_over_one_replica": scaling,
        "results": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results],
    }
    (RESULTS / "stories.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    text = table(results)
    if scaling is not None:
        text += f"\n\ntwo replicas over one: {scaling}x (goal 1.5x where the CPUs allow)"
    (RESULTS / "stories.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
