"""What the due loop runs for notifications (`diko_shared.due`): digests, held mail, and
the delivery log's retention.

- `digest|<day>|<hour>`: every staff member whose digest leaves at that hour gets one
  e-mail with everything queued for them. Its delivery id is derived from the person and
  the day, so there is one digest per person and day whatever runs it: two replicas (the
  due lease lets one run it; the delivery's lease and record stop the other), or a run
  that dies while sending (the next run finds the digests sent so far and sends the
  rest). Items of a digest that went out already that day (the hour was changed) move to
  the next day's.
- `release|<moment>`: mail held for quiet hours leaves, each as its own e-mail, under the
  delivery id it was queued with; proposals decided or withdrawn meanwhile are left out
  (a mail with none left is not sent).
- `retention|deliveries`: the hourly housekeeping of what is kept only for a while:
  deliveries and fan-outs older than `DIKO_DELIVERY_RETENTION_DAYS` (they hold
  addresses), and the proposal summaries whose links have all expired
  (`DIKO_LINK_TTL_DAYS` and a day: they name applicants, whom matching owns) unless their
  mail still waits. Every time it compares was written from the service's clock (a test
  clock in the tests), which it runs on too; it counts what it deleted in
  `diko_retention_deleted_total{kind}` and schedules itself an hour later.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from diko_notifications import digest, proposals, store
from diko_notifications.handlers import (
    Handlers,
    adopt_subscriptions,
    derived,
    letter_for,
    payload_of,
)
from diko_notifications.preferences import next_digest, quiet_until
from diko_notifications.recipients import Recipient
from diko_notifications.sending import Mail, Outcome
from diko_shared import due
from diko_shared.contract.matching import MatchProposed
from diko_shared.contract.notifications import DigestItemCount, DigestSent
from diko_shared.due import DueContext
from diko_shared.service.metrics import Metrics

log = logging.getLogger(__name__)

#: Digests handed to the postman at once while the next ones are built: enough to keep
#: every SMTP connection busy, few enough that the first leave at once.
HANDED_OVER_AT_ONCE = 32
#: How often the housekeeping (`retention`) runs.
HOUSEKEEPING = timedelta(hours=1)
#: What the housekeeping deletes, as `diko_retention_deleted_total` names it.
RETENTION_KINDS = ("deliveries", "fanouts", "proposal_summaries")


def _payload(doc: Mapping[str, Any]) -> Any:
    """A queued item's payload back as its model."""
    kind = doc["kind"]
    event_type = doc["event"].get("event_type") if kind != "notice" else "notification.send"
    return payload_of(event_type, doc["data"])


async def _all(sending: list[asyncio.Task[list[Outcome]]]) -> list[list[Outcome]]:
    """Every batch's outcomes; if one fails, the others are not left running unseen."""
    try:
        return list(await asyncio.gather(*sending))
    except BaseException:
        for task in sending:
            task.cancel()
        await asyncio.gather(*sending, return_exceptions=True)
        raise


class Scheduled:
    def __init__(self, handlers: Handlers, metrics: Metrics) -> None:
        self.h = handlers
        self.metrics = metrics
        for kind in RETENTION_KINDS:  # each from 0, so that the first deletion is a rise
            metrics.retention_deleted.labels(kind)

    async def digest(self, ctx: DueContext) -> None:
        """Every digest of the slot: the pending items and what they need read in bulk, then
        the e-mails built a few at a time and handed to the postman while the next are built,
        so that rendering and SMTP overlap."""
        slot = str(ctx.data["slot"])
        day_text, _, hour_text = slot.partition("|")
        day, hour = date.fromisoformat(day_text), int(hour_text)
        items = [doc for doc in await store.queued_in(ctx.db, slot) if doc.get("how") == "digest"]
        by_staff: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for doc in items:
            by_staff[doc["staff_id"]].append(doc)
        log.info("digests going out", extra={"slot": slot, "people": len(by_staff)})
        members = await store.staff_docs(ctx.db, list(by_staff))
        digest_ids = {s: derived("dlv", "digest", s, day.isoformat()) for s in by_staff}
        earlier_slots = await store.delivery_slots(ctx.db, list(digest_ids.values()))
        suppressed: list[str] = []
        pending: list[tuple[str, list[dict[str, Any]], list[tuple[str, Any]]]] = []
        for staff_id, docs in sorted(by_staff.items()):
            member = members.get(staff_id)
            ids = [d["_id"] for d in docs]
            if member is None or not member.get("active", True):
                suppressed += ids
                continue
            if earlier_slots.get(digest_ids[staff_id]) not in (None, slot):
                await self._carry_over(ctx, staff_id, ids, day)
                continue
            pending.append((staff_id, docs, [(d["kind"], _payload(d)) for d in docs]))
        records = await store.find_proposals(
            ctx.db,
            [
                p.proposal_id
                for _, _, payloads in pending
                for _, payload in payloads
                if isinstance(payload, MatchProposed)
                for p in payload.proposals
            ],
        )
        await store.relink_proposals(ctx.db, list(records), ctx.now)
        contents: dict[str, tuple[list[dict[str, Any]], dict[str, int]]] = {}
        sending: list[asyncio.Task[list[Outcome]]] = []
        mails: list[Mail] = []
        for staff_id, docs, payloads in pending:
            member = members[staff_id]
            recipient = Recipient(staff_id, "staff", member["name"], member["email"])
            letter, counts = digest.digest_letter(
                recipient, payloads, records, self.h.links, day, hour
            )
            if letter is None:
                suppressed += [d["_id"] for d in docs]
                continue
            delivery_id = digest_ids[staff_id]
            contents[delivery_id] = (docs, counts)
            about = {
                "event_id": f"digest|{staff_id}|{day.isoformat()}",
                "event_source": "notifications",
                "event_type": "digest",
                "at": ctx.now,
            }
            extra = {"slot": slot, "period": day.isoformat()}
            mails.append(Mail(delivery_id, recipient, letter, about, extra))
            if len(mails) >= HANDED_OVER_AT_ONCE:
                sending.append(asyncio.create_task(self.h.postman.deliver(ctx.db, mails)))
                mails = []
            await asyncio.sleep(0)  # the conversations under way go on while this one is built
        sending.append(asyncio.create_task(self.h.postman.deliver(ctx.db, mails)))
        outcomes = [outcome for done in await _all(sending) for outcome in done]
        changes: list[tuple[list[str], str, dict[str, Any]]] = [(suppressed, "suppressed", {})]
        ctx.write(store.dequeue(suppressed))
        for outcome in outcomes:
            fate = outcome.fate
            if fate is None or not fate.final:
                continue
            docs, counts = contents[outcome.mail.delivery_id]
            ids = [d["_id"] for d in docs]
            if fate.status == "sent":
                changes.append(
                    (
                        ids,
                        "sent",
                        {
                            "digest_delivery_id": outcome.mail.delivery_id,
                            "sent_at": datetime.now(UTC),
                        },
                    )
                )
                ctx.emit(
                    DigestSent(
                        staff_id=outcome.mail.recipient.key,
                        delivery_id=outcome.mail.delivery_id,
                        period=day,
                        items=[DigestItemCount(kind=k, count=n) for k, n in counts.items()],
                    ),
                    subject=outcome.mail.recipient.key,
                )
            else:
                changes.append((ids, "failed", {"error": fate.error}))
            ctx.write(store.dequeue(ids))
        await store.set_statuses(ctx.db, changes)
        self._again_if_busy(ctx, "digest", slot, outcomes)
        await self.h._settle(ctx, outcomes, busy_elsewhere_ok=True)

    def _again_if_busy(self, ctx: DueContext, kind: str, slot: str, outcomes: list[Any]) -> None:
        """Deliveries whose lease another process holds (it died sending them, or sends them
        now): this item comes back when that lease has run out, without using a retry."""
        if any(outcome.fate is None for outcome in outcomes):
            later = ctx.now + self.h.postman.lease
            ctx.write(due.schedule(kind, slot, later, {"slot": slot}))

    async def _drop(self, ctx: DueContext, ids: list[str], status: str) -> None:
        for delivery_id in ids:
            await store.set_status(ctx.db, delivery_id, status)
        ctx.write(store.dequeue(ids))

    async def _carry_over(self, ctx: DueContext, staff_id: str, ids: list[str], day: date) -> None:
        """This person's digest of the day went out at another hour: these wait a day."""
        prefs = await store.preferences_of(ctx.db, staff_id)
        at, period = next_digest(
            prefs, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        )
        slot = f"{period}|{prefs.digest_hour:02d}"
        await store.requeue(ctx.db, ids, slot)
        ctx.write(due.schedule("digest", slot, at, {"slot": slot}))

    async def release(self, ctx: DueContext) -> None:
        """Mail held for quiet hours leaves, unless the quiet was extended meanwhile."""
        slot = str(ctx.data["slot"])
        docs = [doc for doc in await store.queued_in(ctx.db, slot) if doc.get("how") == "hold"]
        mails: list[Mail] = []
        for doc in docs:
            member = await store.staff_doc(ctx.db, doc["staff_id"])
            if member is None or not member.get("active", True):
                await self._drop(ctx, [doc["_id"]], "suppressed")
                continue
            prefs = await store.preferences_of(ctx.db, doc["staff_id"])
            later = quiet_until(prefs, ctx.now)
            if later is not None:
                new_slot = later.isoformat()
                await store.requeue(ctx.db, [doc["_id"]], new_slot)
                await store.set_status(ctx.db, doc["_id"], "held", {"held_until": later})
                ctx.write(due.schedule("release", new_slot, later, {"slot": new_slot}))
                continue
            event_type = (
                doc["event"].get("event_type") if doc["kind"] != "notice" else "notification.send"
            )
            recipient = Recipient(doc["staff_id"], "staff", member["name"], member["email"])
            payload = payload_of(event_type, doc["data"])
            if isinstance(payload, MatchProposed):
                ids = [p.proposal_id for p in payload.proposals]
                still_open = digest.open_proposals(payload, await store.find_proposals(ctx.db, ids))
                if not still_open:  # decided, withdrawn or filled while it waited
                    await self._drop(ctx, [doc["_id"]], "suppressed")
                    continue
                payload = payload.model_copy(update={"proposals": still_open})
                await store.relink_proposals(ctx.db, [p.proposal_id for p in still_open], ctx.now)
            letter = letter_for(event_type, payload, recipient, self.h.links)
            await store.set_status(ctx.db, doc["_id"], "pending")
            mails.append(Mail(doc["_id"], recipient, letter, dict(doc["event"])))
        outcomes = await self.h.postman.deliver(ctx.db, mails)
        done = [o.mail.delivery_id for o in outcomes if o.fate is not None and o.fate.final]
        ctx.write(store.dequeue(done))
        self._again_if_busy(ctx, "release", slot, outcomes)
        await self.h._settle(ctx, outcomes, busy_elsewhere_ok=True)

    async def retention(self, ctx: DueContext) -> None:
        """What expired goes, counted by kind; the next run is an hour later."""
        logged = ctx.now - self.h.retention
        gone = {
            "deliveries": await store.forget_deliveries(ctx.db, before=logged),
            "fanouts": await store.forget_fanouts(ctx.db, before=logged),
            "proposal_summaries": await store.forget_proposals(
                ctx.db, before=ctx.now - proposals.retention(self.h.links.ttl)
            ),
        }
        for kind, count in gone.items():
            self.metrics.retention_deleted.labels(kind).inc(count)
        if any(gone.values()):
            log.info("expired records deleted", extra={"deleted": gone})
        await adopt_subscriptions(ctx.db, ctx.now)
        ctx.write(due.schedule("retention", "deliveries", ctx.now + HOUSEKEEPING, {}))
