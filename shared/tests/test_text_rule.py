"""The text and calendar rules hold for every text field of every model, and the envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from catalogue_walk import catalogue_models, is_list, samples, text_fields
from pydantic import BaseModel, ValidationError

from diko_shared import text
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.companies import OpenPosition, RegisterCompany
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.contract.media import CreateEpisode

#: Characters XML 1.0 forbids, control characters it merely allows, and non-characters.
POISON = [
    "\x00",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\ud800",
    "\udfff",
    "\ufdd0",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
]
MODELS = catalogue_models()
SAMPLES = samples()
FIELDS = [(model, name) for model in MODELS for name in text_fields(model)]


def test_the_walk_reaches_every_model_and_has_a_sample_of_each() -> None:
    assert len(MODELS) > 40  # the services' payloads, replies and the models inside them
    missing = [m.__name__ for m in MODELS if m not in SAMPLES]
    assert not missing, f"no example reaches {missing}: add one to the catalogue"
    assert len(FIELDS) > 100


def poisoned(model: type[BaseModel], name: str, char: str) -> dict[str, Any]:
    value = f"Tischlerei{char}Müller"
    field = model.model_fields[name]
    return {**SAMPLES[model], name: [value] if is_list(field.annotation) else value}


@pytest.mark.parametrize(("model", "name"), FIELDS, ids=[f"{m.__name__}.{n}" for m, n in FIELDS])
def test_every_text_field_of_every_model_refuses_what_xml_cannot_carry(
    model: type[BaseModel], name: str
) -> None:
    model.model_validate_json(json.dumps(SAMPLES[model]))  # the sample itself is valid
    for char in POISON:
        with pytest.raises(ValidationError) as refused:
            model.model_validate(poisoned(model, name, char))
        assert any(e["loc"][0] == name for e in refused.value.errors()), (char, name)
        if char in ("\ud800", "\udfff"):
            continue  # a lone surrogate is not even valid JSON: malformed_json at the door
        with pytest.raises(ValidationError):
            model.model_validate_json(json.dumps(poisoned(model, name, char)))


def test_a_free_text_field_names_the_character_and_where_it_is() -> None:
    data = {**SAMPLES[CreateEpisode], "description": "Folge\x1bmit Jana"}
    with pytest.raises(ValidationError) as refused:
        CreateEpisode.model_validate_json(json.dumps(data))
    (error,) = refused.value.errors()
    assert error["type"] == "text_character"
    assert error["ctx"] == {"position": 6, "character": "U+001B"}
    assert "unzulässiges Zeichen (U+001B)" in error["msg"]


def test_multi_line_text_keeps_tabs_and_line_feeds_and_makes_every_line_end_lf() -> None:
    data = {**SAMPLES[OpenPosition], "description": "Wir bieten:\r\n\t- Werkstatt\r- Team\n"}
    position = OpenPosition.model_validate_json(json.dumps(data))
    assert position.description == "Wir bieten:\n\t- Werkstatt\n- Team\n"


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_one_line_text_refuses_tabs_and_line_breaks(char: str) -> None:
    data = {**SAMPLES[RegisterCompany], "name": f"Tischlerei{char}Müller"}
    with pytest.raises(ValidationError) as refused:
        RegisterCompany.model_validate_json(json.dumps(data))
    assert refused.value.errors()[0]["type"] == "text_one_line"


def test_ordinary_german_text_passes_untouched() -> None:
    name = "Müller & Söhne – „Holz“ GmbH ß ẞ € 😀"
    data = {**SAMPLES[RegisterCompany], "name": name}
    assert RegisterCompany.model_validate_json(json.dumps(data)).name == name


ENVELOPE_TEXT = ["id", "source", "type", "subject", "correlationid", "causationid"]


@pytest.mark.parametrize("attribute", ENVELOPE_TEXT)
@pytest.mark.parametrize("char", ["\x01", "\n", "\t", "\x85", "\uffff"])
def test_envelope_attributes_are_one_line_of_text(attribute: str, char: str) -> None:
    spec = CATALOGUE.require("company.register")
    body = new_envelope(spec.type, SAMPLES[RegisterCompany], source="website")
    body[attribute] = f"a{char}b" if attribute != "type" else f"company.register{char}"
    with pytest.raises(ValidationError) as refused:
        Envelope[RegisterCompany].model_validate_json(json.dumps(body))
    assert refused.value.errors()[0]["loc"] == (attribute,)


@pytest.mark.parametrize(
    "time",
    [
        "0001-01-01T00:30:00+01:00",  # before year 1 in UTC: overflowed in the handler
        "9999-12-31T23:30:00-01:00",  # after year 9999 in UTC
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1899-12-31T23:59:59Z",
        "3000-01-01T00:00:00+00:00",
    ],
)
def test_envelope_time_at_the_edge_of_the_calendar_is_refused(time: str) -> None:
    body = new_envelope("company.register", SAMPLES[RegisterCompany], source="website")
    body["time"] = time
    with pytest.raises(ValidationError) as refused:
        Envelope[RegisterCompany].model_validate_json(json.dumps(body))
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [
        (("time",), "datetime_out_of_range")
    ]


@pytest.mark.parametrize("time", ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59+00:00"])
def test_envelope_time_within_the_calendar_passes(time: str) -> None:
    body = new_envelope("company.register", SAMPLES[RegisterCompany], source="website")
    body["time"] = time
    Envelope[RegisterCompany].model_validate_json(json.dumps(body))


DATE_FIELDS = [
    (model, name)
    for model in MODELS
    for name, field in model.model_fields.items()
    if "date" in repr(field.annotation)
]


def test_the_walk_finds_the_dates_and_times_of_the_contract() -> None:
    assert len(DATE_FIELDS) >= 8


@pytest.mark.parametrize(
    ("model", "name"), DATE_FIELDS, ids=[f"{m.__name__}.{n}" for m, n in DATE_FIELDS]
)
def test_every_date_and_time_of_every_model_keeps_to_the_calendar(
    model: type[BaseModel], name: str
) -> None:
    is_time = "datetime" in repr(model.model_fields[name].annotation)
    edges = (
        ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "3000-01-01T00:00:00Z"]
        if is_time
        else ["0001-01-01", "9999-12-31", "1899-12-31"]
    )
    for edge in edges:
        with pytest.raises(ValidationError) as refused:
            model.model_validate_json(json.dumps({**SAMPLES[model], name: edge}))
        assert any(e["loc"] == (name,) for e in refused.value.errors())


def test_clean_removes_exactly_what_the_rule_refuses() -> None:
    poisoned = "".join(f"a{char}" for char in POISON) + "\tb\nc\r"
    assert text.clean(poisoned) == "a" * len(POISON) + "\tb\nc\r"
    assert text.clean("Müller & Söhne „Holz“ 😀") == "Müller & Söhne „Holz“ 😀"
    for char in POISON:
        assert text.forbidden(char) is not None


def test_data_read_back_from_a_database_is_cleaned_not_refused() -> None:
    """A record stored before the rules must not make a reply, feed or page fail for good."""
    from diko_shared.contract.matching import Applicant

    sample = SAMPLES[Applicant]
    stored = {
        **sample,
        "first_name": "Le\x1bna\nMarie",
        "email": "lena,schroeder@example.org",  # refused today, kept as it was stored
        "earliest_start": "9999-12-31",
    }
    applicant = Applicant.from_stored(stored)
    assert applicant.first_name == "Lena Marie"
    assert applicant.email == "lena,schroeder@example.org"
    with pytest.raises(ValidationError):
        Applicant.model_validate_json(json.dumps(stored))
