"""Validation errors come in German, for every error type pydantic or our rules can raise."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from catalogue_walk import catalogue_models, samples
from pydantic import ValidationError
from pydantic_core._pydantic_core import list_all_errors

from diko_shared.contract import problems, rules
from diko_shared.contract.envelope import AnyEnvelope, new_envelope

#: Words of pydantic's English messages; none may reach a German sentence.
ENGLISH = re.compile(r"\b(should|Input|Field|required|valid|must|String|Value error)\b")
#: Values of every JSON kind and a few that break common constraints.
BAD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    10**30,
    "",
    "x",
    "ü" * 6000,
    "9999-12-31",
    "not-a-date",
    "2026-11-26T10:00:00",
    [],
    ["x"] * 20,
    [{}],
    {},
    {"x": 1},
]
MODELS = catalogue_models()
SAMPLES = samples()


def test_every_error_type_pydantic_knows_has_a_german_sentence() -> None:
    known = {error["type"] for error in list_all_errors()}
    missing = sorted(known - set(problems.GERMAN))
    assert not missing, f"no German text for {missing}"


def test_every_rule_of_ours_has_a_german_sentence() -> None:
    assert set(rules.MESSAGES) <= set(problems.GERMAN)


@pytest.mark.parametrize("type_", sorted(problems.GERMAN))
def test_no_german_sentence_is_english(type_: str) -> None:
    assert not ENGLISH.search(problems.GERMAN[type_]), problems.GERMAN[type_]


def errors_of_every_field() -> list[dict[str, Any]]:
    """The errors every field of every model gives for every bad value, and a few more."""
    found: list[dict[str, Any]] = []
    for model in MODELS:
        sample = SAMPLES[model]
        inputs: list[dict[str, Any] | str] = [{}, {**sample, "surprise": 1}, "[1, 2]", '{"a": ']
        inputs += [{**sample, name: value} for name in model.model_fields for value in BAD_VALUES]
        for data in inputs:
            body = data if isinstance(data, str) else json.dumps(data)
            try:
                model.model_validate_json(body)
            except ValidationError as exc:
                found.extend(exc.errors(include_url=False))
    return found


def test_every_error_our_models_produce_reads_in_german() -> None:
    errors = errors_of_every_field()
    types = {e["type"] for e in errors}
    assert {"missing", "extra_forbidden", "string_type", "int_type", "too_short"} <= types
    assert {"json_invalid", "model_type", "literal_error", "date_out_of_range"} <= types
    for error in errors:
        assert error["type"] in problems.GERMAN, error
        sentence = problems.german(error)
        assert sentence != problems.FALLBACK, error
        assert not ENGLISH.search(sentence), (error, sentence)
        assert not re.search(r"\{[a-z_]+\}", sentence), (error, sentence)
        assert sentence.endswith("."), sentence


def test_an_unknown_error_type_gets_a_german_sentence_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sentence = problems.german({"type": "brand_new", "loc": ("x",), "msg": "Brand new", "ctx": {}})
    assert sentence == "Der Wert ist ungültig."
    assert "brand_new" in caplog.text


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        ({"type": "string_too_short", "ctx": {"min_length": 1}}, "Der Text darf nicht leer sein."),
        (
            {"type": "string_too_long", "ctx": {"max_length": 200}},
            "Der Text darf höchstens 200 Zeichen lang sein.",
        ),
        (
            {"type": "too_short", "ctx": {"min_length": 1, "actual_length": 0}},
            "Die Liste muss mindestens 1 Eintrag haben, nicht 0.",
        ),
        (
            {"type": "literal_error", "ctx": {"expected": "'accept' or 'decline'"}},
            "Der Wert muss 'accept' oder 'decline' sein.",
        ),
        ({"type": "less_than_equal", "ctx": {"le": 300.0}}, "Die Zahl darf höchstens 300 sein."),
        (
            {"type": "greater_than_equal", "ctx": {"ge": 0.5}},
            "Die Zahl muss mindestens 0,5 sein.",
        ),
        (
            {"type": "json_invalid", "ctx": {"error": "EOF while parsing at line 1 column 7"}},
            "Der Inhalt ist kein gültiges JSON (Zeile 1, Spalte 7).",
        ),
    ],
)
def test_sentences_are_filled_as_german_writes_them(error: dict[str, Any], sentence: str) -> None:
    assert problems.german({"loc": ("x",), **error}) == sentence


def test_details_carry_the_field_the_german_problem_and_the_type() -> None:
    body = new_envelope("position.search", {"town": "", "limit": 0}, source="website")
    body["time"] = "9999-12-31T23:30:00-01:00"
    with pytest.raises(ValidationError) as refused:
        AnyEnvelope.model_validate_json(json.dumps(body))
    (detail,) = [d for d in problems.of(refused.value) if d.field == "time"]
    assert detail.type == "datetime_out_of_range"
    assert detail.problem.startswith("Der Zeitpunkt muss zwischen dem 1. Januar 1900")
