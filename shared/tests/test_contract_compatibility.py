"""The compatibility check: today's contract against the last release, and the check itself.

The check's proof feeds it contracts built the way the services' are, from pydantic
models in a catalogue through the AsyncAPI generator, once as "the release" and once
changed: every breaking change must fail with the message and the field named, every
additive one must pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from diko_shared.contract import compatibility
from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import Catalogue
from diko_shared.contract.common import Town
from diko_shared.contract.versions import Earlier
from diko_shared.service import asyncapi

REPO = Path(__file__).resolve().parents[2]
RELEASED = REPO / "docs" / "asyncapi" / "released"
SERVICES = ("companies", "matching", "notifications", "media")


def test_todays_contract_is_compatible_with_the_last_release() -> None:
    kept = compatibility.releases(RELEASED)
    assert kept, "docs/asyncapi/released/ keeps no release"
    release = kept[-1]
    documents = compatibility.load(RELEASED / release)
    assert sorted(documents) == sorted(SERVICES)
    today = {service: asyncapi.document(service) for service in SERVICES}
    breaches = compatibility.check(documents, today, f"release {release}")
    assert not breaches, (
        f"incompatible with release {release}; undo the change, or raise the message's "
        "version and keep reading the old one (docs/contract.md, How the contract changes):\n"
        + "\n".join(str(b) for b in breaches)
    )


def test_the_released_documents_describe_every_message_of_today() -> None:
    """Today's contract starts from the release: nothing it knew went undescribed."""
    documents = compatibility.load(RELEASED / compatibility.releases(RELEASED)[-1])
    released = compatibility.entries(documents)
    assert len(released) > 40
    assert all(entry.payloads for entry in released.values())


# The check's own proof: a small contract of two services, `shop` and `store`.

Item = Annotated[str, Field(min_length=1, max_length=40)]


class Place(Payload):
    town: Town
    floor: int | None = None


class Counted(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None


class Count(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place


class CountRef(Payload):
    count_id: str
    status: Literal["open", "done"]


def contract(
    counted: type[Payload] = Counted,
    count: type[Payload] = Count,
    reply: type[Payload] = CountRef,
    **event: Any,
) -> dict[str, dict[str, Any]]:
    """The AsyncAPI documents of the two services for these models."""
    catalogue = Catalogue()
    catalogue.event("counted.recorded", "shop", counted, "Something was counted.", **event)
    catalogue.command("count.record", "shop", count, reply, "Record a count.")
    catalogue.reacts("store", "counted.recorded")
    return {s: asyncapi.document(s, catalogue=catalogue) for s in ("shop", "store")}


RELEASE = contract()


def breaches(today: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    found = compatibility.check(RELEASE, today, "release 1.1")
    return [(b.message.split(" ")[0], b.field, b.problem) for b in found]


def fields(today: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    return {(message, field) for message, field, _ in breaches(today)}


def test_the_release_is_compatible_with_itself() -> None:
    assert breaches(contract()) == []


# Additive changes pass.


class PlacePlus(Payload):
    town: Town
    floor: int | None = None
    room: str | None = None


class CountedPlus(Payload):
    """A new optional field at the top and one inside the nested model."""

    item: Item
    count: Annotated[int, Field(ge=0)]
    place: PlacePlus
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None
    colour: str | None = None


class CountLoose(Payload):
    """A command that accepts more: a new optional field, a longer item, any count."""

    item: Annotated[str, Field(min_length=1, max_length=80)]
    count: int
    place: Place
    note: str | None = None


class CountRefPlus(Payload):
    """A reply with a new field and a new value of a field."""

    count_id: str
    status: Literal["open", "done", "archived"]
    counted_at: str | None = None


def test_additive_changes_pass() -> None:
    assert breaches(contract(counted=CountedPlus)) == []
    assert breaches(contract(count=CountLoose)) == []
    assert breaches(contract(reply=CountRefPlus)) == []
    assert breaches(contract(CountedPlus, CountLoose, CountRefPlus)) == []


# Breaking changes of an event fail, naming the message and the field.


class CountedWithoutNote(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"


class CountedRenamed(Payload):
    item: Item
    quantity: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None


class CountedShorterItem(Payload):
    item: Annotated[str, Field(min_length=1, max_length=20)]
    count: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None


class CountedFewerUnits(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück"] = "Stück"
    note: str | None = None


class CountedMoreUnits(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg", "g"] = "Stück"
    note: str | None = None


class CountedWithRequired(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None
    counted_by: str


class CountedNoteRequired(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"
    note: str


class CountedTextCount(Payload):
    item: Item
    count: str
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None


class PlaceWithoutTown(Payload):
    floor: int | None = None


class CountedPlaceWithoutTown(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: PlaceWithoutTown
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None


@pytest.mark.parametrize(
    ("model", "expected", "words"),
    [
        (CountedWithoutNote, {"data.note"}, "removed or renamed"),
        (CountedRenamed, {"data.count", "data.quantity"}, "removed or renamed"),
        (CountedShorterItem, {"data.item"}, "limit tightened"),
        (CountedFewerUnits, {"data.unit"}, 'value(s) "kg" no longer accepted'),
        (CountedMoreUnits, {"data.unit"}, 'new value(s) "g"'),
        (CountedWithRequired, {"data.counted_by"}, "new required field"),
        (CountedNoteRequired, {"data.note"}, "now required"),
        (CountedTextCount, {"data.count"}, "no longer accepts integer, only string"),
        (CountedPlaceWithoutTown, {"data.place.town"}, "removed or renamed"),
    ],
    ids=[
        "field removed",
        "field renamed",
        "limit narrowed",
        "value removed",
        "value added",
        "required field added",
        "optional made required",
        "type changed",
        "nested field removed",
    ],
)
def test_a_breaking_change_of_an_event_fails_naming_message_and_field(
    model: type[Payload], expected: set[str], words: str
) -> None:
    found = breaches(contract(counted=model))
    assert {(m, f) for m, f, _ in found} == {("counted.recorded", f) for f in expected}
    assert any(words in problem for _, _, problem in found), found
    shown = str(compatibility.check(RELEASE, contract(counted=model), "release 1.1")[0])
    assert shown.startswith("counted.recorded (event, version 1): data.")


# Breaking changes of a command fail; so do a reply's.


class CountWithoutPlace(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]


class CountWithRequired(Payload):
    item: Item
    count: Annotated[int, Field(ge=0)]
    place: Place
    reason: str


class CountPositive(Payload):
    item: Item
    count: Annotated[int, Field(ge=1)]
    place: Place


class CountRefWithoutStatus(Payload):
    count_id: str


class CountRefIdOptional(Payload):
    count_id: str | None = None
    status: Literal["open", "done"]


@pytest.mark.parametrize(
    ("changes", "expected", "words"),
    [
        ({"count": CountWithoutPlace}, "data.place", "senders built for release 1.1 send it"),
        ({"count": CountWithRequired}, "data.reason", "new required field"),
        ({"count": CountPositive}, "data.count", "limit tightened from >= 0 to >= 1"),
        ({"reply": CountRefWithoutStatus}, "reply.data.status", "removed or renamed"),
        ({"reply": CountRefIdOptional}, "reply.data.count_id", "now optional"),
    ],
    ids=[
        "field removed",
        "required field added",
        "minimum raised",
        "reply field removed",
        "reply field optional",
    ],
)
def test_a_breaking_change_of_a_command_or_its_reply_fails(
    changes: dict[str, type[Payload]], expected: str, words: str
) -> None:
    found = breaches(contract(**changes))
    assert {(m, f) for m, f, _ in found} == {("count.record", expected)}
    assert any(words in problem for _, _, problem in found), found


# A raised version: allowed while the version of the release is still read.


class CountedV2(Payload):
    """Version 2 of counted.recorded: `count` renamed, a required field added."""

    item: Item
    quantity: Annotated[int, Field(ge=0)]
    place: Place
    unit: Literal["Stück", "kg"] = "Stück"
    note: str | None = None
    counted_by: str


def upgrade(old: Counted) -> CountedV2:
    return CountedV2(**old.model_dump(exclude={"count"}), quantity=old.count, counted_by="-")


def test_a_breaking_change_passes_with_the_version_raised_and_the_old_one_still_read() -> None:
    today = contract(counted=CountedV2, version=2, earlier=(Earlier(1, Counted, upgrade),))
    assert breaches(today) == []
    described = today["store"]["x-diko-contract"]["messages"]["counted.recorded"]
    assert described["version"] == 2
    assert described["dataschema"] == "urn:diko:schema:counted.recorded:2"
    assert sorted(described["payloads"]) == ["1", "2"]


def test_a_raised_version_fails_when_the_old_one_is_no_longer_read() -> None:
    found = breaches(contract(counted=CountedV2, version=2))
    assert [(m, f) for m, f, _ in found] == [("counted.recorded", "(version)")]
    assert "version 1, which release 1.1 sends, is no longer read" in found[0][2]


def test_a_raised_version_fails_when_the_old_one_is_read_differently() -> None:
    today = contract(
        counted=CountedV2, version=2, earlier=(Earlier(1, CountedWithoutNote, upgrade),)
    )
    found = compatibility.check(RELEASE, today, "release 1.1")
    assert [(b.message, b.field) for b in found] == [
        ("counted.recorded (event, version 2), reading version 1", "data.note")
    ]


def test_an_older_version_still_read_at_the_release_may_be_dropped_later() -> None:
    release = contract(counted=CountedV2, version=2, earlier=(Earlier(1, Counted, upgrade),))
    today = contract(counted=CountedV2, version=2)
    assert compatibility.check(release, today) == []


def test_a_message_removed_or_turned_into_another_kind_fails() -> None:
    catalogue = Catalogue()
    catalogue.command("count.record", "shop", Count, CountRef, "Record a count.")
    today = {"shop": asyncapi.document("shop", catalogue=catalogue)}
    assert fields(today) == {("counted.recorded", "(message)")}
    catalogue = Catalogue()
    catalogue.query("counted.recorded", "shop", Counted, CountRef, "Now a query.")
    catalogue.command("count.record", "shop", Count, CountRef, "Record a count.")
    today = {"shop": asyncapi.document("shop", catalogue=catalogue)}
    assert breaches(today) == [
        ("counted.recorded", "(message)", "is a query now, an event in release 1.1")
    ]


def test_a_change_the_check_cannot_judge_is_reported_not_passed() -> None:
    today = contract()
    schema = today["shop"]["components"]["schemas"]["Counted"]
    schema["properties"]["item"]["contentEncoding"] = "base64"
    found = breaches(today)
    assert [(m, f) for m, f, _ in found] == [("counted.recorded", "data.item")]
    assert "cannot judge" in found[0][2]


def test_a_breaking_release_is_kept_only_when_said_so(tmp_path: Path) -> None:
    """`diko contract release` refuses to keep a release that breaks the last one, unless
    `--breaking` says it is not a rolling upgrade (as release 1.2 was)."""
    from typer.testing import CliRunner

    from diko_shared.cli.main import shell as app

    base = tmp_path / "released"
    (base / "1.1").mkdir(parents=True)
    for document in (RELEASED / "1.1").glob("*.json"):
        (base / "1.1" / document.name).write_bytes(document.read_bytes())
    runner = CliRunner()
    refused = runner.invoke(app, ["contract", "release", "1.3", "--released", str(base)])
    assert refused.exit_code == 1, refused.output
    assert "breaks release 1.1" in refused.output
    assert not (base / "1.3").exists()
    kept = runner.invoke(app, ["contract", "release", "1.3", "--released", str(base), "--breaking"])
    assert kept.exit_code == 0, kept.output
    assert sorted(p.name for p in (base / "1.3").glob("*.json")) == [
        "companies.json",
        "matching.json",
        "media.json",
        "notifications.json",
    ]
