"""`diko companies import FILE.csv|FILE.xlsx [--dry-run]`: the network's spreadsheets into diko.

Registered with the `diko` shell through the `diko.cli` entry point group. Every row goes
to the running companies service as `company.register` with `if_exists: update`, so a
file imported twice creates nothing twice; the report (printed, and as CSV beside the
input) accounts for every line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import aio_pika
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable

from diko_companies.importing import (
    ImportFileError,
    Row,
    prepare,
    read_table,
    reply_note,
    report_path,
    write_report,
)
from diko_shared.cli.common import broker, console, fail, run, settings
from diko_shared.contract.companies import RegisterCompany
from diko_shared.messaging.publisher import Publisher

app = typer.Typer(help="The companies service: importing spreadsheets.", no_args_is_help=True)

SOURCE = "diko-import"
#: Registrations in flight at once.
WINDOW = 64
REQUEST_TIMEOUT_S = 60.0

OUTCOMES = {"created": "angelegt", "updated": "aktualisiert", "unchanged": "unverändert"}


def _overrides(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, _, target = pair.partition("=")
        if not header or not target:
            fail(f"--map erwartet Spalte=feld, nicht {pair!r}", 2)
        mapping[header.strip()] = target.strip()
    return mapping


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A .csv (semicolon or comma) or .xlsx file")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row, send nothing")
    ] = False,
    mapping: Annotated[
        list[str],
        typer.Option(
            "--map",
            help="Column=field, e.g. 'Firmenname=name' (fields: name, street, "
            "postcode, town, industry, contact_name, email, phone, website, instagram, role)",
        ),
    ] = [],  # noqa: B006 - typer reads the default
    window: Annotated[
        int, typer.Option(help="Registrations in flight at once", min=1, max=512)
    ] = WINDOW,
) -> None:
    """Import companies from a spreadsheet; a report of every row is written beside it."""
    if not file.is_file():
        fail(f"{file} gibt es nicht", 2)
    try:
        table = read_table(file, _overrides(mapping))
    except ImportFileError as exc:
        fail(str(exc), 2)
    prepare(table.rows)
    _mark_repeats(table.rows)
    sendable = [row for row in table.rows if row.registration is not None]
    if dry_run:
        for row in sendable:
            row.outcome = "gültig (Probelauf)"
    elif sendable:
        unanswered = run(lambda: _send(sendable, window))
        if unanswered:
            console.print(f"[yellow]{unanswered} Zeile(n) ohne Antwort des Dienstes[/]")
    path = report_path(file)
    write_report(path, table.rows)
    _summary(table.rows, table.ignored, path, dry_run)
    if any(row.outcome == "nicht beantwortet" for row in table.rows):
        raise typer.Exit(1)


def _mark_repeats(rows: list[Row]) -> None:
    first: dict[str, int] = {}
    for row in rows:
        if row.key is None:
            continue
        if row.key in first:
            row.note = f"gleiche Firma wie Zeile {first[row.key]}"
        else:
            first[row.key] = row.line


class Replies:
    """Many requests in flight on one connection: a reply queue of our own, by correlation id.

    FastStream's `broker.request` holds a lock for the whole round trip (one request at
    a time per broker), which made an import a sequence of round trips.
    """

    def __init__(self, amqp_url: str) -> None:
        self._url = amqp_url
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def __aenter__(self) -> Replies:
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel()
        self.queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await self.queue.consume(self._on_reply, no_ack=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connection.close()

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        future = self._waiting.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(json.loads(message.body))

    async def request(
        self, publisher: Publisher, payload: RegisterCompany, timeout: float
    ) -> dict[str, Any]:
        message = publisher.command(payload)
        correlation_id = str(uuid.uuid4())
        message = dataclasses.replace(
            message, reply_to=self.queue.name, correlation_id=correlation_id
        )
        future = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        try:
            await publisher.publish(message)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(correlation_id, None)


async def _send(rows: list[Row], window: int) -> int:
    """Register every row; rows of one company one after another, the rest `window` at once."""
    bus = broker(settings().amqp_url)
    await bus.connect()
    chains: dict[str, list[Row]] = {}
    for row in rows:
        chains.setdefault(row.key or str(row.line), []).append(row)
    gate = asyncio.Semaphore(window)
    unanswered = 0
    try:
        publisher = Publisher(bus, SOURCE)
        replies = await Replies(settings().amqp_url).__aenter__()
        with Progress(
            TextColumn("Import"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("import", total=len(rows))

            async def chain(members: list[Row]) -> None:
                nonlocal unanswered
                for row in members:
                    async with gate:
                        try:
                            registration = row.registration
                            assert registration is not None
                            reply = await replies.request(
                                publisher, registration, REQUEST_TIMEOUT_S
                            )
                        except TimeoutError:
                            row.outcome, row.note = (
                                "nicht beantwortet",
                                "keine Antwort des Dienstes",
                            )
                            unanswered += 1
                        else:
                            _record(row, reply)
                    progress.advance(task)

            try:
                await asyncio.gather(*(chain(members) for members in chains.values()))
            finally:
                await replies.__aexit__()
    finally:
        await bus.stop()
    return unanswered


def _record(row: Row, reply: dict[str, Any]) -> None:
    if not reply.get("ok"):
        row.outcome, row.note = "abgelehnt", reply_note(reply)
        return
    data = reply["data"]
    row.company_id = data["company_id"]
    row.outcome = OUTCOMES.get(data.get("outcome") or "created", "angelegt")
    suspects = data.get("suspected_duplicates") or []
    if suspects:
        row.outcome = f"{row.outcome}, Dublette vermutet"
        listed = "; ".join(
            f"{c['company_id']} {c['name']} ({round(c['score'] * 100)} %: "
            f"{', '.join(r['text'] for r in c['reasons'])})"
            for c in suspects[:3]
        )
        row.note = f"{row.note}; ähnlich wie {listed}" if row.note else f"ähnlich wie {listed}"


def _summary(rows: list[Row], ignored: list[str], path: Path, dry_run: bool) -> None:
    counts = Counter(row.outcome for row in rows)
    table = RichTable("Ergebnis", "Zeilen", title="Probelauf" if dry_run else "Import")
    for outcome, count in sorted(counts.items()):
        table.add_row(outcome, str(count))
    table.add_row("[bold]zusammen[/]", f"[bold]{len(rows)}[/]")
    console.print(table)
    for row in rows:
        if row.outcome == "abgelehnt":
            console.print(f"Zeile {row.line}: [red]abgelehnt[/] – {row.note}")
    if ignored:
        console.print(f"Nicht gelesene Spalten: {', '.join(ignored)}")
    windows = sum(1 for row in rows if row.encoding == "Windows-1252")
    if windows:
        console.print(f"{windows} Zeile(n) waren in Windows-1252 kodiert und wurden so gelesen")
    console.print(f"Bericht: {path}")
