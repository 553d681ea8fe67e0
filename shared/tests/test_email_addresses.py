"""Every e-mail field of the contract takes only addresses mail can go to, normalised."""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from catalogue_walk import catalogue_models, samples
from pydantic import BaseModel, ValidationError

from diko_shared.contract.common import Email

#: (given, stored): what email-validator accepts, in the form it says to keep.
GOOD = [
    ("birte.albrecht@diko.example", "birte.albrecht@diko.example"),
    ("Jana.Mueller@Tischlerei-Mueller.DE", "Jana.Mueller@tischlerei-mueller.de"),
    ("  info@stendal.de ", "info@stendal.de"),
    ("lena+bewerbung@example.org", "lena+bewerbung@example.org"),
    ("info@müller-holz.de", "info@müller-holz.de"),
    ("o'neil@example.com", "o'neil@example.com"),
    ("a@b.co", "a@b.co"),
]
#: (given, a phrase of the German reason)
BAD = [
    ("jana,mueller@example.de", "Vor dem @-Zeichen stehen unzulässige Zeichen: ','"),
    ("jana..mueller@example.de", "Zwei Punkte dürfen nicht aufeinander folgen"),
    ("jana@example..de", "Zwei Punkte dürfen nicht aufeinander folgen"),
    ("jana@example.de>", "Nach dem @-Zeichen stehen unzulässige Zeichen: '>'"),
    ("<jana@example.de>", "ohne Namen und <…>"),
    ("Jana Müller <jana@example.de>", "ohne Namen und <…>"),
    ("jana@example", "braucht einen Punkt"),
    ("jana.example.de", "Es fehlt das @-Zeichen"),
    ("jana@@example.de", "Nach dem @-Zeichen stehen unzulässige Zeichen"),
    ("@example.de", "Vor dem @-Zeichen fehlt"),
    ("jana@", "Nach dem @-Zeichen fehlt die Domain"),
    (".jana@example.de", "nicht mit einem Punkt beginnen"),
    ("jana.@example.de", "Vor dem @-Zeichen darf kein Punkt stehen"),
    ("jana@example.de.", "nicht mit einem Punkt enden"),
    ("jana mueller@example.de", "keine Leerzeichen"),
    ("jürgen@example.de", "nur ASCII-Zeichen"),
    ('"jana"@example.de', "Anführungszeichen"),
    ("jana@[192.168.1.1]", "IP-Adresse"),
    ("jana@localhost", "braucht einen Punkt"),
    ("jana@stendal.test", "reserviert"),
    ("jana@-example.de", "Bindestrich"),
    ("jana\u200b@example.de", "nur ASCII-Zeichen"),
    ("a" * 65 + "@example.de", "zu lang"),
]


def email_fields() -> list[tuple[type[BaseModel], str]]:
    """Every field typed as an address or named like one; a yes/no flag about an address
    (`confirm_email`, `email_confirmed`) holds none."""
    return [
        (model, name)
        for model in catalogue_models()
        for name, field in model.model_fields.items()
        if "Email" in repr(field.annotation) or ("email" in name and not is_flag(field.annotation))
    ]


def is_flag(annotation: Any) -> bool:
    """bool, Literal[True] and either with None: a yes/no, not text."""
    if annotation is bool or annotation is type(None):
        return True
    if get_origin(annotation) is Literal:
        return all(isinstance(value, bool) for value in get_args(annotation))
    args = get_args(annotation)
    return bool(args) and get_origin(annotation) in (Union, UnionType) and all(map(is_flag, args))


FIELDS = email_fields()
SAMPLES = samples()


def test_the_contract_has_email_fields_and_each_is_an_email() -> None:
    assert len(FIELDS) >= 5
    for model, name in FIELDS:
        assert "email" in json.dumps(model.model_json_schema()["properties"][name]), (model, name)


@pytest.mark.parametrize(("given", "stored"), GOOD)
@pytest.mark.parametrize(("model", "name"), FIELDS, ids=[f"{m.__name__}.{n}" for m, n in FIELDS])
def test_good_addresses_are_kept_normalised(
    model: type[BaseModel], name: str, given: str, stored: str
) -> None:
    value = model.model_validate_json(json.dumps({**SAMPLES[model], name: given}))
    assert getattr(value, name) == stored


@pytest.mark.parametrize(("given", "reason"), BAD)
@pytest.mark.parametrize(("model", "name"), FIELDS, ids=[f"{m.__name__}.{n}" for m, n in FIELDS])
def test_addresses_no_mail_can_go_to_are_refused_in_german(
    model: type[BaseModel], name: str, given: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate_json(json.dumps({**SAMPLES[model], name: given}))
    (error,) = refused.value.errors()
    assert error["loc"] == (name,)
    assert error["type"] in ("email_invalid", "string_too_long"), error
    if error["type"] == "email_invalid":
        assert error["msg"].startswith("Die E-Mail-Adresse ist ungültig: ")
        assert reason in error["msg"], error["msg"]


def test_the_type_is_the_one_every_email_field_uses() -> None:
    assert "email_address" in repr(Email)
