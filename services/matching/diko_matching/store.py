"""The matching service's collections: documents, claims and the few reads by `_id`.

Documents are addressed by string `_id` (FerretDB serves only that from an index);
choosing whom to propose reads the in-memory index (`index.py`) instead of scanning.

What must hold under concurrency and redelivery is settled by **claims**: a document
inserted under a deterministic `_id`, the one operation that is atomic on MongoDB and
on FerretDB alike, naming the message (its key) that made it. A redelivery of that
message recognises its own claims; another message finds them taken:

- `triggers/position|<id>`, `triggers/applicant|<id>`: only the first message about a
  new position or applicant proposes;
- `proposals/<pair's proposal id>`: a pair is proposed once, ever;
- `quota/<position>|<day>|<n>`: at most the daily cap of proposals per position and day;
- `decisions/<proposal id>`: a proposal is accepted, declined or withdrawn once;
- `placements/<applicant id>`: an applicant is placed once, or withdrawn, never both;
- `seats/<position>|<n>`: no place of a position is taken twice;
- `runs/<run id>`, `fairs/<fair id>`: a run or plan computed once is kept for its
  redelivery.

Claims that a failing decision must give back (an acceptance that finds no place) are
deleted by the message that made them, before it answers; a claim whose message never
finished (dead-lettered) is taken over after `CLAIM_GRACE`.

Changes to applicants, position copies and proposals are written at once (not staged)
and then announced in the change feed (`Index.announce`), so that every process's index
sees the document as written. Such writes are idempotent ($set of the new state), so a
redelivery repeats them harmlessly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from diko_matching.domain import PositionCopy
from diko_matching.index import APPLICANTS, FEED, POSITIONS, PROPOSALS
from diko_shared.contract.common import Occupation
from diko_shared.contract.matching import Applicant, Proposal
from diko_shared.store.mongo import PROCESSED, Indexes, insert_new

TRIGGERS = "triggers"
QUOTA = "quota"
DECISIONS = "decisions"
PLACEMENTS = "placements"
SEATS = "seats"
RUNS = "runs"
FAIRS = "fairs"
#: The registration form's submissions by the form's nonce (`registration/pages.py`).
REGISTRATIONS = "registrations"

#: A claim whose message has not finished after this long belongs to a message that
#: never will (its retries end after about six minutes): another message may take it over.
CLAIM_GRACE = timedelta(minutes=15)

INDEXES: Indexes = {
    APPLICANTS: [IndexModel([("status", ASCENDING)])],
    POSITIONS: [IndexModel([("status", ASCENDING)])],
    PROPOSALS: [
        IndexModel([("position_id", ASCENDING)]),
        IndexModel([("applicant_id", ASCENDING)]),
    ],
    FEED: [IndexModel([("at", ASCENDING)])],
    QUOTA: [IndexModel([("at", ASCENDING)])],
}


def now() -> datetime:
    return datetime.now(UTC)


# -- applicants ----------------------------------------------------------------------------


def applicant_document(applicant: Applicant, at: datetime) -> dict[str, Any]:
    document = applicant.model_dump(mode="json", exclude={"applicant_id", "held"})
    document.update(_id=applicant.applicant_id, registered_at=at, updated_at=at)
    return document


async def insert_applicant(
    db: AsyncDatabase, applicant: Applicant, at: datetime
) -> dict[str, Any] | None:
    """Store a new applicant; its redelivery finds it there (the id comes from the message).

    Returns the document written, or None when it existed already (and may have changed
    since)."""
    document = applicant_document(applicant, at)
    try:
        await db[APPLICANTS].insert_one(document)
    except DuplicateKeyError:
        return None
    return document


def _applicant(document: Mapping[str, Any]) -> Applicant:
    fields = {k: v for k, v in document.items() if k in Applicant.model_fields}
    return Applicant.from_stored({**fields, "applicant_id": document["_id"]})


async def find_applicant(db: AsyncDatabase, applicant_id: str) -> Applicant | None:
    document = await db[APPLICANTS].find_one({"_id": applicant_id})
    return None if document is None else _applicant(document)


async def save_applicant(
    db: AsyncDatabase, applicant: Applicant, at: datetime, key: str, changed: list[str]
) -> None:
    """Write the applicant's record as changed, with the change and the message that made it.

    A redelivery of the message finds `last_change` (`change_of`) and announces the same
    change again instead of finding nothing left to change.
    """
    fields = applicant.model_dump(mode="json", exclude={"applicant_id", "held"})
    update: dict[str, Any] = {
        "$set": {
            **{k: v for k, v in fields.items() if v is not None},
            "updated_at": at,
            "last_change": {"key": key, "changed": changed},
        }
    }
    unset = {k: "" for k, v in fields.items() if v is None}
    if unset:
        update["$unset"] = unset
    await db[APPLICANTS].update_one({"_id": applicant.applicant_id}, update)


async def change_of(db: AsyncDatabase, applicant_id: str, key: str) -> list[str] | None:
    """The fields the message `key` changed, if it is the last one that changed the record."""
    document = await db[APPLICANTS].find_one({"_id": applicant_id}, {"last_change": 1})
    last = (document or {}).get("last_change") or {}
    return list(last["changed"]) if last.get("key") == key else None


async def set_applicant_status(
    db: AsyncDatabase, applicant_id: str, status: str
) -> dict[str, Any] | None:
    """Set the status; the applicant as written (for the index, `as_written`), None if gone."""
    return await db[APPLICANTS].find_one_and_update(
        {"_id": applicant_id},
        {"$set": {"status": status, "updated_at": now()}},
        return_document=ReturnDocument.AFTER,
    )


# -- positions -----------------------------------------------------------------------------


def _position_document(position: PositionCopy) -> dict[str, Any]:
    return {
        "company_id": position.company_id,
        "company_name": position.company_name,
        "occupation": position.occupation.model_dump(mode="json"),
        "places": position.places,
        "start_date": position.start_date.isoformat(),
        "town": position.town,
        "school_certificate": position.school_certificate,
        "status": position.status,
    }


def position_of(document: Mapping[str, Any]) -> PositionCopy:
    return PositionCopy(
        position_id=document["_id"],
        company_id=document["company_id"],
        company_name=document["company_name"],
        occupation=Occupation.from_stored(document["occupation"]),
        places=document["places"],
        start_date=date.fromisoformat(document["start_date"]),
        town=document["town"],
        school_certificate=document["school_certificate"],
        status=document["status"],
    )


async def keep_position(db: AsyncDatabase, position: PositionCopy, at: datetime) -> dict[str, Any]:
    """Store a new copy at once; a copy that exists already (a repeat, an event that came
    first) stays as it is. Returns the stored document."""
    document = {
        "_id": position.position_id,
        **_position_document(position),
        "status_at": at,
        "fields_at": at,
        "received_at": at,
    }
    try:
        await db[POSITIONS].insert_one(document)
    except DuplicateKeyError:
        stored = await db[POSITIONS].find_one({"_id": position.position_id})
        if stored is None:
            raise
        return stored
    return document


async def upsert_position(
    db: AsyncDatabase,
    position: PositionCopy,
    at: datetime,
    *,
    status: bool,
    fields: bool,
    read: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a copy's status and/or fields from an event, unless a newer event wrote them.

    Events about one position travel on different queues and may arrive out of order;
    each part of the copy remembers the time of the event that wrote it. A copy that does
    not exist yet is created. Returns the document as this call left it. `read`: the copy
    as the caller has just read it, which is then not read again.
    """
    document = _position_document(position)
    existing = read or await db[POSITIONS].find_one({"_id": position.position_id})
    if existing is None:
        created = {
            "_id": position.position_id,
            **document,
            "status_at": at,
            "fields_at": at,
            "received_at": at,
        }
        try:
            await db[POSITIONS].insert_one(created)
            return created
        except DuplicateKeyError:
            existing = await db[POSITIONS].find_one({"_id": position.position_id})
            if existing is None:
                raise
    changes: dict[str, Any] = {}
    if status and _older(existing.get("status_at"), at):
        changes.update(status=document["status"], status_at=at)
    if fields and _older(existing.get("fields_at"), at):
        changes.update({k: v for k, v in document.items() if k != "status"}, fields_at=at)
    if not changes:
        return existing
    await db[POSITIONS].update_one({"_id": position.position_id}, {"$set": changes})
    return {**existing, **changes}


def _older(stored: datetime | None, at: datetime) -> bool:
    if stored is None:
        return True
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=UTC)
    return stored <= at


async def rename_company(
    db: AsyncDatabase, position_ids: list[str], company_id: str, company_name: str
) -> list[str]:
    """Point copies at a company (after a merge or a new name); returns those changed."""
    changed = []
    for position_id in position_ids:
        result = await db[POSITIONS].update_one(
            {"_id": position_id},
            {"$set": {"company_id": company_id, "company_name": company_name}},
        )
        if result.matched_count:
            changed.append(position_id)
    return changed


async def find_position(db: AsyncDatabase, position_id: str) -> PositionCopy | None:
    document = await find_position_document(db, position_id)
    return None if document is None else position_of(document)


async def find_position_document(db: AsyncDatabase, position_id: str) -> dict[str, Any] | None:
    """The stored copy as it is, for `upsert_position(read=…)`."""
    return await db[POSITIONS].find_one({"_id": position_id})


# -- triggers and proposals ----------------------------------------------------------------


async def claim_trigger(db: AsyncDatabase, trigger: str, key: str) -> bool:
    """Whether the message `key` is the one that proposes for a new position or applicant."""
    held = await _claim(db, TRIGGERS, trigger, {"key": key})
    return held["key"] == key


@dataclass(frozen=True, slots=True)
class StoredProposal:
    """A proposal as stored: the proposal, its status, the message that made it."""

    proposal: Proposal
    status: str
    trigger: str
    withdrawn_reason: str | None = None


def _stored(document: Mapping[str, Any]) -> StoredProposal:
    return StoredProposal(
        proposal=Proposal.from_stored(document["proposal"]),
        status=document["status"],
        trigger=document["trigger"],
        withdrawn_reason=document.get("withdrawn_reason"),
    )


async def find_proposal(db: AsyncDatabase, proposal_id: str) -> StoredProposal | None:
    document = await db[PROPOSALS].find_one({"_id": proposal_id})
    return None if document is None else _stored(document)


def proposal_document(
    proposal: Proposal, key: str, cause: str, day: str, run_id: str | None = None
) -> dict[str, Any]:
    return {
        "_id": proposal.proposal_id,
        "position_id": proposal.position.position_id,
        "applicant_id": proposal.applicant.applicant_id,
        "proposal": proposal.model_dump(mode="json"),
        "status": "proposed",
        "trigger": key,
        "cause": cause,
        "run_id": run_id,
        "day": day,
        "proposed_at": now(),
    }


async def claim_proposal(
    db: AsyncDatabase, document: dict[str, Any]
) -> tuple[StoredProposal, dict[str, Any]]:
    """Store a proposal under its pair's id unless the pair was proposed before."""
    held = await _claim(db, PROPOSALS, document["_id"], document)
    return _stored(held), held


async def set_proposal_status(
    db: AsyncDatabase,
    proposal_id: str,
    status: str,
    *,
    decided_by: str | None = None,
    note: str | None = None,
    reason: str | None = None,
) -> dict[str, Any] | None:
    """Set the status; the proposal as written (for the index, `as_written`), None if gone."""
    changes: dict[str, Any] = {"status": status, "decided_at": now()}
    if decided_by is not None:
        changes["decided_by"] = decided_by
    if note is not None:
        changes["note"] = note
    if reason is not None:
        changes["withdrawn_reason"] = reason
    return await db[PROPOSALS].find_one_and_update(
        {"_id": proposal_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )


async def rename_proposal_company(
    db: AsyncDatabase, proposal_id: str, company_id: str, company_name: str
) -> None:
    await db[PROPOSALS].update_one(
        {"_id": proposal_id},
        {
            "$set": {
                "proposal.position.company_id": company_id,
                "proposal.position.company_name": company_name,
            }
        },
    )


def quota_document(
    position_id: str, day: str, number: int, proposal_id: str, key: str
) -> dict[str, Any]:
    """Slot `number` of a position's proposals of the day, held by one proposal."""
    return {
        "_id": f"{position_id}|{day}|{number}",
        "position_id": position_id,
        "day": day,
        "proposal_id": proposal_id,
        "key": key,
        "at": now(),
    }


async def release_quota(db: AsyncDatabase, slot_id: str, proposal_id: str, key: str) -> None:
    """Give back the day's slot a proposal took when the pair turned out to be taken."""
    await db[QUOTA].delete_one({"_id": slot_id, "proposal_id": proposal_id, "key": key})


async def insert_unordered(
    db: AsyncDatabase, collection: str, documents: list[dict[str, Any]]
) -> list[str]:
    """Insert the claims not taken yet in one request; returns the ids already taken."""
    return [documents[i]["_id"] for i in await insert_new(db[collection], documents)]


# -- decisions, placements and seats ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim as stored: what it holds, which message made it, when."""

    id: str
    fields: Mapping[str, Any]
    key: str
    at: datetime

    def __getitem__(self, name: str) -> Any:
        return self.fields.get(name)


def _claim_of(document: Mapping[str, Any]) -> Claim:
    at = document.get("at") or now()
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return Claim(document["_id"], document, document["key"], at)


async def _claim(
    db: AsyncDatabase, collection: str, id_: str, document: Mapping[str, Any]
) -> dict[str, Any]:
    """Insert the claim unless it is taken; returns the claim that holds."""
    record = {**document, "_id": id_}
    record.setdefault("at", now())
    try:
        await db[collection].insert_one(record)
    except DuplicateKeyError:
        held = await db[collection].find_one({"_id": id_})
        if held is None:  # given back in between: try once more
            await db[collection].insert_one(record)
            return record
        return held
    return record


async def find_claim(db: AsyncDatabase, collection: str, id_: str) -> Claim | None:
    document = await db[collection].find_one({"_id": id_})
    return None if document is None else _claim_of(document)


async def claim(
    db: AsyncDatabase, collection: str, id_: str, fields: Mapping[str, Any], key: str
) -> Claim:
    """Take the claim for the message `key`, or learn who holds it."""
    return _claim_of(await _claim(db, collection, id_, {**fields, "key": key}))


async def release(db: AsyncDatabase, collection: str, id_: str, key: str) -> None:
    """Give back a claim this message holds (and only then)."""
    await db[collection].delete_one({"_id": id_, "key": key})


async def take_over(db: AsyncDatabase, collection: str, held: Claim) -> None:
    """Delete an abandoned claim, so that the caller can claim anew."""
    await db[collection].delete_one({"_id": held.id, "key": held.key})


async def finished(db: AsyncDatabase, key: str) -> bool:
    """Whether the message `key` was processed: its claims are final then."""
    return await db[PROCESSED].find_one({"_id": key}, {"_id": 1}) is not None


def abandoned(held: Claim) -> bool:
    return now() - held.at > CLAIM_GRACE


async def seats_of(
    db: AsyncDatabase, position_id: str, places: int, *, first: int = 1
) -> list[Claim | None]:
    """The claims on places first..places of a position (None: free)."""
    return [await find_claim(db, SEATS, f"{position_id}|{n}") for n in range(first, places + 1)]


# -- runs and fairs --------------------------------------------------------------------------


async def keep_once(
    db: AsyncDatabase, collection: str, id_: str, document: Mapping[str, Any]
) -> dict[str, Any]:
    """Store a computed result under its id, or return the one stored first."""
    return await _claim(db, collection, id_, document)


async def find_document(db: AsyncDatabase, collection: str, id_: str) -> dict[str, Any] | None:
    return await db[collection].find_one({"_id": id_})


# -- housekeeping ------------------------------------------------------------------------------


async def forget_old(db: AsyncDatabase) -> None:
    """Feed entries, day quotas and the registration form's submissions older than two
    days are no longer read by anyone (a form is sent within hours of being opened)."""
    cutoff = now() - timedelta(days=2)
    await db[FEED].delete_many({"at": {"$lt": cutoff}})
    await db[QUOTA].delete_many({"at": {"$lt": cutoff}})
    await db[REGISTRATIONS].delete_many({"at": {"$lt": cutoff}})
