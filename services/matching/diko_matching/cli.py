"""`diko match …`: the matching engine from the operator shell.

Registered with the `diko` shell through the `diko.cli` entry point group;
also runnable on its own as `python -m diko_matching.cli`. Every bad input
ends with exit code 2 and one line on stderr that names the problem.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from diko_matching.engine.instance import InstanceError

app = typer.Typer(
    help="Matching engine: stable assignment, applicant fairs, synthetic instances.",
    no_args_is_help=True,
    add_completion=False,
)

BAD_INPUT = 2


@app.callback()
def _group() -> None:
    """Matching engine: stable assignment, applicant fairs, synthetic instances."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(BAD_INPUT)


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"{what} file not found: {path}")
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {what} file {path}: {exc.__class__.__name__}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"malformed JSON in {path}: {exc.msg} at line {exc.lineno} column {exc.colno}")


def _emit(data: Any, pretty: bool) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2 if pretty else None))
    sys.stdout.write("\n")


def _is_profile_instance(data: Any) -> bool:
    apps = data.get("applicants") if isinstance(data, dict) else None
    return isinstance(apps, dict) and any(isinstance(v, dict) for v in apps.values())


@app.command()
def solve(
    instance: Annotated[Path, typer.Argument(help="Instance JSON: explicit lists or profiles.")],
    optimal: Annotated[
        str | None, typer.Option(help="'applicant' or 'position' (overrides the file).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the tie-breaking lottery (overrides the file).")
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option(help="Judge this assignment JSON ({position: [applicants]}) instead."),
    ] = None,
    kernel: Annotated[str, typer.Option(help="'auto', 'python' or 'numba'.")] = "auto",
    pretty: Annotated[bool, typer.Option(help="Indent the JSON output.")] = False,
) -> None:
    """Stable assignment: print the assignment, the unassigned, stability and blocking pairs."""
    from diko_matching.engine.instance import Instance
    from diko_matching.engine.stable import check_assignment
    from diko_matching.engine.stable import solve as solve_instance

    if optimal is not None and optimal not in ("applicant", "position"):
        _fail(f"--optimal must be 'applicant' or 'position', not {optimal!r}")
    if kernel not in ("auto", "python", "numba"):
        _fail(f"--kernel must be 'auto', 'python' or 'numba', not {kernel!r}")
    gc.disable()  # a short-lived process: collections would only re-walk the instance
    data = _read_json(instance, "instance")
    try:
        if _is_profile_instance(data):
            from diko_matching.engine.shortlists import instance_from_profiles

            inst = instance_from_profiles(data)
        else:
            inst = Instance.from_dict(data)
        if check is not None:
            assignment = _read_json(check, "assignment")
            if not isinstance(assignment, dict):
                _fail("the assignment must be a JSON object of position id -> applicant ids")
            result = check_assignment(inst, assignment)
        else:
            result = solve_instance(inst, optimal=optimal, seed=seed, kernel=kernel)  # type: ignore[arg-type]
    except (InstanceError, KeyError) as exc:
        _fail(str(exc.args[0]) if exc.args else exc.__class__.__name__)
    _emit(result.to_dict(), pretty)


if __name__ == "__main__":
    app()
