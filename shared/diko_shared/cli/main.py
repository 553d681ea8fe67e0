"""`diko`: the operator's command line, a thin shell over the shared platform.

Commands that belong to one service (`diko match …`) live in that service and are
registered through the `diko.cli` entry-point group, so that this shell never reaches
into a service's internals. Every subcommand is imported only when it runs: `diko match
solve` does not pay for the broker and database clients that `diko send` needs.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from importlib.metadata import entry_points
from typing import Any

import typer
from typer.core import TyperGroup
from typer.main import get_command, get_group

#: The shell's own commands: name -> "module:attribute" (a Typer app or a function).
BUILTIN = {
    "send": "diko_shared.cli.send:send",
    "events": "diko_shared.cli.events:events",
    "demo": "diko_shared.cli.demo:demo",
    "dlq": "diko_shared.cli.dlq:app",
    "stack": "diko_shared.cli.stack:app",
    "contract": "diko_shared.cli.contract:app",
    "mail": "diko_shared.cli.mail:app",
}


def _plugins() -> dict[str, Any]:
    return {entry.name: entry for entry in entry_points(group="diko.cli")}


def _as_click(name: str, target: Any) -> Any:
    """A Typer app as a Click group (even with one subcommand), a function as a command."""
    if isinstance(target, typer.Typer):
        command = get_group(target)
    else:
        single = typer.Typer()
        single.command(name)(target)
        command = get_command(single)
    command.name = name
    return _plain_help(command)


def _plain_help(command: Any) -> Any:
    """Show every help text as written, in this command and all below it.

    Typer's default reads help texts as Rich markup, which swallows anything in square
    brackets ("{position: [applicants]}" became "{position: }"); help texts here are
    plain text, including those of commands that services register.
    """
    command.rich_markup_mode = None
    if not command.short_help and command.help:
        # Click would cut the summary in a command list at "..."; its first paragraph
        # is short, and wraps instead.
        command.short_help = " ".join(inspect.cleandoc(command.help).split("\n\n")[0].split())
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)
    return command


class LazyShell(TyperGroup):
    """Lists every command, imports one only when it is used (or its help is shown)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*BUILTIN, *_plugins()})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in BUILTIN:
            module, _, attribute = BUILTIN[cmd_name].partition(":")
            return _as_click(cmd_name, getattr(importlib.import_module(module), attribute))
        plugin = _plugins().get(cmd_name)
        return None if plugin is None else _as_click(cmd_name, plugin.load())


shell = typer.Typer(
    cls=LazyShell,
    name="diko",
    help="Operate diko: send commands, watch events, handle dead letters, check the stack.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@shell.callback()
def _root() -> None:
    """The shell itself does nothing; its commands come from `LazyShell`."""


def main() -> None:
    # The CLI speaks through its own messages. Without a handler, a library's log record
    # (aiormq's "error when creating transport" when the broker is away) would reach
    # stderr through logging's last resort, as a stray line beside the CLI's own answer.
    logging.getLogger().addHandler(logging.NullHandler())
    shell()
