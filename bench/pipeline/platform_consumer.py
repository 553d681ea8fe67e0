"""The platform side: a service whose handler validates, stores one document, emits one event.

Run as its own process (`python -m bench.pipeline.platform_consumer`), like a real service.
"""

from __future__ import annotations

from bench.pipeline.contract import SERVICE, Receipt, Record, Recorded
from diko_shared.messaging.handling import Context
from diko_shared.service.app import Service
from diko_shared.settings import ServiceSettings
from diko_shared.store import guards


class Settings(ServiceSettings):
    http_port: int = 8099


async def record(ctx: Context[Record]) -> Receipt:
    record_id = ctx.new_id("rec")
    data = ctx.data
    ctx.write(
        guards.insert(
            "readings",
            {"_id": record_id, "seq": data.seq, "station": data.station, "value": data.value},
        )
    )
    ctx.emit(Recorded(seq=data.seq, sent_at=data.sent_at))
    return Receipt(record_id=record_id)


def build() -> Service:
    service = Service(SERVICE, Settings(), description="Pipeline benchmark")
    service.on_request("bench.record", record)
    return service


if __name__ == "__main__":
    build().run()
