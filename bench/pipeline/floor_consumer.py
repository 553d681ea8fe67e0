"""The honest floor: the best a hand-written consumer of the platform's path does.

Prefetch as given (256), the messages of a batch (up to 64, whatever has arrived) stored
with one `insert_many`, one event per message published with confirms (all of a batch in
flight at once), then the whole batch acknowledged with one `multiple` ack. Batches
overlap; their acknowledgements go out in delivery order. No validation beyond
`json.loads`, no deduplication, no outbox: what the platform adds is what the ratio shows.

Run as its own process: prints `ready`, stops after N messages, prints `done`.
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

BATCH = 64
#: Batches stored and published at the same time; their acks still go out in order.
OVERLAP = 4


async def main(
    amqp_url: str,
    mongo_url: str,
    database: str,
    queue_name: str,
    total: int,
    prefetch: int,
    event_key: str,
) -> None:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    readings = client[database]["readings"]
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    publishing = await connection.channel(publisher_confirms=True)
    events = await publishing.get_exchange("diko.events", ensure=False)
    queue = await channel.get_queue(queue_name)
    arrived: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
    settled = 0
    finished = asyncio.Event()
    slots = asyncio.Semaphore(OVERLAP)
    previous_ack: asyncio.Future[None] | None = None
    running: set[asyncio.Task[None]] = set()

    async def store_and_publish(
        batch: list[aio_pika.abc.AbstractIncomingMessage],
        before: asyncio.Future[None] | None,
        acked: asyncio.Future[None],
    ) -> None:
        nonlocal settled
        try:
            bodies = [json.loads(m.body) for m in batch]
            await readings.insert_many(
                [
                    {
                        "_id": b["id"],
                        "seq": b["data"]["seq"],
                        "station": b["data"]["station"],
                        "value": b["data"]["value"],
                    }
                    for b in bodies
                ],
                ordered=False,
            )
            await asyncio.gather(
                *(
                    events.publish(
                        aio_pika.Message(
                            json.dumps(
                                {
                                    "specversion": "1.0",
                                    "id": f"{b['id']}-out",
                                    "source": "bench-floor",
                                    "type": event_key,
                                    "time": b["time"],
                                    "data": {
                                        "seq": b["data"]["seq"],
                                        "sent_at": b["data"]["sent_at"],
                                    },
                                },
                                separators=(",", ":"),
                            ).encode(),
                            content_type="application/json",
                            message_id=f"{b['id']}-out",
                            type=event_key,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=event_key,
                        timeout=120,
                    )
                    for b in bodies
                )
            )
            if before is not None:
                await before
            await batch[-1].ack(multiple=True)
            settled += len(batch)
            if settled >= total:
                finished.set()
        finally:
            acked.set_result(None)
            slots.release()

    async def batcher() -> None:
        nonlocal previous_ack
        while True:
            batch = [await arrived.get()]
            while len(batch) < BATCH and not arrived.empty():
                batch.append(arrived.get_nowait())
            await slots.acquire()
            acked = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(store_and_publish(batch, previous_ack, acked))
            running.add(task)
            task.add_done_callback(running.discard)
            previous_ack = acked

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        arrived.put_nowait(message)

    batching = asyncio.create_task(batcher())
    collector.freeze_startup()
    await queue.consume(on_message)
    started_cpu = own_cpu()  # start-up (imports, connections) is not the path measured
    print("ready", flush=True)
    await asyncio.wait_for(finished.wait(), timeout=600)
    print(
        json.dumps({"finished_at": time.time(), "cpu_s": own_cpu() - started_cpu}),
        flush=True,
    )
    batching.cancel()
    await connection.close()
    await client.close()


if __name__ == "__main__":
    # The same event loop and collector settings as the services: the floor is measured
    # on equal terms.
    collector.tune()
    uvloop.run(
        main(
            sys.argv[1],
            sys.argv[2],
            sys.argv[3],
            sys.argv[4],
            int(sys.argv[5]),
            int(sys.argv[6]),
            sys.argv[7],
        )
    )
