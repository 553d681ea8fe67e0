"""`diko`: the operator's command line, a thin shell over the shared platform.

Commands that belong to one service (`diko match …`) live in that service and are
registered through the `diko.cli` entry-point group, so that this shell never reaches
into a service's internals.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from diko_shared.cli import contract, demo, dlq, events, send, stack

app = typer.Typer(
    name="diko",
    help="Operate diko: send commands, watch events, handle dead letters, check the stack.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("send")(send.send)
app.command("events")(events.events)
app.command("demo")(demo.demo)
app.add_typer(dlq.app, name="dlq")
app.add_typer(stack.app, name="stack")
app.add_typer(contract.app, name="contract")


def _load_plugins() -> None:
    for entry in entry_points(group="diko.cli"):
        plugin = entry.load()
        if isinstance(plugin, typer.Typer):
            app.add_typer(plugin, name=entry.name)
        else:
            app.command(entry.name)(plugin)


def main() -> None:
    _load_plugins()
    app()
