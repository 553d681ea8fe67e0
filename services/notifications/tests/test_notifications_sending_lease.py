"""Who may talk to SMTP for a delivery, on the real document store and Mailpit.

The process that creates a delivery record sends it under the lease written into the
record; every other attempt takes a lease in `sending` and leaves a record alone while
another process's lease in it lasts. The commands the Postman's client sends are watched
with PyMongo's command monitoring.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notifications_helpers import SlowRelay
from pydantic import SecretStr
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications import store
from diko_notifications.domain import Letter
from diko_notifications.links import PreferenceLinks
from diko_notifications.mail import SmtpMailer
from diko_notifications.recipients import Recipient
from diko_notifications.sending import Mail, Outcome, Postman, record_of
from diko_notifications.settings import NotificationsSettings
from diko_shared.due import Clock
from diko_shared.store import mongo
from harness.mailpit import Mailpit
from harness.stack import SessionStack

SENDER = "DIKO Altmark <team@diko.example>"


class Commands(monitoring.CommandListener):
    """The name and collection of every command the client sends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def on(self, collection: str) -> list[str]:
        return [name for name, target in self.seen if target == collection]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen.append((event.command_name, str(event.command.get(event.command_name, ""))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched_db(stack: SessionStack) -> AsyncIterator[tuple[AsyncDatabase, Commands]]:
    commands = Commands()
    client = mongo.connect(stack.mongo_url, "sending-lease-test", [commands])
    try:
        name = stack.database(f"lease-{uuid.uuid4().hex[:8]}")
        yield mongo.Database(client, name), commands
    finally:
        await client.close()


@pytest.fixture
async def mailpit(stack: SessionStack) -> AsyncIterator[Mailpit]:
    async with Mailpit(stack.mailpit_url) as client:
        yield client


def postman(stack: SessionStack, *, lease_s: float, parallel: int, port: int = 0) -> Postman:
    smtp = NotificationsSettings.model_construct(
        smtp_host=stack.base["DIKO_SMTP_HOST"],
        smtp_port=port or int(stack.base["DIKO_SMTP_PORT"]),
        smtp_user="",
        smtp_password=SecretStr(""),
        smtp_starttls=False,
        smtp_timeout_s=10.0,
        smtp_connections=parallel,
    )
    return Postman(
        SmtpMailer(smtp),
        PreferenceLinks("test-secret", "http://127.0.0.1:8003"),
        sender=SENDER,
        sender_address="team@diko.example",
        max_attempts=3,
        lease=timedelta(seconds=lease_s),
        parallel=parallel,
        clock=Clock(),
    )


def mail(subject: str) -> Mail:
    return Mail(
        delivery_id=f"dlv_{uuid.uuid4().hex[:20]}",
        recipient=Recipient(
            key=f"stf_{uuid.uuid4().hex[:20]}",
            kind="staff",
            name="Birte Albrecht",
            email=f"birte-{uuid.uuid4().hex[:8]}@diko.example",
        ),
        letter=Letter(
            template="notice",
            subject=subject,
            values={
                "paragraphs": ["am Samstag ist diko nicht erreichbar."],
                "action": None,
                "reason": "Sie erhalten diese E-Mail von DIKO Altmark.",
            },
        ),
        about={"event_id": uuid.uuid4().hex, "event_type": "notification.send"},
    )


async def sent(mailpit: Mailpit, subject: str) -> int:
    return len(await mailpit.search(f'subject:"{subject}"'))


def statuses(outcomes: list[Outcome]) -> list[str | None]:
    return [o.fate.status if o.fate else None for o in outcomes]


async def test_the_process_that_creates_a_delivery_sends_it_under_the_records_own_lease(
    stack: SessionStack, watched_db: tuple[AsyncDatabase, Commands], mailpit: Mailpit
) -> None:
    db, commands = watched_db
    subject = f"Wartung {uuid.uuid4().hex[:8]}"
    one = mail(subject)

    assert statuses(await postman(stack, lease_s=30, parallel=2).deliver(db, [one])) == ["sent"]

    assert await sent(mailpit, subject) == 1
    assert commands.on(store.SENDING) == [], "no lease in `sending` for a record just created"
    assert commands.on(store.DELIVERIES) == ["insert", "update"], "created, then its outcome"
    record = await db[store.DELIVERIES].find_one({"_id": one.delivery_id})
    assert record is not None
    assert record["status"] == "sent"
    assert record[store.LEASE] is None, "the outcome gives the record's lease back"


async def test_a_record_another_process_sends_now_is_left_alone_until_its_lease_runs_out(
    stack: SessionStack, watched_db: tuple[AsyncDatabase, Commands], mailpit: Mailpit
) -> None:
    db, _ = watched_db
    subject = f"Wartung {uuid.uuid4().hex[:8]}"
    held, dropped = mail(subject), mail(subject)
    now = datetime.now(UTC)

    def created_elsewhere(m: Mail, until: datetime) -> dict[str, Any]:
        return {**record_of(m, "pending", now), store.LEASE: {"owner": "other", "until": until}}

    await db[store.DELIVERIES].insert_many(
        [
            created_elsewhere(held, now + timedelta(minutes=5)),  # its creator sends it now
            created_elsewhere(dropped, now - timedelta(seconds=1)),  # its creator died
        ]
    )
    here = postman(stack, lease_s=30, parallel=2)

    assert statuses(await here.deliver(db, [held, dropped])) == [None, "sent"]
    assert await sent(mailpit, subject) == 1
    assert await db[store.SENDING].count_documents({}) == 0, "the leases taken are given back"
    record = await db[store.DELIVERIES].find_one({"_id": held.delivery_id})
    assert record is not None
    assert (record["status"], record["attempts"]) == ("pending", 0)

    assert statuses(await here.deliver(db, [held, dropped])) == [None, "sent"], "nothing twice"
    assert await sent(mailpit, subject) == 1


async def test_a_mail_that_waited_long_for_a_connection_takes_a_lease_in_sending(
    stack: SessionStack, watched_db: tuple[AsyncDatabase, Commands], mailpit: Mailpit
) -> None:
    """With a lease of 3 s a mail may wait 1 s under the record's own; one conversation
    through the slow relay lasts longer, so the second mail takes a lease in `sending`."""
    db, commands = watched_db
    subject = f"Wartung {uuid.uuid4().hex[:8]}"
    first, second = mail(subject), mail(subject)
    relay = SlowRelay(int(stack.base["DIKO_SMTP_PORT"]), delay_s=0.3)
    await relay.start()
    try:
        slow = postman(stack, lease_s=3, parallel=1, port=relay.port)
        assert statuses(await slow.deliver(db, [first, second])) == ["sent", "sent"]
    finally:
        await relay.stop()

    assert await sent(mailpit, subject) == 2
    assert commands.on(store.SENDING) == ["insert", "delete"], "one lease, for the second"
    assert await db[store.SENDING].count_documents({}) == 0
