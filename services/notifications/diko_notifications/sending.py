"""Handing e-mails to SMTP exactly once per delivery, many at a time.

A delivery is one e-mail about one thing (an event, a notice, a digest) to one
recipient, under an id derived from both. Its record is written `pending` before the
SMTP conversation (all of a fan-out's records in one bulk insert) and set to `sent` or
`failed` right after it; a delivery sent or refused for good is never sent again. A
lease keeps two handlers of the same thing from both talking to SMTP: the process that
creates the record holds the lease written into it for the first attempt; any other
attempt (a retry, a redelivered message, a held mail released) takes one in `SENDING`
(an insert under the delivery id that only one process wins), reads the record under
it, and leaves the record alone while the lease written into it lasts. Conversations run
side by side, up to `DIKO_SMTP_CONNECTIONS` at a time over kept connections; the
database calls around them (lease, record read under it, outcome, lease given back) keep
that order per delivery but travel in bulk with the other conversations' (`batching`).

An address known to be undeliverable (an earlier permanent refusal) gets nothing: its
delivery fails at once, without SMTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from diko_notifications import delivery, store
from diko_notifications.batching import Batcher
from diko_notifications.delivery import Fate, SendResult
from diko_notifications.domain import Letter
from diko_notifications.links import PreferenceLinks
from diko_notifications.mail import UNBUILDABLE, SmtpMailer, compose, flatten, unbuildable
from diko_notifications.recipients import Recipient, email_key
from diko_notifications.render import Footer, render_letter
from diko_notifications.undeliverable import KnownUndeliverable
from diko_shared.due import Clock
from diko_shared.service.metrics import Metrics
from diko_shared.text import clean

log = logging.getLogger(__name__)

UNDELIVERABLE = "die Adresse ist unzustellbar"
#: Seconds between tries to record an outcome while the database is away.
RECORD_PAUSE_S = 0.5
#: How long a mail may wait for a connection and still be sent under its record's own
#: lease (`store.LEASE`): what is left of the lease still outlasts the conversation.
MAY_WAIT_UNDER_OWN_LEASE_S = 5.0


@dataclass(frozen=True)
class Mail:
    """One e-mail to send: who, what, and what it is about (for the log)."""

    delivery_id: str
    recipient: Recipient
    letter: Letter
    about: Mapping[str, Any]  # event_id, event_source, event_type, at
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """Where a delivery stands after this attempt; `bounced`: refused for good just now."""

    mail: Mail
    fate: Fate | None  # None: another handler holds its lease right now
    bounced: bool = False

    @property
    def settled(self) -> bool:
        return self.fate is not None and self.fate.final


def record_of(mail: Mail, status: str, now: datetime) -> dict[str, Any]:
    """The delivery log's entry for a mail, before any attempt."""
    recipient = mail.recipient
    return {
        "_id": mail.delivery_id,
        **mail.about,
        "kind": mail.letter.kind,
        "recipient_kind": recipient.kind,
        "recipient_id": recipient.key,
        "staff_id": recipient.staff_id,
        "email": recipient.email,
        "subject": mail.letter.subject,
        "status": status,
        "attempts": 0,
        "error": None,
        "permanent": False,
        "created_at": now,
        **mail.extra,
    }


class DeliveryCalls:
    """The database calls of a delivery's SMTP conversation, batched across conversations."""

    def __init__(self, db: AsyncDatabase, lease: timedelta) -> None:
        self.take_lease: Batcher[tuple[str, str], bool] = Batcher(
            lambda leases: store.take_leases(db, leases, datetime.now(UTC), lease)
        )
        self.find: Batcher[str, dict[str, Any] | None] = Batcher(
            lambda ids: store.deliveries_by_id(db, ids)
        )
        self.record: Batcher[tuple[str, Fate, datetime], None] = Batcher(
            lambda attempts: store.record_attempts(db, attempts)
        )
        self.release: Batcher[tuple[str, str], None] = Batcher(
            lambda leases: store.release_leases(db, leases)
        )


class Postman:
    """Sends mails once each, side by side."""

    def __init__(
        self,
        mailer: SmtpMailer,
        links: PreferenceLinks,
        *,
        sender: str,
        sender_address: str,
        max_attempts: int,
        lease: timedelta,
        parallel: int,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.mailer = mailer
        #: The service's clock: the delivery log's `created_at`, which its retention compares.
        self.clock = clock
        self.links = links
        self.sender = sender
        self.sender_address = sender_address
        self.max_attempts = max_attempts
        self.lease = lease
        self._parallel = asyncio.Semaphore(parallel)
        self._calls: dict[int, DeliveryCalls] = {}
        #: The addresses that refused mail for good, without a query for every e-mail.
        self.undeliverable = KnownUndeliverable()
        #: Counts e-mails by outcome (`diko_mail_attempts_total`); the alert on mail failures.
        self.metrics = metrics
        if metrics is not None:  # each outcome from 0, so that the first failure is a rise
            for outcome in ("sent", "retry", "failed"):
                metrics.mail_attempts.labels(outcome)

    async def deliver(
        self, db: AsyncDatabase, mails: Sequence[Mail], *, max_attempts: int | None = None
    ) -> list[Outcome]:
        """Send each mail unless sent or refused for good already; every outcome, in order.

        A record this call creates carries a lease of this call's (`store.LEASE`): its first
        attempt needs no lease in `SENDING` and no second reading of the record.
        """
        if not mails:
            return []
        now = await self.clock.now()
        owner = uuid.uuid4().hex
        lease = {"owner": owner, "until": datetime.now(UTC) + self.lease}
        lease_ends = time.monotonic() + self.lease.total_seconds()
        records, created = await store.create_deliveries(
            db, [{**record_of(m, "pending", now), store.LEASE: lease} for m in mails]
        )
        bad = await self.undeliverable.among(db, {email_key(m.recipient.email) for m in mails})
        attempts = max_attempts or self.max_attempts

        async def one(mail: Mail) -> Outcome:
            fate = store.fate_of(records[mail.delivery_id])
            if not fate.to_send:
                return Outcome(mail, fate)
            async with self._parallel:
                if email_key(mail.recipient.email) in bad:
                    return Outcome(mail, await self._refuse(db, mail, fate))
                if mail.delivery_id in created and lease_ends - time.monotonic() > self._needed:
                    return await self._converse(db, mail, fate, attempts, lease_ends)
                return await self._send_once(db, mail, attempts, owner)

        return list(await asyncio.gather(*(one(mail) for mail in mails)))

    @property
    def _needed(self) -> float:
        """Seconds a conversation may take and its outcome still be recorded under its lease:
        a mail that waited longer for a connection takes a lease in `SENDING` instead."""
        lease = self.lease.total_seconds()
        return lease - min(MAY_WAIT_UNDER_OWN_LEASE_S, lease / 3)

    async def _refuse(self, db: AsyncDatabase, mail: Mail, before: Fate) -> Fate:
        """An address known to be undeliverable: failed for good, without SMTP."""
        fate = Fate("failed", before.attempts, UNDELIVERABLE, permanent=True)
        await store.record_attempt(db, mail.delivery_id, fate, datetime.now(UTC))
        return fate

    def _calls_for(self, db: AsyncDatabase) -> DeliveryCalls:
        calls = self._calls.get(id(db))
        if calls is None:
            calls = self._calls[id(db)] = DeliveryCalls(db, self.lease)
        return calls

    async def _send_once(
        self, db: AsyncDatabase, mail: Mail, max_attempts: int, owner: str
    ) -> Outcome:
        """Under a lease in `SENDING`: check the delivery is still to be sent, and send it."""
        calls = self._calls_for(db)
        lease_ends = time.monotonic() + self.lease.total_seconds()
        if not await calls.take_lease((mail.delivery_id, owner)):
            return Outcome(mail, None)
        try:
            record = await calls.find(mail.delivery_id)
            if record is None or store.leased_elsewhere(record, owner, datetime.now(UTC)):
                return Outcome(mail, None)
            before = store.fate_of(record)
            if not before.to_send:
                return Outcome(mail, before)
            return await self._converse(db, mail, before, max_attempts, lease_ends)
        finally:
            await calls.release((mail.delivery_id, owner))

    async def _converse(
        self, db: AsyncDatabase, mail: Mail, before: Fate, max_attempts: int, lease_ends: float
    ) -> Outcome:
        """Send, and record the outcome while the lease held since `before` was read lasts."""
        result = await self._attempt(mail)
        fate = delivery.after_attempt(result, before, max_attempts)
        bounced = result.outcome == "permanent" and not result.detail.startswith(
            "the e-mail could not be built"
        )
        if bounced and mail.letter.kind != "bounce":
            # the mark before the outcome: a process that dies in between leaves the
            # delivery pending, and its retry finds the mark naming it and reports it
            await self.undeliverable.mark(
                db,
                email_key(mail.recipient.email),
                fate.error or "",
                datetime.now(UTC),
                mail.delivery_id,
            )
        await self._record(self._calls_for(db), mail.delivery_id, fate, lease_ends)
        if self.metrics is not None:
            outcome = "sent" if fate.status == "sent" else "retry" if fate.retry else "failed"
            self.metrics.mail_attempts.labels(outcome).inc()
        if fate.status == "failed" or fate.retry:
            log.warning(
                "e-mail not delivered",
                extra={"delivery_id": mail.delivery_id, "error": fate.error, "final": fate.final},
            )
        return Outcome(mail, fate, bounced=bounced)

    async def _record(
        self, calls: DeliveryCalls, delivery_id: str, fate: Fate, lease_ends: float
    ) -> None:
        """The outcome of a conversation that took place, tried again while the database is
        away (restarted, stalled) until the lease runs out: a delivery left `pending` after
        the server took the mail would be sent again by the message's retry."""
        while True:
            try:
                await calls.record((delivery_id, fate, datetime.now(UTC)))
                return
            except PyMongoError as exc:
                if time.monotonic() + RECORD_PAUSE_S >= lease_ends:
                    raise
                log.warning(
                    "outcome of an e-mail not recorded yet; trying again",
                    extra={"delivery_id": delivery_id, "error": repr(exc)},
                )
                await asyncio.sleep(RECORD_PAUSE_S)

    async def _attempt(self, mail: Mail) -> SendResult:
        recipient = mail.recipient
        letter = mail.letter
        about = mail.about
        unsubscribe = self.links.unsubscribe_url(recipient.key, letter.kind)
        footer = Footer(
            preferences_url=self.links.preferences_url(recipient.key),
            unsubscribe_url=unsubscribe,
            preferences_label="Einstellungen" if recipient.young else "Einstellungen ändern",
            unsubscribe_label="Abmelden" if recipient.young else "Abbestellen",
            transactional=letter.transactional_note,
        )
        try:
            message = flatten(
                compose(
                    render_letter(letter, recipient, footer),
                    sender=self.sender,
                    to_name=clean(recipient.name),
                    to_address=recipient.email,
                    message_id=delivery.message_id(mail.delivery_id, self.sender_address),
                    date=datetime.now(UTC),
                    headers={
                        "X-Diko-Delivery": mail.delivery_id,
                        "X-Diko-Event": f"{about.get('event_type')} {about.get('event_id')}",
                    },
                    unsubscribe_url=unsubscribe,
                    attachments=letter.attachments,
                )
            )
        except UNBUILDABLE as exc:
            return unbuildable(exc)
        return await self.mailer.send(message, self.sender_address, recipient.email)
