"""The HTTP side every service has: health, readiness, metrics and its AsyncAPI document."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from diko_shared.service import asyncapi_page
from diko_shared.service.readiness import short_error

if TYPE_CHECKING:
    from diko_shared.service.app import Service

#: Every service serves these (besides the pages of its own).
PLATFORM_PATHS = ["/asyncapi", "/asyncapi.json", "/healthz", "/readyz", "/metrics"]
#: /readyz answers within this, whatever is away (the database probe itself takes ~1 s).
READINESS_TIMEOUT_S = 1.5


def platform_routes(service: Service) -> list[Route]:
    async def healthz(_: Request) -> Response:
        """Alive and started: 200 once start-up is done, 503 "starting" (with its stage) before.

        The HTTP side answers from the first moment, so that a service waiting for its
        broker or database says so instead of refusing connections.
        """
        body: dict[str, Any] = {"status": "ok", "service": service.name, "pid": os.getpid()}
        if not service.started:
            body.update(status="starting", stage=_stage(service))
        return JSONResponse(body, status_code=200 if service.started else 503)

    async def readyz(_: Request) -> Response:
        """Ready: started, and the broker and the database answer now, each with its reason."""
        checks = await readiness(service)
        ready = service.started and all(state == "ok" for state in checks.values())
        status = "ready" if ready else ("not ready" if service.started else "starting")
        body: dict[str, Any] = {"status": status, "service": service.name, **checks}
        if not service.started:
            body["stage"] = _stage(service)
        if service.clock.is_test:
            body["clock"] = service.clock.describe()
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        """Prometheus; `diko_ready` is what /readyz would answer now (alerts watch it)."""
        for name, state in (await readiness(service)).items():
            service.metrics.ready.labels(name).set(1 if state == "ok" else 0)
        return Response(generate_latest(service.registry), media_type=CONTENT_TYPE_LATEST)

    async def asyncapi_json(_: Request) -> Response:
        return JSONResponse(service.asyncapi_document())

    async def asyncapi_html(_: Request) -> Response:
        """The document as a page for people, rendered here: it needs nothing from elsewhere."""
        return HTMLResponse(asyncapi_page.render(service.asyncapi_document()))

    async def index(_: Request) -> Response:
        """What this service serves at its address: its pages for people, then the platform's.

        `make up` prints the pages from here, so its table never misses one.
        """
        own = [
            route.path
            for route in service.routes
            if isinstance(route, Route)
            and "{" not in route.path
            and "GET" in (route.methods or set())
        ]
        return JSONResponse({"service": service.name, "pages": own, "platform": PLATFORM_PATHS})

    return [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/asyncapi", asyncapi_html),
        Route("/asyncapi.json", asyncapi_json),
    ]


async def readiness(service: Service) -> dict[str, str]:
    """ "ok" or why not, for the broker and the database, both asked at once.

    Neither is waited for long (the broker's state is read, the database pinged for
    READY_PROBE_S), so this takes about a second at most in every state.
    """
    broker, database = await asyncio.gather(
        _probe(service.broker_ready), _probe(service.database_ready)
    )
    return {"broker": broker, "database": database}


async def _probe(check: Callable[[], Awaitable[None]]) -> str:
    """ "ok", or "unavailable: " and why."""
    try:
        await asyncio.wait_for(check(), READINESS_TIMEOUT_S)
    except TimeoutError:
        return f"unavailable: no answer within {READINESS_TIMEOUT_S} s"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"unavailable: {short_error(exc)}"
    return "ok"


def _stage(service: Service) -> str:
    """How far start-up has come, with the last error it met (e.g. the broker refusing)."""
    error = service.start_error
    return f"{service.start_stage}: {error}" if error else service.start_stage
