"""The `diko` shell: every command is listed, groups stay groups, mistakes are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from diko_shared.cli.main import BUILTIN, shell

runner = CliRunner()


def test_help_lists_every_builtin_command_and_the_match_plugin() -> None:
    result = runner.invoke(shell, ["--help"])
    assert result.exit_code == 0
    for name in [*BUILTIN, "match"]:
        assert f" {name} " in result.output


@pytest.mark.parametrize(
    ("group", "subcommands"),
    [
        ("stack", ["status"]),
        ("dlq", ["list", "show", "replay", "purge"]),
        ("contract", ["example", "asyncapi"]),
    ],
)
def test_a_group_keeps_its_subcommands_even_when_it_has_one(
    group: str, subcommands: list[str]
) -> None:
    result = runner.invoke(shell, [group, "--help"])
    assert result.exit_code == 0, result.output
    for name in subcommands:
        assert f" {name} " in result.output


def test_an_unknown_command_is_a_usage_error() -> None:
    assert runner.invoke(shell, ["nope"]).exit_code == 2


def test_send_refuses_an_unknown_type_before_connecting() -> None:
    result = runner.invoke(shell, ["send", "company.nope"])
    assert result.exit_code == 2
    assert "unknown_type: 'company.nope'" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read --data file"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
    ],
)
def test_send_names_what_is_wrong_with_the_data_file(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "data.json"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(shell, ["send", "company.get", "--data", f"@{path}"])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
