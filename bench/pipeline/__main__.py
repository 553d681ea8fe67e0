"""`python -m bench.pipeline`: the platform's throughput and latency against two floors.

All three run in one session against the local stack (`make stack`), in a private virtual
host and private databases, with the same message bodies, the same publisher (confirms,
a window of in-flight messages), the same prefetch, and each consumer in a process of
its own:

- honest floor: the best a hand-written consumer of the same path does (floor_consumer):
  batches of up to 64 stored with one `insert_many`, one event per message published
  with confirms, then the batch acknowledged with `multiple`; end-to-end = publish of the
  command until its event arrives at a sink queue;
- naive floor (for reference): one `insert_one` and one ack per message, no event;
  end-to-end = publish until the consumer has inserted and acknowledged;
- platform: a service whose handler validates the envelope and payload, stages one
  document, and emits one event; the pipeline claims the message in the inbox, commits
  the document and the processed record (which keeps the event), publishes the event
  and waits for its confirm, then acknowledges;
  end-to-end = publish of the command until the event arrives at a sink queue.

The latency probe paces messages at 50 a second, in slices that the three sides take in
turns (a slow minute of the machine then falls on every side, not on one), each slice a
new consumer process whose first 25 messages are not counted (cold caches and
connections, which a running service has long left behind); p50 and p99 are taken over
the pooled slices.

With the platform, the wall time per phase of each message (decode and validate, claim,
handler, commit, publish and confirm, ack; relay wait only for events the broker did not
confirm, which the outbox relay publishes) and the CPU seconds per message of
the consumer, RabbitMQ and the document store are written to bench/results/pipeline.json.
`--mongo-url` runs everything against another document store (e.g. the MongoDB of the
compose deployment); the local RabbitMQ is used either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import uvloop
from faststream.rabbit import Channel, RabbitBroker
from pymongo import AsyncMongoClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from bench.pipeline.contract import Record  # noqa: E402
from bench.pipeline.cpu import machine_times, own_cpu, process_cpu, scheduled  # noqa: E402
from diko_shared.contract.envelope import new_envelope  # noqa: E402
from diko_shared.messaging import topology  # noqa: E402
from diko_shared.messaging.profile import summarise_phases  # noqa: E402
from diko_shared.messaging.publisher import Outgoing, Publisher  # noqa: E402
from harness.processes import run_until_stopped  # noqa: E402
from harness.stack import HARNESS_USER, SessionStack  # noqa: E402

RESULTS = REPO / "bench" / "results" / "pipeline.json"
NAIVE_QUEUE = "bench.naive"
FLOOR_QUEUE = "bench.floor"
FLOOR_EVENT = "bench.floor.recorded"
PLATFORM_EVENT = "bench.recorded"
HTTP_PORT = 8099
#: Messages per second of the latency probe: far below either side's capacity.
PROBE_RATE = 50
#: Paced messages each new consumer process handles before the probe counts: its first
#: messages meet cold caches and connections a running service has long left behind.
PROBE_WARMUP = 25
#: `--cprofile PREFIX`: each platform consumer writes its cProfile to PREFIX.<n>.
CPROFILE_TO = ""
PLATFORM_RUNS: list[str] = []
GOAL_RATIO = 0.8
GOAL_P99 = 2.0
PIDS = {
    "rabbitmq": REPO / ".local" / "rabbitmq" / "rabbitmq.pid",
    "document_store": REPO / ".local" / "ferretdb" / "ferretdb.pid",
}


@dataclass
class Run:
    name: str
    messages: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    #: CPU seconds per 1,000 messages of each process that took part (where it can be read).
    cpu_s_per_1000: dict[str, float] = field(default_factory=dict)
    #: Share of the machine's CPU time (all cores) in use during the run.
    machine_busy: float = 0.0
    #: Share of the run the consumer process ran, and waited for a CPU while runnable;
    #: the rest it waited for the store, the broker or the next message. A consumer that
    #: is nearly always one or the other is what the run waits for: its throughput is
    #: the share it ran over its CPU a message, whatever the machine's idle share.
    consumer_scheduled: dict[str, float] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    #: Each message's latency and the platform's phase samples, for pooling the slices of
    #: the latency probe; not written to the results.
    latencies: list[float] = field(default_factory=list, repr=False)
    phase_samples: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def public(self) -> dict[str, Any]:
        """The run as bench/results shows it."""
        shown = asdict(self)
        del shown["latencies"], shown["phase_samples"]
        return shown


def summarise(name: str, seconds: float, latencies: list[float]) -> Run:
    ordered = sorted(latencies)
    return Run(
        name=name,
        messages=len(ordered),
        seconds=round(seconds, 3),
        throughput=round(len(ordered) / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p99_ms=round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        latencies=ordered,
    )


def pooled(slices: list[Run]) -> Run:
    """The slices of one side's latency probe as one run: latencies and phases pooled."""
    run = summarise(
        slices[0].name,
        sum(s.seconds for s in slices),
        [latency for s in slices for latency in s.latencies],
    )
    run.cpu_s_per_1000 = {
        name: round(statistics.fmean(s.cpu_s_per_1000.get(name, 0.0) for s in slices), 3)
        for name in slices[0].cpu_s_per_1000
    }
    run.machine_busy = round(statistics.fmean(s.machine_busy for s in slices), 3)
    run.consumer_scheduled = {
        key: round(statistics.fmean(s.consumer_scheduled.get(key, 0.0) for s in slices), 3)
        for key in slices[0].consumer_scheduled
    }
    samples: dict[str, list[float]] = {}
    for s in slices:
        for phase, values in s.phase_samples.items():
            samples.setdefault(phase, []).extend(values)
    if samples:
        counts = [s.profile.get("counts", {}) for s in slices]
        run.profile = {
            **summarise_phases(samples),
            "counts": {key: sum(c.get(key, 0) for c in counts) for key in counts[0]},
        }
    return run


class CpuMeter:
    """CPU seconds of the stack's servers, this process and the consumer during a run."""

    def __init__(self, consumer_pid: int, local_store: bool) -> None:
        """`local_store`: the document store is the stack's FerretDB, whose CPU is read too."""
        self.pids = {"consumer": consumer_pid}
        for name, path in PIDS.items():
            if path.exists() and (local_store or name != "document_store"):
                self.pids[name] = int(path.read_text().split()[0])
        self.start: dict[str, float] = {}
        self.machine_start = (0.0, 0.0)
        self.consumer_start = (0.0, 0.0)

    def read(self) -> dict[str, float]:
        values = {"load_and_sink": own_cpu()}
        for name, pid in self.pids.items():
            try:
                values[name] = process_cpu(pid)
            except (OSError, ValueError, IndexError):
                continue
        return values

    def begin(self) -> None:
        self.start = self.read()
        self.machine_start = machine_times()
        self.consumer_start = scheduled(self.pids["consumer"])

    def consumer_scheduled(self, seconds: float) -> dict[str, float]:
        """The consumer's share of `seconds` running and waiting for a CPU since `begin`."""
        try:
            running, waiting = scheduled(self.pids["consumer"])
        except OSError:  # it has exited
            return {}
        return {
            "running": round((running - self.consumer_start[0]) / seconds, 3),
            "waiting_for_cpu": round((waiting - self.consumer_start[1]) / seconds, 3),
        }

    def machine_busy(self) -> float:
        """Share of the machine's CPU in use since `begin`."""
        busy, total = machine_times()
        spent = total - self.machine_start[1]
        return round((busy - self.machine_start[0]) / spent, 3) if spent else 0.0

    def per_1000(self, messages: int) -> dict[str, float]:
        now = self.read()
        return {
            name: round((now[name] - self.start[name]) * 1000 / messages, 3)
            for name in now
            if name in self.start
        }


def message(seq: int) -> Outgoing:
    payload = Record(seq=seq, sent_at=time.time(), station=f"station-{seq % 50}", value=seq * 0.5)
    envelope = new_envelope("bench.record", payload, source="bench-load")
    return Outgoing.from_envelope(topology.COMMANDS.name, envelope)


async def publish_all(
    publisher: Publisher, count: int, window: int, routing_key: str | None
) -> float:
    """Publish `count` messages; returns the start time.

    A positive `window` keeps that many publishes unconfirmed at a time (a flood, for
    throughput); a negative one paces the messages at -window per second (for the latency
    of a message on a system that is not busy).
    """
    gate = asyncio.Semaphore(max(window, 1))
    started = time.time()

    async def one(seq: int) -> None:
        if window < 0:
            await asyncio.sleep(seq / -window)  # pacing: message `seq` leaves at seq / rate
        async with gate:
            outgoing = message(seq)
            if routing_key is not None:
                outgoing = Outgoing(**{**outgoing.__dict__, "routing_key": routing_key})
            await publisher.publish(outgoing, timeout=120)  # a loaded broker is slow

    await asyncio.gather(*(one(seq) for seq in range(count)))
    return started


class Sink:
    """An exclusive queue bound to one event type: when each message's event arrived."""

    def __init__(self, amqp_url: str, routing_key: str, count: int) -> None:
        self.amqp_url = amqp_url
        self.routing_key = routing_key
        self.count = count
        self.latencies: dict[int, float] = {}
        self.last = 0.0
        self.done = asyncio.Event()
        self.connection: aio_pika.abc.AbstractConnection | None = None

    async def open(self) -> None:
        self.connection = await aio_pika.connect(self.amqp_url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(topology.EVENTS.name, self.routing_key)
        await queue.consume(self._on_event, no_ack=True)

    async def _on_event(self, incoming: aio_pika.abc.AbstractIncomingMessage) -> None:
        data = json.loads(incoming.body)["data"]
        now = time.time()
        self.latencies.setdefault(data["seq"], now - data["sent_at"])
        self.last = now
        if len(self.latencies) >= self.count:
            self.done.set()

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


async def until_sunk(
    name: str,
    publisher: Publisher,
    sink: Sink,
    meter: CpuMeter,
    count: int,
    window: int,
    routing_key: str | None,
    skip: int,
) -> Run:
    """Publish `count` messages and wait until each one's event reached `sink`.

    The latencies of the first `skip` messages are left out (a probe's warm-up).
    """
    meter.begin()
    started = await publish_all(publisher, count, window, routing_key)
    await asyncio.wait_for(sink.done.wait(), timeout=600)
    kept = [latency for seq, latency in sink.latencies.items() if seq >= skip]
    run = summarise(name, sink.last - started, kept)
    run.cpu_s_per_1000 = meter.per_1000(count)
    run.machine_busy = meter.machine_busy()
    run.consumer_scheduled = meter.consumer_scheduled(run.seconds)
    return run


async def harness_publisher(stack: SessionStack, queue_name: str) -> tuple[RabbitBroker, Publisher]:
    """A publisher as the harness (every right in the session's virtual host) and its queue."""
    url = stack.amqp_url_as(HARNESS_USER)
    broker = RabbitBroker(
        url, apply_types=False, log_level=10, default_channel=Channel(on_return_raises=True)
    )
    await broker.connect()
    queue = await broker.declare_queue(topology.consumer_queue(queue_name, queue_name))
    await queue.bind(await broker.declare_exchange(topology.COMMANDS), routing_key=queue_name)
    return broker, Publisher(broker, "bench-load")


@asynccontextmanager
async def consumer_process(module: str, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """A hand-written consumer's process, once it says it is ready; killed on the way out if
    it still runs (a benchmark stopped half-way must not leave it behind)."""
    consumer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert consumer.stdout is not None
        assert (await consumer.stdout.readline()).decode().strip() == "ready"
        yield consumer
    finally:
        if consumer.returncode is None:
            consumer.kill()
            await consumer.wait()


async def finish(consumer: asyncio.subprocess.Process) -> bytes:
    """What the consumer printed until it exited (after its last message)."""
    assert consumer.stdout is not None
    output = await consumer.stdout.read()
    await asyncio.wait_for(consumer.wait(), 60)
    return output


async def naive_floor(
    stack: SessionStack, count: int, window: int, prefetch: int, servers: bool, skip: int = 0
) -> Run:
    broker, publisher = await harness_publisher(stack, NAIVE_QUEUE)
    try:
        async with consumer_process(
            "bench.pipeline.naive_consumer",
            stack.amqp_url_as(HARNESS_USER),
            stack.mongo_url,
            stack.database("naive"),
            NAIVE_QUEUE,
            str(count),
            str(prefetch),
        ) as consumer:
            meter = CpuMeter(consumer.pid, servers)
            meter.begin()
            started = await publish_all(publisher, count, window, NAIVE_QUEUE)
            output = await finish(consumer)
    finally:
        await broker.stop()
    result = json.loads(output.decode().strip().splitlines()[-1])
    kept = [latency for seq, latency in result["latencies"] if seq >= skip]
    run = summarise("naive floor", result["finished_at"] - started, kept)
    run.cpu_s_per_1000 = meter.per_1000(count)
    run.machine_busy = meter.machine_busy()
    # The consumer has exited by now: its own count (from `ready` on) stands in.
    run.cpu_s_per_1000["consumer"] = round(result["cpu_s"] * 1000 / count, 3)
    return run


async def raw_floor(stack: SessionStack, count: int, window: int, prefetch: int) -> Run:
    """The naive floor under the name bench/companies measures its import against."""
    return await naive_floor(stack, count, window, prefetch, servers=False)


async def honest_floor(
    stack: SessionStack, count: int, window: int, prefetch: int, servers: bool, skip: int = 0
) -> Run:
    broker, publisher = await harness_publisher(stack, FLOOR_QUEUE)
    sink = Sink(stack.amqp_url_as(HARNESS_USER), FLOOR_EVENT, count)
    await sink.open()
    try:
        async with consumer_process(
            "bench.pipeline.floor_consumer",
            stack.amqp_url_as(HARNESS_USER),
            stack.mongo_url,
            stack.database("floor"),
            FLOOR_QUEUE,
            str(count),
            str(prefetch),
            FLOOR_EVENT,
        ) as consumer:
            meter = CpuMeter(consumer.pid, servers)
            run = await until_sunk(
                "honest floor", publisher, sink, meter, count, window, FLOOR_QUEUE, skip
            )
            result = json.loads((await finish(consumer)).decode().strip().splitlines()[-1])
        # The consumer may have exited before the meter read it: its own count stands in.
        run.cpu_s_per_1000["consumer"] = round(result["cpu_s"] * 1000 / count, 3)
    finally:
        await sink.close()
        await broker.stop()
    return run


def start_platform_consumer(stack: SessionStack, prefetch: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **stack.service_env("bench"),
        "DIKO_OUTBOX_LEASE_S": "15",
        "DIKO_OUTBOX_SWEEP_S": "5",
        "DIKO_HTTP_PORT": str(HTTP_PORT),
        "DIKO_PREFETCH": str(prefetch),
        "DIKO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    if CPROFILE_TO:
        PLATFORM_RUNS.append(f"{CPROFILE_TO}.{len(PLATFORM_RUNS)}")
        env["BENCH_CPROFILE"] = PLATFORM_RUNS[-1]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.pipeline.platform_consumer"], cwd=REPO, env=env
    )
    deadline = time.monotonic() + 180  # a loaded machine declares quorum queues slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the platform consumer did not become ready")


async def platform(
    stack: SessionStack, count: int, window: int, prefetch: int, servers: bool, skip: int = 0
) -> Run:
    consumer = start_platform_consumer(stack, prefetch)
    try:
        broker = RabbitBroker(
            stack.amqp_url,
            apply_types=False,
            log_level=10,
            default_channel=Channel(on_return_raises=True),
        )
        await broker.connect()
        publisher = Publisher(broker, "bench-load")
        sink = Sink(stack.amqp_url, PLATFORM_EVENT, count)
        await sink.open()
        meter = CpuMeter(consumer.pid, servers)
        run = await until_sunk("platform", publisher, sink, meter, count, window, None, skip)
        async with httpx.AsyncClient() as client:
            answer = (await client.get(f"http://127.0.0.1:{HTTP_PORT}/profile")).json()
        run.profile = {**answer["phases"], "counts": answer["counts"]}
        # At the probe's pace one message ends before the next arrives: the first `skip`
        # samples of a phase are the warm-up's.
        run.phase_samples = {phase: values[skip:] for phase, values in answer["samples"].items()}
        await sink.close()
        await broker.stop()
        return run
    finally:
        consumer.terminate()
        consumer.wait(30)


def median_run(runs: list[Run]) -> Run:
    """The round with the median throughput: one noisy round on a shared machine moves nothing."""
    return sorted(runs, key=lambda run: run.throughput)[len(runs) // 2]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def print_report(
    runs: dict[str, list[Run]], median: dict[str, Run], paced: dict[str, Run], args: Any
) -> None:
    print("\nthroughput per round, msgs/s:")
    for name, rounds in runs.items():
        print(f"  {name:13} {[r.throughput for r in rounds]}")
    print(f"\n{args.messages} messages, {args.window} in flight, prefetch {args.prefetch}, ")
    print(f"median of {args.rounds} rounds (the latency includes the queueing of the flood):")
    print(
        f"{'':14} {'msgs/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'busy':>5}   CPU s per 1,000 messages"
    )
    for run in median.values():
        cpu = ", ".join(f"{k} {v}" for k, v in run.cpu_s_per_1000.items())
        print(
            f"{run.name:14} {run.throughput:>9.1f} {run.p50_ms:>9.2f} {run.p99_ms:>9.2f} "
            f"{run.machine_busy:>5.2f}   {cpu}"
        )
    print("share of the run each consumer ran / waited for a CPU while runnable:")
    for run in median.values():
        if run.consumer_scheduled:
            shares = run.consumer_scheduled
            print(f"{run.name:14} {shares['running']:.2f} / {shares['waiting_for_cpu']:.2f}")
    print(
        f"\n{args.probes} messages at {PROBE_RATE}/s in {args.probe_slices} slices, the sides "
        f"taking turns, each after {PROBE_WARMUP} unmeasured ones (latency when not busy):"
    )
    print(f"{'':14} {'p50 ms':>9} {'p99 ms':>9}")
    for run in paced.values():
        print(f"{run.name:14} {run.p50_ms:>9.2f} {run.p99_ms:>9.2f}")
    print("\nplatform, wall time per message and phase (median round):")
    print(f"{'':16} {'mean ms':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for phase, numbers in median["platform"].profile.items():
        if phase == "counts":
            print(f"counts: {numbers}")
            continue
        print(
            f"{phase:16} {numbers['mean_ms']:>9.3f} {numbers['p50_ms']:>9.3f} "
            f"{numbers['p99_ms']:>9.3f}"
        )


async def main(args: argparse.Namespace) -> None:
    stack = SessionStack.create()
    if args.mongo_url:
        stack.base["DIKO_MONGO_URL"] = args.mongo_url
    servers = not args.mongo_url
    sides = {"honest_floor": honest_floor, "platform": platform, "naive_floor": naive_floor}
    load_before = load_average()
    try:
        if args.warmup:
            for side in sides.values():
                await side(stack, args.warmup, args.window, args.prefetch, servers)
        runs: dict[str, list[Run]] = {name: [] for name in sides}
        for _ in range(args.rounds):  # alternate, so that a slow minute hits every side alike
            for name, side in sides.items():
                runs[name].append(
                    await side(stack, args.messages, args.window, args.prefetch, servers)
                )
        median = {name: median_run(rounds) for name, rounds in runs.items()}
        slices: dict[str, list[Run]] = {name: [] for name in sides}
        per_slice = -(-args.probes // args.probe_slices)
        for _ in range(args.probe_slices):  # alternate too: a slow minute is no side's alone
            for name, side in sides.items():
                slices[name].append(
                    await side(
                        stack,
                        PROBE_WARMUP + per_slice,
                        -PROBE_RATE,
                        args.prefetch,
                        servers,
                        skip=PROBE_WARMUP,
                    )
                )
        paced = {name: pooled(runs) for name, runs in slices.items()}
    finally:
        client: AsyncMongoClient = AsyncMongoClient(stack.mongo_url)
        for name in ("naive", "floor", "bench"):
            await client.drop_database(stack.database(name))
        await client.close()
        stack.destroy()
    load_after = load_average()
    ratio = median["platform"].throughput / median["honest_floor"].throughput
    p99_ratio = paced["platform"].p99_ms / paced["honest_floor"].p99_ms
    print_report(runs, median, paced, args)
    print(f"\nthroughput platform / honest floor: {ratio:.2f} (goal ≥ {GOAL_RATIO})")
    print(f"p99 at {PROBE_RATE}/s platform / honest floor: {p99_ratio:.2f} (goal ≤ {GOAL_P99})")
    print(f"load average before {load_before}, after {load_after}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "load_average": {"before": load_before, "after": load_after},
                "document_store": "the --mongo-url given" if args.mongo_url else "local stack",
                "parameters": {
                    "messages": args.messages,
                    "window": args.window,
                    "prefetch": args.prefetch,
                    "rounds": args.rounds,
                },
                "rounds": {name: [r.throughput for r in rounds] for name, rounds in runs.items()},
                **{name: run.public() for name, run in median.items()},
                "throughput_ratio": round(ratio, 3),
                "paced": {
                    "rate": PROBE_RATE,
                    "slices": args.probe_slices,
                    "warmup_per_slice": PROBE_WARMUP,
                    "p99_per_slice_ms": {
                        name: [run.p99_ms for run in runs] for name, runs in slices.items()
                    },
                    **{name: run.public() for name, run in paced.items()},
                    "p99_ratio": round(p99_ratio, 3),
                },
                "goal": {"throughput_ratio": GOAL_RATIO, "p99_ratio": GOAL_P99},
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--window", type=int, default=256, help="unconfirmed publishes in flight")
    parser.add_argument("--prefetch", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument(
        "--probes",
        type=int,
        default=1000,
        help="paced messages for latency, per side (p99: the 10th slowest)",
    )
    parser.add_argument(
        "--probe-slices",
        type=int,
        default=5,
        help="the paced messages in this many slices per side, the sides taking turns",
    )
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per side")
    parser.add_argument(
        "--mongo-url",
        default="",
        help="document store to measure against (default: the local stack's FerretDB)",
    )
    parser.add_argument(
        "--cprofile",
        default="",
        help="write each platform consumer's cProfile to PREFIX.<n> (it slows the consumer: "
        "compare functions, not throughput)",
    )
    arguments = parser.parse_args()
    if arguments.probe_slices < 1 or arguments.probes < arguments.probe_slices:
        parser.error("--probes needs at least one paced message per slice (--probe-slices ≥ 1)")
    CPROFILE_TO = arguments.cprofile
    if CPROFILE_TO:
        Path(CPROFILE_TO).parent.mkdir(parents=True, exist_ok=True)
    stopped = "bench.pipeline: stopped; the consumers it started are stopped too"
    run_until_stopped(main(arguments), stopped, uvloop.run)
