"""`diko contract`: the message catalogue, payload examples and the AsyncAPI documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from diko_shared.cli.common import console, fail
from diko_shared.contract import document
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.service import asyncapi

app = typer.Typer(help="The message contract: types, examples, AsyncAPI documents.")

SERVICES = ("companies", "matching", "notifications", "media")


@app.command("list")
def list_(service: Annotated[str | None, typer.Argument(help="Only this owner")] = None) -> None:
    """Every message type: owner, kind, payload and reply models."""
    table = Table("type", "kind", "owner", "payload", "reply", "consumed by")
    reactions = CATALOGUE.all_reactions()
    for spec in CATALOGUE:
        if service and spec.owner != service:
            continue
        consumers = ", ".join(s for s, t in reactions if t == spec.type)
        reply = spec.reply.__name__ if spec.reply else ""
        table.add_row(spec.type, spec.kind, spec.owner, spec.payload.__name__, reply, consumers)
    console.print(table)


@app.command()
def example(type_: Annotated[str, typer.Argument(metavar="TYPE")]) -> None:
    """An example payload of TYPE, ready for `diko send TYPE --data …`."""
    spec = CATALOGUE.get(type_)
    if spec is None:
        fail(f"unknown_type: {type_!r}", 2)
    extra = spec.payload.model_config.get("json_schema_extra") or {}
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not examples:
        fail(f"{type_} has no example; its schema: {json.dumps(spec.payload.model_json_schema())}")
    console.print_json(data=examples[0])


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
