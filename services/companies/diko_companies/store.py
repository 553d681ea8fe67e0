"""The companies service's collections: what handlers stage, what they claim, what they read.

Hot documents are addressed by string `_id` (FerretDB serves only that from an index).
Decisions that must hold under concurrency are made by inserting a document under a
deterministic `_id`: the one operation that is atomic on MongoDB and on FerretDB alike,
where a conditional update reads and writes back in two steps and may lose a race.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DeleteOne, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from diko_companies.domain import HeldPlace, Take
from diko_shared.contract.companies import Position
from diko_shared.contract.matching import MatchAccepted
from diko_shared.messaging.errors import TransientError
from diko_shared.messaging.handling import CLAIMED_BY, Context, inbox_listing
from diko_shared.rights.participant import ERASED
from diko_shared.store import guards
from diko_shared.store.group_commit import GroupCommitter, Write
from diko_shared.store.lookups import BatchedLookup, find_by_ids
from diko_shared.store.mongo import INBOX, Indexes

log = logging.getLogger(__name__)

#: Companies: `_id` = company id.
COMPANIES = "companies"
#: The duplicate guard: `_id` = normalised name and postcode, naming the company that holds it.
COMPANY_KEYS = "company_keys"
#: Training positions: `_id` = position id; `places_taken` and `status` follow `PLACES`.
POSITIONS = "positions"
#: One document per place taken: `_id` = "<position id>/<place number>".
PLACES = "places"
#: Contact persons: `_id` = contact id, with `company_id` and their own consents.
CONTACTS = "contacts"
#: Consultations: `_id` = consultation id, with `company_id`.
CONSULTATIONS = "consultations"
#: The history of each company: `_id` = company id, `entries` oldest first.
HISTORY = "history"

INDEXES: Indexes = {
    POSITIONS: [IndexModel([("company_id", ASCENDING), ("start_date", ASCENDING)])],
    CONTACTS: [IndexModel("company_id")],
    CONSULTATIONS: [IndexModel("company_id")],
}


# -- companies ---------------------------------------------------------------------------------


def insert_company(document: dict[str, Any]) -> Write:
    """A new company document (fields, ids of contacts, positions, consultations)."""
    return guards.insert(COMPANIES, document)


async def read(db: AsyncDatabase, collection: str, document_id: str) -> dict[str, Any] | None:
    return await db[collection].find_one({"_id": document_id})


async def read_many(db: AsyncDatabase, collection: str, ids: list[str]) -> list[dict[str, Any]]:
    """Documents by `_id`, in the order given, missing ones left out (one query)."""
    found = await find_by_ids(db[collection], ids)
    return [found[i] for i in ids if i in found]


def set_fields(collection: str, document_id: str, fields: dict[str, Any]) -> Write:
    return Write(collection, UpdateOne({"_id": document_id}, {"$set": fields}))


def add_to(collection: str, document_id: str, field: str, *values: str) -> Write:
    """Add ids to a list field (repeatable: `$addToSet`)."""
    return Write(
        collection,
        UpdateOne({"_id": document_id}, {"$addToSet": {field: {"$each": list(values)}}}),
    )


def history_entry(company_id: str, entry_id: str, entry: dict[str, Any]) -> Write:
    """Put one entry into a company's history under an id derived from the message.

    A map keyed by that id rather than a guarded `$push`: a redelivery sets the same key
    again, and the write is addressed by `_id` alone (FerretDB scans the collection for a
    guard's `{_id, _applied: {$ne: …}}` filter, which made each entry cost more than the last).
    """
    return Write(
        HISTORY,
        UpdateOne({"_id": company_id}, {"$set": {f"entries.{entry_id}": entry}}, upsert=True),
    )


def company_key_claim(company_id: str) -> dict[str, Any]:
    """The fields of a duplicate-key claim (`ctx.claim` adds `_id` and the message's key)."""
    return {"company_id": company_id, "claimed_at": datetime.now(UTC)}


class KeyClaims:
    """Duplicate-key claims of concurrently handled messages, inserted many at once.

    What `Context.claim` does, batched like a commit (an import's registrations each claim
    a key), and with the claim recorded in the message's inbox record only when the
    handler fails: the pipeline gives back the claims listed there when a message fails
    for good, and reads them only then, after the handler raised. `Context.claim` records
    every claim before inserting it, an update of the inbox record per registration that
    cost FerretDB a read, a write and a transaction of its own; here a registration that
    succeeds (nearly all of them) pays only the insert.

    A handler claims through `for_message`, which records what the message holds if the
    handler raises. A process that dies in between records nothing, and its message comes
    back and finds the claim its own; if recording itself fails, the claim stays until a
    later registration takes it over as abandoned (`domain.claim_abandoned`).
    """

    def __init__(self) -> None:
        self._committers: dict[int, tuple[AsyncDatabase, GroupCommitter]] = {}

    def _committer(self, db: AsyncDatabase) -> GroupCommitter:
        held = self._committers.get(id(db))
        if held is None or held[0] is not db:
            held = self._committers[id(db)] = (db, GroupCommitter(db))
        return held[1]

    @contextlib.asynccontextmanager
    async def for_message(self, ctx: Context[Any]) -> AsyncIterator[HeldKeys]:
        """The claims of one handler call; recorded in its inbox record if it raises."""
        held = HeldKeys(self, ctx)
        try:
            yield held
        except Exception:
            await held.record()
            raise

    async def insert(self, ctx: Context[Any], key: str, company_id: str) -> dict[str, Any]:
        """The claim that holds `key` afterwards: this message's, or the one that was there."""
        document = {**company_key_claim(company_id), "_id": key, CLAIMED_BY: ctx.key}
        if await self._committer(ctx.db).claim(COMPANY_KEYS, document):
            return document
        held = await ctx.db[COMPANY_KEYS].find_one({"_id": key})
        if held is None:
            raise TransientError(f"the claim {key!r} in {COMPANY_KEYS} vanished")
        return held


class HeldKeys:
    """The duplicate keys one handler call claimed, or may have (see `KeyClaims`)."""

    def __init__(self, claims: KeyClaims, ctx: Context[Any]) -> None:
        self._claims = claims
        self._ctx = ctx
        self.keys: list[str] = []

    async def claim(self, key: str, company_id: str) -> dict[str, Any]:
        """Claim `key` for `company_id`: the claim that holds it afterwards.

        Counted as held until the claim is known to be another message's: an insert that
        failed on its way may have been written.
        """
        self.keys.append(key)
        claim = await self._claims.insert(self._ctx, key, company_id)
        if claim.get(CLAIMED_BY) != self._ctx.key:
            self.keys.remove(key)
        return claim

    def took_over(self, key: str) -> None:
        """`key` was taken over from an abandoned claim: it is this message's now."""
        self.keys.append(key)

    async def record(self) -> None:
        """List the held keys in the message's inbox record, where the pipeline finds them."""
        if not self.keys:
            return
        records = [{"collection": COMPANY_KEYS, "_id": key} for key in dict.fromkeys(self.keys)]
        try:
            listing = inbox_listing(self._ctx.key, self._ctx.envelope.type, records)
            await self._ctx.db[INBOX].bulk_write([listing])
        except Exception:
            log.warning(
                "could not record the duplicate keys of a failed message; a later "
                "registration takes them over once abandoned",
                extra={"keys": self.keys},
                exc_info=True,
            )


class Tombstones:
    """Whether people were erased here (`rights_erased`), asked by many messages at once.

    What `diko_shared.rights.participant.is_erased` answers, a point read per call,
    batched (`BatchedLookup`): every registration of an import asks it for the id of its
    contact person (derived from the message, so only a replay of an old message finds
    one), and that read cost a round trip and a tenth of the service's CPU per row. Like
    the point read, a batched query sees every erasure committed before the call.
    """

    def __init__(self) -> None:
        self._lookups: dict[int, tuple[AsyncDatabase, BatchedLookup]] = {}

    async def erased(self, db: AsyncDatabase, person_id: str) -> bool:
        known = self._lookups.get(id(db))
        if known is None or known[0] is not db:
            known = self._lookups[id(db)] = (db, BatchedLookup(db[ERASED], {"_id": 1}))
        return await known[1].find(person_id) is not None


def release_company_key(key: str) -> Write:
    """Give up a duplicate key the company no longer has (renamed, moved, merged).

    The caller has read that the claim is the company's; the delete goes by `_id` alone.
    """
    return Write(COMPANY_KEYS, DeleteOne({"_id": key}))


async def holds_key(db: AsyncDatabase, key: str, company_id: str) -> bool:
    claim = await db[COMPANY_KEYS].find_one({"_id": key})
    return claim is not None and claim.get("company_id") == company_id


def pull_from(collection: str, document_id: str, field: str, value: str) -> Write:
    return Write(collection, UpdateOne({"_id": document_id}, {"$pull": {field: value}}))


async def take_over_company_key(
    db: AsyncDatabase, key: str, abandoned_by: str, company_id: str, message_key: str
) -> bool:
    """Move an abandoned claim (its company never appeared) to `company_id` and its message."""
    result = await db[COMPANY_KEYS].update_one(
        {"_id": key, "company_id": abandoned_by},
        {
            "$set": {
                "company_id": company_id,
                "claimed_at": datetime.now(UTC),
                CLAIMED_BY: message_key,
            }
        },
    )
    return result.modified_count == 1


# -- positions ---------------------------------------------------------------------------------


def insert_position(position: Position, opened_at: datetime) -> Write:
    document = position.model_dump(mode="json", exclude={"position_id", "distance_km"})
    document.update(_id=position.position_id, opened_at=opened_at)
    return guards.insert(POSITIONS, document)


def _position(document: dict[str, Any]) -> Position:
    fields = {k: v for k, v in document.items() if k in Position.model_fields}
    return Position.from_stored({**fields, "position_id": document["_id"]})


async def find_position(db: AsyncDatabase, position_id: str) -> Position | None:
    document = await db[POSITIONS].find_one({"_id": position_id})
    return None if document is None else _position(document)


def record_take(position_id: str, take: Take) -> Write:
    """Bring the position's count and status up to a taken place.

    `$max` makes the write repeatable and independent of the order in which the takes of
    concurrent matches commit; only the taker of the last place sets `filled`.
    """
    update: dict[str, Any] = {"$max": {"places_taken": take.places_taken}}
    if take.fills:
        update["$set"] = {"status": "filled"}
    return Write(POSITIONS, UpdateOne({"_id": position_id}, update))


# -- places ------------------------------------------------------------------------------------


def place_id(position_id: str, number: int) -> str:
    return f"{position_id}/{number}"


async def held_or_free(
    db: AsyncDatabase, position: Position, proposal_id: str, start: int = 1
) -> tuple[HeldPlace | None, int | None]:
    """The place `proposal_id` holds, else the first free place from `start` (else None).

    Places are claimed in order and never given back, so every place before the first
    free one is taken, and a place the proposal holds comes before the first free one.
    """
    for number in range(start, position.places + 1):
        document = await db[PLACES].find_one({"_id": place_id(position.position_id, number)})
        if document is None:
            return None, number
        if document["proposal_id"] == proposal_id:
            return HeldPlace(number, proposal_id, document["message_key"]), None
    return None, None


async def claim_place(
    db: AsyncDatabase,
    number: int,
    match: MatchAccepted,
    message_key: str,
    at: datetime,
    *,
    applicant_erased: bool = False,
) -> bool:
    """Take place `number` for `match`: True if this insert got it, False if it was taken.

    The place of an applicant erased meanwhile (a replayed old `match.accepted`) is taken
    without the applicant, as their erasure left the places they had taken."""
    document = {
        "_id": place_id(match.position_id, number),
        "position_id": match.position_id,
        "number": number,
        "proposal_id": match.proposal_id,
        "message_key": message_key,
        "taken_at": at,
    }
    if not applicant_erased:
        document["applicant_id"] = match.applicant_id
    try:
        await db[PLACES].insert_one(document)
    except DuplicateKeyError:
        return False
    return True
