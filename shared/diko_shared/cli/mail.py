"""`diko mail list|show`: read the mail the services sent, from Mailpit's HTTP API.

Mailpit (DIKO_MAILPIT_URL, written to .local/stack.env by `make stack`) catches every
e-mail of the local stack and of a compose deployment's development profile. Its web page
shows them too; this is the way from a terminal, and what a script can use (`--json`).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich import box
from rich.table import Table
from rich.text import Text

from diko_shared.cli.common import console, fail
from diko_shared.cli.stack import _stack_value

app = typer.Typer(help="The mail the services sent, as Mailpit caught it.")

TIMEOUT_S = 10.0


def mailpit_url() -> str:
    """DIKO_MAILPIT_URL, else the one `make stack` wrote to .local/stack.env."""
    url = os.environ.get("DIKO_MAILPIT_URL") or _stack_value("DIKO_MAILPIT_URL")
    if not url:
        fail(
            "DIKO_MAILPIT_URL not set: run `make stack` (writes .local/stack.env) or export "
            "the address of Mailpit's web page, e.g. http://127.0.0.1:8025",
            2,
        )
    return url.rstrip("/")


def _get(path: str, **params: Any) -> Any:
    """GET a Mailpit API path; an unreachable Mailpit or an unknown message is one line."""
    base = mailpit_url()
    try:
        response = httpx.get(f"{base}{path}", params=params or None, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        fail(f"cannot reach Mailpit at {base} ({type(exc).__name__}); is `make stack` running?")
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        fail(f"Mailpit answered {response.status_code} to {path}: {response.text[:200]}")
    return response.json()


def _summaries(search: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` mails, or those matching a Mailpit search, newest first."""
    if search:
        found = _get("/api/v1/search", query=search, limit=limit)
    else:
        found = _get("/api/v1/messages", limit=limit)
    return list((found or {}).get("messages") or [])


def _addresses(people: list[dict[str, Any]] | None, *, names: bool = False) -> str:
    """Addresses, comma-separated; with `names`, as `Name <address>` where a name is given."""

    def one(person: dict[str, Any]) -> str:
        address, name = person.get("Address", ""), person.get("Name", "")
        return f"{name} <{address}>" if names and name else address

    return ", ".join(one(p) for p in people or [])


def _when(stamp: str) -> str:
    """Mailpit's timestamp in local time, as a person reads it."""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%d.%m. %H:%M")
    except ValueError:
        return stamp


SearchOption = Annotated[
    str | None,
    typer.Option("--search", "-s", help="A Mailpit search, e.g. 'to:birte.albrecht@diko.example'"),
]


@app.command("list")
def list_(
    search: SearchOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Mailpit's summaries as JSON")] = False,
) -> None:
    """The newest mail: number, time, recipient and subject (`diko mail show N` opens one)."""
    mails = _summaries(search, limit)
    if as_json:
        print(json.dumps(mails, ensure_ascii=False, indent=2))
        return
    if not mails:
        console.print("no mail" + (f" matching {search!r}" if search else ""), markup=False)
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("received", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("subject", overflow="fold")
    for number, mail in enumerate(mails, start=1):
        subject = Text(mail.get("Subject") or "(no subject)")  # a subject is no markup
        to = Text(_addresses(mail.get("To")))
        table.add_row(str(number), _when(mail.get("Created", "")), to, subject)
    console.print(table)
    console.print(
        "open one: diko mail show N" + (f" --search {search!r}" if search else ""),
        markup=False,
        highlight=False,
    )


@app.command()
def show(
    which: Annotated[
        str,
        typer.Argument(
            metavar="[N|ID|latest]",
            help="A number from `diko mail list` (1 is the newest), a Mailpit ID, or latest",
        ),
    ] = "latest",
    search: SearchOption = None,
    html: Annotated[
        Path | None,
        typer.Option(help="Save the HTML part to this file (- prints it) to open in a browser"),
    ] = None,
) -> None:
    """One mail: its headers and text; the HTML part saved to a file with --html."""
    message_id = _resolve(which, search)
    mail = _get(f"/api/v1/message/{message_id}")
    if mail is None:
        fail(f"Mailpit has no mail {which!r}; `diko mail list` shows what it has", 2)
    base = mailpit_url()
    lines = [
        f"From:     {_addresses([mail.get('From') or {}], names=True)}",
        f"To:       {_addresses(mail.get('To'), names=True)}",
        f"Subject:  {mail.get('Subject', '')}",
        f"Date:     {_when(mail.get('Date', ''))}",
        f"Web page: {base}/view/{mail['ID']}",
    ]
    if html is not None:
        if not mail.get("HTML"):
            fail("this mail has no HTML part", 1)
        if str(html) == "-":
            print(mail["HTML"])
            return
        html.write_text(mail["HTML"], encoding="utf-8")
        lines.append(f"HTML:     {html.resolve()}")
    elif mail.get("HTML"):
        lines.append(f"HTML:     diko mail show {mail['ID']} --html mail.html")
    print("\n".join(lines))
    print()
    print((mail.get("Text") or "(no text part)").rstrip())


def _resolve(which: str, search: str | None) -> str:
    """A Mailpit message ID for a list number, an ID, or `latest` (within a search)."""
    if which.isdigit():
        number = int(which)
        mails = _summaries(search, max(number, 1))
        if number < 1 or number > len(mails):
            fail(f"there is no mail number {number}; `diko mail list` shows {len(mails)}", 2)
        return str(mails[number - 1]["ID"])
    if which == "latest" and search:
        mails = _summaries(search, 1)
        if not mails:
            fail(f"no mail matches {search!r}", 1)
        return str(mails[0]["ID"])
    return which
