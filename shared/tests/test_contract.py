"""The catalogue keeps to the fixed names (docs/contract.md); models are strict, with examples."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.contract.names import FIXED, fixed_kind

#: The services' messages (tests and benchmarks register their own in the same catalogue).
SPECS = [spec for spec in CATALOGUE if spec.owner in FIXED]


def examples_of(model: type[BaseModel]) -> list[dict[str, object]]:
    extra = model.model_config.get("json_schema_extra") or {}
    return list(extra.get("examples", [])) if isinstance(extra, dict) else []


@pytest.mark.parametrize("spec", SPECS, ids=[s.type for s in SPECS])
def test_every_message_is_named_by_the_contract_with_its_owner_and_kind(spec: MessageSpec) -> None:
    assert fixed_kind(spec.type) == (spec.owner, spec.kind)


@pytest.mark.parametrize("spec", SPECS, ids=[s.type for s in SPECS])
def test_payload_and_reply_have_examples_that_validate_strictly(spec: MessageSpec) -> None:
    for model in filter(None, (spec.payload, spec.reply)):
        found = examples_of(model)
        assert found, f"{model.__name__} has no example"
        for example in found:
            model.model_validate_json(json.dumps(example))


@pytest.mark.parametrize("spec", SPECS, ids=[s.type for s in SPECS])
def test_payloads_refuse_unknown_fields_and_coercion(spec: MessageSpec) -> None:
    config = spec.payload.model_config
    assert (config.get("strict"), config.get("frozen"), config.get("extra")) == (
        True,
        True,
        "forbid",
    )
    example = examples_of(spec.payload)[0]
    with pytest.raises(ValidationError) as unknown:
        spec.payload.model_validate_json(json.dumps({**example, "surprise": 1}))
    assert unknown.value.errors()[0]["type"] == "extra_forbidden"


def test_every_reaction_is_to_an_event_of_the_catalogue() -> None:
    for service, event_type in CATALOGUE.all_reactions():
        spec = CATALOGUE.require(event_type)
        assert spec.kind == "event", (service, event_type)


def test_an_envelope_built_for_a_payload_validates_as_its_type() -> None:
    spec = CATALOGUE.require("company.register")
    payload = spec.payload.model_validate(examples_of(spec.payload)[0], strict=False)
    body = json.dumps(new_envelope("company.register", payload, source="website"))
    envelope = Envelope[spec.payload].model_validate_json(body)  # type: ignore[name-defined]
    assert envelope.type == "company.register"
    assert envelope.correlationid == envelope.id
    assert envelope.data == payload


def test_a_type_or_payload_registered_twice_is_refused() -> None:
    spec = CATALOGUE.require("company.get")
    with pytest.raises(ValueError, match="registered twice"):
        CATALOGUE.add(spec)


@pytest.mark.parametrize("bad", ["Tischlerei\nMüller", "Bäckerei\r\nBcc: x@y.de", "a\x00b"])
def test_names_and_towns_are_one_line(bad: str) -> None:
    spec = CATALOGUE.get("company.register")
    assert spec is not None
    data = examples_of(spec.payload)[0]
    for path in (("name",), ("address", "town"), ("contact", "name")):
        broken = json.loads(json.dumps(data))
        holder = broken
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = bad
        with pytest.raises(ValidationError) as refused:
            spec.payload.model_validate_json(json.dumps(broken))
        assert refused.value.errors()[0]["type"] in ("text_one_line", "text_character")
