"""What a service holds about people: its collections, how to find a person in them, how to erase.

A `Holding` names one collection, the kinds of person it can mention, the fields that
carry a person's id or a related id (an applicant's proposals), why it is kept and how
it is erased. Finding is by those ids only, never by name: the services that hold a
copy learn the ids from the request and need nothing more personal to find it.

Besides the collections, the platform keeps copies of messages: the outbox (until the
broker confirms), the processed records (the reply to each request, for its
redelivery) and due items. Those are searched by scanning for the ids (`platform_copies`):
an erasure is rare, and the outbox, the processed records (pruned after
`DIKO_INBOX_RETENTION_DAYS`) and due items are small.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from diko_shared import text
from diko_shared.due import DUE
from diko_shared.messaging.publisher import Outgoing, pack, unpack
from diko_shared.store.mongo import OUTBOX, PROCESSED

DELETE: Literal["delete"] = "delete"
#: Kept as it is: ids only, needed for integrity (a proposal decided once), said in `kept`.
KEEP: Literal["keep"] = "keep"
#: The personal fields of every part of the document that carries the person's id are
#: overwritten (`SCRUBBED`): a proposal or a fair keeps its shape without the person.
SCRUB: Literal["scrub"] = "scrub"
PERSONAL_FIELDS = frozenset(
    {"name", "first_name", "last_name", "email", "phone", "home_town", "street", "address"}
)
SCRUBBED = "gelöscht"
#: The reply kept for a processed request after the person in it was erased.
REDACTED_REPLY = {"ok": True, "data": {"redacted": "Die Daten dieser Antwort wurden gelöscht."}}


#: An anonymising update that needs the ids (`$pull` of the person's id from a list).
UpdateFor = Callable[[Sequence[str]], Mapping[str, Any]]


@dataclass(frozen=True)
class Rewrite:
    """An erasure that rewrites each document in Python (`redact`, or the service's own):
    for what no update expresses on FerretDB (drop the list entry that is the person)."""

    rewrite: Callable[[dict[str, Any], Sequence[str]], dict[str, Any]]


@dataclass(frozen=True)
class Holding:
    """One collection that can mention a person, and how the service erases it.

    `fields` hold a person's id or a related id as the whole value (or an array element);
    `contains` hold them inside a longer value (a claim's `_id` such as `applicant|apl_…`).
    `erase` is `DELETE` or an update that anonymises the document (`{"$unset": {...}}`):
    for what a statute or the service's integrity keeps without the person, said in `kept`.
    """

    collection: str
    kinds: tuple[str, ...]
    fields: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    #: The ids sit deep inside (a run's plan, a fair's timetables): read every document.
    scan: bool = False
    erase: Literal["delete", "keep", "scrub"] | Mapping[str, Any] | UpdateFor | Rewrite = DELETE
    purpose: str = ""
    kept: str = ""
    #: How long it is kept when no one asks for its erasure (the record of processing):
    #: empty for "until the person is erased".
    retention: str = ""

    def query(self, needles: Sequence[str]) -> dict[str, Any]:
        """The filter of the documents that mention any of `needles` (all, for a scan)."""
        if self.scan:
            return {}
        clauses: list[dict[str, Any]] = [{name: {"$in": list(needles)}} for name in self.fields]
        pattern = "|".join(re.escape(needle) for needle in needles)
        clauses += [{name: {"$regex": pattern}} for name in self.contains]
        return {"$or": clauses} if len(clauses) > 1 else clauses[0]


@dataclass
class Found:
    """What one service holds about a person: records by collection, and counted copies."""

    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    elsewhere: list[str] = field(default_factory=list)


def as_json(value: Any) -> Any:
    """A stored document as JSON a person can read: times in ISO 8601, bytes as a note."""
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} Bytes, base64 {base64.b64encode(value[:12]).decode()}…>"
    if isinstance(value, str):
        return text.clean(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def searchable(value: Any) -> str:
    """The document as one text to search: packed messages (bytes, JSON) opened, unescaped."""
    if isinstance(value, bytes):
        decoded = value.decode("utf-8", errors="replace")
        try:
            return searchable(json.loads(decoded))
        except ValueError:
            return decoded
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return searchable(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, Mapping):
        return " ".join(f"{k} {searchable(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " ".join(searchable(v) for v in value)
    return str(value)


def mentions(document: Mapping[str, Any], needles: Iterable[str]) -> bool:
    """Whether any needle occurs anywhere in the document, packed messages included."""
    dumped = searchable(document)
    return any(needle and needle in dumped for needle in needles)


async def documents(
    db: AsyncDatabase, holding: Holding, needles: Sequence[str]
) -> list[dict[str, Any]]:
    """The holding's documents that mention the person."""
    cursor = db[holding.collection].find(holding.query(needles))
    if holding.scan:
        return [d async for d in cursor if mentions(d, needles)]
    return [d async for d in cursor]


def relevant(holdings: Sequence[Holding], kind: str) -> list[Holding]:
    return [h for h in holdings if kind in h.kinds]


async def find(
    db: AsyncDatabase, holdings: Sequence[Holding], kind: str, needles: Sequence[str]
) -> Found:
    """Every record of the service's own collections that mentions the person, and its copies."""
    found = Found()
    for holding in relevant(holdings, kind):
        records = [as_json(d) for d in await documents(db, holding, needles)]
        if records:  # two holdings of one collection (two ways it names people): one list
            listed = found.collections.setdefault(holding.collection, [])
            seen = {r["_id"] for r in listed}
            listed.extend(r for r in records if r["_id"] not in seen)
    copies = await platform_copies(db, needles)
    found.elsewhere = [
        f"{name}: {len(ids)} {COPY_NAMES[name]}" for name, ids in copies.items() if ids
    ]
    return found


#: How the export names the copies outside the collections.
COPY_NAMES = {
    OUTBOX: "noch nicht zugestellte Nachricht(en)",
    PROCESSED: "Protokoll(e) verarbeiteter Nachrichten (Antwort und ausgehende Nachrichten)",
    DUE: "geplante Aufgabe(n)",
}


async def platform_copies(db: AsyncDatabase, needles: Sequence[str]) -> dict[str, list[Any]]:
    """The `_id`s of outbox entries, processed records and due items that mention a needle."""
    copies: dict[str, list[Any]] = {}
    for name in (OUTBOX, PROCESSED, DUE):
        copies[name] = [d["_id"] async for d in db[name].find({}) if mentions(d, needles)]
    return copies


async def count(
    db: AsyncDatabase, holdings: Sequence[Holding], kind: str, needles: Sequence[str]
) -> dict[str, int]:
    """How many records of each collection an erasure will remove or anonymise."""
    counts: dict[str, int] = {}
    counted: dict[str, set[Any]] = {}
    for holding in relevant(holdings, kind):
        ids = {d["_id"] for d in await documents(db, holding, needles)}
        if ids:
            counts[holding.collection] = len(ids | counted.get(holding.collection, set()))
            counted.setdefault(holding.collection, set()).update(ids)
    copies = await platform_copies(db, needles)
    counts.update({name: len(ids) for name, ids in copies.items() if ids})
    return counts


async def erase(
    db: AsyncDatabase, holdings: Sequence[Holding], kind: str, needles: Sequence[str]
) -> None:
    """Delete or anonymise every record that mentions the person, and the platform's copies.

    Every step is repeatable: a redelivery after a crash finds less to do, never something
    done twice. The outbox loses the unsent messages about the person (an erased person's
    registration must not go out after the erasure); processed records lose their reply
    and the messages they kept about the person (the record stays, so a redelivered
    request is still recognised); due items are deleted.
    """
    for holding in relevant(holdings, kind):
        query = holding.query(needles)
        if holding.scan:
            ids = [d["_id"] for d in await documents(db, holding, needles)]
            query = {"_id": {"$in": ids}}
        if holding.erase == DELETE:
            await db[holding.collection].delete_many(query)
        elif holding.erase == SCRUB or isinstance(holding.erase, Rewrite):
            rewrite = holding.erase.rewrite if isinstance(holding.erase, Rewrite) else scrub
            async for document in db[holding.collection].find(query):
                rewritten = rewrite(document, needles)
                if rewritten != document:
                    await db[holding.collection].replace_one({"_id": document["_id"]}, rewritten)
        elif callable(holding.erase):
            await db[holding.collection].update_many(query, dict(holding.erase(needles)))
        elif holding.erase != KEEP:
            await db[holding.collection].update_many(query, dict(holding.erase))
    copies = await platform_copies(db, needles)
    for entry_id in copies[OUTBOX]:
        await _drop_unsent(db, entry_id, needles)
    for record_id in copies[PROCESSED]:
        await _redact_processed(db, record_id, needles)
    if copies[DUE]:
        await db[DUE].delete_many({"_id": {"$in": copies[DUE]}})


def scrub(value: Any, needles: Sequence[str]) -> Any:
    """`value` with the personal fields of each part that carries a needle overwritten."""
    if isinstance(value, Mapping):
        carries = any(v in needles for v in value.values() if isinstance(v, str))
        return {
            k: SCRUBBED
            if carries and k in PERSONAL_FIELDS and isinstance(v, str)
            else scrub(v, needles)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, needles) for v in value]
    return value


def redact(value: Any, needles: Sequence[str]) -> Any:
    """`value` without the person: a part (a list entry, a nested record) that carries a
    needle as a whole value is left out, a key that is a needle too (a contact's consents
    under its id), and a needle inside a longer text (a name in a caption) is overwritten."""
    if isinstance(value, Mapping):
        return {
            k: SCRUBBED if isinstance(v, str) and v in needles else redact(v, needles)
            for k, v in value.items()
            if k not in needles and not carries(v, needles)
        }
    if isinstance(value, list):
        return [redact(v, needles) for v in value if not carries(v, needles)]
    if isinstance(value, str):
        for needle in needles:
            if len(needle) >= MIN_NEEDLE:
                value = value.replace(needle, SCRUBBED)
        return value
    return value


#: A needle shorter than this is not replaced inside a longer text (it would hit words).
MIN_NEEDLE = 5


def carries(value: Any, needles: Sequence[str]) -> bool:
    """Whether `value` is a record that names the person by one of its own fields."""
    return isinstance(value, Mapping) and any(
        isinstance(v, str) and v in needles for v in value.values()
    )


async def _drop_unsent(db: AsyncDatabase, entry_id: Any, needles: Sequence[str]) -> None:
    """Drop the outbox entry's messages that mention the person; keep the others."""
    entry = await db[OUTBOX].find_one({"_id": entry_id})
    if entry is None:
        return
    messages = unpack(entry["messages"])
    kept = _without(messages, needles)
    if not kept:
        await db[OUTBOX].delete_one({"_id": entry_id})
    elif len(kept) < len(messages):
        await db[OUTBOX].update_one({"_id": entry_id}, {"$set": {"messages": pack(kept)}})


async def _redact_processed(db: AsyncDatabase, record_id: Any, needles: Sequence[str]) -> None:
    """Redact a processed record's reply and drop its stored messages about the person.

    The record stays, so that a redelivered message is still recognised; a redelivery
    then publishes only the messages that do not mention the person (an erased person's
    registration must not go out again).
    """
    record = await db[PROCESSED].find_one({"_id": record_id})
    if record is None:
        return
    change: dict[str, Any] = {"reply": REDACTED_REPLY}
    if record.get("messages"):
        messages = unpack(record["messages"])
        change["messages"] = pack(_without(messages, needles))
    await db[PROCESSED].update_one({"_id": record_id}, {"$set": change})


def _without(messages: Sequence[Outgoing], needles: Sequence[str]) -> list[Outgoing]:
    return [m for m in messages if not mentions(m.to_document(), needles)]


def kept_notes(holdings: Sequence[Holding], kind: str, removed: Mapping[str, int]) -> list[str]:
    """What the service keeps without the person, for the collections it anonymised."""
    return [
        f"{h.collection}: {h.kept}"
        for h in relevant(holdings, kind)
        if h.kept and h.collection in removed
    ]
