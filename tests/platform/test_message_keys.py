"""Two different messages never share an idempotency key, whatever their source and id hold.

Each pair below would have shared the key `queue|source|id` once: the second message was
taken for a repeat of the first and answered with its reply, never processed. Through
the real broker, each message of a pair must be processed on its own, its events get
ids of their own, and a true repeat is still recognised.
"""

from __future__ import annotations

import json
import uuid

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.contract.envelope import new_envelope
from diko_shared.messaging.handling import key_of
from harness.bus import Bus
from harness.processes import ServiceProcess

QUEUE = "testsvc.tally.add"

#: (source, id) of the first and of the second message of each pair; the old key joined
#: each pair alike. `unique` marks them per run without changing how they join.
PAIRS = [
    (("a|b", "c"), ("a", "b|c")),
    (("a|", "b"), ("a", "|b")),
    (("|", "||"), ("||", "|")),
    (("website", "1|2|3"), ("website|1", "2|3")),
    (("#a|b", "c"), ("#a", "b|c")),
    (("Bäckerei|ä", "1"), ("Bäckerei", "ä|1")),
    (("🥨|shop", "🥨"), ("🥨", "shop|🥨")),
    (("quelle\u00a0a|", "1"), ("quelle\u00a0a", "|1")),
]


def unique(pair: tuple[str, str], token: str) -> tuple[str, str]:
    """The token before the source (after a leading `#`) and after the id: `s|i` joins alike."""
    source, id_ = pair
    source = f"#{token}{source[1:]}" if source.startswith("#") else f"{token}{source}"
    return source, f"{id_}{token}"


def adversarial_pairs(token: str) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The pairs above, and a few whose parts are at the edges of what the envelope allows."""
    pairs = [(unique(a, token), unique(b, token)) for a, b in PAIRS]
    digest = key_of(QUEUE, *pairs[0][1]).partition("|#")[2]
    pairs.append((pairs[0][1], (f"#{digest}", f"x{token}")))  # a source that mimics a digest
    longest = f"{token}{'s' * 192}"  # 200 characters, the most an attribute may have
    pairs.append(((longest, f"{'i' * 192}{token}"), (longest, f"{'i' * 191}j{token}")))
    pairs.append(((f"Ba\u0308cker{token}", "1"), (f"B\u00e4cker{token}", "1")))  # NFD, NFC
    return pairs


def envelope(source: str, id_: str, item: str, amount: int) -> dict[str, object]:
    return new_envelope("tally.add", {"item": item, "amount": amount}, source=source, id_=id_)


@pytest.mark.parametrize("index", range(len(PAIRS) + 3), ids=lambda i: f"pair{i}")
async def test_messages_whose_parts_would_have_joined_alike_are_both_processed(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase, index: int
) -> None:
    first, second = adversarial_pairs(uuid.uuid4().hex[:8])[index]
    item = f"keys-{uuid.uuid4().hex[:8]}"
    one = envelope(*first, item, 1)
    two = envelope(*second, item, 2)
    assert (one["source"], one["id"]) != (two["source"], two["id"])
    tap = await bus.tap(pattern="tally.added")

    reply_one = await bus.request_raw("tally.add", json.dumps(one).encode())
    reply_two = await bus.request_raw("tally.add", json.dumps(two).encode())
    assert reply_one == {"ok": True, "data": {"item": item, "total": 1, "count": 1}}
    assert reply_two == {"ok": True, "data": {"item": item, "total": 3, "count": 2}}

    events = await tap.wait_for(lambda m: m.data["item"] == item, count=2)
    assert len({event.message_id for event in events}) == 2
    assert {event.envelope["causationid"] for event in events} == {one["id"], two["id"]}

    keys = {key_of(QUEUE, one["source"], one["id"]), key_of(QUEUE, two["source"], two["id"])}
    assert len(keys) == 2
    assert all(len(key) <= len(QUEUE) + 2 + 128 for key in keys)
    assert await testsvc_db["processed"].count_documents({"_id": {"$in": list(keys)}}) == 2

    # a true repeat is still a repeat: answered with its reply, not processed again
    again = await bus.request_raw("tally.add", json.dumps(two).encode())
    assert again == reply_two


async def test_an_ordinary_message_keeps_the_readable_key_of_earlier_versions(
    bus: Bus, testsvc: ServiceProcess, testsvc_db: AsyncDatabase
) -> None:
    """Keys of messages whose source and id hold no `|` are what they were before."""
    item = f"plain-{uuid.uuid4().hex[:8]}"
    one = envelope("website", str(uuid.uuid4()), item, 1)
    await bus.request_raw("tally.add", json.dumps(one).encode())
    assert await testsvc_db["processed"].find_one({"_id": f"{QUEUE}|website|{one['id']}"})
