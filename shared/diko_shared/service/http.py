"""The HTTP side every service has: health, readiness, metrics and its AsyncAPI document."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from faststream.specification.asyncapi.site import get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from diko_shared.service.app import Service

READINESS_TIMEOUT_S = 2.0


def platform_routes(service: Service) -> list[Route]:
    async def healthz(_: Request) -> Response:
        """Alive: the process serves HTTP. Orchestrators restart it when this fails."""
        return JSONResponse({"status": "ok", "service": service.name, "pid": os.getpid()})

    async def readyz(_: Request) -> Response:
        """Ready: the broker and the database answer now. Load balancers route by this."""
        checks = await readiness(service)
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ready else "not ready", "service": service.name, **checks}
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
        html = get_asyncapi_html(service.asyncapi_specification(), try_it_out_path=None)
        return HTMLResponse(html)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/asyncapi", asyncapi_html),
        Route("/asyncapi.json", asyncapi_json),
    ]


async def readiness(service: Service) -> dict[str, Any]:
    """ "ok" or why not, for the broker and the database, each asked now."""
    checks: dict[str, Any] = {}
    for name, probe in (("broker", service.broker_ready), ("database", service.database_ready)):
        try:
            await asyncio.wait_for(probe(), READINESS_TIMEOUT_S)
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks[name] = f"unavailable: {type(exc).__name__}: {exc}".strip()
    return checks
