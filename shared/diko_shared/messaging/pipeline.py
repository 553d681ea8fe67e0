"""The consuming pipeline: read, validate, deduplicate, handle, commit, answer, acknowledge.

Before its handler runs, the pipeline looks up the message's processed-message record
by its key (one query for the messages handled at the same time, `BatchedLookup`). A
message whose record exists is a duplicate; one without a record is handled, whether it
is new or an earlier attempt died or failed before its commit.

Every message ends in exactly one of these ways, and is acknowledged only after it:

- processed: the handler's writes and then the processed-message record, which carries
  the reply and what the handler emitted, are committed; the emitted messages are
  published and confirmed, the reply is sent and the message is acknowledged (with its
  neighbours on the channel, `acks`);
- a duplicate: its processed-message record exists, so the messages it stored are
  published again (under their ids: consumers drop a repeat) and the stored reply is
  sent again;
- refused: it cannot be read (`Rejected`) or cannot be carried out (`DomainError`), and is
  answered with an error reply when it has `reply_to`, else dead-lettered with the reason;
- retried: the handler failed in a way that may pass (also `NotYetKnown` on a message
  without `reply_to`: another service's event may still bring what it names); a copy
  goes to a wait queue that returns it after a delay, until the attempts are used up and
  it is dead-lettered.

If the process dies before the acknowledgement, the broker redelivers the message. That is
why the processed-message record is the outbox of a consumed message: a crash between the
commit and the confirms leaves the message unacknowledged, and its redelivery, a
duplicate, publishes what the record stored. Only when publishing fails (the broker
refuses or does not confirm in time) does the pipeline write an outbox entry and leave
the messages to the relay, which retries them as it does those of HTTP requests and
due items. Publishing before the acknowledgement saves the outbox entry's insert and
delete, two of a message's four writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from pydantic_core import to_json
from pymongo import InsertOne
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared import logs
from diko_shared.contract import problems
from diko_shared.contract.base import Empty, Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.envelope import Envelope, ErrorCode, ErrorDetail
from diko_shared.due import due_already
from diko_shared.messaging import identity, topology
from diko_shared.messaging.acks import Acknowledger
from diko_shared.messaging.errors import DomainError, NotYetKnown, Rejected, is_permanent
from diko_shared.messaging.handling import CLAIMED_BY, Context, Subscription, message_key
from diko_shared.messaging.profile import PhaseProfile
from diko_shared.messaging.publisher import CONTENT_TYPE, Outgoing, Publisher, pack, unpack
from diko_shared.messaging.reading import UnsupportedVersion
from diko_shared.messaging.relay import OutboxRelay, publish_confirmed
from diko_shared.service.metrics import Metrics
from diko_shared.settings import ServiceSettings
from diko_shared.store.group_commit import GroupCommitter, Write
from diko_shared.store.lookups import BatchedLookup
from diko_shared.store.mongo import INBOX, OUTBOX, PROCESSED

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-diko-attempt"
REASON_HEADER = "x-diko-reason"
ERROR_HEADER = "x-diko-error"
QUEUE_HEADER = "x-diko-queue"
SERVICE_HEADER = "x-diko-service"
FAILED_AT_HEADER = "x-diko-failed-at"
#: Set by `diko dlq replay` on a dead letter it sends back to its queue.
REPLAYED_HEADER = "x-diko-replayed"

#: How long the messages a handler emitted may take to be confirmed before the outbox
#: relay takes them over (the broker is blocked or gone) and the message is acknowledged.
PUBLISH_TIMEOUT_S = 30.0

#: Envelope attributes; a validation error on one of them means the envelope itself is broken.
ENVELOPE_FIELDS = frozenset(Envelope.model_fields) - {"data"}


@dataclass
class Hooks:
    """Points where tests and instrumentation may step in; empty in production."""

    after_commit: Callable[[Envelope[Any]], Awaitable[None] | None] | None = None
    #: Wall time per phase of each message (the pipeline benchmark); None costs nothing.
    profile: PhaseProfile | None = None


def ok_reply(result: Payload | None) -> dict[str, Any]:
    return {"ok": True, "data": (result or Empty()).model_dump(mode="json")}


def error_reply(code: ErrorCode | str, message: str, details: list[ErrorDetail]) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {
            "code": str(code),
            "message": message,
            "details": [d.model_dump() for d in details],
        },
    }


def _rejection(exc: ValidationError, body: bytes, expected_type: str) -> Rejected:
    """Say precisely, in German, why a body is not a valid envelope of the expected type."""
    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return Rejected("malformed_json", problems.german(errors[0]), details=problems.of(exc))
    if any(not e["loc"] for e in errors):
        return Rejected(
            "malformed_envelope",
            "Der Inhalt der Nachricht muss ein JSON-Objekt sein: der Umschlag mit den "
            "Attributen specversion, id, source, type, time und data.",
            details=problems.of(exc),
        )
    details = problems.of(exc)
    sent_type = json.loads(body).get("type")
    if isinstance(sent_type, str) and sent_type != expected_type:
        return _wrong_type(sent_type, expected_type)
    broken = [e for e in errors if e["loc"][0] in ENVELOPE_FIELDS]
    if broken:
        reason = "missing_field" if any(e["type"] == "missing" for e in broken) else "bad_envelope"
        names = ", ".join(sorted({str(e["loc"][0]) for e in broken}))
        return Rejected(
            reason,
            f"Der Umschlag der Nachricht ist unvollständig oder ungültig: {names}.",
            details=details,
        )
    count = "1 ungültiges Feld" if len(details) == 1 else f"{len(details)} ungültige Felder"
    return Rejected("validation_error", f"Die Nutzdaten (data) haben {count}.", details=details)


def _wrong_type(sent_type: str, expected_type: str) -> Rejected:
    if CATALOGUE.get(sent_type) is None:
        return Rejected(
            "unknown_type",
            f"Den Nachrichtentyp {sent_type!r} gibt es im Vertrag von diko nicht.",
            code=ErrorCode.UNKNOWN_TYPE,
        )
    return Rejected(
        "wrong_queue",
        f"Eine Nachricht vom Typ {sent_type!r} kam in die Warteschlange für {expected_type!r}: "
        "Routing-Schlüssel und Typ müssen übereinstimmen.",
        details=[
            ErrorDetail(
                field="type", problem=f"Erwartet wird {expected_type!r}.", type="wrong_queue"
            )
        ],
    )


def _bytes(count: int) -> str:
    """`262.144 Bytes`, with the thousands separator German writes."""
    return f"{count:,} Bytes".replace(",", ".")


class Pipeline:
    """Takes each message of a service's subscriptions through the steps above."""

    def __init__(
        self,
        service: str,
        settings: ServiceSettings,
        db: AsyncDatabase,
        publisher: Publisher,
        committer: GroupCommitter,
        relay: OutboxRelay,
        metrics: Metrics,
        hooks: Hooks,
    ) -> None:
        self.service = service
        self.settings = settings
        self.db = db
        self.processed = db[PROCESSED]
        #: Whether each delivered message was processed before: its record, or None.
        self.processed_records = BatchedLookup(self.processed)
        self.publisher = publisher
        self.committer = committer
        self.relay = relay
        self.metrics = metrics
        self.hooks = hooks
        #: Who sent each message, and whether they may (checked before anything else).
        self.identity = identity.Identity(publisher.user_id)
        #: Keys being handled now: a copy of a message that arrives meanwhile waits for it.
        self._in_flight: dict[str, asyncio.Event] = {}
        #: Settles messages per channel in delivery order, many with one frame.
        self.acks = Acknowledger()
        #: Called with the items due already that a commit scheduled (the due loop's wake).
        self.on_due_already: Callable[[list[str]], None] | None = None

    async def handle(self, subscription: Subscription, raw: AbstractIncomingMessage) -> None:
        self.acks.receive(raw)
        queue = subscription.queue.name
        started = time.perf_counter()
        in_progress = self.metrics.in_progress_on(queue)
        in_progress.inc()
        tokens = (
            logs.message_id.set(raw.message_id),
            logs.correlation_id.set(raw.correlation_id),
            logs.message_type.set(raw.type),
        )
        try:
            outcome = await self._settled(raw, self._handle(subscription, raw, queue))
        finally:
            in_progress.dec()
            for var, token in zip(
                (logs.message_id, logs.correlation_id, logs.message_type), tokens, strict=True
            ):
                var.reset(token)
        self.metrics.handled_as(queue, outcome).inc()
        self.metrics.handler_seconds_of(queue).observe(time.perf_counter() - started)

    async def handle_unrouted(self, raw: AbstractIncomingMessage, queue: str) -> None:
        """A command whose type no service handles: answered or dead-lettered, `unknown_type`."""
        self.acks.receive(raw)
        sent = raw.type or raw.routing_key or "?"
        text = f"Den Nachrichtentyp {sent!r} bearbeitet kein Dienst von diko."
        refusal = self.refuse(raw, queue, "unknown_type", ErrorCode.UNKNOWN_TYPE, text, [])
        self.metrics.handled_as(queue, await self._settled(raw, refusal)).inc()

    async def _settled(self, raw: AbstractIncomingMessage, work: Awaitable[str]) -> str:
        """The outcome of `work`; if it fails, the message goes back to its queue."""
        try:
            return await work
        except Exception:  # noqa: BLE001 - logged; the message goes back to its queue
            try:
                await self.acks.nack(raw, requeue=True)
                log.exception("could not settle the message; it goes back to its queue")
            except Exception:  # noqa: BLE001 - the channel is gone: the broker redelivers
                log.warning("broker connection lost before the acknowledgement; it redelivers")
            return "requeued"

    async def _handle(
        self,
        subscription: Subscription,
        raw: AbstractIncomingMessage,
        queue: str,
    ) -> str:
        try:
            if (refused := self.identity.refusal(subscription.spec, raw)) is not None:
                if refused.reason != identity.FORGED:
                    raise refused
                await self.dead_letter(raw, queue, refused.reason, refused.message)
                return "dead_lettered"
            began = time.perf_counter()
            envelope = self.read(subscription, raw)
            self._took("decode_validate", began)
            logs.correlation_id.set(envelope.correlationid or envelope.id)
            if subscription.records_processing:
                return await self._process(subscription, raw, queue, envelope)
            ctx = Context(envelope, subscription.spec, self.service, queue, self.db)
            result = await subscription.handler(ctx)
            if ctx.writes or ctx.outgoing:
                raise TypeError(f"query handler of {subscription.spec.type!r} staged changes")
            await self._reply(raw, ok_reply(result))
            await self.acks.ack(raw)
            return "processed"
        except UnsupportedVersion as exc:
            if exc.newer and _attempt(raw) <= len(self.settings.retry_delays_ms):
                # An upgraded replica on the same queue may take it on a later attempt.
                return await self._retry(raw, queue, exc, "of a newer version")
            return await self.refuse(raw, queue, exc.reason, exc.code, exc.message, exc.details)
        except Rejected as exc:
            return await self.refuse(raw, queue, exc.reason, exc.code, exc.message, exc.details)
        except DomainError as exc:
            if self._may_still_arrive(exc, raw):
                return await self._retry(raw, queue, exc, "it names what is not known yet")
            details = [
                d if d.type else d.model_copy(update={"type": exc.code.value}) for d in exc.details
            ]
            return await self.refuse(raw, queue, exc.code.value, exc.code, exc.message, details)
        except Exception as exc:  # noqa: BLE001 - classified: give up now, or retry
            if is_permanent(exc):
                return await self._give_up(raw, queue, "handler_error", exc)
            return await self._retry_or_give_up(raw, queue, exc)

    def read(self, subscription: Subscription, raw: AbstractIncomingMessage) -> Envelope[Any]:
        """The message as a validated envelope of the subscription's type, or `Rejected`."""
        body = raw.body
        limit = self.settings.max_body_bytes
        if len(body) > limit:
            raise Rejected(
                "too_large",
                f"Die Nachricht ist {_bytes(len(body))} groß; erlaubt sind höchstens "
                f"{_bytes(limit)}.",
            )
        if raw.content_type != CONTENT_TYPE:
            raise Rejected(
                "wrong_content_type",
                f"Die AMQP-Eigenschaft content_type muss {CONTENT_TYPE!r} sein, "
                f"nicht {raw.content_type!r}.",
            )
        expected = subscription.spec.type
        try:
            envelope = subscription.reader.read(body, self.metrics)
        except ValidationError as exc:
            raise _rejection(exc, body, expected) from None
        if envelope.type != expected:
            raise _wrong_type(envelope.type, expected)
        return envelope

    async def _process(
        self,
        subscription: Subscription,
        raw: AbstractIncomingMessage,
        queue: str,
        envelope: Envelope[Any],
    ) -> str:
        key = message_key(queue, envelope)
        # Two copies of one message in this consumer's prefetch window (a publisher's retry,
        # a redelivery) would both find no record while the first is still running, and
        # both would publish its events. The copy waits, then finds the first's record.
        while (running := self._in_flight.get(key)) is not None:
            await running.wait()
        finished = self._in_flight[key] = asyncio.Event()
        try:
            return await self._process_once(subscription, raw, queue, envelope, key)
        finally:
            del self._in_flight[key]
            finished.set()

    async def _process_once(
        self,
        subscription: Subscription,
        raw: AbstractIncomingMessage,
        queue: str,
        envelope: Envelope[Any],
        key: str,
    ) -> str:
        now = datetime.now(UTC)
        began = time.perf_counter()
        done = await self.processed_records.find(key)
        began = self._took("lookup", began)
        if done is not None:
            stored = unpack(done["messages"]) if done.get("messages") else []
            if stored and _may_be_unpublished(raw) and not await self._publish(key, stored):
                return await self._requeue(raw)
            await self._reply(raw, done.get("reply"))
            await self.acks.ack(raw)
            return "duplicate"
        ctx = Context(envelope, subscription.spec, self.service, queue, self.db, self.committer)
        try:
            result = await subscription.handler(ctx)
        except Exception as exc:
            if self._fails_for_good(exc, raw):
                await self._release_claims(key)
            raise
        began = self._took("handler", began)
        # Kept as the JSON it is sent as, like the packed messages: the store never looks
        # inside it, and one opaque value costs it less than nested fields.
        reply = to_json(ok_reply(result))
        record = {"_id": key, "type": envelope.type, "at": now, "reply": reply}
        if ctx.outgoing:
            record["messages"] = pack(ctx.outgoing)
        prepare = [w for w in ctx.writes if w.stage == 0]
        change = [w for w in ctx.writes if w.stage != 0]
        try:
            await self.committer.commit(
                prepare, change, [Write(PROCESSED, InsertOne(record))], tag=key
            )
        except Exception as exc:
            if not await self._committed_after_all(key):
                raise
            log.warning(
                "the commit reported an error but its record is written; carrying on",
                extra={"error": repr(exc)},
            )
        began = self._took("commit", began)
        if self.on_due_already is not None and (items := due_already(ctx.writes)):
            self.on_due_already(items)
        if self.hooks.after_commit is not None:
            await _maybe_await(self.hooks.after_commit(envelope))
        # Committed: a crash from here on redelivers the message, which finds itself
        # processed and publishes what its record stored.
        if ctx.outgoing and not await self._publish(key, ctx.outgoing):
            return await self._requeue(raw)
        began = time.perf_counter()
        await self._reply(raw, reply)
        await self.acks.ack(raw)
        self._took("ack", began)
        return "processed"

    async def _publish(self, key: str, messages: Sequence[Outgoing]) -> bool:
        """Publish a processed message's emitted messages, confirmed, before its acknowledgement.

        If the broker refuses them or does not confirm in time, they go to the outbox for
        the relay to retry, as the messages of HTTP requests and due items do, and the
        message is acknowledged all the same. False when even that write failed: the
        message then goes back to its queue, and its redelivery publishes the record's.
        """
        began = time.perf_counter()
        try:
            await publish_confirmed(self.publisher, self.metrics, messages, PUBLISH_TIMEOUT_S)
            return True
        except Exception as exc:  # noqa: BLE001 - the outbox relay takes the messages over
            log.warning(
                "emitted messages not published; the outbox relay takes them over",
                extra={"outbox_key": key, "error": repr(exc)},
            )
            return await self._to_outbox(key, messages)
        finally:
            self._took("publish_confirm", began)

    async def _to_outbox(self, key: str, messages: Sequence[Outgoing]) -> bool:
        entry = {
            "_id": key,
            "messages": pack(messages),
            "lease_until": self.relay.lease_until(),
            "created_at": datetime.now(UTC),
        }
        try:
            await self.committer.commit([Write(OUTBOX, InsertOne(entry))], tag=key)
        except Exception as exc:  # noqa: BLE001 - the redelivery publishes the record's
            log.warning(
                "emitted messages neither published nor kept in the outbox; "
                "the message goes back to its queue",
                extra={"outbox_key": key, "error": repr(exc)},
            )
            return False
        self.relay.hand_over(key, messages)
        return True

    async def _committed_after_all(self, key: str) -> bool:
        """Whether a commit that raised wrote its processed record all the same.

        A connection lost after the store applied the last write raises like one lost
        before it. Going on as committed publishes the messages now; handled as a failure,
        they would wait for a retry or a replay of the message.
        """
        try:
            return await self.processed.find_one({"_id": key}, {"_id": 1}) is not None
        except Exception:  # noqa: BLE001 - unknown: the commit's own error is raised
            return False

    async def _requeue(self, raw: AbstractIncomingMessage) -> str:
        await self.acks.nack(raw, requeue=True)
        return "requeued"

    def _took(self, phase: str, began: float) -> float:
        """Note the time since `began` as `phase` when profiling; returns now."""
        now = time.perf_counter()
        if (profile := self.hooks.profile) is not None:
            profile.add(phase, now - began)
        return now

    def _may_still_arrive(self, exc: Exception, raw: AbstractIncomingMessage) -> bool:
        """A `NotYetKnown` that nobody waits for, with attempts left: retried, because the
        event that brings what it names may still be on its way."""
        return (
            isinstance(exc, NotYetKnown)
            and not raw.reply_to
            and _attempt(raw) <= len(self.settings.retry_delays_ms)
        )

    def _fails_for_good(self, exc: Exception, raw: AbstractIncomingMessage) -> bool:
        """Whether this failure of a handler ends the message: no attempt will follow."""
        if self._may_still_arrive(exc, raw):
            return False
        if isinstance(exc, DomainError) or is_permanent(exc):
            return True
        return _attempt(raw) > len(self.settings.retry_delays_ms)

    async def _release_claims(self, key: str) -> None:
        """Delete what the message claimed (`Context.claim`): it must not block a later one.

        Only when its handler failed for good; a commit that failed may have written
        documents that rely on the claims, so those stay (a claim whose message never
        finishes is for its owner to take over, as after a crash).
        """
        try:
            record = await self.db[INBOX].find_one({"_id": key}) or {}
            for claim in record.get("claims", []):
                await self.db[claim["collection"]].delete_one(
                    {"_id": claim["_id"], CLAIMED_BY: key}
                )
        except Exception:
            log.warning("could not release the claims of a failed message", exc_info=True)

    async def _reply(
        self, raw: AbstractIncomingMessage, reply: dict[str, Any] | bytes | None
    ) -> None:
        """Answer a request that asked for it; a requester that has gone is not an error.

        `reply` as a dict, or as its JSON (a processed record's; records written before
        6 December 2026 hold the dict).
        """
        if not raw.reply_to or reply is None:
            return
        answer = Outgoing(
            exchange="",
            routing_key=raw.reply_to,
            body=reply if isinstance(reply, bytes) else to_json(reply),
            message_id=str(uuid.uuid4()),
            type="reply",
            source=self.service,
            correlation_id=raw.correlation_id,
        )
        await self.publisher.publish(answer, mandatory=False)

    async def refuse(
        self,
        raw: AbstractIncomingMessage,
        queue: str,
        reason: str,
        code: ErrorCode | str,
        text: str,
        details: list[ErrorDetail],
    ) -> str:
        """Answer with an error when the sender wants a reply, else dead-letter with the reason."""
        if raw.reply_to:
            await self._reply(raw, error_reply(code, text, details))
            await self.acks.ack(raw)
            return "answered_error"
        problems = "; ".join(f"{d.field}: {d.problem}" for d in details)
        await self.dead_letter(raw, queue, reason, f"{text} ({problems})" if problems else text)
        return "dead_lettered"

    async def dead_letter(
        self,
        raw: AbstractIncomingMessage,
        queue: str,
        reason: str,
        error: str,
    ) -> None:
        """Copy the message to `diko.dlx` with the reason in its headers, then acknowledge it."""
        headers = {
            **(raw.headers or {}),
            REASON_HEADER: reason,
            ERROR_HEADER: error[:2000],
            QUEUE_HEADER: queue,
            SERVICE_HEADER: self.service,
            FAILED_AT_HEADER: datetime.now(UTC).isoformat(),
            **self.identity.carried(raw),
        }
        await self.publisher.publish(_copy(raw, topology.DLX.name, queue, headers))
        await self.acks.ack(raw)
        self.metrics.dead_lettered.labels(queue, reason).inc()
        log.error("message dead-lettered", extra={"queue": queue, "reason": reason, "error": error})

    async def _retry_or_give_up(
        self, raw: AbstractIncomingMessage, queue: str, exc: Exception
    ) -> str:
        if _attempt(raw) > len(self.settings.retry_delays_ms):
            return await self._give_up(raw, queue, "retries_exhausted", exc)
        return await self._retry(raw, queue, exc)

    async def _retry(
        self,
        raw: AbstractIncomingMessage,
        queue: str,
        exc: Exception,
        why: str = "handler failed",
    ) -> str:
        """Put a copy into the wait queue that returns it after the attempt's delay."""
        attempt = _attempt(raw)
        delay = self.settings.retry_delays_ms[attempt - 1]
        error = _described(exc)
        headers = {
            **(raw.headers or {}),
            ATTEMPT_HEADER: attempt + 1,
            **topology.retry_headers(self.service, delay),
            ERROR_HEADER: error[:2000],
            **self.identity.carried(raw),
        }
        await self.publisher.publish(_copy(raw, topology.WAIT.name, queue, headers))
        await self.acks.ack(raw)
        self.metrics.retried.labels(queue).inc()
        log.warning(
            f"{why}; retrying later",
            extra={"queue": queue, "attempt": attempt, "delay_ms": delay, "error": error},
        )
        return "retried"

    async def _give_up(
        self,
        raw: AbstractIncomingMessage,
        queue: str,
        reason: str,
        exc: Exception,
    ) -> str:
        """Answer a waiting requester `internal` and dead-letter the message for an operator.

        `retries_exhausted`: a fault that may pass kept failing; `handler_error`: our code
        failed in a way every attempt would repeat. Either way the message waits in the
        dead-letter queue, to be replayed once the cause is fixed.
        """
        attempt = _attempt(raw)
        dlq = f"{self.service}.dlq"
        if reason == "retries_exhausted":
            text = (
                f"Die Nachricht ist nach {attempt} Versuchen gescheitert und liegt in {dlq}, "
                "bis ein Betreiber sie erneut zustellt."
            )
        else:
            text = (
                f"Die Nachricht ließ sich wegen eines Fehlers in diko ({type(exc).__name__}) "
                f"nicht verarbeiten; ein neuer Versuch würde genauso scheitern. Sie liegt in "
                f"{dlq}, bis ein Betreiber sie nach der Behebung erneut zustellt."
            )
        await self._reply(raw, error_reply(ErrorCode.INTERNAL, text, []))
        error = _described(exc)
        if reason == "retries_exhausted":
            error = f"after {attempt} attempts: {error}"
        else:
            log.error("handler failed permanently", exc_info=exc, extra={"queue": queue})
        await self.dead_letter(raw, queue, reason, error)
        return "dead_lettered"


def _may_be_unpublished(raw: AbstractIncomingMessage) -> bool:
    """Whether an earlier delivery of this duplicate may have stopped before its confirms.

    A redelivery, a retry's copy or a replayed dead letter may follow one that committed
    and then died or failed. A copy straight from its publisher (a publisher's repeat, an
    event republished upstream) follows a delivery that was acknowledged only after its
    messages were confirmed or kept in the outbox, or that is still unacknowledged and
    will be redelivered: republishing for it would repeat the stored messages down the
    whole chain of consumers.
    """
    headers = raw.headers or {}
    return bool(raw.redelivered) or _attempt(raw) > 1 or REPLAYED_HEADER in headers


def _attempt(raw: AbstractIncomingMessage) -> int:
    """Which attempt this delivery is: 1, or what the retry before it wrote."""
    return int((raw.headers or {}).get(ATTEMPT_HEADER, 1))


def _described(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _copy(
    raw: AbstractIncomingMessage, exchange: str, routing_key: str, headers: dict[str, Any]
) -> Outgoing:
    """The same message (body and ids) for another exchange, with new headers."""
    return Outgoing(
        exchange=exchange,
        routing_key=routing_key,
        body=raw.body,
        message_id=raw.message_id or "",
        type=raw.type or "",
        source=raw.app_id or "",
        correlation_id=raw.correlation_id,
        reply_to=raw.reply_to,
        headers=headers,
    )


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None:
        await value
