"""A permanent error is never retried, and a message that fails never blocks a later one.

`tally.reserve` claims a name at once (like companies' duplicate guard), then fails as
asked: with a final answer (`Invalid`), with an error of our own code that every attempt
would repeat (`OverflowError` from a date past the calendar's end), or with a fault that
may pass (retried until the attempts are used up). Whatever way it fails, its claim goes.
"""

from __future__ import annotations

import json
import uuid

from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.contract.envelope import new_envelope
from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.waiting import eventually
from testsvc.contract import Reserve

QUEUE = "testsvc.tally.reserve"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_an_error_every_attempt_would_repeat_is_dead_lettered_at_once(
    bus: Bus, testsvc: ServiceProcess
) -> None:
    await bus.drain("testsvc.dlq")
    retried = testsvc.metric("diko_retried_total", queue=QUEUE)
    reply = await bus.request(Reserve(name=unique("overflow"), fail="permanent"))
    assert reply["ok"] is False
    assert reply["error"]["code"] == "internal"
    message = reply["error"]["message"]
    assert "OverflowError" in message
    assert "testsvc.dlq" in message
    assert "ein neuer Versuch würde genauso scheitern" in message
    (letter,) = await bus.wait_dead_letters("testsvc.dlq", 1)
    assert letter.headers["x-diko-reason"] == "handler_error"
    assert letter.headers["x-diko-error"].startswith("OverflowError: ")
    assert "x-diko-attempt" not in letter.headers  # the first attempt was the only one
    assert testsvc.metric("diko_retried_total", queue=QUEUE) == retried


async def test_a_fault_that_may_pass_is_still_retried(bus: Bus, testsvc: ServiceProcess) -> None:
    await bus.drain("testsvc.dlq")
    retried = testsvc.metric("diko_retried_total", queue=QUEUE)
    reply = await bus.request(Reserve(name=unique("flaky"), fail="transient"))
    assert reply["error"]["code"] == "internal"
    assert "nach 3 Versuchen gescheitert" in reply["error"]["message"]
    (letter,) = await bus.wait_dead_letters("testsvc.dlq", 1)
    assert letter.headers["x-diko-reason"] == "retries_exhausted"
    assert testsvc.metric("diko_retried_total", queue=QUEUE) == retried + 2


async def claim_of(db: AsyncDatabase, name: str) -> dict | None:
    return await db["reservations"].find_one({"_id": name})


async def test_a_message_that_fails_for_good_gives_back_what_it_claimed(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    await bus.drain("testsvc.dlq")
    for fail in ("domain", "permanent", "transient"):
        name = unique(fail)
        refused = await bus.request(Reserve(name=name, fail=fail))
        assert refused["ok"] is False, fail
        assert await claim_of(testsvc_db, name) is None, fail
        # the correct message that follows gets the name at once, not a conflict
        reply = await bus.ok(Reserve(name=name))
        assert reply["name"] == name
        assert (await claim_of(testsvc_db, name))["holder"] == reply["holder"]
    await bus.drain("testsvc.dlq")


async def test_a_failed_message_without_reply_to_gives_back_its_claim_too(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    await bus.drain("testsvc.dlq")
    name = unique("silent")
    await bus.send(Reserve(name=name, fail="permanent"))
    (letter,) = await bus.wait_dead_letters("testsvc.dlq", 1)
    assert letter.headers["x-diko-reason"] == "handler_error"
    assert await claim_of(testsvc_db, name) is None
    assert (await bus.ok(Reserve(name=name)))["name"] == name


async def test_a_claim_held_by_a_message_that_succeeded_stays(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    name = unique("kept")
    first = await bus.ok(Reserve(name=name))
    second = await bus.request(Reserve(name=name))
    assert second["error"]["code"] == "conflict"
    assert "bereits reserviert" in second["error"]["message"]
    assert (await claim_of(testsvc_db, name))["holder"] == first["holder"]


async def test_a_replayed_dead_letter_finds_its_claim_free_and_its_inbox_record_kept(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    """After a release the message may come back (an operator's replay) and succeed."""
    await bus.drain("testsvc.dlq")
    name = unique("replay")
    body = new_envelope("tally.reserve", {"name": name, "fail": "domain"}, source="tests")
    await bus.publish_raw("tally.reserve", json.dumps(body).encode())
    (letter,) = await bus.wait_dead_letters("testsvc.dlq", 1)
    assert letter.headers["x-diko-reason"] == "validation_error"

    async def released() -> bool:
        return await claim_of(testsvc_db, name) is None

    await eventually(released, what="the claim given back")
    inbox = await testsvc_db["inbox"].find_one({"_id": f"{QUEUE}|tests|{body['id']}"})
    assert inbox is not None
    assert inbox["claims"] == [{"collection": "reservations", "_id": name}]
