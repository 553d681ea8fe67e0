"""One small function per message the notifications service consumes (wired in `app.py`).

Registration and subscriptions are ordinary staged writes. The reactions send e-mail,
a side effect no redelivery can take back, so they follow the platform guide's rule:
record the intent first, check it before acting. Per event and recipient there is one
delivery record under an id derived from both; it is created `pending` before the SMTP
conversation and set to `sent` or `failed` right after it. A delivery sent or refused
for good is never sent again; one that failed temporarily until its last retry is tried
again when the event is replayed from the dead-letter queue. A lease on the delivery
keeps two copies of the same event, handled at the same moment, from both sending.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications import delivery, domain, proposals, store
from diko_notifications.delivery import Fate
from diko_notifications.domain import ActionLinks, Staff
from diko_notifications.mail import UNBUILDABLE, SmtpMailer, compose, unbuildable
from diko_notifications.proposals import DecisionRecord
from diko_notifications.render import render_letter
from diko_shared.contract.companies import PositionFilled
from diko_shared.contract.envelope import ErrorDetail, new_envelope
from diko_shared.contract.matching import MatchAccepted, MatchDeclined, MatchProposed
from diko_shared.contract.notifications import (
    DeliveryList,
    ListDeliveries,
    NotificationFailed,
    NotificationSent,
    RegisterStaff,
    StaffRef,
    Subscribe,
    Subscription,
)
from diko_shared.messaging import topology
from diko_shared.messaging.errors import NotFound, TransientError
from diko_shared.messaging.handling import DERIVED_IDS, Context
from diko_shared.messaging.publisher import Outgoing, Publisher
from diko_shared.service.metrics import Metrics
from diko_shared.text import clean

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handlers:
    """The handlers, with what they need to write and send e-mails."""

    links: ActionLinks
    mailer: SmtpMailer
    publisher: Publisher
    sender: str
    sender_address: str
    max_attempts: int
    lease: timedelta
    #: Counts e-mails by outcome (`diko_mail_attempts_total`); the alert on mail failures.
    metrics: Metrics | None = None

    def __post_init__(self) -> None:
        if self.metrics is not None:  # each outcome from 0, so that the first failure is a rise
            for outcome in ("sent", "retry", "failed"):
                self.metrics.mail_attempts.labels(outcome)

    # -- staff ---------------------------------------------------------------------------

    async def register_staff(self, ctx: Context[RegisterStaff]) -> StaffRef:
        """`staff.register`: one staff member per e-mail address."""
        staff = domain.register(ctx.data, ctx.new_id("stf"))
        holder = await store.claim_email(ctx.db, domain.email_key(staff.email), staff.staff_id)
        if holder != staff.staff_id:
            raise domain.duplicate_email(staff.email, holder)
        ctx.write(store.insert_staff(staff, ctx.occurred_at))
        return StaffRef(staff_id=staff.staff_id)

    async def subscribe(self, ctx: Context[Subscribe]) -> Subscription:
        """`staff.subscribe`: the topics replace the staff member's earlier ones."""
        if not await store.staff_exists(ctx.db, ctx.data.staff_id):
            raise NotFound(
                f"Unter der Kennung {ctx.data.staff_id} ist niemand registriert.",
                [ErrorDetail(field="data.staff_id", problem="unbekannt")],
            )
        subscription = domain.subscription(ctx.data)
        ctx.write(store.set_subscription(subscription, ctx.key, ctx.occurred_at))
        return subscription

    async def list_deliveries(self, ctx: Context[ListDeliveries]) -> DeliveryList:
        """`notification.deliveries`: the log, newest first."""
        data = ctx.data
        deliveries = await store.list_deliveries(
            ctx.db, event_id=data.event_id, staff_id=data.staff_id, limit=data.limit
        )
        return DeliveryList(deliveries=deliveries)

    # -- reactions -----------------------------------------------------------------------

    async def notify(self, ctx: Context[Any]) -> None:
        """`match.proposed`, `position.filled`, `episode.published`: e-mail the subscribers.

        Every recipient is tried. If one is not finished (a temporary SMTP failure, or
        another handler is sending it right now) the message is retried as a whole, and the
        recipients finished before are not sent to again. If one still fails on its last
        retry, the event goes to the dead-letter queue instead of being acknowledged, so
        that `diko dlq replay notifications` sends it once the mail server is back.
        """
        topic = ctx.spec.type
        event = {
            "event_id": ctx.envelope.id,
            "event_source": ctx.envelope.source,
            "event_type": topic,
            "at": ctx.occurred_at,
        }
        if isinstance(ctx.data, PositionFilled):
            await store.mark_position_filled(ctx.db, ctx.data.position_id)
        subscribed = await store.subscribers(ctx.db, topic)
        recipients = await store.fix_recipients(ctx.db, ctx.new_id("fan"), event, subscribed)
        staff = await store.find_staff(ctx.db, recipients)
        if staff and isinstance(ctx.data, MatchProposed):
            await self._remember_proposals(ctx.db, ctx.data)
        unfinished: list[str] = []
        exhausted: dict[str, Fate] = {}
        for staff_id in recipients:
            if staff_id not in staff:
                continue
            delivery_id, fate = await self._deliver(ctx, staff[staff_id], event)
            if fate is not None and fate.exhausted:
                await self._publish_failed(ctx, delivery_id, staff_id, fate)
                exhausted[staff_id] = fate
            elif fate is None or not fate.final:
                unfinished.append(f"{staff_id}: {fate.error if fate else 'being sent elsewhere'}")
        if exhausted:
            raise delivery.undelivered(
                {staff_id: fate.error or "?" for staff_id, fate in exhausted.items()}, unfinished
            )
        if unfinished:
            raise TransientError(
                f"{len(unfinished)} e-mail(s) not delivered yet: {'; '.join(unfinished)}"
            )

    async def record_decision(self, ctx: Context[MatchAccepted | MatchDeclined]) -> None:
        """`match.accepted`, `match.declined`: what the proposal's action pages now say.

        The decision's time is the event's: when matching took it.
        """
        status = "accepted" if ctx.spec.type == "match.accepted" else "declined"
        decision = DecisionRecord(status, ctx.data.decided_by, ctx.occurred_at)
        ctx.write(store.record_decision(ctx.data.proposal_id, decision, datetime.now(UTC)))

    async def _remember_proposals(self, db: AsyncDatabase, event: MatchProposed) -> None:
        """What the action pages show, stored before any e-mail with their links leaves."""
        await store.remember_proposals(db, proposals.summaries(event), datetime.now(UTC))

    async def forget_expired_proposals(self, db: AsyncDatabase) -> None:
        """Summaries whose links have all expired go: the names are matching's to keep."""
        before = datetime.now(UTC) - proposals.retention(self.links.ttl)
        await store.forget_proposals(db, before=before)

    async def _deliver(
        self, ctx: Context[Any], staff: Staff, event: dict[str, Any]
    ) -> tuple[str, Fate | None]:
        """Send one e-mail unless it was sent or refused for good; stage its outcome event.

        A delivery that failed temporarily until an earlier round's last retry is tried
        again: the message is being replayed from the dead-letter queue.
        """
        letter = domain.letter(ctx.data, staff, self.links)
        delivery_id = ctx.new_id("dlv", staff.staff_id)
        record = await store.open_delivery(
            ctx.db,
            {
                "_id": delivery_id,
                **event,
                "staff_id": staff.staff_id,
                "email": staff.email,
                "subject": letter.subject,
                "status": "pending",
                "attempts": 0,
                "error": None,
                "permanent": False,
                "created_at": datetime.now(UTC),
            },
        )
        fate: Fate | None = store.fate_of(record)
        if fate is not None and fate.to_send:
            fate = await self._send_once(ctx, staff, letter, delivery_id)
        if fate is not None and fate.final and not fate.exhausted:
            self._announce(ctx, fate, delivery_id, staff.staff_id, letter.subject)
        return delivery_id, fate

    async def _send_once(
        self, ctx: Context[Any], staff: Staff, letter: domain.Letter, delivery_id: str
    ) -> Fate | None:
        """Under the delivery's lease: check it is still to be sent, send, record the outcome.

        None: another handler holds the lease, so this one must not send.
        """
        owner = uuid.uuid4().hex
        if not await store.take_lease(ctx.db, delivery_id, owner, datetime.now(UTC), self.lease):
            return None
        try:
            record = await store.find_delivery(ctx.db, delivery_id)
            if record is None:
                return None
            before = store.fate_of(record)
            if not before.to_send:
                return before
            try:
                message = compose(
                    render_letter(letter),
                    sender=self.sender,
                    to_name=clean(staff.name),
                    to_address=staff.email,
                    message_id=delivery.message_id(delivery_id, self.sender_address),
                    date=datetime.now(UTC),
                    headers={
                        "X-Diko-Delivery": delivery_id,
                        "X-Diko-Event": f"{ctx.spec.type} {ctx.envelope.id}",
                    },
                )
            except UNBUILDABLE as exc:
                result = unbuildable(exc)
            else:
                result = await self.mailer.send(message, self.sender_address)
            fate = delivery.after_attempt(result, before, self.max_attempts)
            await store.record_attempt(ctx.db, delivery_id, fate, datetime.now(UTC))
            if self.metrics is not None:
                outcome = "sent" if fate.status == "sent" else "retry" if fate.retry else "failed"
                self.metrics.mail_attempts.labels(outcome).inc()
        finally:
            await store.release_lease(ctx.db, delivery_id, owner)
        if fate.status == "failed" or fate.retry:
            log.warning(
                "e-mail not delivered",
                extra={"delivery_id": delivery_id, "error": fate.error, "final": fate.final},
            )
        return fate

    def _announce(
        self, ctx: Context[Any], fate: Fate, delivery_id: str, staff_id: str, subject: str
    ) -> None:
        """Stage `notification.sent` or `notification.failed` for a finished delivery."""
        if fate.status == "sent":
            sent = NotificationSent(**_about(ctx, delivery_id, staff_id), subject=subject)
            ctx.emit(sent, subject=delivery_id)
        else:
            ctx.emit(_failed(ctx, fate, delivery_id, staff_id), subject=delivery_id)

    async def _publish_failed(
        self, ctx: Context[Any], delivery_id: str, staff_id: str, fate: Fate
    ) -> None:
        """Publish `notification.failed` for a delivery whose event goes to the dead letters.

        At once rather than staged: the platform drops what a handler staged when it raises.
        The delivery is recorded first; the id comes from the delivery and its attempts, so
        a repeat of this announcement is dropped and the next round's failure is news.
        """
        envelope = new_envelope(
            "notification.failed",
            _failed(ctx, fate, delivery_id, staff_id),
            source=ctx.service,
            subject=delivery_id,
            correlationid=ctx.correlation_id,
            causationid=ctx.envelope.id,
            id_=str(uuid.uuid5(DERIVED_IDS, f"{delivery_id}|failed|{fate.attempts}")),
        )
        await self.publisher.publish(Outgoing.from_envelope(topology.EVENTS.name, envelope))


def _about(ctx: Context[Any], delivery_id: str, staff_id: str) -> dict[str, str]:
    """What `notification.sent` and `notification.failed` say about the delivery."""
    return {
        "delivery_id": delivery_id,
        "staff_id": staff_id,
        "event_id": ctx.envelope.id,
        "event_type": ctx.spec.type,
    }


def _failed(ctx: Context[Any], fate: Fate, delivery_id: str, staff_id: str) -> NotificationFailed:
    return NotificationFailed(
        **_about(ctx, delivery_id, staff_id),
        error=fate.error or "unbekannt",
        permanent=fate.permanent,
    )
