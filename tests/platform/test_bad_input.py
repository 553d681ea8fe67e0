"""Bad input gets a clear error or a dead letter with its reason, and the service carries on."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from diko_shared.contract.envelope import new_envelope
from harness.bus import Bus
from harness.processes import ServiceProcess
from testsvc.contract import AddToTally


def envelope(type_: str = "tally.add", **data: Any) -> dict[str, Any]:
    return new_envelope(type_, data or {"item": "pears", "amount": 1}, source="tests")


def body(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def at_time(time: str) -> bytes:
    value = envelope()
    value["time"] = time
    return body(value)


def without(key: str) -> bytes:
    value = envelope()
    del value[key]
    return body(value)


#: (case, routing key, body, content type, expected reason, expected reply code)
CASES = [
    (
        "malformed JSON",
        "tally.add",
        b'{"specversion": "1.0", "id": ',
        "application/json",
        "malformed_json",
        "validation_error",
    ),
    (
        "not an object",
        "tally.add",
        b"[1, 2, 3]",
        "application/json",
        "malformed_envelope",
        "validation_error",
    ),
    (
        "unknown type in the envelope",
        "tally.add",
        body(envelope("tally.bogus")),
        "application/json",
        "unknown_type",
        "unknown_type",
    ),
    (
        "schema violations",
        "tally.add",
        body(envelope(item="Not Valid!", amount=0, colour="red")),
        "application/json",
        "validation_error",
        "validation_error",
    ),
    (
        "oversized body",
        "tally.add",
        body(envelope(item="big", amount=1, pad="x" * 300_000)),
        "application/json",
        "too_large",
        "validation_error",
    ),
    (
        "missing envelope field",
        "tally.add",
        without("source"),
        "application/json",
        "missing_field",
        "validation_error",
    ),
    (
        "time past the calendar's end in UTC",
        "tally.add",
        at_time("9999-12-31T23:30:00-01:00"),
        "application/json",
        "bad_envelope",
        "validation_error",
    ),
    (
        "time before the calendar's start in UTC",
        "tally.add",
        at_time("0001-01-01T00:30:00+01:00"),
        "application/json",
        "bad_envelope",
        "validation_error",
    ),
    (
        "control character in the data",
        "tally.add",
        body(envelope(item="pears", amount=1, note="a\u001bb")),
        "application/json",
        "validation_error",
        "validation_error",
    ),
    (
        "line break in the source",
        "tally.add",
        body({**envelope(), "source": "web\nsite"}),
        "application/json",
        "bad_envelope",
        "validation_error",
    ),
    (
        "wrong content type",
        "tally.add",
        body(envelope()),
        "text/plain",
        "wrong_content_type",
        "validation_error",
    ),
]


@pytest.mark.parametrize(
    ("case", "key", "raw", "content_type", "reason", "code"), CASES, ids=[c[0] for c in CASES]
)
async def test_bad_request_gets_a_structured_error_reply(
    bus: Bus,
    testsvc: ServiceProcess,
    case: str,
    key: str,
    raw: bytes,
    content_type: str,
    reason: str,
    code: str,
) -> None:
    reply = await bus.request_raw(key, raw, content_type=content_type)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert_german(reply["error"])


#: Words of English error messages; German ones have none of them.
ENGLISH = re.compile(r"\b(should|must|Input|Field|required|invalid|the|body|is not)\b")


def assert_german(error: dict[str, Any]) -> None:
    """A sentence for people in German, and every detail with a field, a type and German."""
    message = error["message"]
    assert message.endswith("."), message
    assert not ENGLISH.search(message), message
    for detail in error["details"]:
        assert detail["field"], detail
        assert detail["type"], detail
        assert not ENGLISH.search(detail["problem"]), detail


async def test_bad_messages_without_reply_to_are_dead_lettered_with_their_reason(
    bus: Bus, testsvc: ServiceProcess
) -> None:
    await bus.drain("testsvc.dlq")
    for _, key, raw, content_type, _, _ in CASES:
        await bus.publish_raw(key, raw, content_type=content_type)
    letters = await bus.wait_dead_letters("testsvc.dlq", len(CASES))
    reasons = sorted(letter.headers["x-diko-reason"] for letter in letters)
    assert reasons == sorted(case[4] for case in CASES)
    assert {letter.headers["x-diko-queue"] for letter in letters} == {"testsvc.tally.add"}
    schema = next(m for m in letters if m.headers["x-diko-reason"] == "validation_error")
    error = schema.headers["x-diko-error"]
    for field in ("data.item", "data.amount", "data.colour"):
        assert field in error
    # the service carries on with the next good message
    assert (await bus.ok(AddToTally(item="after-bad-input", amount=1)))["count"] >= 1


async def test_schema_violations_list_every_bad_field(bus: Bus, testsvc: ServiceProcess) -> None:
    raw = body(envelope(item="Not Valid!", amount=0, colour="red"))
    reply = await bus.request_raw("tally.add", raw)
    details = {d["field"]: d for d in reply["error"]["details"]}
    assert set(details) == {"data.item", "data.amount", "data.colour"}
    assert reply["error"]["message"] == "Die Nutzdaten (data) haben 3 ungültige Felder."
    assert details["data.amount"]["type"] == "greater_than_equal"
    assert details["data.amount"]["problem"] == "Die Zahl muss mindestens 1 sein."
    assert details["data.colour"]["type"] == "extra_forbidden"
    assert details["data.colour"]["problem"] == "Dieses Feld gibt es in dieser Nachricht nicht."


async def test_a_time_the_platform_cannot_convert_is_refused_at_once(
    bus: Bus, testsvc: ServiceProcess
) -> None:
    """Before, it passed, overflowed in the handler and was retried for minutes."""
    retried = testsvc.metric("diko_retried_total", queue="testsvc.tally.add")
    reply = await bus.request_raw("tally.add", at_time("9999-12-31T23:30:00-01:00"))
    assert reply["error"]["code"] == "validation_error"
    (detail,) = reply["error"]["details"]
    assert (detail["field"], detail["type"]) == ("time", "datetime_out_of_range")
    assert testsvc.metric("diko_retried_total", queue="testsvc.tally.add") == retried


async def test_a_type_no_service_handles_is_answered_or_dead_lettered(
    bus: Bus, testsvc: ServiceProcess
) -> None:
    raw = body(envelope("tally.unheard-of"))
    reply = await bus.request_raw("tally.unheard-of", raw)
    assert reply["error"]["code"] == "unknown_type"
    assert "tally.unheard-of" in reply["error"]["message"]
    assert_german(reply["error"])

    await bus.drain("diko.dlq")
    message_id = str(uuid.uuid4())
    await bus.publish_raw("tally.unheard-of", raw, message_id=message_id)
    [letter] = await bus.wait_dead_letters("diko.dlq", 1)
    assert letter.message_id == message_id
    assert letter.headers["x-diko-reason"] == "unknown_type"
