"""What a handler sees (`Context`) and how a service declares what it consumes (`Subscription`).

A handler is a small async function `handler(ctx) -> reply payload | None`. It reads
through `ctx.db`, and instead of writing and publishing itself it *stages*: `ctx.write`
for database writes and `ctx.emit` / `ctx.send` for outgoing messages. The platform then
commits the staged writes, the outbox and the processed-message record together and
publishes the messages after the commit, so that a crash at any line leaves the system
correct after redelivery.

Because a message may be handled again after a crash, staged writes must be repeatable:
insert documents under ids derived from the message (`ctx.new_id`), and guard updates
that must not be applied twice (see `diko_shared.store.guards`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

from faststream.rabbit import RabbitQueue
from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE, MessageSpec
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.messaging import topology
from diko_shared.messaging.derived import derived_id, derived_uuid
from diko_shared.messaging.errors import TransientError
from diko_shared.messaging.publisher import Outgoing
from diko_shared.messaging.reading import Reader
from diko_shared.store.group_commit import GroupCommitter, Write
from diko_shared.store.mongo import INBOX

P = TypeVar("P", bound=Payload)

#: The field of a claim (`Context.claim`) that names the message holding it.
CLAIMED_BY = "claimed_by"

#: Source and id together up to this length are written into the key as they are.
PLAIN_KEY_PARTS = 128


def message_key(queue: str, envelope: Envelope[Any]) -> str:
    """The deduplication key of a message for one consumer: queue, source and id."""
    return key_of(queue, envelope.source, envelope.id)


def key_of(queue: str, source: str, id_: str) -> str:
    """`<queue>|<source>|<id>`, or `<queue>|#<digest>` where that could be ambiguous.

    Two different messages must never share a key: the second would be taken for a
    repeat of the first and answered with its reply. Source and id may contain any
    character, `|` too, so the plain form is used only where it reads back unambiguously:
    neither part contains `|`, the source does not start with `#`, and both together
    have at most `PLAIN_KEY_PARTS` characters (keys stay short). Every other pair gets
    the SHA-256 of both parts, JSON-encoded, behind a `#`. A plain key has two `|`, a
    digest key one, and a plain key's second part never starts with `#`: the two forms
    cannot meet, and the ids derived from a key (`Context.new_id`) cannot either.
    """
    if "|" in queue:
        raise ValueError(f"a queue name has no '|': {queue!r}")
    plain = (
        "|" not in source
        and "|" not in id_
        and not source.startswith("#")
        and len(source) + len(id_) <= PLAIN_KEY_PARTS
    )
    if plain:
        return f"{queue}|{source}|{id_}"
    parts = json.dumps([source, id_], ensure_ascii=True, separators=(",", ":"))
    return f"{queue}|#{hashlib.sha256(parts.encode()).hexdigest()}"


def inbox_listing(key: str, type_: str, claims: list[dict[str, str]]) -> UpdateOne:
    """List claims (`{"collection", "_id"}`) in the inbox record of message `key`.

    The record exists only for messages that claim: made by the first listing, with the
    time the retention (`forget_processed`) goes by.
    """
    return UpdateOne(
        {"_id": key},
        {
            "$addToSet": {"claims": {"$each": claims}},
            "$setOnInsert": {"at": datetime.now(UTC), "type": type_},
        },
        upsert=True,
    )


@dataclass
class Context(Generic[P]):
    """One message being handled, and what its handler stages."""

    envelope: Envelope[P]
    spec: MessageSpec
    service: str
    queue: str
    db: AsyncDatabase
    #: Batches `claim` with those of concurrent messages; without it, claims write alone.
    committer: GroupCommitter | None = None
    writes: list[Write] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)

    @property
    def subscription_records(self) -> bool:
        """Commands and events are recorded in the inbox; queries only read."""
        return self.spec.kind != "query" or self.spec.recorded

    @property
    def data(self) -> P:
        return self.envelope.data

    @cached_property
    def key(self) -> str:
        return message_key(self.queue, self.envelope)

    @property
    def occurred_at(self) -> datetime:
        """When the message says it happened; the same on every redelivery."""
        return self.envelope.time.astimezone(UTC)

    @property
    def correlation_id(self) -> str:
        return self.envelope.correlationid or self.envelope.id

    def new_id(self, prefix: str, *parts: str) -> str:
        """An id derived from this message and `parts`, e.g. `cmp_3f2a…`; stable on redelivery.

        `prefix` and `parts` are identifiers of the service's own and must not contain `|`,
        so that different calls can never derive the same id.
        """
        if any("|" in part for part in (prefix, *parts)):
            raise ValueError(f"derived-id parts must not contain '|': {(prefix, *parts)!r}")
        name = "|".join((self.key, prefix, *parts))
        return derived_id(prefix, name)

    async def claim(self, collection: str, id_: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Insert a claim under `id_` now, not staged: the document that holds `id_` after.

        A concurrent decision (one company per name and postcode) is made by inserting
        under a deterministic `_id`: of two messages, one insert wins. The claim names
        this message (`claimed_by`), so a redelivery finds it its own. If the message
        then fails for good (refused, dead-lettered), the pipeline deletes its claims, so
        that a message that failed never blocks a later correct one. The returned
        document is this message's claim, or another's that holds `id_`.
        """
        if not self.subscription_records:
            raise TypeError(f"{self.spec.type!r} is a query; it only reads and claims nothing")
        listed = inbox_listing(
            self.key, self.envelope.type, [{"collection": collection, "_id": id_}]
        )
        document = {**fields, "_id": id_, CLAIMED_BY: self.key}
        if self.committer is not None:
            # The message's inbox record lists the claim before it exists, so that a
            # failure can release it.
            won = await self.committer.insert_after(
                [Write(INBOX, listed)], Write(collection, InsertOne(document))
            )
        else:
            await self.db[INBOX].bulk_write([listed])
            try:
                await self.db[collection].insert_one(document)
                won = True
            except DuplicateKeyError:
                won = False
        if won:
            return document
        held = await self.db[collection].find_one({"_id": id_})
        if held is None:
            raise TransientError(f"the claim {id_!r} in {collection} vanished")
        return held

    def write(self, *writes: Write | Iterable[Write]) -> None:
        """Stage database writes; they are committed after the handler returns."""
        for write in writes:
            if isinstance(write, Write):
                self.writes.append(write)
            else:
                self.writes.extend(write)

    def emit(self, payload: Payload, *, subject: str | None = None) -> str:
        """Stage an event; returns its id. Published after the commit, through the outbox."""
        return self._stage(payload, topology.EVENTS.name, "event", subject)

    def send(self, payload: Payload, *, subject: str | None = None) -> str:
        """Stage a command to another service; returns its id."""
        return self._stage(payload, topology.COMMANDS.name, "command", subject)

    def _stage(self, payload: Payload, exchange: str, kind: str, subject: str | None) -> str:
        spec = CATALOGUE.for_payload(type(payload))
        if spec.kind != kind and not (kind == "command" and spec.kind == "query"):
            raise TypeError(f"{spec.type!r} is a {spec.kind}, not a {kind}")
        message_id = derived_uuid(f"{self.key}|out|{len(self.outgoing)}")
        envelope = new_envelope(
            spec.type,
            payload,
            source=self.service,
            subject=subject,
            correlationid=self.correlation_id,
            causationid=self.envelope.id,
            id_=message_id,
        )
        self.outgoing.append(Outgoing.from_envelope(exchange, envelope))
        return message_id


Handler = Callable[[Context[Any]], Awaitable[Payload | None]]


@dataclass(frozen=True)
class Subscription:
    """A queue the service consumes and the handler of its messages."""

    spec: MessageSpec
    handler: Handler
    queue: RabbitQueue

    @cached_property
    def reader(self) -> Reader:
        """Reads its bodies: strictly or (events) tolerantly, in every version it accepts."""
        return Reader(self.spec)

    @property
    def records_processing(self) -> bool:
        """Queries only read, so they need no processed-message record and no outbox."""
        return self.spec.kind != "query" or self.spec.recorded


def request_subscription(service: str, type_: str, handler: Handler) -> Subscription:
    """The owner's subscription to one of its commands or queries."""
    spec = CATALOGUE.require(type_)
    if not spec.is_request:
        raise ValueError(f"{type_!r} is an event; use an event subscription")
    if spec.owner != service:
        raise ValueError(f"{type_!r} belongs to {spec.owner!r}, not to {service!r}")
    return Subscription(spec, handler, topology.request_queue(spec))


def reaction_subscription(service: str, type_: str, handler: Handler) -> Subscription:
    """A service's subscription to an event; the catalogue must list it as a reaction."""
    spec = CATALOGUE.require(type_)
    if spec.kind != "event":
        raise ValueError(f"{type_!r} is a {spec.kind}, not an event")
    if type_ not in CATALOGUE.reactions(service):
        raise ValueError(
            f"{service!r} does not react to {type_!r} in the catalogue; "
            "add it with CATALOGUE.reacts() in its contract module"
        )
    queue = topology.reaction_queue(service, type_)
    return Subscription(spec, handler, queue)
