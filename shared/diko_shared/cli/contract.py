"""`diko contract`: the message catalogue, payload examples and the AsyncAPI documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from diko_shared.cli.common import console, did_you_mean, fail
from diko_shared.contract import compatibility, document
from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.service import asyncapi

app = typer.Typer(help="The message contract: types, examples, AsyncAPI documents.")

SERVICES = ("companies", "matching", "notifications", "media")
RELEASED = Path("docs/asyncapi/released")


def _current() -> dict[str, dict[str, object]]:
    return {service: asyncapi.document(service) for service in SERVICES}


def _write(directory: Path, documents: dict[str, dict[str, object]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for service, content in documents.items():
        path = directory / f"{service}.json"
        text = json.dumps(content, indent=2, ensure_ascii=False, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {path}")


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
    longest = max((len(spec.type) for spec in specs), default=4)
    table.add_column("type", no_wrap=True, min_width=longest)
    if models:  # on a narrow terminal the model names fold, never the type
        table.add_column("payload model", overflow="fold")
        table.add_column("reply model", overflow="fold")
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
    _write(out, _current())


def _breaches(released: Path) -> tuple[str, list[compatibility.Breach]]:
    kept = compatibility.releases(released)
    if not kept:
        fail(f"no release under {released}: run this in the repository's root", 2)
    release = kept[-1]
    documents = compatibility.load(released / release)
    return release, compatibility.check(documents, _current(), f"release {release}")


@app.command("check")
def check(
    released: Annotated[Path, typer.Option(help="The released documents")] = RELEASED,
) -> None:
    """Compare today's contract with the last release; exit 1 on an incompatible change."""
    release, breaches = _breaches(released)
    for breach in breaches:
        console.print(f"[red]{breach.message}[/] {breach.field}: {breach.problem}")
    if breaches:
        fail(
            f"{len(breaches)} incompatible change(s) since release {release}: undo them, or "
            "raise the message's version and keep reading the old one (docs/contract.md, "
            "How the contract changes)"
        )
    console.print(f"compatible with release {release}")


@app.command("release")
def release(
    version: Annotated[str, typer.Argument(help="The release, e.g. 1.2")],
    released: Annotated[Path, typer.Option(help="Where releases are kept")] = RELEASED,
    breaking: Annotated[
        bool,
        typer.Option(
            "--breaking",
            help="Keep it although it breaks the last release: an upgrade that is not "
            "rolling (stop, upgrade together, start), which the release notes must say",
        ),
    ] = False,
) -> None:
    """Keep today's AsyncAPI documents as a release, the base of later compatibility checks."""
    if compatibility.RELEASE.fullmatch(version) is None:
        fail(f"a release is numbers joined by dots, e.g. 1.2, not {version!r}", 2)
    kept = compatibility.releases(released)
    if version in kept:
        fail(f"release {version} is kept already in {released / version}", 2)
    if kept:
        if compatibility.release_key(version) <= compatibility.release_key(kept[-1]):
            fail(f"release {version} is not after the last release, {kept[-1]}", 2)
        last, breaches = _breaches(released)
        if breaches and not breaking:
            fail(
                f"today's contract breaks release {last}: see `diko contract check` "
                "(or --breaking for a release that is not a rolling upgrade)"
            )
    documents = _current()
    for content in documents.values():
        content["info"]["version"] = version  # type: ignore[index]
    _write(released / version, documents)


@app.command("processing")
def write_processing(
    path: Annotated[Path, typer.Option(help="The record of processing")] = Path(
        "docs/processing.md"
    ),
) -> None:
    """Write the record of processing activities (Art. 30 GDPR) from the code."""
    from diko_shared.rights import record  # imports the services' rights modules

    text = record.render()
    changed = not path.is_file() or path.read_text(encoding="utf-8") != text
    if changed:
        path.write_text(text, encoding="utf-8")
    console.print(f"{'wrote' if changed else 'unchanged:'} {path}")


@app.command("doc")
def write_document(
    path: Annotated[Path, typer.Option(help="The contract document")] = Path("docs/contract.md"),
) -> None:
    """Fill the generated parts of the contract document from the catalogue."""
    if not path.is_file():
        fail(f"no contract document at {path}: run this in the repository's root", 2)
    changed = document.write(path)
    console.print(f"{'wrote' if changed else 'unchanged:'} {path}")
