"""`diko dlq list|show|replay|purge`: inspect dead letters and deliver them again."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import aio_pika
import typer
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from rich.table import Table

from diko_shared.cli.common import console, fail, run, settings
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.messaging import identity, pipeline, topology
from diko_shared.messaging.publisher import broker_user
from diko_shared.rights.holdings import searchable

app = typer.Typer(help="Dead-letter queues: one per service (<service>.dlq) and diko.dlq.")

#: Headers of a failed attempt; a replayed message starts afresh without them.
RESET_HEADERS = (
    pipeline.ATTEMPT_HEADER,
    pipeline.REASON_HEADER,
    pipeline.ERROR_HEADER,
    pipeline.FAILED_AT_HEADER,
    topology.DELAY_HEADER,
    topology.RETRY_SERVICE_HEADER,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)


def _queues(service: str | None) -> list[str]:
    if service == "diko":
        return [topology.PLATFORM_DLQ_NAME]
    if service:
        return [f"{service}.dlq"]
    return [*(f"{s}.dlq" for s in CATALOGUE.services()), topology.PLATFORM_DLQ_NAME]


def origin(headers: Mapping[str, Any]) -> str | None:
    """The queue a dead letter came from: our header, else the broker's x-death record."""
    if queue := headers.get(pipeline.QUEUE_HEADER):
        return str(queue)
    if queue := headers.get("x-first-death-queue"):
        return str(queue)
    deaths = headers.get("x-death") or []
    return str(deaths[0]["queue"]) if deaths else None


def reason(headers: Mapping[str, Any]) -> str:
    return str(headers.get(pipeline.REASON_HEADER) or headers.get("x-first-death-reason") or "?")


async def _channel() -> tuple[aio_pika.abc.AbstractRobustConnection, AbstractChannel]:
    connection = await aio_pika.connect_robust(settings().amqp_url)
    # A replayed letter that no queue takes back must fail loudly, not vanish.
    return connection, await connection.channel(publisher_confirms=True, on_return_raises=True)


async def _existing(channel: AbstractChannel, queue_name: str) -> aio_pika.abc.AbstractQueue:
    try:
        return await channel.get_queue(queue_name, ensure=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        known = ", ".join([*sorted(CATALOGUE.services()), "diko"])
        fail(f"no dead-letter queue {queue_name!r} (services: {known})", 2)


async def _take_all(channel: AbstractChannel, queue_name: str) -> list[AbstractIncomingMessage]:
    """Take every message of a queue without acknowledging it yet."""
    queue = await _existing(channel, queue_name)
    taken = []
    while (message := await queue.get(fail=False, no_ack=False)) is not None:
        taken.append(message)
    return taken


@app.command("list")
def list_(service: Annotated[str | None, typer.Argument(help="One service")] = None) -> None:
    """How many dead letters each dead-letter queue holds."""

    async def go() -> None:
        connection, channel = await _channel()
        async with connection:
            table = Table("queue", "dead letters")
            for name in _queues(service):
                try:
                    queue = await channel.declare_queue(name, passive=True)
                    table.add_row(name, str(queue.declaration_result.message_count))
                except aio_pika.exceptions.ChannelClosed:
                    channel = await connection.channel(publisher_confirms=True)
                    table.add_row(name, "[dim]not declared yet[/]")
            console.print(table)

    run(go)


@app.command()
def show(
    service: Annotated[str, typer.Argument(help="The service, or 'diko' for platform queues")],
    limit: Annotated[int, typer.Option(help="Show at most this many")] = 20,
) -> None:
    """The dead letters of a service: reason, origin, error and message."""
    queue = _queues(service)[0]

    async def go() -> None:
        connection, channel = await _channel()
        async with connection:
            taken = await _take_all(channel, queue)
            for message in taken[:limit]:
                headers = dict(message.headers or {})
                console.rule(f"{message.type or '?'}  [dim]{message.message_id}[/]")
                console.print(f"reason: [bold red]{reason(headers)}[/]  from: {origin(headers)}")
                if error := headers.get(pipeline.ERROR_HEADER):
                    console.print(f"error:  {error}")
                console.print(_preview(message.body))
            for message in taken:
                await message.nack(requeue=True)
            console.print(f"[dim]{len(taken)} dead letter(s) in {queue}[/]")

    run(go)


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help="The service whose dead letters to replay")],
    message_id: Annotated[str | None, typer.Option("--id", help="Only this message")] = None,
) -> None:
    """Deliver dead letters again to the queue they came from, as if new."""
    queue = _queues(service)[0]

    async def go() -> int:
        connection, channel = await _channel()
        async with connection:
            replayed = 0
            for message in await _take_all(channel, queue):
                headers = dict(message.headers or {})
                target = origin(headers)
                if target is None or (message_id and message.message_id != message_id):
                    await message.nack(requeue=True)
                    continue
                fresh = {k: v for k, v in headers.items() if k not in RESET_HEADERS}
                # Replayed under the operator's user, the letter keeps its first sender:
                # our dead letters name it, the broker's keep the original user_id.
                fresh.setdefault(identity.SENDER_HEADER, message.user_id or "")
                # A letter that committed before it failed has its messages published again.
                fresh[pipeline.REPLAYED_HEADER] = True
                try:
                    await _republish(channel, message, fresh, target)
                except aio_pika.exceptions.DeliveryError as exc:
                    await message.nack(requeue=True)
                    fail(f"{target!r} did not take {message.message_id} back ({exc}); kept")
                await message.ack()
                replayed += 1
            return replayed

    count = run(go)
    console.print(f"replayed {count} dead letter(s) of {service}")
    if message_id and count == 0:
        fail(f"no dead letter with id {message_id!r} in {queue}")


@app.command()
def purge(
    service: Annotated[str, typer.Argument(help="The service whose dead letters to delete")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
    mentioning: Annotated[
        list[str] | None,
        typer.Option(
            "--mentioning",
            help="Only letters that mention this id, name or address (repeatable): "
            "after an erasure (docs/rights.md)",
        ),
    ] = None,
) -> None:
    """Delete every dead letter of a service, or those that mention a person."""
    name = _queues(service)[0]
    if mentioning:
        console.print(
            f"purged {run(lambda: _purge_mentioning(name, mentioning))} dead letter(s)"
            f" mentioning them from {name}"
        )
        return
    if not yes:
        typer.confirm(f"Delete every message in {name}?", abort=True)

    async def go() -> int:
        connection, channel = await _channel()
        async with connection:
            queue = await _existing(channel, name)
            result = await queue.purge()
            return result.message_count

    console.print(f"purged {run(go)} dead letter(s) from {name}")


async def _purge_mentioning(queue: str, needles: list[str]) -> int:
    """Delete the letters whose body mentions a needle; the others stay in the queue."""
    connection, channel = await _channel()
    async with connection:
        purged = 0
        for message in await _take_all(channel, queue):
            if any(needle in searchable(message.body) for needle in needles):
                await message.ack()
                purged += 1
            else:
                await message.nack(requeue=True)
        return purged


async def _republish(
    channel: AbstractChannel, message: AbstractIncomingMessage, headers: dict, queue: str
) -> None:
    """Publish a dead letter to `queue` as a new message (confirmed, mandatory)."""
    await channel.default_exchange.publish(
        aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            type=message.type,
            app_id=message.app_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            user_id=broker_user(settings().amqp_url),  # RabbitMQ checks it against the login
        ),
        routing_key=queue,
        mandatory=True,
    )


def _preview(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), ensure_ascii=False, indent=2)[:2000]
    except ValueError:
        return repr(body[:500])
