"""`diko match …` through typer's CliRunner and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from diko_matching.cli import app
from diko_matching.json_input import loads
from diko_shared.cli.main import shell

runner = CliRunner()

ISSUE_EXAMPLE = {
    "applicants": {"a1": ["p1", "p2"], "a2": ["p1"], "a3": ["p2"]},
    "positions": {"p1": ["a2", "a1"], "p2": ["a1"]},
    "capacities": {"p1": 2},
    "optimal": "applicant",
    "seed": 0,
}


def _write(tmp_path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_solve_prints_the_result(tmp_path):
    result = runner.invoke(app, ["solve", _write(tmp_path, "i.json", ISSUE_EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "assignment": {"p1": ["a2", "a1"], "p2": []},
        "unassigned": ["a3"],
        "stable": True,
        "blocking_pairs": [],
    }


def test_solve_checks_a_hand_made_assignment(tmp_path):
    inst = _write(tmp_path, "i.json", ISSUE_EXAMPLE)
    hand = _write(tmp_path, "hand.json", {"p1": ["a2"], "p2": []})
    result = runner.invoke(app, ["solve", inst, "--check", hand])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["stable"] is False
    assert out["blocking_pairs"] == [["a1", "p1"], ["a1", "p2"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "malformed JSON"),
        ({"applicants": {"a1": ["p9"]}, "positions": {}}, "unknown position 'p9'"),
        (
            {"applicants": {}, "positions": {"p1": []}, "capacities": {"p1": -2}},
            "negative capacity -2",
        ),
        ({"applicants": {"a1": ["p1", "p1"]}, "positions": {"p1": []}}, "duplicate entry 'p1'"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, content, message):
    result = runner.invoke(app, ["solve", _write(tmp_path, "bad.json", content)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_missing_file_and_bad_options_exit_2(tmp_path):
    result = runner.invoke(app, ["solve", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "instance file not found" in result.stderr
    inst = _write(tmp_path, "i.json", ISSUE_EXAMPLE)
    result = runner.invoke(app, ["solve", inst, "--optimal", "company"])
    assert result.exit_code == 2
    assert "--optimal must be" in result.stderr
    result = runner.invoke(
        app, ["solve", inst, "--check", _write(tmp_path, "h.json", {"p1": ["zz"]})]
    )
    assert result.exit_code == 2
    assert "unknown applicant 'zz'" in result.stderr


def test_generate_profiles_then_solve_and_shortlist(tmp_path):
    out = tmp_path / "p.json"
    result = runner.invoke(
        app, ["generate", "--applicants", "60", "--positions", "20", "--seed", "5", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    again = runner.invoke(
        app, ["generate", "--applicants", "60", "--positions", "20", "--seed", "5"]
    )
    assert json.loads(again.stdout) == json.loads(out.read_text(encoding="utf-8"))
    solved = runner.invoke(app, ["solve", str(out)])
    assert solved.exit_code == 0, solved.output
    assert json.loads(solved.stdout)["stable"] is True
    position = next(iter(json.loads(out.read_text(encoding="utf-8"))["positions"]))
    short = runner.invoke(app, ["shortlist", str(out), "--position", position, "--k", "3"])
    assert short.exit_code == 0, short.output
    entries = json.loads(short.stdout)
    assert len(entries) <= 3
    for entry in entries:
        assert entry["position"] == position
        assert {r["key"].split(".")[0] for r in entry["reasons"]} == {
            "occupation",
            "distance",
            "school",
            "start",
            "wish",
        }
    bad = runner.invoke(app, ["shortlist", str(out), "--position", "nope"])
    assert bad.exit_code == 2
    assert "unknown position 'nope'" in bad.stderr


def test_generate_lists_and_rejects_bad_arguments(tmp_path):
    result = runner.invoke(
        app, ["generate", "--applicants", "30", "--positions", "8", "--kind", "lists"]
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert len(data["applicants"]) == 30
    assert all(len(v) == 8 for v in data["applicants"].values())
    bad = runner.invoke(app, ["generate", "--applicants", "-1", "--positions", "3"])
    assert bad.exit_code == 2
    assert "must be between 0 and" in bad.stderr
    bad = runner.invoke(app, ["generate", "--applicants", "1", "--positions", "3", "--kind", "x"])
    assert bad.exit_code == 2


def test_fair_prints_the_plan_and_writes_timetables(tmp_path):
    inst = tmp_path / "fair.json"
    made = runner.invoke(
        app,
        [
            "generate",
            "--kind",
            "fair",
            "--applicants",
            "20",
            "--positions",
            "4",
            "--slots",
            "5",
            "-o",
            str(inst),
        ],
    )
    assert made.exit_code == 0, made.output
    out_dir = tmp_path / "plaene"
    result = runner.invoke(app, ["fair", str(inst), "--out", str(out_dir), "--time-limit", "30"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["interviews"] == len(report["interviews"])
    names = [s["name"] for s in report["stages"]]
    assert names[:3] == ["minimum", "wishes", "fairness 1"]
    assert names[-1] == "slots"
    assert report["summary"]["proven_optimal"] is True
    assert "Zeitplan für" in (out_dir / "bewerber.html").read_text(encoding="utf-8")
    assert "Tisch 1" in (out_dir / "unternehmen.html").read_text(encoding="utf-8")
    assert "Stufen der Optimierung" in (out_dir / "uebersicht.html").read_text(encoding="utf-8")
    for pdf in ("unternehmen.pdf", "bewerber.pdf"):
        assert (out_dir / pdf).read_bytes().startswith(b"%PDF-")
    calendars = sorted((out_dir / "kalender").glob("*.ics"))
    assert len(calendars) == 4 + 20
    assert all(c.read_bytes().startswith(b"BEGIN:VCALENDAR") for c in calendars)
    assert report["timetables"]["calendars"] == str(out_dir / "kalender")
    bad = runner.invoke(
        app,
        [
            "fair",
            _write(
                tmp_path,
                "b.json",
                {"n_slots": 1, "companies": {}, "applicants": {"a": {"wishes": ["x"]}}},
            ),
        ],
    )
    assert bad.exit_code == 2
    assert "unknown company 'x'" in bad.stderr


def test_runs_as_a_module_without_a_traceback(tmp_path):
    inst = _write(tmp_path, "i.json", ISSUE_EXAMPLE)
    ok = subprocess.run(
        [sys.executable, "-m", "diko_matching.cli", "solve", inst],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["unassigned"] == ["a3"]
    bad = subprocess.run(
        [sys.executable, "-m", "diko_matching.cli", "solve", _write(tmp_path, "b.json", "[")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: malformed JSON")
    assert "Traceback" not in bad.stderr


USAGE_ERRORS = [
    (["generate", "--positions", "3"], "Missing option '--applicants'"),
    (
        ["generate", "--applicants", "x", "--positions", "3"],
        "Invalid value for '--applicants': Input should be a valid integer",
    ),
    (["bogus"], "No such command 'bogus'"),
    (["solve"], "Missing argument 'instance'"),
    (["--bogus"], "No such option: --bogus"),
    (
        ["fair", "f.json", "--time-limit", "soon"],
        "Invalid value for '--time-limit': Input should be a valid number",
    ),
]
DIKO = Path(sys.executable).with_name("diko")


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
@pytest.mark.parametrize(
    "program", [[sys.executable, "-m", "diko_matching.cli"], [str(DIKO), "match"]]
)
def test_usage_errors_are_one_line_with_exit_2(program, args, message):
    proc = subprocess.run([*program, *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_the_diko_shell_prints_the_same_line(args, message):
    """`diko match …` loads this app through the shell's entry point group."""
    through_shell = runner.invoke(shell, ["match", *args])
    alone = runner.invoke(app, args)
    assert through_shell.exit_code == alone.exit_code == 2
    assert through_shell.stderr == alone.stderr
    assert message in through_shell.stderr
    assert len(through_shell.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "hand",
    [{"p1": [["a1"]]}, {"p1": [{"a1": 1}]}, {"p1": [None]}],
)
def test_check_rejects_entries_that_are_not_id_strings(tmp_path, hand):
    inst = _write(tmp_path, "i.json", ISSUE_EXAMPLE)
    result = runner.invoke(app, ["solve", inst, "--check", _write(tmp_path, "h.json", hand)])
    assert result.exit_code == 2
    assert "not an applicant id string" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


FAIR_TEXT = '{"n_slots": 2, "companies": {"c1": {}}, "applicants": {"a1": {"wishes": ["c1"]}}}'
PROFILES_TEXT = (
    '{"applicants": {"a1": {"home": "Stendal", "occupations": ["25212"],'
    ' "available_from": "2027-08-01"}},'
    ' "positions": {"p1": {"town": "Stendal", "occupation": "25212", "start": "2027-08-01"}}}'
)


@pytest.mark.parametrize(
    ("command", "instance", "assignment", "duplicate"),
    [
        (
            ["solve"],
            '{"applicants": {"a1": ["p1"], "a1": []}, "positions": {"p1": ["a1"]}}',
            None,
            "'a1'",
        ),
        (["solve"], '{"applicants": {}, "positions": {}, "seed": 1, "seed": 2}', None, "'seed'"),
        (["solve"], json.dumps(ISSUE_EXAMPLE), '{"p1": ["a1"], "p1": ["a2"]}', "'p1'"),
        (
            ["solve"],
            PROFILES_TEXT.replace("}}}", '}, "p1": {}}}'),
            None,
            "'p1'",
        ),
        (
            ["shortlist", "--position", "p1"],
            PROFILES_TEXT[:-1] + ', "seed": 1, "seed": 1}',
            None,
            "'seed'",
        ),
        (["fair"], FAIR_TEXT.replace('{"wishes"', '{"wishes": [], "wishes"'), None, "'wishes'"),
    ],
)
def test_duplicate_keys_are_rejected_by_every_reader(
    tmp_path, command, instance, assignment, duplicate
):
    args = [*command, _write(tmp_path, "i.json", instance)]
    if assignment is not None:
        args += ["--check", _write(tmp_path, "h.json", assignment)]
    if command == ["fair"]:
        args += ["--out", str(tmp_path / "out")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"duplicate key {duplicate}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_top_level_keys_of_a_list_instance_are_rejected(tmp_path):
    result = runner.invoke(
        app, ["solve", _write(tmp_path, "i.json", {**ISSUE_EXAMPLE, "extra": 1})]
    )
    assert result.exit_code == 2
    assert "unknown key 'extra'" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"applicants": {}, "positions": {}, "seed": NaN}', "NaN is not a JSON number"),
        ('{"applicants": {}, "positions": {}, "seed": 1' + "0" * 5000 + "}", "malformed JSON"),
        ("[" * 100_000 + "]" * 100_000, "malformed JSON"),
    ],
)
def test_json_beyond_the_standard_or_the_limits_exits_2(tmp_path, text, message):
    result = runner.invoke(app, ["solve", _write(tmp_path, "i.json", text)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("kernel", ["python", "numba"])
@pytest.mark.parametrize("optimal", ["applicant", "position"])
@pytest.mark.parametrize("places", [10**12, 10**23, 10**30])
def test_absurd_capacities_solve_without_a_traceback(tmp_path, kernel, optimal, places):
    lists = {**ISSUE_EXAMPLE, "capacities": {"p1": places, "p2": places}}
    profiles = json.loads(PROFILES_TEXT)
    profiles["applicants"]["a2"] = profiles["applicants"]["a1"]
    profiles["positions"]["p1"]["places"] = places
    for data, expected in (
        (lists, {"p1": ["a2", "a1"], "p2": []}),
        (profiles, {"p1": ["a1", "a2"]}),
    ):
        args = ["solve", _write(tmp_path, "i.json", data), "--kernel", kernel]
        result = runner.invoke(app, [*args, "--optimal", optimal])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["assignment"] == expected


def test_absurd_sizes_exit_2_or_work(tmp_path):
    profiles = _write(tmp_path, "p.json", PROFILES_TEXT)
    result = runner.invoke(app, ["shortlist", profiles, "--applicant", "a1", "--k", str(10**20)])
    assert result.exit_code == 0, result.output
    assert [e["position"] for e in json.loads(result.stdout)] == ["p1"]
    for args in (
        ["--applicants", str(10**11), "--positions", "3"],
        ["--applicants", "3", "--positions", "3", "--seed", "-1"],
        ["--applicants", "3", "--positions", "3", "--kind", "fair", "--slots", "100000"],
    ):
        result = runner.invoke(app, ["generate", *args])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ")


def test_fair_output_is_json_even_when_no_stage_ran(tmp_path):
    inst = tmp_path / "fair.json"
    made = runner.invoke(
        app,
        ["generate", "--kind", "fair", "--applicants", "300", "--positions", "40", "-o", str(inst)],
    )
    assert made.exit_code == 0, made.output
    out = str(tmp_path / "out")
    result = runner.invoke(app, ["fair", str(inst), "--out", out, "--time-limit", "1e-9"])
    assert result.exit_code == 0, result.output
    report = loads(result.stdout, "stdout")  # the strict reader: no NaN, no Infinity
    assert {s["status"] for s in report["stages"]} == {"not_run"}
    assert all(s["objective"] is None and s["gap"] is None for s in report["stages"])
    assert report["summary"]["proven_optimal"] is False
    for bad in ("0", "-1", "nan", "inf"):
        result = runner.invoke(app, ["fair", str(inst), "--out", out, "--time-limit", bad])
        assert result.exit_code == 2
        assert "--time-limit must be a positive number" in result.stderr


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            lambda d: d["applicants"]["a1"].update(occupations=["25212", "62199"]),
            "a1.occupations.1",
        ),
        (lambda d: d["positions"]["p1"].update(occupation="62199"), "positions.p1.occupation"),
    ],
)
def test_codes_outside_the_kldb_catalogue_exit_2(tmp_path, change, where):
    data = json.loads(PROFILES_TEXT)
    change(data)
    path = _write(tmp_path, "p.json", data)
    for args in (["solve", path], ["shortlist", path, "--applicant", "a1"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"{where}: KldB code 62199 is not in the catalogue" in result.stderr


def _readme_examples() -> list[tuple[dict, dict]]:
    """The (instance, output) pairs the README shows under "Instance formats"."""
    readme = Path(__file__).parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("### Instance formats") : text.index("Profiles (what")]
    blocks = [json.loads(b.split("```", 1)[0]) for b in section.split("```json\n")[1:]]
    return list(zip(blocks[::2], blocks[1::2], strict=True))


def test_the_readme_examples_are_consistent_and_their_output_is_real(tmp_path):
    examples = _readme_examples()
    assert len(examples) == 2
    issue, _ = examples[0]
    assert issue["positions"]["p1"] == ["a2", "a1"]  # the issue's example, amended
    for instance, output in examples:
        path = _write(tmp_path, "i.json", instance)
        for optimal in ("applicant", "position"):
            result = runner.invoke(app, ["solve", path, "--optimal", optimal])
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout) == output


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ('{"distance": 1e308, "occupation": 1e308}', "weights.occupation: Input should be less"),
        ('{"distance": 1e400}', "weights.distance: Input should be a finite number"),
        ('{"start_tolerance_days": 1e-400}', "weights.start_tolerance_days"),
    ],
)
def test_absurd_weights_exit_2_instead_of_printing_infinity(tmp_path, weights, message):
    text = PROFILES_TEXT[:-1] + f', "weights": {weights}}}'
    path = _write(tmp_path, "p.json", text)
    for args in (["shortlist", path, "--applicant", "a1"], ["solve", path]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
