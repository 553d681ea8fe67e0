"""What the CLI commands share: settings, a broker connection, and error output."""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import NoReturn, TypeVar

import aio_pika
import typer
from faststream.rabbit import Channel, RabbitBroker
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from diko_shared.settings import CliSettings

T = TypeVar("T")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

SOURCE = "diko-cli"


def settings() -> CliSettings:
    """The CLI's own settings: DIKO_AMQP_URL (the operator's user), optionally DIKO_MONGO_URL."""
    try:
        return CliSettings()  # type: ignore[call-arg]
    except ValueError as exc:
        if not isinstance(exc, ValidationError):  # a DIKO_*_FILE that cannot be read
            fail(str(exc), 2)
        missing = ", ".join(f"DIKO_{str(e['loc'][0]).upper()}" for e in exc.errors())
        fail(f"{missing} not set: run `make stack` (writes .local/stack.env) or export it", 2)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` (plain text, never read as markup) and exit with `code`."""
    errors.print(Text.assemble(("error:", "bold red"), " ", message))
    raise typer.Exit(code)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """ ": did you mean X?" with the closest known names, or the list of all of them."""
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if not close:
        # "register" or "company" alone: every name it is a part of
        close = [k for k in known if name and name.lower() in k.lower()][:5]
    if close:
        return f"; did you mean {' or '.join(close)}?"
    return f"; known: {', '.join(known)}"


def broker(url: str) -> RabbitBroker:
    return RabbitBroker(
        url,
        app_id=SOURCE,
        apply_types=False,
        default_channel=Channel(on_return_raises=True),
        log_level=logging.DEBUG,
        logger=None,
    )


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async command; a broker that cannot be reached is an error message, not a trace."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except (ConnectionError, OSError) as exc:
        fail(f"cannot reach RabbitMQ: {exc}")
    except aio_pika.exceptions.ChannelNotFoundEntity as exc:
        fail(f"RabbitMQ has no such queue or exchange (is the service started once?): {exc}")
    except aio_pika.exceptions.AMQPError as exc:
        fail(f"RabbitMQ refused: {exc}")
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
