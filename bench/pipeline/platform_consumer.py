"""The platform side: a service whose handler validates, stores one document, emits one event.

Run as its own process (`python -m bench.pipeline.platform_consumer`), like a real service.
`GET /profile` answers the wall time per phase of the messages handled so far
(`diko_shared.messaging.profile`: summarised, and every sample for pooling runs) and the
process's CPU seconds.
"""

from __future__ import annotations

import cProfile
import os

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.pipeline.contract import SERVICE, Receipt, Record, Recorded
from bench.pipeline.cpu import own_cpu
from diko_shared.messaging.handling import Context
from diko_shared.messaging.profile import PhaseProfile
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
    profile = PhaseProfile()
    service.hooks.profile = profile
    service.relay.profile = profile

    # Where the consumer's own CPU goes, function by function (`--cprofile`); written
    # when the benchmark asks for the phases, as uvicorn ends the process by its signal.
    profile_to = os.environ.get("BENCH_CPROFILE")
    profiler = cProfile.Profile() if profile_to else None
    if profiler is not None:
        profiler.enable()

    async def phases(_: Request) -> JSONResponse:
        if profiler is not None and profile_to:
            profiler.dump_stats(profile_to)
        acks = service.pipeline.acks
        committer = service.committer
        counts = {
            "ack_frames": acks.frames,
            "messages_acked": acks.acked,
            "commit_flushes": committer.flushes,
            "commit_units": committer.units,
            "lookup_queries": service.pipeline.processed_records.queries,
        }
        return JSONResponse(
            {
                "phases": profile.summary(),
                "samples": profile.samples(),
                "counts": counts,
                "cpu_s": own_cpu(),
            }
        )

    service.add_routes(Route("/profile", phases))
    return service


if __name__ == "__main__":
    build().run()
