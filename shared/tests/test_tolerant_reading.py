"""Events are read tolerantly, commands and queries strictly, every version as the catalogue says.

The readers here are the pipeline's own (`Subscription.reader`, `messaging.reading`),
fed with bodies as they arrive from the broker; the counts go into a real `Metrics`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from catalogue_walk import examples_of, nested_models, specs
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError

from diko_shared.contract.base import Empty, Payload
from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.versions import Earlier, schema_uri
from diko_shared.messaging.errors import Rejected
from diko_shared.messaging.pipeline import _rejection
from diko_shared.messaging.reading import Reader, UnsupportedVersion
from diko_shared.service.metrics import MAX_UNKNOWN_FIELDS, OTHER_FIELD, Metrics

EVENTS = [spec for spec in specs() if spec.kind == "event"]
REQUESTS = [spec for spec in specs() if spec.kind != "event"]


def body(type_: str, data: dict[str, Any], **changes: Any) -> bytes:
    envelope = new_envelope(type_, data, source="tests")
    envelope.update(changes)
    return json.dumps(envelope).encode()


def unknown_count(metrics: Metrics, type_: str, field: str) -> float:
    value = metrics.registry.get_sample_value(
        "diko_unknown_fields_total", {"type": type_, "field": field}
    )
    return value or 0.0


def with_unknown_fields(model: type[BaseModel], value: Any, path: str = "") -> set[str]:
    """Add a field `model` does not know to `value` and to every object nested in it.

    Returns the paths the reader should report, e.g. `proposals[].position.zz_unknown`.
    """
    if not isinstance(value, dict):
        return set()
    value["zz_unknown"] = {"anything": ["at", "all"]}
    added = {f"{path}zz_unknown"}
    for name, field in model.model_fields.items():
        if name not in value:
            continue
        items, where = value[name], f"{path}{name}."
        if isinstance(items, list):
            where = f"{path}{name}[]."
        else:
            items = [items]
        for nested in nested_models(field.annotation):
            for item in items:
                added |= with_unknown_fields(nested, item, where)
    return added


@pytest.mark.parametrize("spec", EVENTS, ids=[s.type for s in EVENTS])
def test_every_event_ignores_and_counts_unknown_fields_at_every_depth(spec: MessageSpec) -> None:
    """No event opts in: the reader makes every event and every model inside it tolerant."""
    metrics = Metrics(CollectorRegistry())
    reader = Reader(spec)
    for example in examples_of(spec.payload):
        plain = reader.read(body(spec.type, example), metrics)
        extended = json.loads(json.dumps(example))
        added = with_unknown_fields(spec.payload, extended)
        read = reader.read(body(spec.type, extended), metrics)
        assert read.data == plain.data
        assert read.data.model_dump() == plain.data.model_dump()  # nothing unknown kept
        for field in added:
            assert unknown_count(metrics, spec.type, field) >= 1, field


@pytest.mark.parametrize("spec", REQUESTS, ids=[s.type for s in REQUESTS])
def test_every_command_and_query_refuses_an_unknown_field(spec: MessageSpec) -> None:
    metrics = Metrics(CollectorRegistry())
    example = {**(examples_of(spec.payload) or [{}])[0], "colour": "rot"}
    with pytest.raises(ValidationError) as refused:
        Reader(spec).read(body(spec.type, example), metrics)
    rejected = _rejection(refused.value, body(spec.type, example), spec.type)
    assert rejected.reason == "validation_error"
    assert [(d.field, d.type) for d in rejected.details] == [("data.colour", "extra_forbidden")]
    assert not metrics.registry.get_sample_value("diko_unknown_fields_total", {})


def test_a_model_inside_a_command_is_strict_and_the_same_model_inside_an_event_is_not() -> None:
    """`Occupation` is in `position.open` (a command) and `position.opened` (an event)."""
    metrics = Metrics(CollectorRegistry())
    occupation = {"code": "22342", "name": "Tischler/in", "level": "dual"}
    command = CATALOGUE.require("position.open")
    sent = {**examples_of(command.payload)[0], "occupation": occupation}
    with pytest.raises(ValidationError) as refused:
        Reader(command).read(body(command.type, sent), metrics)
    assert [e["loc"] for e in refused.value.errors()] == [("data", "occupation", "level")]
    event = CATALOGUE.require("position.opened")
    emitted = {**examples_of(event.payload)[0], "occupation": occupation}
    read = Reader(event).read(body(event.type, emitted), metrics)
    assert read.data.occupation.code == "22342"
    assert unknown_count(metrics, "position.opened", "occupation.level") == 1


def test_tolerance_keeps_every_check_of_the_fields_the_reader_knows() -> None:
    """The text rule, limits and types of known fields hold beside an unknown field."""
    metrics = Metrics(CollectorRegistry())
    spec = CATALOGUE.require("match.proposed")
    reader = Reader(spec)
    example = examples_of(spec.payload)[0]
    for path, bad, error in (
        (("proposals", 0, "position", "town"), "Sten\x00dal", "text_character"),
        (("proposals", 0, "position", "town"), "Sten\ndal", "text_one_line"),
        (("proposals", 0, "score"), 1.5, "less_than_equal"),
        (("proposals", 0, "rank"), "1", "int_type"),
        (("proposals", 0, "position", "start_date"), "3000-01-01", "date_out_of_range"),
        (("trigger",), "fair", "literal_error"),
    ):
        data = json.loads(json.dumps(example))
        data["unknown_top"] = 1
        data["proposals"][0]["position"]["unknown_nested"] = 2
        holder = data
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = bad
        with pytest.raises(ValidationError) as refused:
            reader.read(body(spec.type, data), metrics)
        errors = refused.value.errors()
        assert [(e["loc"], e["type"]) for e in errors] == [(("data", *path), error)]


def test_a_missing_optional_field_of_an_event_takes_its_default() -> None:
    spec = CATALOGUE.require("position.opened")
    example = {k: v for k, v in examples_of(spec.payload)[0].items() if k != "school_certificate"}
    read = Reader(spec).read(body(spec.type, example), Metrics(CollectorRegistry()))
    assert read.data.school_certificate == "none"
    assert read.data.description is None


def test_a_missing_required_field_of_an_event_is_still_an_error() -> None:
    spec = CATALOGUE.require("position.opened")
    example = {k: v for k, v in examples_of(spec.payload)[0].items() if k != "town"}
    example["new_field"] = "x"
    with pytest.raises(ValidationError) as refused:
        Reader(spec).read(body(spec.type, example), Metrics(CollectorRegistry()))
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [
        (("data", "town"), "missing")
    ]


def test_unknown_field_names_cannot_grow_the_metric_without_bound() -> None:
    metrics = Metrics(CollectorRegistry())
    for n in range(MAX_UNKNOWN_FIELDS + 50):
        metrics.unknown_field("position.opened", f"field_{n}")
    metrics.unknown_field("position.opened", "not a name\n")
    families = {s.labels["field"] for s in metrics.unknown_fields.collect()[0].samples}
    assert len(families) <= MAX_UNKNOWN_FIELDS + 1
    assert unknown_count(metrics, "position.opened", OTHER_FIELD) == 51


# Versions: a message type whose version was raised, read as a consumer of it would.


class ParcelV1(Payload):
    item: str
    count: int
    unit: str = "Stück"


class Parcel(Payload):
    """Version 2: `count` became `quantity`, and `unit` is required."""

    item: str
    quantity: int
    unit: str


def upgrade_parcel(old: ParcelV1) -> Parcel:
    return Parcel(item=old.item, quantity=old.count, unit=old.unit)


PARCEL_EVENT = MessageSpec(
    "parcel.counted",
    "tests",
    "event",
    Parcel,
    version=2,
    earlier=(Earlier(1, ParcelV1, upgrade_parcel),),
)
PARCEL_COMMAND = MessageSpec(
    "parcel.count",
    "tests",
    "command",
    Parcel,
    Empty,
    version=2,
    earlier=(Earlier(1, ParcelV1, upgrade_parcel),),
)


@pytest.mark.parametrize("spec", [PARCEL_EVENT, PARCEL_COMMAND], ids=["event", "command"])
def test_an_earlier_version_is_read_with_its_model_and_upgraded(spec: MessageSpec) -> None:
    metrics = Metrics(CollectorRegistry())
    reader = Reader(spec)
    v1 = {"item": "tische", "count": 3}
    for sent in (
        body(spec.type, v1, dataschema=schema_uri(spec.type, 1)),
        body(spec.type, v1, dataschema=None),  # a message from before versions existed
    ):
        read = reader.read(sent, metrics)
        assert read.data == Parcel(item="tische", quantity=3, unit="Stück")
    labels = {"type": spec.type, "version": "1"}
    assert metrics.registry.get_sample_value("diko_earlier_versions_total", labels) == 2
    v2 = {"item": "tische", "quantity": 4, "unit": "kg"}
    current = reader.read(body(spec.type, v2, dataschema=schema_uri(spec.type, 2)), metrics)
    assert current.data == Parcel(item="tische", quantity=4, unit="kg")
    assert current.dataschema == schema_uri(spec.type, 2)


def test_an_earlier_version_of_an_event_is_read_tolerantly_too() -> None:
    metrics = Metrics(CollectorRegistry())
    sent = {"item": "tische", "count": 3, "colour": "rot"}
    read = Reader(PARCEL_EVENT).read(
        body("parcel.counted", sent, dataschema=schema_uri("parcel.counted", 1)), metrics
    )
    assert read.data.quantity == 3
    assert unknown_count(metrics, "parcel.counted", "colour") == 1


def test_an_earlier_version_of_a_command_is_read_strictly_too() -> None:
    sent = {"item": "tische", "count": 3, "colour": "rot"}
    with pytest.raises(ValidationError):
        Reader(PARCEL_COMMAND).read(
            body("parcel.count", sent, dataschema=schema_uri("parcel.count", 1)),
            Metrics(CollectorRegistry()),
        )


def test_a_newer_version_is_unsupported_and_may_pass_on_a_later_attempt() -> None:
    sent = body("parcel.counted", {"item": "x"}, dataschema=schema_uri("parcel.counted", 3))
    with pytest.raises(UnsupportedVersion) as refused:
        Reader(PARCEL_EVENT).read(sent, Metrics(CollectorRegistry()))
    assert refused.value.newer
    assert refused.value.reason == "unsupported_version"
    assert "Version 3" in refused.value.message
    assert "Versionen 1, 2" in refused.value.message


def test_a_version_no_longer_read_is_unsupported_for_good() -> None:
    only_v2 = MessageSpec("parcel.counted", "tests", "event", Parcel, version=2)
    sent = body("parcel.counted", {"item": "x", "count": 1}, dataschema=None)
    with pytest.raises(UnsupportedVersion) as refused:
        Reader(only_v2).read(sent, Metrics(CollectorRegistry()))
    assert not refused.value.newer
    assert "nicht mehr gelesen" in refused.value.message


def test_a_dataschema_of_another_type_is_a_bad_envelope() -> None:
    spec = CATALOGUE.require("position.opened")
    example = examples_of(spec.payload)[0]
    sent = body(spec.type, example, dataschema=schema_uri("position.closed", 1))
    with pytest.raises(Rejected) as refused:
        Reader(spec).read(sent, Metrics(CollectorRegistry()))
    assert refused.value.reason == "bad_envelope"
    assert refused.value.details[0].field == "dataschema"


@pytest.mark.parametrize(
    "value", ["https://example.org/schema", "urn:diko:schema:position.opened:0", "", 1]
)
def test_a_dataschema_not_in_the_contract_form_is_a_bad_envelope(value: object) -> None:
    spec = CATALOGUE.require("position.opened")
    sent = body(spec.type, examples_of(spec.payload)[0], dataschema=value)
    with pytest.raises(ValidationError) as refused:
        Reader(spec).read(sent, Metrics(CollectorRegistry()))
    rejected = _rejection(refused.value, sent, spec.type)
    assert (rejected.reason, [d.field for d in rejected.details]) == (
        "bad_envelope",
        ["dataschema"],
    )


def test_every_envelope_diko_builds_names_its_version() -> None:
    envelope = new_envelope("position.opened", {}, source="companies")
    assert envelope["dataschema"] == "urn:diko:schema:position.opened:1"
    assert "dataschema" in json.loads(body("position.opened", {}))


def test_an_upgrade_that_cannot_build_the_current_model_is_a_validation_error() -> None:
    def failing(old: ParcelV1) -> Parcel:
        return Parcel.model_validate({"item": old.item, "quantity": -1.5, "unit": "kg"})

    spec = MessageSpec(
        "parcel.counted",
        "tests",
        "event",
        Parcel,
        version=2,
        earlier=(Earlier(1, ParcelV1, failing),),
    )
    sent = body("parcel.counted", {"item": "x", "count": 1}, dataschema=None)
    with pytest.raises(Rejected) as refused:
        Reader(spec).read(sent, Metrics(CollectorRegistry()))
    assert refused.value.reason == "validation_error"
    assert refused.value.details[0].field == "data.quantity"


def test_versions_that_cannot_be_told_apart_are_refused_at_registration() -> None:
    for version, earlier in (
        (0, ()),
        (2, (Earlier(2, ParcelV1, upgrade_parcel),)),
        (3, (Earlier(1, ParcelV1, upgrade_parcel), Earlier(1, ParcelV1, upgrade_parcel))),
    ):
        with pytest.raises(ValueError, match="version"):
            CATALOGUE.add(
                MessageSpec("parcel.x", "tests", "event", Parcel, None, "", version, earlier)
            )
