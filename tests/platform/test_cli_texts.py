"""What the `diko` program prints at 80 columns: help, the catalogue, and its error messages.

Run as operators run it (the virtual environment's `diko` script, COLUMNS=80), and read as
they would: every help text as written, every type name whole, every mistake answered with
what is missing and what to type instead.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from diko_shared.cli.main import shell
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.names import FIXED
from harness.cli import diko
from harness.stack import SessionStack

COLUMNS = {"COLUMNS": "80"}


def folded(text: str) -> str:
    return " ".join(text.split())


def subcommands(command: Any) -> dict[str, Any]:
    """A group's commands by name (Typer's own Click types, so by what they can do)."""
    if not hasattr(command, "list_commands"):
        return {}
    context = command.context_class(command)
    return {name: command.get_command(context, name) for name in command.list_commands(context)}


def commands() -> Iterator[tuple[list[str], Any]]:
    """Every command of the shell, services' plugins included, with its path."""

    def walk(path: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in subcommands(command).items():
            yield from walk([*path, name], sub)

    yield from walk([], typer.main.get_command(shell))


def expected_texts(command: Any) -> list[str]:
    """The texts a reader must find whole in the command's --help."""
    texts = [folded(inspect.cleandoc(command.help))] if command.help else []
    texts += [folded(p.help) for p in command.params if getattr(p, "help", None)]
    for sub in subcommands(command).values():
        summary = sub.short_help or inspect.cleandoc(sub.help or "").split("\n\n")[0]
        texts.append(folded(summary))
    return texts


HELP_PAGES = [pytest.param(path, id=" ".join(path) or "diko") for path, _ in commands()]


@pytest.mark.parametrize("path", HELP_PAGES)
def test_every_help_text_is_shown_as_written(stack: SessionStack, path: list[str]) -> None:
    command = {tuple(p): c for p, c in commands()}[tuple(path)]
    result = diko(stack, *path, "--help", env=COLUMNS)
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    shown = folded(result.stdout)
    missing = [text for text in expected_texts(command) if text not in shown]
    assert not missing, f"`diko {' '.join(path)} --help` lacks {missing}:\n{result.stdout}"


def test_the_bracketed_example_of_match_solve_survives(stack: SessionStack) -> None:
    result = diko(stack, "match", "solve", "--help", env=COLUMNS)
    assert "({position: [applicants]})" in folded(result.stdout)


def test_contract_list_shows_every_type_whole_at_80_columns(stack: SessionStack) -> None:
    for args in ([], ["--models"]):
        result = diko(stack, "contract", "list", *args, env=COLUMNS)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80
        first_words = {line.split()[0] for line in lines if line.strip()}
        missing = [s.type for s in CATALOGUE if s.owner in FIXED and s.type not in first_words]
        assert not missing, f"cut or missing: {missing}\n{result.stdout}"
        assert "…" not in result.stdout


def test_contract_list_of_one_service(stack: SessionStack) -> None:
    result = diko(stack, "contract", "list", "media", env=COLUMNS)
    rows = result.stdout.splitlines()[3:]
    # a row whose first column is blank continues the one above (its consumers folded)
    types = {line.split()[0] for line in rows if line.strip() and not line.startswith("  ")}
    assert types == {spec.type for spec in CATALOGUE.owned_by("media")}
    unknown = diko(stack, "contract", "list", "medai", env=COLUMNS)
    assert unknown.returncode == 2
    assert "no service 'medai'; did you mean media?" in folded(unknown.stderr)


def test_send_without_data_says_what_is_missing_and_how_to_get_an_example(
    stack: SessionStack,
) -> None:
    result = diko(stack, "send", "company.register", env=COLUMNS)
    assert result.returncode == 2
    error = folded(result.stderr)
    assert (
        "--data is missing: company.register needs its fields name, address (RegisterCompany)"
        in error
    )
    assert "diko contract example company.register" in error
    assert "diko send company.register --data @payload.json" in error
    assert result.stdout == "", "nothing may be sent"


@pytest.mark.parametrize(
    ("command", "typo", "suggestion"),
    [
        (["send"], "company.regster", "company.register"),
        (["send"], "positon.open", "position.open"),
        (["send"], "register", "applicant.register"),
        (["contract", "example"], "match.propsed", "match.proposed"),
    ],
)
def test_an_unknown_type_is_answered_with_the_closest_names(
    stack: SessionStack, command: list[str], typo: str, suggestion: str
) -> None:
    result = (
        diko(stack, *command, typo, "--data", "{}", env=COLUMNS)
        if command == ["send"]
        else (diko(stack, *command, typo, env=COLUMNS))
    )
    assert result.returncode == 2
    error = folded(result.stderr)
    assert f"unknown_type: '{typo}'" in error
    assert re.search(rf"did you mean .*\b{re.escape(suggestion)}\b", error), error


def test_an_event_is_not_sent_and_the_command_is_named(stack: SessionStack) -> None:
    result = diko(stack, "send", "company.registered", "--data", "{}", env=COLUMNS)
    assert result.returncode == 2
    error = folded(result.stderr)
    assert "company.registered is an event: its owner (companies) publishes it" in error
    assert "did you mean company.register" in error
