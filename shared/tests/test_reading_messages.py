"""Why a body is refused: the reason headers and error codes integrators see."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.messaging.errors import Rejected
from diko_shared.messaging.pipeline import _rejection

SPEC = CATALOGUE.require("position.search")
MODEL = Envelope[SPEC.payload]  # type: ignore[name-defined]


def refusal(body: bytes) -> Rejected:
    with pytest.raises(ValidationError) as failed:
        MODEL.model_validate_json(body)
    return _rejection(failed.value, body, SPEC.type)


def envelope(**changes: Any) -> dict[str, Any]:
    value = new_envelope("position.search", {"town": "Stendal"}, source="website")
    value.update(changes)
    return value


def test_malformed_json() -> None:
    assert refusal(b'{"specversion": ').reason == "malformed_json"


def test_a_body_that_is_not_an_object() -> None:
    assert refusal(b"[1, 2]").reason == "malformed_envelope"


def test_a_missing_envelope_attribute_is_named() -> None:
    body = envelope()
    del body["source"]
    rejected = refusal(json.dumps(body).encode())
    assert rejected.reason == "missing_field"
    assert [d.field for d in rejected.details] == ["source"]


def test_every_bad_field_of_the_payload_is_listed() -> None:
    body = envelope(data={"town": "", "limit": 0, "colour": "red", "status": "lost"})
    rejected = refusal(json.dumps(body).encode())
    assert rejected.reason == "validation_error"
    fields = {d.field for d in rejected.details}
    assert fields == {"data.town", "data.limit", "data.colour", "data.status"}


def test_an_unknown_type_is_unknown_type() -> None:
    rejected = refusal(json.dumps(envelope(type="position.teleport", data={"x": 1})).encode())
    assert (rejected.reason, rejected.code) == ("unknown_type", "unknown_type")


def test_a_known_type_on_the_wrong_queue_is_a_validation_error() -> None:
    body = envelope(type="company.get", data={"company_id": "nope"})
    rejected = refusal(json.dumps(body).encode())
    assert (rejected.reason, rejected.code) == ("wrong_queue", "validation_error")
