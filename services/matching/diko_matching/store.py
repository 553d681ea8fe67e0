"""The matching service's collections: what handlers stage, what they claim, what they read.

Documents are addressed by string `_id` (FerretDB serves only that from an index); the
few scans (active applicants, open positions, a position's proposals) run over
collections of hundreds of documents at Altmark scale. What must hold under concurrency
and redelivery (only the first message about a position or applicant proposes; a pair
is proposed once; a proposal is decided once) is settled by inserting a document under
a deterministic `_id`: the one operation that is atomic on MongoDB and on FerretDB alike.
Such claims are written at once, not staged, and name the message that made them, so
that a redelivery of that message recognises its own claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from diko_matching.domain import (
    DecisionClaim,
    DecisionWord,
    PositionCopy,
    ProposalStatus,
    StoredProposal,
)
from diko_shared.contract.common import Occupation
from diko_shared.contract.matching import Applicant, Proposal
from diko_shared.store import guards
from diko_shared.store.group_commit import Write
from diko_shared.store.mongo import Indexes

#: Applicants with their personal data: `_id` = applicant id.
APPLICANTS = "applicants"
#: Matching's copy of training positions: `_id` = position id.
POSITIONS = "positions"
#: Proposals: `_id` = proposal id, derived from the pair (see `domain.proposal_id`).
PROPOSALS = "proposals"
#: Which message may propose for a position or applicant: `_id` = `domain.trigger_id`.
TRIGGERS = "triggers"
#: The decision on a proposal: `_id` = proposal id, inserted once.
DECISIONS = "decisions"

INDEXES: Indexes = {
    APPLICANTS: [IndexModel([("status", ASCENDING)])],
    POSITIONS: [IndexModel([("status", ASCENDING)])],
    PROPOSALS: [
        IndexModel([("position_id", ASCENDING)]),
        IndexModel([("applicant_id", ASCENDING)]),
    ],
}


# -- applicants ----------------------------------------------------------------------------


def insert_applicant(applicant: Applicant, registered_at: datetime) -> Write:
    document = applicant.model_dump(mode="json", exclude={"applicant_id"})
    document.update(_id=applicant.applicant_id, registered_at=registered_at)
    return guards.insert(APPLICANTS, document)


def _applicant(document: Mapping[str, Any]) -> Applicant:
    fields = {k: v for k, v in document.items() if k in Applicant.model_fields}
    return Applicant.from_stored({**fields, "applicant_id": document["_id"]})


async def find_applicant(db: AsyncDatabase, applicant_id: str) -> Applicant | None:
    document = await db[APPLICANTS].find_one({"_id": applicant_id})
    return None if document is None else _applicant(document)


async def active_applicants(db: AsyncDatabase) -> list[Applicant]:
    return [_applicant(d) async for d in db[APPLICANTS].find({"status": "active"})]


def mark_placed(applicant_id: str) -> Write:
    """An accepted applicant is placed: no longer proposed for new positions."""
    return Write(APPLICANTS, UpdateOne({"_id": applicant_id}, {"$set": {"status": "placed"}}))


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


def _position(document: Mapping[str, Any]) -> PositionCopy:
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


async def keep_position(db: AsyncDatabase, position: PositionCopy, at: datetime) -> PositionCopy:
    """Store the copy at once (before anyone is scored against it); returns the stored one.

    Written before the handler reads the applicants, so that an applicant registered at
    the same moment is seen either by this handler or by the applicant's, never by
    neither. A copy that exists already (a repeat, or `position.filled` came first) stays.
    """
    document = {"_id": position.position_id, **_position_document(position), "received_at": at}
    try:
        await db[POSITIONS].insert_one(document)
    except DuplicateKeyError:
        stored = await db[POSITIONS].find_one({"_id": position.position_id})
        if stored is None:
            raise
        return _position(stored)
    return position


def mark_filled(position: PositionCopy, at: datetime) -> Write:
    """Mark the copy filled; create it filled if `position.opened` has not arrived yet."""
    document = _position_document(position)
    del document["status"]
    update = {
        "$set": {"status": "filled", "filled_at": at},
        "$setOnInsert": {**document, "received_at": at},
    }
    return Write(POSITIONS, UpdateOne({"_id": position.position_id}, update, upsert=True))


async def find_position(db: AsyncDatabase, position_id: str) -> PositionCopy | None:
    document = await db[POSITIONS].find_one({"_id": position_id})
    return None if document is None else _position(document)


async def open_positions(db: AsyncDatabase) -> list[PositionCopy]:
    return [_position(d) async for d in db[POSITIONS].find({"status": "open"})]


# -- triggers and proposals ----------------------------------------------------------------


async def claim_trigger(db: AsyncDatabase, trigger: str, key: str, at: datetime) -> bool:
    """Whether the message `key` is the one that proposes for `trigger`.

    The first message about a position or applicant claims it; its redelivery finds its
    own claim, a repeat (another message about the same subject) finds someone else's.
    """
    try:
        await db[TRIGGERS].insert_one({"_id": trigger, "key": key, "at": at})
    except DuplicateKeyError:
        held = await db[TRIGGERS].find_one({"_id": trigger})
        if held is None:
            raise
        return held["key"] == key
    return True


def _stored(document: Mapping[str, Any]) -> StoredProposal:
    return StoredProposal(
        proposal=Proposal.from_stored(document["proposal"]),
        status=document["status"],
        trigger=document["trigger"],
    )


async def proposals_of_position(db: AsyncDatabase, position_id: str) -> list[StoredProposal]:
    return [_stored(d) async for d in db[PROPOSALS].find({"position_id": position_id})]


async def proposals_of_applicant(db: AsyncDatabase, applicant_id: str) -> list[StoredProposal]:
    return [_stored(d) async for d in db[PROPOSALS].find({"applicant_id": applicant_id})]


async def find_proposal(db: AsyncDatabase, proposal_id: str) -> StoredProposal | None:
    document = await db[PROPOSALS].find_one({"_id": proposal_id})
    return None if document is None else _stored(document)


async def claim_proposals(
    db: AsyncDatabase, proposals: Iterable[Proposal], key: str, at: datetime
) -> list[Proposal]:
    """Store each proposal under its pair's id; returns those that this message holds.

    A pair another trigger proposed first (an applicant and a position that arrived at
    the same moment) is left to it, so that no pair is proposed twice.
    """
    held: list[Proposal] = []
    for proposal in proposals:
        document = {
            "_id": proposal.proposal_id,
            "position_id": proposal.position.position_id,
            "applicant_id": proposal.applicant.applicant_id,
            "proposal": proposal.model_dump(mode="json"),
            "status": "proposed",
            "trigger": key,
            "proposed_at": at,
        }
        try:
            await db[PROPOSALS].insert_one(document)
        except DuplicateKeyError:
            existing = await find_proposal(db, proposal.proposal_id)
            if existing is None:
                raise
            if existing.trigger == key:
                held.append(existing.proposal)
            continue
        held.append(proposal)
    return held


# -- decisions -----------------------------------------------------------------------------


async def decision_taken(db: AsyncDatabase, proposal_id: str) -> bool:
    return await db[DECISIONS].count_documents({"_id": proposal_id}, limit=1) > 0


async def claim_decision(
    db: AsyncDatabase,
    proposal_id: str,
    decision: DecisionWord,
    key: str,
    decided_by: str | None,
    at: datetime,
) -> DecisionClaim:
    """Take `decision` on the proposal unless one was taken; returns the one that holds."""
    document = {
        "_id": proposal_id,
        "decision": decision,
        "key": key,
        "decided_by": decided_by,
        "at": at,
    }
    try:
        await db[DECISIONS].insert_one(document)
    except DuplicateKeyError:
        held = await db[DECISIONS].find_one({"_id": proposal_id})
        if held is None:
            raise
        document = held
    return DecisionClaim(
        proposal_id=proposal_id,
        decision=document["decision"],
        key=document["key"],
        decided_by=document["decided_by"],
    )


def record_decision(
    proposal_id: str, status: ProposalStatus, claim: DecisionClaim, note: str | None, at: datetime
) -> Write:
    """The proposal's status after its decision (written by the deciding message only)."""
    update = {
        "$set": {"status": status, "decided_by": claim.decided_by, "note": note, "decided_at": at}
    }
    return Write(PROPOSALS, UpdateOne({"_id": proposal_id}, update))
