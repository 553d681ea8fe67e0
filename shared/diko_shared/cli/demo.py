"""`diko demo`: play the first story against the running system and say where to look.

The addresses are printed before the first step and again when a step fails, since a
failed story is exactly when one wants to look (Mailpit, the events, each service). A
stack or service that is not running is named with what to do (`make stack`, `make up`)
before the first step; a step that does not happen says what the service says about
itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Annotated

import typer

from diko_shared.cli.common import console, fail, run, settings
from diko_shared.cli.stack import SERVICE_PORTS, _stack_value, service_url
from diko_shared.story import DEMO_STAFF_EMAIL, Story, StoryFailed, StoryResult


def demo(
    timeout: Annotated[float, typer.Option(help="Seconds each step may take")] = 60.0,
    staff_email: Annotated[
        str, typer.Option(help="The staff member who gets the e-mails; registered once")
    ] = DEMO_STAFF_EMAIL,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the ids as JSON at the end")
    ] = False,
) -> None:
    """Play the story through the public contract; exit 1 if a step does not happen."""
    config = settings()

    async def go() -> StoryResult:
        async with Story(
            config.amqp_url,
            timeout=timeout,
            say=say,
            staff_email=staff_email,
            service_url=service_url,
        ) as story:
            return await story.play()

    console.print("[bold]diko demo[/]: the first story, through the public contract\n")
    where_to_look(staff_email)
    console.print()
    try:
        result = run(go)
    except StoryFailed as exc:
        console.print("\n[bold red]The story stopped.[/] Where to look:")
        where_to_look(staff_email)
        fail(str(exc))  # fail prints plain text: brackets in a reason stay as they are
    console.print("\n[bold green]The story happened.[/] Where to look:")
    console.print(f"  post       {result.post_image_url}")
    console.print(f"  podcast    {service_url('media')}/podcast  (feed {result.feed_url})")
    console.print(f"  website    {result.site_url}")
    where_to_look(staff_email)
    if as_json:
        print(json.dumps(asdict(result), indent=2))


def say(line: str) -> None:
    """A step's line as it is: names and reasons are not Rich markup."""
    console.print(line, markup=False, highlight=False)


def where_to_look(staff_email: str) -> None:
    """The e-mails, the events and each service's AsyncAPI page."""
    mailpit = os.environ.get("DIKO_MAILPIT_URL") or _stack_value("DIKO_MAILPIT_URL")
    if mailpit:
        console.print(f"  e-mails    {mailpit} (search: to:{staff_email})")
    else:
        console.print(f"  e-mails    to {staff_email}, at your SMTP relay (no DIKO_MAILPIT_URL)")
    console.print("  events     diko events   ·   health: diko stack status")
    pages = "  ·  ".join(f"{name} {service_url(name)}/asyncapi" for name in SERVICE_PORTS)
    console.print(f"  AsyncAPI   {pages}")
