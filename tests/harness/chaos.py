"""Chaos under load: stories through two replicas of every service while things fail.

`python tests/harness/chaos.py --seed 7 --stories 600` runs it against the local stack
(`make stack`) in a virtual host and databases of its own; `make chaos` runs the long
form, tests/chaos the short one. What fails, on a schedule drawn from the seed (the same
seed, the same schedule):

- **kill**: a replica of a service gets SIGKILL (no shutdown, no acknowledgements) and is
  started again a moment later; every service several times;
- **cut**: every service's broker connection is cut at once (the services reach RabbitMQ
  through a `Plug`, which drops their connections and refuses new ones for a while);
- **pause**: the document store (FerretDB) is stopped with SIGSTOP and continued with
  SIGCONT: every query hangs meanwhile, as with a database that stalls.

Afterwards, with everything back and the queues drained, `check` proves what the run is
for: every story completed, each of its events exactly once (distinct event ids per fact,
counted by a recorder bound before the first story), every document in its final state,
every e-mail delivered exactly once (Mailpit, by Message-ID), every dead letter carries
its reason, no outbox entry left behind. The report (counts, faults, time to drain) goes
to bench/results/chaos.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "tests"))

from pymongo import AsyncMongoClient  # noqa: E402

from diko_shared.contract.companies import GetCompany  # noqa: E402
from diko_shared.contract.matching import GetApplicant  # noqa: E402
from diko_shared.messaging import topology  # noqa: E402
from diko_shared.messaging.pipeline import QUEUE_HEADER, REASON_HEADER  # noqa: E402
from diko_shared.store.mongo import OUTBOX  # noqa: E402
from harness.bus import Bus  # noqa: E402
from harness.plug import Plug  # noqa: E402
from harness.processes import ServiceProcess, free_port  # noqa: E402
from harness.stack import SessionStack  # noqa: E402
from harness.storyload import StoryLoad, mails_to  # noqa: E402

SERVICES = ("companies", "matching", "notifications", "media")
FERRET_PID = REPO / ".local" / "ferretdb" / "ferretdb.pid"
RESULTS = REPO / "bench" / "results"
#: Retries that outlast a killed replica's claims (notifications leases an e-mail for its
#: SMTP timeout plus 15 s): the test stack's 0.7 s in all would dead-letter a message
#: whose e-mail a killed replica still holds, where the default delays (1 s to 5 min) wait.
RETRY_DELAYS_MS = "200,500,1000,5000,20000,30000"


@dataclass(frozen=True)
class Fault:
    """One fault: at `at` seconds after the load starts, for `lasts` seconds."""

    at: float
    kind: str  # kill, cut, pause
    target: str = ""
    lasts: float = 0.0


def schedule(
    seed: int, window_s: float, *, kills: int, cuts: int, pauses: int, replicas: int = 2
) -> list[Fault]:
    """The faults of a run, drawn from `seed` alone: the same seed, the same schedule."""
    rng = random.Random(seed)
    faults = [
        Fault(
            round(rng.uniform(2, window_s), 2),
            "kill",
            f"{service}-{rng.randrange(replicas) + 1}",
            round(rng.uniform(0.5, 4), 2),
        )
        for service in SERVICES
        for _ in range(kills)
    ]
    faults += [
        Fault(round(rng.uniform(2, window_s), 2), "cut", "rabbitmq", round(rng.uniform(1, 5), 2))
        for _ in range(cuts)
    ]
    faults += [
        Fault(round(rng.uniform(2, window_s), 2), "pause", "ferretdb", round(rng.uniform(1, 6), 2))
        for _ in range(pauses)
    ]
    return sorted(faults, key=lambda f: f.at)


class System:
    """`replicas` processes of every service, reaching the broker through `plug` if given."""

    def __init__(
        self, stack: SessionStack, plug: Plug | None, replicas: int, label: str = "chaos"
    ) -> None:
        self.processes: dict[str, ServiceProcess] = {}
        for service in SERVICES:
            env = stack.service_env(
                service, DIKO_LOG_LEVEL="WARNING", DIKO_RETRY_DELAYS_MS=RETRY_DELAYS_MS
            )
            if plug is not None:
                env["DIKO_AMQP_URL"] = plug.url(env["DIKO_AMQP_URL"])
            for replica in range(1, replicas + 1):
                name = f"{service}-{replica}"
                env = {**env, "DIKO_PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}"}
                self.processes[name] = ServiceProcess(
                    f"{label}-{name}", f"diko_{service}", None, env
                )

    def start(self) -> None:
        for process in self.processes.values():
            process.launch()
        for process in self.processes.values():
            process.wait_ready(timeout=240)  # matching compiles its kernels on a fresh machine

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


@dataclass
class Report:
    seed: int
    stories: int
    concurrency: int
    replicas: int
    faults: list[dict[str, Any]] = field(default_factory=list)
    faults_done: int = 0
    load_s: float = 0.0
    drain_s: float = 0.0
    completed: int = 0
    failed: list[str] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    repeated_copies: int = 0
    duplicated_effects: list[str] = field(default_factory=list)
    missing_effects: list[str] = field(default_factory=list)
    wrong_state: list[str] = field(default_factory=list)
    mails: int = 0
    mails_expected: int = 0
    mails_repeated: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    dead_letters_without_reason: int = 0
    dead_letter_reasons: list[dict[str, str]] = field(default_factory=list)
    outbox_left: dict[str, int] = field(default_factory=dict)
    requests_resent: int = 0
    restarted_after_exit: int = 0
    load_average: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (
            self.failed
            or self.faults_done != len(self.faults)
            or self.duplicated_effects
            or self.missing_effects
            or self.wrong_state
            or self.mails != self.mails_expected
            or self.mails_repeated
            or self.dead_letters_without_reason
            or any(self.outbox_left.values())
        )

    def summary(self) -> str:
        kinds = Counter(f["kind"] for f in self.faults)
        lines = [
            f"chaos run, seed {self.seed}: {self.stories} stories, {self.concurrency} at a time, "
            f"{self.replicas} replicas of each service",
            f"faults: {kinds['kill']} kills, {kinds['cut']} broker cuts, "
            f"{kinds['pause']} database pauses",
            f"load {self.load_s:.1f} s, drain {self.drain_s:.1f} s; completed {self.completed}, "
            f"failed {len(self.failed)}; requests resent {self.requests_resent}",
            f"events {sum(self.events.values())} (repeated copies {self.repeated_copies}); "
            f"duplicated effects {len(self.duplicated_effects)}, "
            f"missing {len(self.missing_effects)}, wrong state {len(self.wrong_state)}",
            f"e-mails {self.mails} of {self.mails_expected}, repeated {self.mails_repeated}; "
            f"dead letters {sum(self.dead_letters.values())} "
            f"(without reason {self.dead_letters_without_reason}); "
            f"outbox left {sum(self.outbox_left.values())}",
            "PASSED" if self.passed else "FAILED",
        ]
        return "\n".join(lines)


class FaultRunner:
    """Carries out a schedule against a running system, then puts everything back."""

    def __init__(self, system: System, plug: Plug) -> None:
        self.system = system
        self.plug = plug
        self.done: list[Fault] = []

    async def run(self, faults: list[Fault], started: float) -> None:
        await asyncio.gather(*(self._one(f, started) for f in faults))

    async def _one(self, fault: Fault, started: float) -> None:
        await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
        if fault.kind == "kill":
            process = self.system.processes[fault.target]
            await asyncio.to_thread(process.kill)
            await asyncio.sleep(fault.lasts)
            process.launch()
        elif fault.kind == "cut":
            await asyncio.to_thread(self.plug.pull)
            await asyncio.sleep(fault.lasts)
            await asyncio.to_thread(self.plug.put_in)
        elif fault.kind == "pause":
            pid = int(FERRET_PID.read_text().split()[0])
            os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(fault.lasts)
            finally:
                os.kill(pid, signal.SIGCONT)
        self.done.append(fault)


async def drained(bus: Bus, stack: SessionStack, timeout: float) -> float:
    """Seconds until every service queue is empty and every outbox too (or `timeout`)."""
    started = time.monotonic()
    queues = [name for service in SERVICES for name in _queues(service)]
    async with AsyncMongoClient(stack.mongo_url) as client:
        while time.monotonic() - started < timeout:
            depths = [await bus.depth(name) for name in queues]
            outboxes = [
                await client[stack.database(s)][OUTBOX].count_documents({}) for s in SERVICES
            ]
            if not any(depths) and not any(outboxes):
                return time.monotonic() - started
            await asyncio.sleep(0.5)
    return time.monotonic() - started


def _queues(service: str) -> list[str]:
    from diko_shared.contract.catalogue import CATALOGUE

    names = [topology.request_queue(s).name for s in CATALOGUE.owned_by(service) if s.is_request]
    names += [topology.reaction_queue(service, t).name for t in CATALOGUE.reactions(service)]
    return names


async def check(load: StoryLoad, bus: Bus, stack: SessionStack, report: Report) -> None:
    """Fill the report's verdicts (see the module's docstring)."""
    recorder = load.recorder
    report.events = dict(recorder.by_type)
    report.repeated_copies = recorder.repeated_copies
    for run in load.runs:
        if run.error:
            report.failed.append(f"story {run.index}: {run.error}")
            continue
        facts = [
            ("company.registered", run.company_id),
            ("applicant.registered", run.applicant_id),
            ("position.opened", run.position_id),
            ("post.drafted", run.position_id),
            ("match.proposed", run.position_id),
            ("match.accepted", run.proposal_id),
            ("position.filled", run.position_id),
        ]
        for type_, key in facts:
            ids = recorder.ids.get((type_, key), set())
            if len(ids) > 1:
                report.duplicated_effects.append(f"story {run.index}: {type_} {key} x{len(ids)}")
            elif not ids:
                report.missing_effects.append(f"story {run.index}: no {type_} {key}")
        for told in ("match.proposed", "position.filled"):
            for event_id in recorder.ids.get((told, run.position_id), set()):
                mails = recorder.ids.get(("notification.sent", event_id), set())
                if len(mails) != 1:
                    report.duplicated_effects.append(
                        f"story {run.index}: {len(mails)} notification.sent for {told}"
                    )
        company = await bus.ok(GetCompany(company_id=run.company_id), timeout=60)
        [position] = company["positions"] or [{}]
        if (position.get("status"), position.get("places_taken")) != ("filled", 1):
            report.wrong_state.append(f"story {run.index}: position {position}")
        applicant = await bus.ok(GetApplicant(applicant_id=run.applicant_id), timeout=60)
        if applicant["status"] != "placed":
            report.wrong_state.append(f"story {run.index}: applicant {applicant['status']}")
    completed = [run for run in load.runs if not run.error]
    report.completed = len(completed)
    mails = await mails_to(stack.mailpit_url, load.staff_email)
    report.mails, report.mails_expected = len(mails), 2 * len(completed)
    by_id = Counter(m.get("MessageID") for m in mails)
    report.mails_repeated = sum(n - 1 for n in by_id.values() if n > 1)
    for service in SERVICES:
        letters = await bus.drain(topology.dead_letter_queue(service).name)
        report.dead_letters[service] = len(letters)
        for seen in letters:
            reason = _reason(seen.headers or {})
            report.dead_letter_reasons.append(
                {
                    "queue": str((seen.headers or {}).get(QUEUE_HEADER) or seen.routing_key),
                    "type": seen.type or "",
                    "reason": reason or "",
                }
            )
            report.dead_letters_without_reason += reason is None
    async with AsyncMongoClient(stack.mongo_url) as client:
        for service in SERVICES:
            outbox = client[stack.database(service)][OUTBOX]
            report.outbox_left[service] = await outbox.count_documents({})


def _reason(headers: dict[str, Any]) -> str | None:
    """Why a dead letter is one: the pipeline's reason, or the broker's (`delivery_limit`)."""
    reason = headers.get(REASON_HEADER) or headers.get("x-first-death-reason")
    return str(reason) if reason else None


async def chaos(
    stack: SessionStack,
    *,
    seed: int,
    stories: int,
    concurrency: int,
    window_s: float,
    kills: int,
    cuts: int,
    pauses: int,
    replicas: int = 2,
    say: Any = print,
) -> Report:
    """One run (see the module's docstring); the report, written to bench/results/."""
    faults = schedule(seed, window_s, kills=kills, cuts=cuts, pauses=pauses, replicas=replicas)
    report = Report(seed, stories, concurrency, replicas, [asdict(f) for f in faults])
    with Plug.to(stack.amqp_url) as plug:
        system = System(stack, plug, replicas)
        try:
            system.start()
            async with Bus(stack.amqp_url, source="chaos") as bus:
                load = StoryLoad(bus, timeout=30.0, attempts=8)
                await load.open()
                runner = FaultRunner(system, plug)
                started = time.monotonic()
                finished = [0]

                def progress(_: object) -> None:
                    finished[0] += 1
                    if finished[0] % max(1, stories // 10) == 0:
                        say(f"  {finished[0]}/{stories} stories, {len(runner.done)} faults")

                await asyncio.gather(
                    runner.run(faults, started),
                    load.run(stories, concurrency, on_done=progress),
                )
                report.load_s = time.monotonic() - started
                report.faults_done = len(runner.done)
                report.restarted_after_exit = await asyncio.to_thread(_all_ready, system)
                report.drain_s = await drained(bus, stack, timeout=180)
                report.requests_resent = load.resent
                await check(load, bus, stack, report)
        finally:
            system.stop()
    report.load_average = [round(x, 2) for x in os.getloadavg()]
    return report


def _all_ready(system: System) -> int:
    """Wait until every replica is ready; start again those that gave up, as compose's
    `restart: unless-stopped` does (a service whose broker went away while it was starting
    exits with an error). Returns how many were started again."""
    restarted = 0
    for process in system.processes.values():
        if process.process is not None and process.process.poll() is not None:
            process.launch()
            restarted += 1
        process.wait_ready(timeout=240)
    return restarted


def write(report: Report, name: str = "chaos.json") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    result = {**asdict(report), "passed": report.passed, "summary": report.summary()}
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--stories", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--window", type=float, default=240.0, help="seconds faults spread over")
    parser.add_argument("--kills", type=int, default=4, help="kills per service")
    parser.add_argument("--cuts", type=int, default=4)
    parser.add_argument("--pauses", type=int, default=4)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--schedule", action="store_true", help="print the schedule and stop")
    args = parser.parse_args()
    if args.schedule:
        faults = schedule(
            args.seed, args.window, kills=args.kills, cuts=args.cuts, pauses=args.pauses
        )
        for fault in faults:
            print(f"{fault.at:8.2f} s  {fault.kind:<6} {fault.target:<16} {fault.lasts:.2f} s")
        return
    with SessionStack.create() as stack:
        report = asyncio.run(
            chaos(
                stack,
                seed=args.seed,
                stories=args.stories,
                concurrency=args.concurrency,
                window_s=args.window,
                kills=args.kills,
                cuts=args.cuts,
                pauses=args.pauses,
                replicas=args.replicas,
            )
        )
    print(report.summary())
    print(f"written to {write(report).relative_to(REPO)}")
    sys.exit(0 if report.passed else 1)


if __name__ == "__main__":
    main()
