"""The report of a refused address reaches the responsible staff member even when its own
sending fails for now: the message that met the refusal comes back until the report is
sent, and it is sent and announced once, also when another message (the relay's bounce
report) asks for the same report.

notifications talks to the chaos run's fault-injecting SMTP server (harness/smtpfaults.py)
in front of the stack's Mailpit: it refuses the contact person's address for good (550 at
RCPT) and answers the next message, the report, `451`. Before, the report stayed pending
for ever: the handler saw a temporary failure it did not wait for and acknowledged the
message.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from notifications_helpers import address, fresh, publish
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared.contract.companies import CompanyRegistered, ContactAdded
from diko_shared.contract.notifications import (
    NoticeRecipient,
    RecordBounce,
    RegisterStaff,
    Responsibilities,
    SendNotification,
)
from diko_shared.messaging import topology
from harness.bus import Bus, Seen, Tap
from harness.mailpit import Mailpit
from harness.processes import ServiceProcess
from harness.smtpfaults import FaultySmtp
from harness.stack import SessionStack
from harness.waiting import eventually

pytestmark = [pytest.mark.stack, pytest.mark.slow]

TOWN = "Arendsee (Altmark)"


@dataclass
class Refusing:
    smtp: FaultySmtp
    db: AsyncDatabase


@pytest.fixture(scope="module")
async def refusing(stack: SessionStack, mongo: AsyncMongoClient) -> AsyncIterator[Refusing]:
    database = stack.database("notifications_refusals")
    async with FaultySmtp(stack.base["DIKO_SMTP_HOST"], int(stack.base["DIKO_SMTP_PORT"])) as smtp:
        env = stack.service_env(
            "notifications",
            DIKO_MONGO_DATABASE=database,
            DIKO_SMTP_PORT=str(smtp.port),
            DIKO_LINK_SECRET=secrets.token_urlsafe(32),
            DIKO_TEAM_EMAIL=address("team"),
        )
        process = ServiceProcess("notifications-refusals", "diko_notifications", None, env)
        process.start()
        try:
            yield Refusing(smtp, mongo[database])
        finally:
            process.stop()


@pytest.fixture
async def events(bus: Bus, refusing: Refusing) -> Tap:
    return await bus.tap(topology.EVENTS.name, "#")


async def test_a_report_that_fails_for_now_is_sent_on_the_retry_and_announced_once(
    bus: Bus, refusing: Refusing, events: Tap, mailpit: Mailpit
) -> None:
    ute = address("ute")
    await bus.ok(
        RegisterStaff(
            name="Ute Umsicht",
            email=ute,
            responsibilities=Responsibilities(municipalities=[TOWN]),
        )
    )
    company_id, contact_id = fresh("cmp"), fresh("cnt")
    gone = f"weg-{uuid.uuid4().hex[:8]}@betrieb.example"
    name = f"Gärtnerei Arendsee {uuid.uuid4().hex[:4]}"
    await publish(
        bus,
        "company.registered",
        CompanyRegistered(company_id=company_id, name=name, town=TOWN, postcode="39619"),
        "companies",
    )
    await publish(
        bus,
        "contact.added",
        ContactAdded(contact_id=contact_id, company_id=company_id, name="Paul Fort", email=gone),
        "companies",
    )

    async def copied() -> bool:
        db = refusing.db
        return (
            await db["contacts"].count_documents({"_id": contact_id}) == 1
            and await db["companies"].count_documents({"_id": company_id}) == 1
        )

    await eventually(copied, what="the company and its contact person copied")
    refusing.smtp.refused = frozenset({gone})
    refusing.smtp.arm("tempfail")  # the next message to arrive: the report

    answer = await bus.ok(
        SendNotification(
            idempotency_key=f"refused/{uuid.uuid4().hex}",
            to=NoticeRecipient(contact_id=contact_id),
            subject="Ihre Angaben",
            paragraphs=["Bitte prüfen Sie Ihre Angaben."],
        ),
        timeout=60,
    )

    assert (answer["status"], answer["error"][:3]) == ("failed", "550")
    [report] = await mailpit.wait_for(f"to:{ute}", timeout=60)
    assert report["Subject"] == "E-Mail-Adresse nicht zustellbar: Paul Fort"
    text = (await mailpit.message(report["ID"]))["Text"]
    assert gone in text
    assert f"Ansprechperson von {name}" in text
    assert refusing.smtp.counts == {"refused": 1, "tempfail": 1, "relayed": 1}

    def reported(m: Seen) -> bool:
        return m.routing_key == "notification.sent" and m.data["event_type"] == "bounce"

    await events.wait_for(reported)

    # the relay's bounce report for the same address names the same report: already sent,
    # and announced no second time (before, under the bounce message's own id)
    recorded = await bus.ok(
        RecordBounce(
            email=gone,
            status="5.1.1",
            diagnostic="smtp; 550 5.1.1 user unknown",
            delivery_id=answer["delivery_id"],
        )
    )
    assert recorded["bounces"][0]["staff_told"] == []
    await events.fence()
    assert len({m.envelope["id"] for m in events.matching(reported)}) == 1
    assert len(await mailpit.search(f"to:{ute}")) == 1, "reported once"
    assert await mailpit.search(f"to:{gone}") == []
