"""`diko match …`: the matching engine from the operator shell.

Registered with the `diko` shell through the `diko.cli` entry point group;
also runnable on its own as `python -m diko_matching.cli`. Every bad input
ends with exit code 2 and one line on stderr that names the problem.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click
from typer.core import TyperGroup

from diko_matching.engine.instance import InstanceError
from diko_matching.json_input import read_json

if TYPE_CHECKING:
    from diko_matching.engine.profiles import ProfileInstance

BAD_INPUT = 2


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except NoArgsIsHelpError:  # `diko match` alone: the help, as click shows it
        raise
    except ClickException as exc:  # usage errors: a missing option, a bad value, no such command
        typer.echo(f"error: {exc.format_message()}", err=True)
        raise typer.Exit(BAD_INPUT) from None


class OneLineErrors(TyperGroup):
    """Usage errors as one line on stderr and exit code 2, however the app is started.

    Run as `python -m diko_matching.cli` the app is the top-level command;
    through the `diko` shell it is a subcommand, and the shell's own error
    handler would print a multi-line box. Parsing and dispatch of this group
    and of every command below it happen in these two methods, so the line is
    the same on both paths.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


app = typer.Typer(
    help="Matching engine: stable assignment, applicant fairs, synthetic instances.",
    no_args_is_help=True,
    add_completion=False,
    cls=OneLineErrors,
)
GENERATE_MAX = 1_000_000
"""Most applicants or positions `generate` writes: a larger file is of no use to staff."""


@app.callback()
def _group() -> None:
    """Matching engine: stable assignment, applicant fairs, synthetic instances."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(BAD_INPUT)


def _read_json(path: Path, what: str) -> Any:
    try:
        return read_json(path, what)
    except InstanceError as exc:
        _fail(str(exc))


def _emit(data: Any, pretty: bool) -> None:
    # allow_nan=False: NaN and Infinity are not JSON; a stage without numbers says null.
    text = json.dumps(data, ensure_ascii=False, indent=2 if pretty else None, allow_nan=False)
    sys.stdout.write(text)
    sys.stdout.write("\n")


def _is_profile_instance(data: Any) -> bool:
    """Profiles hold objects where a list instance holds preference lists."""
    if not isinstance(data, dict):
        return False
    sides = (data.get("applicants"), data.get("positions"))
    return any(isinstance(s, dict) and any(isinstance(v, dict) for v in s.values()) for s in sides)


def _profiles(data: Any) -> ProfileInstance:
    """A validated profile instance whose occupation codes are all in the catalogue."""
    from diko_matching.engine.profiles import ProfileInstance, check_catalogue

    profiles = ProfileInstance.parse(data)
    check_catalogue(profiles)
    return profiles


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

            inst = instance_from_profiles(_profiles(data))
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


@app.command()
def shortlist(
    instance: Annotated[Path, typer.Argument(help="Profile instance JSON.")],
    position: Annotated[
        str | None, typer.Option(help="Shortlist applicants for this position.")
    ] = None,
    applicant: Annotated[
        str | None, typer.Option(help="Shortlist positions for this applicant.")
    ] = None,
    k: Annotated[int, typer.Option(help="Length of the shortlist.")] = 10,
    pretty: Annotated[bool, typer.Option(help="Indent the JSON output.")] = True,
) -> None:
    """Top-k shortlist with a score and German reasons per entry."""
    from diko_matching.engine.shortlists import shortlist_for_applicant, shortlist_for_position

    if (position is None) == (applicant is None):
        _fail("give exactly one of --position and --applicant")
    if k < 1:
        _fail(f"--k must be at least 1, not {k}")
    data = _read_json(instance, "instance")
    try:
        profiles = _profiles(data)
        if position is not None:
            scores = shortlist_for_position(profiles, position, k)
        else:
            scores = shortlist_for_applicant(profiles, str(applicant), k)
    except InstanceError as exc:
        _fail(str(exc))
    _emit([s.to_dict() for s in scores], pretty)


@app.command()
def fair(
    instance: Annotated[Path, typer.Argument(help="Fair instance JSON.")],
    out: Annotated[
        Path, typer.Option(help="Folder for the timetables (HTML, PDF, one .ics per person).")
    ] = Path("zeitplaene"),
    time_limit: Annotated[
        float, typer.Option(help="Seconds for all stages of the optimisation together.")
    ] = 60.0,
    pretty: Annotated[bool, typer.Option(help="Indent the JSON output.")] = False,
) -> None:
    """Applicant-fair interview schedule: print it with its summary, write timetables."""
    from diko_matching.engine.fair import FairInstance, plan_fair

    if not (math.isfinite(time_limit) and time_limit > 0):
        _fail(f"--time-limit must be a positive number of seconds, not {time_limit}")
    data = _read_json(instance, "instance")
    try:
        inst = FairInstance.parse(data)
    except InstanceError as exc:
        _fail(str(exc))
    with _stdout_to_stderr():  # HiGHS writes the odd diagnostic line to standard output
        plan = plan_fair(inst, time_limit=time_limit)
    report = plan.to_dict(inst)
    try:
        report["timetables"] = _write_timetables(inst, report, data, out)
    except OSError as exc:
        _fail(f"cannot write the timetables to {out}: {exc.strerror or exc}")
    _emit(report, pretty)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what C code prints to file descriptor 1 to stderr, keeping stdout for the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _write_timetables(inst: Any, report: dict[str, Any], data: Any, out: Path) -> dict[str, Any]:
    """The timetables as the service serves them: HTML, PDF and an .ics per person."""
    from diko_matching.fairs import calendars, documents, printing
    from diko_matching.fairs.model import fair_of, file_fair_id, setup_of

    fair = fair_of(file_fair_id(data), setup_of(inst), report)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "overview": ("uebersicht.html", documents.overview_html(fair)),
        "companies": ("unternehmen.html", documents.companies_html(fair)),
        "applicants": ("bewerber.html", documents.applicants_html(fair)),
        "companies_pdf": ("unternehmen.pdf", printing.companies_pdf(fair)),
        "applicants_pdf": ("bewerber.pdf", printing.applicants_pdf(fair)),
    }
    written: dict[str, Any] = {}
    for key, (name, content) in files.items():
        path = out / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        written[key] = str(path)
    if fair.date is not None:
        calendar_dir = out / "kalender"
        calendar_dir.mkdir(exist_ok=True)
        for side, refs, make in (
            ("unternehmen", [c.ref for c in fair.companies], calendars.company_ics),
            ("bewerber", [a.ref for a in fair.applicants], calendars.applicant_ics),
        ):
            for ref in refs:
                body = make(fair, ref)
                if body is not None:
                    (calendar_dir / f"{side}-{ref}.ics").write_bytes(body)
        written["calendars"] = str(calendar_dir)
    return written


def _check_fair(data: Any, what: str) -> None:
    """Refuse to write a fair instance that `fair` would refuse to read."""
    from diko_matching.engine.fair import FairInstance

    try:
        FairInstance.parse(data)
    except InstanceError as exc:
        _fail(f"{what}: {exc}")


@app.command()
def generate(
    applicants: Annotated[int, typer.Option(help="Number of applicants.")],
    positions: Annotated[
        int, typer.Option(help="Number of positions (companies for --kind fair).")
    ],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same instance.")] = 0,
    kind: Annotated[
        str,
        typer.Option(help="'profiles' (Altmark profiles), 'lists' (random lists) or 'fair'."),
    ] = "profiles",
    list_length: Annotated[int, typer.Option(help="List length for --kind lists.")] = 30,
    slots: Annotated[int, typer.Option(help="Slots for --kind fair.")] = 16,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Write a realistic synthetic instance (Altmark geography, real KldB occupations)."""
    from diko_matching.engine.generate import (
        generate_fair,
        generate_profiles,
        random_lists_instance,
    )

    if not 0 <= applicants <= GENERATE_MAX or not 0 <= positions <= GENERATE_MAX:
        _fail(f"--applicants and --positions must be between 0 and {GENERATE_MAX:,}")
    if seed < 0:
        _fail(f"--seed must not be negative, not {seed}")
    if kind == "profiles":
        data = generate_profiles(applicants, positions, seed=seed)
    elif kind == "lists":
        if list_length < 1:
            _fail(f"--list-length must be at least 1, not {list_length}")
        data = random_lists_instance(applicants, positions, list_length, seed=seed).to_dict()
    elif kind == "fair":
        if slots < 1 or positions < 1:
            _fail("a fair needs at least one company and one slot")
        data = generate_fair(positions, applicants, slots, seed=seed)
        _check_fair(data, f"--slots {slots}")
    else:
        _fail(f"--kind must be 'profiles', 'lists' or 'fair', not {kind!r}")
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")


def main() -> None:
    """Run as a program (`python -m diko_matching.cli`); no arguments shows the help."""
    if len(sys.argv) == 1:
        sys.argv.append("--help")
    app()


if __name__ == "__main__":
    main()
