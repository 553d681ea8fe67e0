"""Exactly one digest per person and day: two replicas run the digests, and the one that
sends them is killed in the middle of it.

Both replicas share a database, a test clock and a Mailpit of this module's own, behind a
relay that slows every SMTP conversation down, so that the kill lands while mails are
on their way. The Mailpit drops a repeated Message-ID, as a careful mail system does:
the one gap the README names (the instant between the server's acceptance and the
record of it) would show there as a second copy with the same Message-ID; the delivery
log is checked as well.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from notifications_helpers import PrivateMailpit, SlowRelay, position, proposal, proposed, publish
from pymongo import AsyncMongoClient

from diko_notifications.preferences import BERLIN
from diko_shared import due
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.notifications import (
    KindSetting,
    ListDeliveries,
    RegisterStaff,
    Responsibilities,
    SetPreferences,
)
from harness.bus import Bus
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

CLOCK = "once"
PEOPLE = 30
TOWN = "Schönhausen (Elbe)"


@dataclass
class Replicas:
    a: ServiceProcess
    b: ServiceProcess
    mailpit: PrivateMailpit
    db: Any


async def drop_earlier_events(bus: Bus) -> None:
    """Empty notifications' event queues of what earlier test modules left there.

    The replicas share the session's broker: events published while no notifications
    ran (match.accepted from matching's tests, say) would come to them, and each
    placement would wait for a matching that is gone, taking one of the due loop's slots
    for its whole request timeout (several of them could take every slot).
    """
    for event_type in sorted(CATALOGUE.reactions("notifications")):
        queue = f"notifications.on.{event_type}"
        try:
            waiting = await bus.depth(queue)
        except Exception:  # noqa: BLE001 - not declared yet: nothing left in it
            continue
        if waiting:
            await bus.drain(queue)


@pytest.fixture(scope="module")
async def replicas(
    stack: SessionStack,
    mongo: AsyncMongoClient,
    bus: Bus,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Replicas]:
    await drop_earlier_events(bus)
    mailpit = PrivateMailpit(Path(tmp_path_factory.mktemp("once-mailpit")), dedupe=True)
    await mailpit.start()
    relay = SlowRelay(mailpit.smtp_port, delay_s=0.05)
    await relay.start()
    database = stack.database("notifications_once")
    env = stack.service_env(
        "notifications",
        DIKO_MONGO_DATABASE=database,
        DIKO_SMTP_PORT=str(relay.port),
        DIKO_LINK_SECRET="x" * 40,
        DIKO_TEST_CLOCK=CLOCK,
        DIKO_DUE_LEASE_S="2",
        DIKO_SMTP_CONNECTIONS="4",
        DIKO_SMTP_TIMEOUT_S="5",
    )
    a = ServiceProcess("notifications-once-a", "diko_notifications", free_port(), env)
    b = ServiceProcess("notifications-once-b", "diko_notifications", free_port(), env)
    a.start()
    b.start()
    try:
        yield Replicas(a, b, mailpit, mongo[database])
    finally:
        a.stop()
        b.stop()
        await relay.stop()
        await mailpit.close()


async def digest_day(
    bus: Bus, replicas: Replicas, staff: dict[str, str], queued_at: datetime
) -> str:
    """Queue one proposal for everybody's digest at `queued_at`; returns the event id."""
    await due.set_test_clock(replicas.db, CLOCK, queued_at)
    where = position(f"Werft {uuid.uuid4().hex[:4]}", TOWN)
    event_id = await publish(
        bus, "match.proposed", proposed(proposal(where, 1, "Ole Kahn", TOWN)), "matching"
    )

    async def queued() -> bool:
        logged = (await bus.ok(ListDeliveries(event_id=event_id, limit=500)))["deliveries"]
        return len([d for d in logged if d["status"] == "digest"]) == len(staff)

    await eventually(queued, timeout=90, what="every item queued for the digest")
    return event_id


async def digests(replicas: Replicas, day: str) -> Counter[str]:
    found = await replicas.mailpit.client.search(f'subject:"Ihre Übersicht vom {day}"')
    return Counter(address["Address"] for mail in found for address in mail["To"])


async def test_each_person_gets_one_digest_a_day_from_two_replicas_even_when_one_dies_sending(
    bus: Bus, replicas: Replicas
) -> None:
    staff: dict[str, str] = {}
    for n in range(PEOPLE):
        email = f"hafen{n:02d}-{uuid.uuid4().hex[:6]}@diko.example"
        reply = await bus.ok(
            RegisterStaff(
                name=f"Hafen {n:02d}",
                email=email,
                responsibilities=Responsibilities(municipalities=[TOWN]),
            )
        )
        staff[reply["staff_id"]] = email
        await bus.ok(
            SetPreferences(
                staff_id=reply["staff_id"],
                kinds=[KindSetting(kind="match.proposed", mode="digest")],
                digest_hour=6,
            )
        )

    # Day one: both replicas poll for the digests; one runs them, the other must not.
    await digest_day(bus, replicas, staff, datetime(2027, 2, 2, 10, 0, tzinfo=BERLIN))
    await due.set_test_clock(replicas.db, CLOCK, datetime(2027, 2, 3, 6, 0, 5, tzinfo=BERLIN))

    async def all_of(day: str) -> Counter[str]:
        got = await digests(replicas, day)
        return got if len(got) == PEOPLE else Counter()

    day_one = await eventually(
        lambda: all_of("3.\u00a0Februar 2027"), timeout=120, what="day one's digests"
    )
    assert set(day_one) == set(staff.values())
    assert set(day_one.values()) == {1}

    # Day two: the replica that sends the digests is killed while it sends them.
    await digest_day(bus, replicas, staff, datetime(2027, 2, 3, 10, 0, tzinfo=BERLIN))
    await due.set_test_clock(replicas.db, CLOCK, datetime(2027, 2, 4, 6, 0, 5, tzinfo=BERLIN))

    async def some_sent() -> int:
        return sum((await digests(replicas, "4.\u00a0Februar 2027")).values()) >= 3

    await eventually(some_sent, timeout=120, what="the first digests of day two")
    sender = next(
        (r for r in (replicas.a, replicas.b) if "2027-02-04|06" in r.log_path.read_text()), None
    )
    assert sender is not None, "one replica logged sending day two's digests"
    sender.kill()
    sent_before = sum((await digests(replicas, "4.\u00a0Februar 2027")).values())
    assert sent_before < PEOPLE, "the kill came while digests were still being sent"

    day_two = await eventually(
        lambda: all_of("4.\u00a0Februar 2027"), timeout=120, what="day two's digests after the kill"
    )
    assert set(day_two.values()) == {1}
    logged = (await bus.ok(ListDeliveries(limit=500)))["deliveries"]
    per_person = Counter(
        (d["email"], d["event_id"].rsplit("|", 1)[1])
        for d in logged
        if d["event_type"] == "digest" and d["status"] == "sent"
    )
    assert len(per_person) == 2 * PEOPLE
    assert set(per_person.values()) == {1}, "one digest delivery per person and day"
    sender.start()
