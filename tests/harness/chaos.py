"""Chaos under load: stories through two replicas of every service while things fail.

`python tests/harness/chaos.py --seed 7 --stories 600` runs it; `make chaos` runs the long
form, tests/chaos the short one. It runs on a RabbitMQ node and a FerretDB of its own
(`harness.servers`: started for the run on free ports with their data under
`.local/servers/`, stopped and deleted at the end), never on the stack the other tests
share, whose connections its restarts and pauses would break; only Mailpit is the local
stack's (`make stack`). What fails, on a schedule drawn from the seed (the same seed, the
same schedule):

- **kill**: a replica of a service gets SIGKILL (no shutdown, no acknowledgements) and is
  started again a moment later; every service several times;
- **cut**: every service's broker connection is cut at once (the services reach RabbitMQ
  through a `Plug`, which drops their connections and refuses new ones for a while);
- **pause**: the run's document store (FerretDB) is stopped with SIGSTOP and continued
  with SIGCONT: every query hangs meanwhile, as with a database that stalls;
- **restart**: the run's RabbitMQ or FerretDB is restarted with the stack script of this
  checkout (`deploy/local/stack.py restart`, keeping its data): every connection drops,
  the broker loses its exclusive queues, and the services must find their way back on
  their own;
- **smtp**: the SMTP server notifications talks to (`harness.smtpfaults`, in front of
  Mailpit) answers `451` (tempfail), hangs up (drop) or answers late (slow) for a while;
- **refuse**: the contact person of a story drawn from the seed is refused for good
  (`550` at RCPT): notifications must record the mail as failed, not lose it.

A replica that exits (one started while the broker was down gives up) is started again
at once, as compose's `restart: unless-stopped` does; nothing else is done by hand.

Afterwards, with everything back and the queues drained, `check` proves what the run is
for: every story completed, each of its events exactly once (distinct event ids per fact,
counted by a recorder bound before the first story), every document in its final state,
every e-mail delivered exactly once (Mailpit, by Message-ID) and as many to each address
as the stories cause (`STORY_MAILS`: two to staff, the post's approval notice and the
placement to the contact person, the placement to the applicant); a refused contact
person's two mails are announced by a permanent `notification.failed` each, never reach
Mailpit, and the refusal is reported once to the staff member responsible for the
company's town (the run's, who covers every place; the team address would get it only
if nobody did, and gets nothing); every `notification.failed` is explained (a refusal,
or a last retry that failed before the replay sent the mail); every dead letter carries
its reason and is replayed to completion (`diko dlq replay`), no outbox entry left
behind, no due item given up. The report (counts, faults, time to drain) goes to
bench/results/chaos.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "tests"))

import httpx  # noqa: E402
from pymongo import AsyncMongoClient  # noqa: E402

from diko_shared.contract.companies import GetCompany  # noqa: E402
from diko_shared.contract.matching import GetApplicant  # noqa: E402
from diko_shared.due import DUE  # noqa: E402
from diko_shared.messaging import topology  # noqa: E402
from diko_shared.messaging.pipeline import QUEUE_HEADER, REASON_HEADER  # noqa: E402
from diko_shared.store.mongo import OUTBOX  # noqa: E402
from harness.bus import Bus  # noqa: E402
from harness.plug import Plug  # noqa: E402
from harness.processes import (  # noqa: E402
    KILL_TIMEOUT_S,
    ServiceProcess,
    free_port,
    run_until_stopped,
)
from harness.quiet import quiet  # noqa: E402
from harness.servers import OwnServers  # noqa: E402
from harness.smtpfaults import FaultySmtp  # noqa: E402
from harness.stack import SessionStack  # noqa: E402
from harness.storyload import Recorder, StoryLoad, mails_to  # noqa: E402

SERVICES = ("companies", "matching", "notifications", "media")
RESULTS = REPO / "bench" / "results"
#: Retries that outlast a killed replica's claims (notifications leases an e-mail for its
#: SMTP timeout plus 15 s): the test stack's 0.7 s in all would dead-letter a message
#: whose e-mail a killed replica still holds, where the default delays (1 s to 5 min) wait.
RETRY_DELAYS_MS = "200,500,1000,5000,20000,30000"


#: The SMTP server's windows, taken in turn: every kind once in three windows.
SMTP_KINDS = ("tempfail", "drop", "slow")


@dataclass(frozen=True)
class Fault:
    """One fault: at `at` seconds after the load starts, for `lasts` seconds.

    `target`: the replica (kill), the server (restart), the SMTP fault's kind (smtp: the
    next `count` messages fail so, or are answered `delay` seconds late) or the story whose
    contact person is refused (refuse, for the whole run)."""

    at: float
    kind: str  # kill, cut, pause, restart, smtp, refuse
    target: str = ""
    lasts: float = 0.0
    delay: float = 0.0
    count: int = 0


def schedule(
    seed: int,
    window_s: float,
    *,
    kills: int,
    cuts: int,
    pauses: int,
    broker_restarts: int = 0,
    store_restarts: int = 0,
    smtp: int = 0,
    refusals: int = 0,
    stories: int = 0,
    replicas: int = 2,
    smtp_window_s: float | None = None,
) -> list[Fault]:
    """The faults of a run, drawn from `seed` alone: the same seed, the same schedule.

    `broker_restarts` of RabbitMQ, `store_restarts` of FerretDB; `smtp` faults of the SMTP
    server, armed within `smtp_window_s` (by default `window_s`);
    `refusals` of the `stories` stories' contact persons."""
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
    faults += [
        Fault(round(rng.uniform(2, window_s), 2), "restart", server)
        for server, count in (("rabbitmq", broker_restarts), ("ferretdb", store_restarts))
        for _ in range(count)
    ]
    faults += [
        Fault(
            round(rng.uniform(0.5, smtp_window_s or window_s), 2),
            "smtp",
            kind,
            delay=round(rng.uniform(1, 10), 2) if kind == "slow" else 0.0,
            count=rng.randint(1, 4),
        )
        for kind in (SMTP_KINDS[i % len(SMTP_KINDS)] for i in range(smtp))
    ]
    faults += [
        Fault(0.0, "refuse", str(index))
        for index in sorted(rng.sample(range(stories), min(refusals, stories)))
    ]
    return sorted(faults, key=lambda f: f.at)


class System:
    """`replicas` processes of every service, reaching the broker through `plug` if given."""

    def __init__(
        self,
        stack: SessionStack,
        plug: Plug | None,
        replicas: int,
        label: str = "chaos",
        *,
        smtp_port: int | None = None,
        team_email: str = "",
        timings: Mapping[str, str] | None = None,
    ) -> None:
        """`timings` overrides the test intervals of the background loops (benchmarks)."""
        self.processes: dict[str, ServiceProcess] = {}
        for service in SERVICES:
            env = stack.service_env(
                service,
                DIKO_LOG_LEVEL="WARNING",
                DIKO_RETRY_DELAYS_MS=RETRY_DELAYS_MS,
                **(timings or {}),
            )
            if plug is not None:
                env["DIKO_AMQP_URL"] = plug.url(env["DIKO_AMQP_URL"])
            if service == "notifications" and smtp_port is not None:
                env.update(DIKO_SMTP_HOST="127.0.0.1", DIKO_SMTP_PORT=str(smtp_port))
            if service == "notifications" and team_email:
                env["DIKO_TEAM_EMAIL"] = team_email
            for replica in range(1, replicas + 1):
                name = f"{service}-{replica}"
                env = {**env, "DIKO_PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}"}
                self.processes[name] = ServiceProcess(
                    f"{label}-{name}", f"diko_{service}", None, env
                )

    def start(self) -> None:
        """matching's first replica alone first: on a fresh checkout it compiles the engine's
        kernels into numba's cache (minutes on a loaded machine), which the others then read
        instead of each compiling them at once."""
        first = self.processes["matching-1"]
        first.launch()
        first.wait_ready(timeout=1200)
        for process in self.processes.values():
            if process is not first:
                process.launch()
        for process in self.processes.values():
            process.wait_ready(timeout=240)

    def stop(self) -> None:
        """SIGTERM to every replica at once, then wait for each (SIGKILL if one hangs)."""
        running = [p for p in self.processes.values() if p.process and p.process.poll() is None]
        for process in running:
            assert process.process is not None
            process.process.send_signal(signal.SIGTERM)
        for process in running:
            assert process.process is not None
            try:
                process.process.wait(KILL_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Report:
    seed: int
    stories: int
    concurrency: int
    replicas: int
    faults: list[dict[str, Any]] = field(default_factory=list)
    faults_done: int = 0
    #: Seconds: the replicas' start, the stories under faults, the queues and outboxes
    #: emptied afterwards, the dead letters replayed and worked off, the checks.
    start_s: float = 0.0
    load_s: float = 0.0
    drain_s: float = 0.0
    replay_s: float = 0.0
    check_s: float = 0.0
    completed: int = 0
    failed: list[str] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    repeated_copies: int = 0
    duplicated_effects: list[str] = field(default_factory=list)
    missing_effects: list[str] = field(default_factory=list)
    wrong_state: list[str] = field(default_factory=list)
    #: E-mails in Mailpit to the run's addresses (staff, team, contact persons, applicants),
    #: what the stories cause (`expected_mails`), and every address that got another count.
    mails: int = 0
    mails_expected: int = 0
    mails_repeated: int = 0
    mails_wrong: list[str] = field(default_factory=list)
    #: Refused for good (550): both of the contact person's mails announced by a permanent
    #: `notification.failed`, the refusal reported once to the responsible staff member
    #: (the run's, who covers every place), and nothing in Mailpit for the address.
    refused: list[int] = field(default_factory=list)
    refusals_recorded: int = 0
    refusals_reported: int = 0
    failures_unexplained: list[str] = field(default_factory=list)
    #: What the SMTP server did, by kind (relayed, refused, tempfail, drop, slow answers),
    #: and how many armed faults found no message before the end.
    smtp: dict[str, int] = field(default_factory=dict)
    smtp_unspent: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    dead_letters_without_reason: int = 0
    dead_letter_reasons: list[dict[str, str]] = field(default_factory=list)
    dead_letters_replayed: int = 0
    dead_letters_after_replay: int = 0
    #: Messages the broker could route nowhere (`diko.unrouted`): work that never started.
    unrouted: int = 0
    outbox_left: dict[str, int] = field(default_factory=dict)
    #: Due items (a placement's mails) given up after their retries: work not done.
    due_given_up: dict[str, int] = field(default_factory=dict)
    requests_resent: int = 0
    restarted_after_exit: int = 0
    #: Seconds each restart of the broker or the store took, from stop to answering again
    #: (a replica starting meanwhile waits for the broker at most 120 s, then exits).
    restarts_s: dict[str, list[float]] = field(default_factory=dict)
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
            or self.mails_wrong
            or self.refusals_recorded != len(self.refused)
            or self.refusals_reported != len(self.refused)
            or self.failures_unexplained
            or self.dead_letters_without_reason
            or self.dead_letters_after_replay
            or self.unrouted
            or any(self.outbox_left.values())
            or any(self.due_given_up.values())
        )

    def summary(self) -> str:
        kinds = Counter(f["kind"] for f in self.faults)
        lines = [
            f"chaos run, seed {self.seed}: {self.stories} stories, {self.concurrency} at a time, "
            f"{self.replicas} replicas of each service",
            f"faults: {kinds['kill']} kills, {kinds['cut']} broker cuts, "
            f"{kinds['pause']} database pauses, {kinds['restart']} restarts of broker or "
            f"database, {kinds['smtp']} SMTP windows, {kinds['refuse']} refused addresses; "
            f"replicas started again after they exited {self.restarted_after_exit}; "
            f"restarts took {self._restarts()}",
            f"SMTP: {', '.join(f'{k} {v}' for k, v in sorted(self.smtp.items())) or '-'}; "
            f"armed faults that found no message {self.smtp_unspent}",
            f"start {self.start_s:.1f} s, load {self.load_s:.1f} s, drain {self.drain_s:.1f} s, "
            f"replay {self.replay_s:.1f} s, checks {self.check_s:.1f} s",
            f"completed {self.completed}, failed {len(self.failed)}; "
            f"requests resent {self.requests_resent}",
            f"events {sum(self.events.values())} (repeated copies {self.repeated_copies}); "
            f"duplicated effects {len(self.duplicated_effects)}, "
            f"missing {len(self.missing_effects)}, wrong state {len(self.wrong_state)}",
            f"e-mails {self.mails} of {self.mails_expected}, repeated {self.mails_repeated}, "
            f"addresses with another count {len(self.mails_wrong)}; "
            f"refused for good {len(self.refused)}: recorded {self.refusals_recorded}, "
            f"reported to staff {self.refusals_reported}; "
            f"unexplained failures {len(self.failures_unexplained)}",
            f"dead letters {sum(self.dead_letters.values())} "
            f"(without reason {self.dead_letters_without_reason}, replayed "
            f"{self.dead_letters_replayed}, left after replay {self.dead_letters_after_replay}); "
            f"unrouted {self.unrouted}; outbox left {sum(self.outbox_left.values())}, "
            f"due items given up {sum(self.due_given_up.values())}",
            "PASSED" if self.passed else "FAILED",
        ]
        return "\n".join(lines)

    def _restarts(self) -> str:
        took = [
            f"{name} {', '.join(f'{s:.1f}' for s in seconds)} s"
            for name, seconds in sorted(self.restarts_s.items())
        ]
        return "; ".join(took) or "-"


class FaultRunner:
    """Carries out a schedule against a running system, then puts everything back.

    Meanwhile it starts again every replica that exited on its own (see the module's
    docstring); a replica killed by the schedule is left down until its fault ends."""

    def __init__(self, system: System, plug: Plug, smtp: FaultySmtp, servers: OwnServers) -> None:
        self.system = system
        self.plug = plug
        self.smtp = smtp
        self.servers = servers
        self.done: list[Fault] = []
        self.held: set[str] = set()
        self.restarted_after_exit = 0
        self.restarts_s: dict[str, list[float]] = {}
        #: A pause and a restart of the document store take turns (a stopped process
        #: would not hear the restart's SIGTERM).
        self.store = asyncio.Lock()

    async def run(self, faults: list[Fault], started: float) -> None:
        await asyncio.gather(*(self._one(f, started) for f in faults))

    async def supervise(self, interval: float = 1.0) -> None:
        """Start exited replicas again until cancelled."""
        while True:
            for name, process in self.system.processes.items():
                exited = process.process is not None and process.process.poll() is not None
                if exited and name not in self.held:
                    process.launch()
                    self.restarted_after_exit += 1
            await asyncio.sleep(interval)

    async def _one(self, fault: Fault, started: float) -> None:
        await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
        if fault.kind == "kill":
            process = self.system.processes[fault.target]
            self.held.add(fault.target)
            try:
                await asyncio.to_thread(process.kill)
                await asyncio.sleep(fault.lasts)
                process.launch()
            finally:
                self.held.discard(fault.target)
        elif fault.kind == "cut":
            await asyncio.to_thread(self.plug.pull)
            await asyncio.sleep(fault.lasts)
            await asyncio.to_thread(self.plug.put_in)
        elif fault.kind == "pause":
            async with self.store:
                self.servers.signal_store(signal.SIGSTOP)
                try:
                    await asyncio.sleep(fault.lasts)
                finally:
                    self.servers.signal_store(signal.SIGCONT)
        elif fault.kind == "restart" and fault.target == "ferretdb":
            async with self.store:
                await self._restart(fault.target)
        elif fault.kind == "restart":
            await self._restart(fault.target)
        elif fault.kind == "smtp":
            self.smtp.arm(fault.target, fault.count, fault.delay)
        self.done.append(fault)  # refuse: in force from the start (the SMTP server's list)

    async def _restart(self, server: str) -> None:
        began = time.monotonic()
        await asyncio.to_thread(self.servers.restart, server)
        self.restarts_s.setdefault(server, []).append(round(time.monotonic() - began, 1))


async def drained(stack: SessionStack, timeout: float) -> float:
    """Seconds until the services have nothing left to do (`harness.quiet`), or `timeout`:
    what is still left then shows in the checks. Dead letters are the replay's."""
    try:
        return await quiet(stack, timeout, SERVICES)
    except TimeoutError:
        return timeout


async def check(
    load: StoryLoad, bus: Bus, stack: SessionStack, report: Report, team_email: str
) -> None:
    """Fill the report's verdicts (see the module's docstring); after `replay_dead_letters`."""
    recorder = load.recorder
    report.events = dict(recorder.by_type)
    report.repeated_copies = recorder.repeated_copies
    deliveries = Deliveries.of(recorder)
    for delivery_id, ids in sorted(deliveries.sent.items()):
        if len(ids) > 1:
            causes = sorted(recorder.causes[i] for i in ids)
            report.duplicated_effects.append(
                f"delivery {delivery_id} ({deliveries.about[delivery_id]}): {len(ids)} "
                f"notification.sent, caused by {causes}"
            )
    explained: set[str] = set()
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
        [contact] = company["contacts"]
        explained |= _people_mails(
            run, contact["contact_id"], run.index in report.refused, deliveries, report
        )
        applicant = await bus.ok(GetApplicant(applicant_id=run.applicant_id), timeout=60)
        if applicant["status"] != "placed":
            report.wrong_state.append(f"story {run.index}: applicant {applicant['status']}")
    explained |= deliveries.finished_later()
    report.failures_unexplained += [
        f"notification.failed {recorder.data[i]}"
        for ids in deliveries.failed.values()
        for i in sorted(ids - explained)
    ]
    report.refusals_reported = len(deliveries.of_type("bounce"))
    completed = [run for run in load.runs if not run.error]
    report.completed = len(completed)
    await _mails(load, stack, report, completed, team_email)
    async with AsyncMongoClient(stack.mongo_url) as client:
        for service in SERVICES:
            db = client[stack.database(service)]
            report.outbox_left[service] = await db[OUTBOX].count_documents({})
            report.due_given_up[service] = await db[DUE].count_documents({"failed": {"$ne": None}})


@dataclass
class Deliveries:
    """notifications' announcements by delivery: the `notification.sent` and
    `notification.failed` event ids of each, whom it went to and what it was about."""

    sent: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    failed: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    recipient: dict[str, str] = field(default_factory=dict)
    about: dict[str, str] = field(default_factory=dict)
    #: The `notification.failed` ids that say "refused for good".
    refusals: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, recorder: Recorder) -> Deliveries:
        found = cls()
        for event_id, type_ in recorder.types.items():
            if type_ not in ("notification.sent", "notification.failed"):
                continue
            data = recorder.data[event_id]
            delivery_id = str(data.get("delivery_id"))
            announced = found.sent if type_ == "notification.sent" else found.failed
            announced[delivery_id].add(event_id)
            found.recipient[delivery_id] = str(data.get("recipient_id"))
            found.about[delivery_id] = str(data.get("event_type"))
            if type_ == "notification.failed" and data.get("permanent"):
                found.refusals.add(event_id)
        return found

    @property
    def refused(self) -> set[str]:
        """The deliveries refused for good."""
        return {d for d, ids in self.failed.items() if ids & self.refusals}

    def to(self, recipient_id: str, announced: dict[str, set[str]]) -> list[str]:
        """The deliveries to `recipient_id` in `announced` (sent or failed), by what about."""
        return sorted(
            (d for d, r in self.recipient.items() if r == recipient_id and announced.get(d)),
            key=lambda d: self.about[d],
        )

    def named(self, deliveries: list[str]) -> list[str]:
        """Deliveries with what they were about, for the report."""
        return [f"{d} ({self.about[d]})" for d in deliveries]

    def of_type(self, event_type: str) -> list[str]:
        """The sent deliveries about `event_type` (`bounce`: reports of refused addresses)."""
        return [d for d, ids in self.sent.items() if ids and self.about[d] == event_type]

    def finished_later(self) -> set[str]:
        """Temporary failures (the last retry failed, the event went to the dead letters)
        of deliveries sent or refused for good afterwards (the replay)."""
        done = {d for d, ids in self.sent.items() if ids} | self.refused
        return {i for d, ids in self.failed.items() if d in done for i in ids - self.refusals}


#: What a story's contact person is e-mailed about: the post drafted for the position (a
#: notice from media asking for approval) and the placement.
CONTACT_MAILS = ["match.accepted", "notification.send"]


def _people_mails(
    run: Any, contact_id: str, refused: bool, deliveries: Deliveries, report: Report
) -> set[str]:
    """A story's mails to its contact person (two) and its applicant (one, the placement):
    sent once each; a refused contact person's both failed for good instead. Returns the
    failures that explains."""
    to_contact = deliveries.to(contact_id, deliveries.sent)
    failed = deliveries.to(contact_id, deliveries.failed)
    to_applicant = deliveries.to(run.applicant_id, deliveries.sent)
    if [deliveries.about[d] for d in to_applicant] != ["match.accepted"]:
        report.missing_effects.append(
            f"story {run.index}: applicant's mails {deliveries.named(to_applicant)}"
        )
    if not refused:
        if [deliveries.about[d] for d in to_contact] != CONTACT_MAILS or failed:
            report.missing_effects.append(
                f"story {run.index}: contact's mails sent {deliveries.named(to_contact)}, "
                f"failed {deliveries.named(failed)}"
            )
        return set()
    refused_ones = [d for d in failed if d in deliveries.refused]
    if to_contact or [deliveries.about[d] for d in refused_ones] != CONTACT_MAILS:
        report.missing_effects.append(
            f"story {run.index}: refused contact's mails sent {deliveries.named(to_contact)}, "
            f"failed {deliveries.named(failed)}"
        )
        return set()
    report.refusals_recorded += 1
    return {i for d in refused_ones for i in deliveries.failed[d] & deliveries.refusals}


#: The mails of one completed story, by whom they reach (staff: the proposal and the filled
#: position; the contact person: the post's approval notice and the placement; the
#: applicant: the placement). A refused contact person gets none; the run's staff member,
#: responsible for every place, gets one report per refused address, and the team address
#: nothing (it gets what nobody responsible receives).
STORY_MAILS = {"staff": 2, "contact": 2, "applicant": 1}
REPORT_SUBJECT = "E-Mail-Adresse nicht zustellbar"


def expected_mails(load: StoryLoad, completed: list[Any], refused: set[int]) -> Counter[str]:
    """How many e-mails each of the run's addresses receives (see `STORY_MAILS`)."""
    want: Counter[str] = Counter()
    for run in completed:
        want[load.staff_email] += STORY_MAILS["staff"]
        want[load.applicant_email(run.index)] += STORY_MAILS["applicant"]
        if run.index in refused:
            want[load.staff_email] += 1
        else:
            want[load.contact_email(run.index)] += STORY_MAILS["contact"]
    return want


async def _mails(
    load: StoryLoad, stack: SessionStack, report: Report, completed: list[Any], team_email: str
) -> None:
    """Mailpit's e-mails of the run: each once by Message-ID, as many to each address as
    the stories cause, and the reports of refused addresses naming them."""
    refused = set(report.refused)
    found: dict[str, dict[str, Any]] = {}
    for address in (load.staff_email, team_email, f"{load.token}.example"):
        for mail in await mails_to(stack.mailpit_url, address):
            found[mail["ID"]] = mail
    got: Counter[str] = Counter()
    for mail in found.values():
        for to in mail.get("To") or []:
            got[str(to.get("Address", "")).lower()] += 1
    want = expected_mails(load, completed, refused)
    report.mails = sum(got.values())
    report.mails_expected = sum(want.values())
    report.mails_wrong = [
        f"{address}: {got[address]} of {want[address]}"
        for address in sorted(set(got) | set(want))
        if got[address] != want[address]
    ]
    by_id = Counter(m.get("MessageID") for m in found.values())
    report.mails_repeated = sum(n - 1 for n in by_id.values() if n > 1)
    reports = [m for m in found.values() if str(m.get("Subject", "")).startswith(REPORT_SUBJECT)]
    named: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=stack.mailpit_url, timeout=30.0) as client:
        for mail in reports:
            text = (await client.get(f"/api/v1/message/{mail['ID']}")).json().get("Text", "")
            named.update(i for i in refused if load.contact_email(i) in text)
    reported = {i for i in refused if any(r.index == i for r in completed)}
    if named != Counter(dict.fromkeys(reported, 1)):
        report.mails_wrong.append(f"reports of refused addresses name stories {dict(named)}")


async def replay_dead_letters(bus: Bus, stack: SessionStack, report: Report) -> None:
    """Read every dead letter's reason, replay them with `diko dlq replay` as an operator
    would, wait until that work is done, and count what is left."""
    diko = Path(sys.executable).with_name("diko")
    for service in SERVICES:
        letters = await _peek(bus, topology.dead_letter_queue(service).name)
        report.dead_letters[service] = len(letters)
        for headers, type_ in letters:
            reason = _reason(headers)
            report.dead_letter_reasons.append(
                {
                    "queue": str(headers.get(QUEUE_HEADER) or ""),
                    "type": type_,
                    "reason": reason or "",
                }
            )
            report.dead_letters_without_reason += reason is None
        if letters:
            env = {**os.environ, "DIKO_AMQP_URL": stack.amqp_url}
            await asyncio.to_thread(
                subprocess.run,
                [str(diko), "dlq", "replay", service],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
            report.dead_letters_replayed += len(letters)
    if report.dead_letters_replayed:
        await drained(stack, timeout=400)
    for service in SERVICES:
        report.dead_letters_after_replay += await bus.depth(
            topology.dead_letter_queue(service).name
        )
    report.unrouted = await bus.depth(topology.UNROUTED_QUEUE_NAME)


async def _peek(bus: Bus, queue_name: str) -> list[tuple[dict[str, Any], str]]:
    """The headers and type of every message in a queue, which stays as it was."""
    assert bus.channel is not None
    queue = await bus.channel.get_queue(queue_name, ensure=False)
    taken = []
    while (message := await queue.get(fail=False)) is not None:
        taken.append(message)
    for message in taken:
        await message.nack(requeue=True)
    return [(dict(m.headers or {}), m.type or "") for m in taken]


def _reason(headers: dict[str, Any]) -> str | None:
    """Why a dead letter is one: the pipeline's reason, or the broker's (`delivery_limit`)."""
    reason = headers.get(REASON_HEADER) or headers.get("x-first-death-reason")
    return str(reason) if reason else None


async def chaos(
    servers: OwnServers,
    stack: SessionStack,
    *,
    seed: int,
    stories: int,
    concurrency: int,
    window_s: float,
    kills: int,
    cuts: int,
    pauses: int,
    broker_restarts: int = 0,
    store_restarts: int = 0,
    smtp: int = 0,
    refusals: int = 0,
    replicas: int = 2,
    smtp_window_s: float | None = None,
    request_timeout: float = 30.0,
    say: Any = print,
) -> Report:
    """One run (see the module's docstring) on `servers`, the run's own, in `stack`, a
    virtual host and databases on them; the report, written to bench/results/.

    `request_timeout`: how long the load waits for an answer before it sends a request
    again (with the same id: a repeat is answered, never done twice)."""
    faults = schedule(
        seed,
        window_s,
        kills=kills,
        cuts=cuts,
        pauses=pauses,
        broker_restarts=broker_restarts,
        store_restarts=store_restarts,
        smtp=smtp,
        refusals=refusals,
        stories=stories,
        replicas=replicas,
        smtp_window_s=smtp_window_s,
    )
    report = Report(seed, stories, concurrency, replicas, [asdict(f) for f in faults])
    report.refused = [int(f.target) for f in faults if f.kind == "refuse"]
    token = secrets.token_hex(3)
    team_email = f"team-{token}@diko.example"
    relay = (stack.base["DIKO_SMTP_HOST"], int(stack.base["DIKO_SMTP_PORT"]))
    async with FaultySmtp(*relay) as smtp_server:
        with Plug.to(stack.amqp_url) as plug:
            system = System(
                stack, plug, replicas, smtp_port=smtp_server.port, team_email=team_email
            )
            try:
                began = time.monotonic()
                await asyncio.to_thread(system.start)
                report.start_s = time.monotonic() - began
                say(f"  {len(system.processes)} replicas ready in {report.start_s:.1f} s")
                async with Bus(stack.amqp_url, source="chaos") as bus:
                    load = StoryLoad(
                        bus,
                        timeout=request_timeout,
                        attempts=12,
                        token=token,
                        step_timeout=300,
                    )
                    smtp_server.refused = frozenset(load.contact_email(i) for i in report.refused)
                    await load.open()
                    runner = FaultRunner(system, plug, smtp_server, servers)
                    await _under_faults(runner, load, faults, stories, report, say)
                    say(f"  load done in {report.load_s:.1f} s")
                    report.restarts_s = runner.restarts_s
                    report.restarted_after_exit = runner.restarted_after_exit + (
                        await asyncio.to_thread(_all_ready, system)
                    )
                    report.drain_s = await drained(stack, timeout=400)
                    report.requests_resent = load.resent
                    began = time.monotonic()
                    await replay_dead_letters(bus, stack, report)
                    report.replay_s = time.monotonic() - began
                    say(f"  drained in {report.drain_s:.1f} s, replayed in {report.replay_s:.1f} s")
                    report.smtp = dict(smtp_server.counts)
                    report.smtp_unspent = smtp_server.unspent
                    began = time.monotonic()
                    await load.recorder.fence(bus)
                    await check(load, bus, stack, report, team_email)
                    report.check_s = time.monotonic() - began
            finally:
                await asyncio.to_thread(system.stop)
    report.load_average = [round(x, 2) for x in os.getloadavg()]
    return report


async def _under_faults(
    runner: FaultRunner,
    load: StoryLoad,
    faults: list[Fault],
    stories: int,
    report: Report,
    say: Any,
) -> None:
    """The stories while the faults happen and exited replicas are started again."""
    started = time.monotonic()
    finished = [0]

    def progress(_: object) -> None:
        finished[0] += 1
        if finished[0] % max(1, stories // 10) == 0:
            say(f"  {finished[0]}/{stories} stories, {len(runner.done)} faults")

    supervisor = asyncio.create_task(runner.supervise())
    try:
        await asyncio.gather(
            runner.run(faults, started),
            load.run(stories, report.concurrency, on_done=progress),
        )
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
    report.load_s = time.monotonic() - started
    report.faults_done = len(runner.done)


#: How long the replicas may take to be ready after the load, exits and starts included.
READY_TIMEOUT_S = 300.0


def _all_ready(system: System, timeout: float = READY_TIMEOUT_S) -> int:
    """Wait until every replica is ready, starting again each one that exits meanwhile, as
    compose's `restart: unless-stopped` does: a replica that was starting while the broker
    was away gives up after 120 s with an error, possibly during this wait. Returns how
    many were started again; `TimeoutError` with the log tails of those still not ready."""
    deadline = time.monotonic() + timeout
    restarted = 0
    waiting = list(system.processes.values())
    while True:
        for process in waiting:
            if process.process is not None and process.process.poll() is not None:
                process.launch()
                restarted += 1
        waiting = [p for p in waiting if not p.ready()]
        if not waiting:
            return restarted
        if time.monotonic() > deadline:
            tails = "\n\n".join(f"{p.name}:\n{p.tail()}" for p in waiting)
            raise TimeoutError(f"not ready within {timeout:.0f} s:\n{tails}")
        time.sleep(0.2)  # between readiness probes, as `wait_ready` polls


def write(report: Report, name: str = "chaos.json") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    result = {**asdict(report), "passed": report.passed, "summary": report.summary()}
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


#: Seconds of the fault window per story of the long run: faults spread over the load.
WINDOW_PER_STORY_S = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help=f"seconds faults spread over (default {WINDOW_PER_STORY_S} per story)",
    )
    parser.add_argument("--kills", type=int, default=4, help="kills per service")
    parser.add_argument("--cuts", type=int, default=4)
    parser.add_argument("--pauses", type=int, default=4)
    parser.add_argument("--broker-restarts", type=int, default=2, help="of RabbitMQ")
    parser.add_argument("--store-restarts", type=int, default=2, help="of FerretDB")
    parser.add_argument("--smtp", type=int, default=9, help="windows of SMTP faults")
    parser.add_argument("--refusals", type=int, default=5, help="contact persons refused (550)")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument(
        "--request-timeout", type=float, default=30.0, help="seconds before a request is resent"
    )
    parser.add_argument(
        "--output", default="chaos.json", help="the report's name in bench/results/"
    )
    parser.add_argument("--schedule", action="store_true", help="print the schedule and stop")
    args = parser.parse_args()
    window = args.window or args.stories * WINDOW_PER_STORY_S
    counts = {
        "kills": args.kills,
        "cuts": args.cuts,
        "pauses": args.pauses,
        "broker_restarts": args.broker_restarts,
        "store_restarts": args.store_restarts,
        "smtp": args.smtp,
        "refusals": args.refusals,
    }
    if args.schedule:
        faults = schedule(args.seed, window, stories=args.stories, **counts)
        for fault in faults:
            print(
                f"{fault.at:8.2f} s  {fault.kind:<8} {fault.target:<16} {fault.lasts:.2f} s"
                + (f"  next {fault.count} mail(s)" if fault.count else "")
                + (f", answered {fault.delay:.2f} s late" if fault.delay else "")
            )
        return
    with OwnServers("chaos") as servers, servers.session() as stack:
        report = run_until_stopped(
            chaos(
                servers,
                stack,
                seed=args.seed,
                stories=args.stories,
                concurrency=args.concurrency,
                window_s=window,
                replicas=args.replicas,
                request_timeout=args.request_timeout,
                **counts,
            ),
            "chaos run stopped; its services and servers are stopped too",
        )
    print(report.summary())
    print(f"written to {write(report, args.output).relative_to(REPO)}")
    sys.exit(0 if report.passed else 1)


if __name__ == "__main__":
    main()
