"""`diko stack status`: what runs, and whether it is healthy."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import aio_pika
import httpx
import typer
from pymongo import AsyncMongoClient
from rich.table import Table

from diko_shared.cli.common import console, run, settings

app = typer.Typer(help="The running system.")

#: Default HTTP ports of the services; DIKO_<SERVICE>_URL overrides the address.
SERVICE_PORTS = {"companies": 8001, "matching": 8002, "notifications": 8003, "media": 8004}
PROBE_TIMEOUT_S = 3.0


def service_url(name: str) -> str:
    """Where a service is: DIKO_<NAME>_URL, else its port moved by DIKO_RUN_PORT_OFFSET.

    `make run` and `make up` move every service's port by the offset.
    """
    if url := os.environ.get(f"DIKO_{name.upper()}_URL"):
        return url
    offset = os.environ.get("DIKO_RUN_PORT_OFFSET", "").strip()
    return f"http://127.0.0.1:{SERVICE_PORTS[name] + (int(offset) if offset.isdigit() else 0)}"


@app.command()
def status(
    services: Annotated[bool, typer.Option(help="Also ask each service's /readyz")] = True,
) -> None:
    """Check RabbitMQ, the database, Mailpit and the services; exit 1 if anything is down."""
    config = settings()

    async def probe_broker() -> str:
        connection = await aio_pika.connect(config.amqp_url, timeout=PROBE_TIMEOUT_S)
        await connection.close()
        return "ok"

    async def probe_database() -> str:
        client = AsyncMongoClient(config.mongo_url, serverSelectionTimeoutMS=3000)
        try:
            await client.admin.command("ping")
        finally:
            await client.close()
        return "ok"

    async def probe_http(url: str) -> str:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            response = await client.get(url)
        return "ok" if response.status_code == 200 else f"HTTP {response.status_code}"

    async def go() -> list[tuple[str, str, str]]:
        checks: list[tuple[str, str, object]] = [
            ("RabbitMQ", config.amqp_url.split("@")[-1], probe_broker()),
        ]
        if config.mongo_url:  # the CLI of a compose deployment has no database user
            checks.append(("database", config.mongo_url.split("@")[-1], probe_database()))
        mailpit = os.environ.get("DIKO_MAILPIT_URL") or _stack_value("DIKO_MAILPIT_URL")
        if mailpit:
            checks.append(("Mailpit", mailpit, probe_http(f"{mailpit}/api/v1/info")))
        if services:
            for name in SERVICE_PORTS:
                url = service_url(name)
                checks.append((name, url, probe_http(f"{url}/readyz")))
        results = await asyncio.gather(*(c[2] for c in checks), return_exceptions=True)  # type: ignore[misc]
        return [
            (name, where, r if isinstance(r, str) else f"down: {type(r).__name__}")
            for (name, where, _), r in zip(checks, results, strict=True)
        ]

    rows = run(go)
    table = Table("component", "address", "state")
    for name, where, state in rows:
        colour = "green" if state == "ok" else "red"
        table.add_row(name, where, f"[{colour}]{state}[/]")
    console.print(table)
    if any(state != "ok" for _, _, state in rows):
        raise typer.Exit(1)


def _stack_value(key: str) -> str | None:
    try:
        with open(".local/stack.env", encoding="utf-8") as env:
            for line in env:
                name, _, value = line.strip().partition("=")
                if name == key:
                    return value
    except OSError:
        return None
    return None
