"""`diko send TYPE --data JSON`: publish a command in a proper envelope and print the reply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from diko_shared.cli.common import SOURCE, broker, console, did_you_mean, fail, run, settings
from diko_shared.contract import problems
from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.contract.envelope import new_envelope
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing, Publisher, Unroutable


def _read_data(data: str) -> dict[str, Any]:
    text = data
    if data.startswith("@"):
        try:
            text = Path(data[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read --data file {data[1:]!r}: {exc.strerror or exc}", 2)
        except UnicodeDecodeError:
            fail(f"--data file {data[1:]!r} is not UTF-8 text", 2)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--data is not valid JSON: {exc}", 2)
    if not isinstance(value, dict):
        fail("--data must be a JSON object", 2)
    return value


def send(
    type_: Annotated[
        str, typer.Argument(metavar="TYPE", help="Message type, e.g. company.register")
    ],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            "-d",
            help="The payload: JSON, or @file.json (`diko contract example TYPE` shows one)",
        ),
    ] = None,
    subject: Annotated[str | None, typer.Option(help="The aggregate the message is about")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the reply")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply")] = 30.0,
) -> None:
    """Send a command or query; print the reply (exit 1 if it is an error reply)."""
    spec = request_spec(type_)
    if data is None:
        fail(missing_data(spec), 2)
    payload = _read_data(data)
    try:
        spec.payload.model_validate_json(json.dumps(payload))
    except ValidationError as exc:
        details = problems.of(exc, ("data",))
        for detail in details:
            console.print(f"[red]{detail.field}[/] [dim]({detail.type})[/]: {detail.problem}")
        count = "1 ungültiges Feld" if len(details) == 1 else f"{len(details)} ungültige Felder"
        fail(f"validation_error: die Nutzdaten von {type_} haben {count}; nichts gesendet.", 2)
    envelope = new_envelope(type_, payload, source=SOURCE, subject=subject)
    message = Outgoing.from_envelope(topology.COMMANDS.name, envelope)

    async def go() -> dict[str, Any] | None:
        bus = broker(settings().amqp_url)
        await bus.connect()
        try:
            publisher = Publisher(bus, SOURCE)
            if not wait:
                await publisher.publish(message)
                return None
            return await publisher.request_raw(message, timeout=timeout)
        finally:
            await bus.stop()

    try:
        reply = run(go)
    except Unroutable as exc:
        fail(f"not delivered: {exc}")
    except TimeoutError:
        fail(f"no reply within {timeout:.0f} s (is the {spec.owner} service running?)")
    if reply is None:
        console.print(f"sent {type_} [dim]{envelope['id']}[/]")
        return
    console.print_json(data=reply)
    if not reply.get("ok"):
        raise typer.Exit(1)


def request_spec(type_: str) -> MessageSpec:
    """The catalogue entry of a command or query, or an error that names the closest ones."""
    spec = CATALOGUE.get(type_)
    requests = [s.type for s in CATALOGUE if s.is_request]
    if spec is None:
        fail(f"unknown_type: {type_!r} is no command or query{did_you_mean(type_, requests)}", 2)
    if not spec.is_request:
        fail(
            f"{type_} is an event: its owner ({spec.owner}) publishes it, nobody sends it"
            f"{did_you_mean(type_, requests)}",
            2,
        )
    return spec


def missing_data(spec: MessageSpec) -> str:
    """What `diko send TYPE` without --data lacks, and how to get an example payload."""
    required = [name for name, field in spec.payload.model_fields.items() if field.is_required()]
    needs = f"its fields {', '.join(required)}" if required else "a JSON object, e.g. '{}'"
    return (
        f"--data is missing: {spec.type} needs {needs} ({spec.payload.__name__}).\n"
        f"  an example payload:  diko contract example {spec.type}\n"
        f"  then:                diko send {spec.type} --data @payload.json"
    )
