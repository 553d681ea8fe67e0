"""`diko demo`: play the first story against the running system and say where to look."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from diko_shared.cli.common import console, fail, run, settings
from diko_shared.story import Story, StoryFailed, StoryResult


def demo(
    timeout: Annotated[float, typer.Option(help="Seconds each step may take")] = 60.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the ids as JSON at the end")
    ] = False,
) -> None:
    """Play the story through the public contract; exit 1 if a step does not happen."""
    config = settings()

    async def go() -> StoryResult:
        async with Story(config.amqp_url, timeout=timeout, say=console.print) as story:
            return await story.play()

    console.print("[bold]diko demo[/]: the first story, through the public contract\n")
    try:
        result = run(go)
    except StoryFailed as exc:
        fail(f"the story stopped: {exc}")
    mailpit = _stack_value("DIKO_MAILPIT_URL")
    console.print("\n[bold green]The story happened.[/] Where to look:")
    if mailpit:
        console.print(f"  e-mails   {mailpit} (search: to:{result.staff_email})")
    console.print(f"  post      {result.post_image_url}")
    console.print(f"  podcast   {result.feed_url}")
    console.print("  events    diko events   ·   AsyncAPI: http://127.0.0.1:8001/asyncapi …")
    if as_json:
        print(json.dumps(asdict(result), indent=2))


def _stack_value(key: str) -> str | None:
    import os

    from diko_shared.cli.stack import _stack_value as from_file

    return os.environ.get(key) or from_file(key)
