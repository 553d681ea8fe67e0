"""`diko contract`: the message catalogue, payload examples and the AsyncAPI documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from diko_shared.cli.common import console, did_you_mean, fail
from diko_shared.contract import document
from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.service import asyncapi

app = typer.Typer(help="The message contract: types, examples, AsyncAPI documents.")

SERVICES = ("companies", "matching", "notifications", "media")


@app.command("list")
def list_(
    service: Annotated[
        str | None, typer.Argument(help="Only the messages this service owns")
    ] = None,
    models: Annotated[
        bool, typer.Option("--models", help="The payload and reply models instead")
    ] = False,
) -> None:
    """Every message type: kind, owner and who consumes it (with --models: its models)."""
    if service and service not in CATALOGUE.services():
        fail(f"no service {service!r}{did_you_mean(service, CATALOGUE.services())}", 2)
    specs = [spec for spec in CATALOGUE if not service or spec.owner == service]
    # Nothing is ever cut off: a type name is what people copy from here into `diko send`.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("type", no_wrap=True)
    if models:
        table.add_column("payload model", no_wrap=True)
        table.add_column("reply model", no_wrap=True)
        for spec in specs:
            reply = spec.reply.__name__ if spec.reply else ""
            table.add_row(spec.type, spec.payload.__name__, reply)
    else:
        table.add_column("kind", no_wrap=True)
        table.add_column("owner", no_wrap=True)
        table.add_column("consumed by", overflow="fold")
        reactions = CATALOGUE.all_reactions()
        for spec in specs:
            consumers = ", ".join(s for s, t in reactions if t == spec.type)
            table.add_row(spec.type, spec.kind, spec.owner, consumers)
    console.print(table)


@app.command()
def example(type_: Annotated[str, typer.Argument(metavar="TYPE")]) -> None:
    """An example payload of TYPE, ready for `diko send TYPE --data …`."""
    spec = CATALOGUE.get(type_)
    if spec is None:
        known = [s.type for s in CATALOGUE]
        fail(f"unknown_type: {type_!r} is no message type{did_you_mean(type_, known)}", 2)
    console.print_json(data=payload_example(spec))


def payload_example(spec: MessageSpec) -> dict[str, Any]:
    """The first example of a message's payload model."""
    extra = spec.payload.model_config.get("json_schema_extra") or {}
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not examples:
        fail(f"{spec.type} has no example; its schema: {spec.payload.model_json_schema()}")
    return examples[0]


@app.command("asyncapi")
def write_asyncapi(
    out: Annotated[Path, typer.Option(help="Directory for <service>.json")] = Path("docs/asyncapi"),
) -> None:
    """Write each service's AsyncAPI 3.0 document (what /asyncapi.json serves)."""
    out.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        path = out / f"{service}.json"
        text = json.dumps(asyncapi.document(service), indent=2, ensure_ascii=False, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {path}")


@app.command("doc")
def write_document(
    path: Annotated[Path, typer.Option(help="The contract document")] = Path("docs/contract.md"),
) -> None:
    """Fill the generated parts of the contract document from the catalogue."""
    if not path.is_file():
        fail(f"no contract document at {path}: run this in the repository's root", 2)
    changed = document.write(path)
    console.print(f"{'wrote' if changed else 'unchanged:'} {path}")
