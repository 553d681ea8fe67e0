"""The naive floor: aio-pika consume with ack and one `insert_one` per message.

Kept for reference beside the honest floor (`floor_consumer`): it publishes no event.

Run as its own process: prints `ready`, consumes N messages, prints their latencies as JSON
(pairs of the message's `seq` and its latency).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aio_pika
import uvloop
from pymongo import AsyncMongoClient

from bench.pipeline.cpu import own_cpu
from diko_shared.service import collector


async def main(amqp_url: str, mongo_url: str, database: str, queue_name: str, total: int) -> None:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    readings = client[database]["readings"]
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=int(sys.argv[6]))
    queue = await channel.get_queue(queue_name)
    latencies: list[tuple[int, float]] = []
    finished = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        body = json.loads(message.body)
        await readings.insert_one({"_id": body["id"], "data": body["data"]})
        await message.ack()
        latencies.append((body["data"]["seq"], time.time() - body["data"]["sent_at"]))
        if len(latencies) >= total:
            finished.set()

    collector.freeze_startup()
    await queue.consume(on_message)
    started_cpu = own_cpu()  # start-up (imports, connections) is not the path measured
    print("ready", flush=True)
    await asyncio.wait_for(finished.wait(), timeout=600)
    cpu_s = own_cpu() - started_cpu
    print(
        json.dumps({"latencies": latencies, "finished_at": time.time(), "cpu_s": cpu_s}),
        flush=True,
    )
    await connection.close()
    await client.close()


if __name__ == "__main__":
    # The same event loop and collector settings as the services: the floor is measured
    # on equal terms.
    collector.tune()
    uvloop.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
