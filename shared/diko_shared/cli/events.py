"""`diko events [PATTERN]`: watch events as they are published."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import aio_pika
import typer

from diko_shared.cli.common import console, run, settings
from diko_shared.messaging import topology


def events(
    pattern: Annotated[str, typer.Argument(help="Routing-key pattern, e.g. 'position.*'")] = "#",
    count: Annotated[int, typer.Option(help="Stop after this many events (0: never)")] = 0,
    timeout: Annotated[float, typer.Option(help="Stop after this many seconds (0: never)")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="One envelope per line")] = False,
) -> None:
    """Print every event matching PATTERN until Ctrl-C (or --count / --timeout)."""

    async def go() -> None:
        connection = await aio_pika.connect_robust(settings().amqp_url)
        async with connection:
            channel = await connection.channel()
            # The deployment provisions the exchange; the operator may only look it up.
            exchange = await channel.get_exchange(topology.EVENTS.name)
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange, pattern)
            if not as_json:
                console.print(
                    f"[dim]watching {topology.EVENTS.name} for {pattern!r}; Ctrl-C stops[/]"
                )
            seen = 0
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        _print(message.body, message.routing_key or "", as_json)
                    seen += 1
                    if count and seen >= count:
                        return

    async def bounded() -> None:
        if timeout:
            try:
                await asyncio.wait_for(go(), timeout)
            except TimeoutError:
                return
        else:
            await go()

    run(bounded)


def _print(body: bytes, routing_key: str, as_json: bool) -> None:
    if as_json:
        print(body.decode(errors="replace"), flush=True)
        return
    try:
        envelope = json.loads(body)
        data = json.dumps(envelope.get("data"), ensure_ascii=False)
        subject = envelope.get("subject") or ""
        console.print(
            f"[dim]{envelope.get('time', '')}[/] [bold cyan]{routing_key}[/] "
            f"{subject} [dim]{envelope.get('id', '')}[/]\n  {data}"
        )
    except (ValueError, AttributeError):
        console.print(f"[bold cyan]{routing_key}[/] [red](not an envelope)[/] {body[:200]!r}")
