"""`diko stack status`: what runs, and whether it is healthy."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Coroutine
from typing import Annotated, Any

import aio_pika
import httpx
import typer
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from rich.table import Table
from rich.text import Text

from diko_shared.cli.common import console, run, settings
from diko_shared.service.readiness import short_error

app = typer.Typer(help="The running system.")

#: Default HTTP ports of the services; DIKO_<SERVICE>_URL overrides the address.
SERVICE_PORTS = {"companies": 8001, "matching": 8002, "notifications": 8003, "media": 8004}
PROBE_TIMEOUT_S = 3.0
OK = "ok"


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
    """Check RabbitMQ, the database, Mailpit and the services; exit 1 if anything is down.

    Each line says what that part answered: a service that is not ready names what it
    waits for (the broker, the database) and why.
    """
    config = settings()

    async def probe_broker() -> str:
        try:
            connection = await aio_pika.connect(config.amqp_url, timeout=PROBE_TIMEOUT_S)
        except aio_pika.exceptions.ProbableAuthenticationError:
            return "down: the broker refused the login (check DIKO_AMQP_URL)"
        except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
            return f"down: {_transport_error(exc)}"
        await connection.close()
        return OK

    async def probe_database() -> str:
        client: AsyncMongoClient = AsyncMongoClient(
            config.mongo_url, serverSelectionTimeoutMS=int(PROBE_TIMEOUT_S * 1000)
        )
        try:
            await client.admin.command("ping")
        except PyMongoError as exc:
            return f"down: {short_error(exc)}"
        finally:
            await client.close()
        return OK

    async def probe_http(url: str) -> str:
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
                response = await client.get(url)
        except httpx.ConnectError:
            return "down: nothing listens at this address"
        except httpx.TimeoutException:
            return f"down: no answer within {PROBE_TIMEOUT_S:.0f} s"
        except httpx.HTTPError as exc:
            return f"down: {short_error(exc)}"
        return _answer(response)

    async def go() -> list[tuple[str, str, str]]:
        checks: list[tuple[str, str, Coroutine[Any, Any, str]]] = [
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
        results = await asyncio.gather(*(c[2] for c in checks))
        return [
            (name, where, state) for (name, where, _), state in zip(checks, results, strict=True)
        ]

    rows = run(go)
    table = Table("component", "address", "state")
    for name, where, state in rows:
        colour = "green" if state == OK else ("yellow" if state.startswith("starting") else "red")
        table.add_row(name, where, Text(state, style=colour))
    console.print(table)
    if any(state != OK for _, _, state in rows):
        raise typer.Exit(1)


def _answer(response: httpx.Response) -> str:
    """What a service's /readyz (or Mailpit's API) said: "ok", or its state and reasons."""
    if response.status_code == 200:
        return OK
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    lines = [str(body.get("status") or f"HTTP {response.status_code}")]
    if body.get("stage"):
        lines.append(str(body["stage"]))
    lines += [f"{part}: {body[part]}" for part in ("broker", "database") if body.get(part) != OK]
    return "\n".join(line for line in lines if line)


def _transport_error(exc: BaseException) -> str:
    """aio-pika's connection errors as a sentence: they carry a tuple, not a message."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int) and args[0] == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"no answer within {PROBE_TIMEOUT_S:.0f} s"
    return short_error(exc)


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
