"""`python -m bench.pipeline`: the platform's throughput and latency as a ratio of the raw floor.

Both sides run in one session against the local stack (`make stack`), in a private
virtual host and private databases, with the same message bodies, the same publisher
(confirms, a window of in-flight messages), the same prefetch, and the consumer in a
process of its own:

- raw floor: aio-pika publish with confirms, consume with ack, one raw driver insert;
  end-to-end = publish until the consumer has inserted and acknowledged;
- platform: a service whose handler validates the envelope and payload, stages one
  document, and emits one event; the pipeline checks the processed-message record,
  commits document, outbox and record, acknowledges, and the relay publishes the event;
  end-to-end = publish of the command until the event arrives.
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
from dataclasses import asdict, dataclass
from pathlib import Path

import aio_pika
import httpx
import uvloop
from faststream.rabbit import Channel, RabbitBroker
from pymongo import AsyncMongoClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from bench.pipeline.contract import Record  # noqa: E402
from diko_shared.contract.envelope import new_envelope  # noqa: E402
from diko_shared.messaging import topology  # noqa: E402
from diko_shared.messaging.publisher import Outgoing, Publisher  # noqa: E402
from harness.stack import HARNESS_USER, SessionStack  # noqa: E402

RESULTS = REPO / "bench" / "results" / "pipeline.json"
RAW_QUEUE = "bench.raw"
HTTP_PORT = 8099
#: Messages per second of the latency probe: far below either side's capacity.
PROBE_RATE = 50


@dataclass
class Run:
    name: str
    messages: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float


def summarise(name: str, started: float, finished: float, latencies: list[float]) -> Run:
    ordered = sorted(latencies)
    seconds = finished - started
    return Run(
        name=name,
        messages=len(ordered),
        seconds=round(seconds, 3),
        throughput=round(len(ordered) / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p99_ms=round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    )


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
            await publisher.publish(outgoing)

    await asyncio.gather(*(one(seq) for seq in range(count)))
    return started


async def raw_floor(stack: SessionStack, count: int, window: int, prefetch: int) -> Run:
    # The raw floor has no diko user: the harness's (every right in the session's virtual
    # host) declares its queue, publishes and consumes.
    raw_url = stack.amqp_url_as(HARNESS_USER)
    broker = RabbitBroker(
        raw_url,
        apply_types=False,
        log_level=10,
        default_channel=Channel(on_return_raises=True),
    )
    await broker.connect()
    queue = await broker.declare_queue(topology.consumer_queue(RAW_QUEUE, RAW_QUEUE))
    await queue.bind(await broker.declare_exchange(topology.COMMANDS), routing_key=RAW_QUEUE)
    publisher = Publisher(broker, "bench-load")
    database = stack.database("raw")
    consumer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.pipeline.raw_consumer",
        raw_url,
        stack.mongo_url,
        database,
        RAW_QUEUE,
        str(count),
        str(prefetch),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert consumer.stdout is not None
    try:
        assert (await consumer.stdout.readline()).decode().strip() == "ready"
        started = await publish_all(publisher, count, window, RAW_QUEUE)
        output = await consumer.stdout.read()
        await asyncio.wait_for(consumer.wait(), 60)
    finally:
        if consumer.returncode is None:
            consumer.kill()
            await consumer.wait()
        await broker.stop()
    result = json.loads(output.decode().strip().splitlines()[-1])
    return summarise("raw floor", started, result["finished_at"], result["latencies"])


def start_platform_consumer(stack: SessionStack, prefetch: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **stack.service_env("bench"),
        "DIKO_OUTBOX_LEASE_S": "15",
        "DIKO_OUTBOX_SWEEP_S": "1",
        "DIKO_HTTP_PORT": str(HTTP_PORT),
        "DIKO_PREFETCH": str(prefetch),
        "DIKO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.pipeline.platform_consumer"], cwd=REPO, env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the platform consumer did not become ready")


async def platform(stack: SessionStack, count: int, window: int, prefetch: int) -> Run:
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
        connection = await aio_pika.connect_robust(stack.amqp_url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        events = await channel.declare_queue(exclusive=True, auto_delete=True)
        await events.bind(topology.EVENTS.name, "bench.recorded")
        latencies: dict[int, float] = {}
        done = asyncio.Event()
        last = 0.0

        async def on_event(incoming: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal last
            data = json.loads(incoming.body)["data"]
            now = time.time()
            latencies.setdefault(data["seq"], now - data["sent_at"])
            last = now
            await incoming.ack()
            if len(latencies) >= count:
                done.set()

        await events.consume(on_event)
        started = await publish_all(publisher, count, window, None)
        await asyncio.wait_for(done.wait(), timeout=600)
        await connection.close()
        await broker.stop()
        return summarise("platform", started, last, list(latencies.values()))
    finally:
        consumer.terminate()
        consumer.wait(30)


def median_run(runs: list[Run]) -> Run:
    """The round with the median throughput: one noisy round on a shared machine moves nothing."""
    return sorted(runs, key=lambda run: run.throughput)[len(runs) // 2]


async def main(
    count: int, window: int, prefetch: int, warmup: int, probes: int, rounds: int
) -> None:
    stack = SessionStack.create()
    try:
        if warmup:
            await raw_floor(stack, warmup, window, prefetch)
            await platform(stack, warmup, window, prefetch)
        raws, plats = [], []
        for _ in range(rounds):  # alternate, so that a slow minute hits both sides alike
            raws.append(await raw_floor(stack, count, window, prefetch))
            plats.append(await platform(stack, count, window, prefetch))
        raw, plat = median_run(raws), median_run(plats)
        raw_alone = await raw_floor(stack, probes, -PROBE_RATE, prefetch)
        plat_alone = await platform(stack, probes, -PROBE_RATE, prefetch)
    finally:
        client: AsyncMongoClient = AsyncMongoClient(stack.mongo_url)
        for name in ("raw", "bench"):
            await client.drop_database(stack.database(name))
        await client.close()
        stack.destroy()
    ratio = plat.throughput / raw.throughput
    print(f"\nthroughput per round, msgs/s: raw floor {[r.throughput for r in raws]}")
    print(f"                              platform  {[p.throughput for p in plats]}")
    print(f"\n{count} messages, {window} in flight, median of {rounds} rounds:")
    print("(throughput; the latency includes the queueing of the flood)")
    print(f"{'':12} {'msgs/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for run in (raw, plat):
        print(f"{run.name:12} {run.throughput:>9.1f} {run.p50_ms:>9.2f} {run.p99_ms:>9.2f}")
    print(f"\n{probes} messages at {PROBE_RATE}/s (latency on a system that is not busy):")
    print(f"{'':12} {'p50 ms':>9} {'p99 ms':>9}")
    for run in (raw_alone, plat_alone):
        print(f"{run.name:12} {run.p50_ms:>9.2f} {run.p99_ms:>9.2f}")
    print(f"\nthroughput ratio platform / raw floor: {ratio:.2f} (goal ≥ 0.60)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "parameters": {
                    "messages": count,
                    "window": window,
                    "prefetch": prefetch,
                    "rounds": rounds,
                },
                "rounds": {
                    "raw_floor": [r.throughput for r in raws],
                    "platform": [p.throughput for p in plats],
                },
                "raw_floor": asdict(raw),
                "platform": asdict(plat),
                "throughput_ratio": round(ratio, 3),
                "paced": {
                    "rate": PROBE_RATE,
                    "raw_floor": asdict(raw_alone),
                    "platform": asdict(plat_alone),
                },
                "goal": 0.6,
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
    parser.add_argument("--prefetch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--probes", type=int, default=300, help="paced messages for latency")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per side")
    args = parser.parse_args()
    uvloop.run(
        main(args.messages, args.window, args.prefetch, args.warmup, args.probes, args.rounds)
    )
