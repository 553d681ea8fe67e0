"""The notifications service's collections, their indexes, and its reads and writes.

| collection      | `_id`          | what                                                       |
| --------------- | -------------- | ---------------------------------------------------------- |
| `staff`         | staff id       | name, e-mail, role                                         |
| `staff_emails`  | e-mail (lower) | which staff id an address belongs to: the uniqueness claim |
| `subscriptions` | staff id       | topics and mode                                            |
| `fanouts`       | derived        | the recipients of one event, fixed when it first arrives   |
| `deliveries`    | `dlv_…`        | one e-mail about one event to one staff member             |
| `sending`       | `dlv_…`        | a lease while an SMTP conversation for a delivery runs     |
| `proposals`     | `prp_…`        | what a proposal e-mail said, its decision, for its page    |

Writes that must happen before an e-mail leaves (the claims, the delivery record and its
lease) are made at once, by `_id` or as an insert whose unique `_id` decides between
competitors: FerretDB applies a conditional update as a read followed by a write, so
only the unique `_id` is a reliable arbiter there. Everything else is staged on the
handler's context and committed by the platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from pymongo import DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from diko_notifications.delivery import Fate
from diko_notifications.domain import Staff
from diko_notifications.proposals import (
    DecisionRecord,
    ProposalRecord,
    ProposalSummary,
    Status,
)
from diko_shared.contract.notifications import Delivery, Subscription
from diko_shared.store import guards
from diko_shared.store.group_commit import Write
from diko_shared.store.mongo import Indexes

STAFF = "staff"
STAFF_EMAILS = "staff_emails"
SUBSCRIPTIONS = "subscriptions"
FANOUTS = "fanouts"
DELIVERIES = "deliveries"
SENDING = "sending"
PROPOSALS = "proposals"

INDEXES: Indexes = {
    SUBSCRIPTIONS: [IndexModel("topics")],
    DELIVERIES: [
        IndexModel([("event_id", 1), ("created_at", DESCENDING)]),
        IndexModel([("staff_id", 1), ("created_at", DESCENDING)]),
        IndexModel([("created_at", DESCENDING)]),
    ],
    PROPOSALS: [IndexModel("linked_at")],
}


# -- staff -----------------------------------------------------------------------------------


async def claim_email(db: AsyncDatabase, key: str, staff_id: str) -> str:
    """Claim an e-mail address for `staff_id`; returns the staff id that holds it.

    A repeat of the same registration finds its own claim; a competing one finds the
    other's, whichever was first.
    """
    try:
        await db[STAFF_EMAILS].insert_one({"_id": key, "staff_id": staff_id})
    except DuplicateKeyError:
        held = await db[STAFF_EMAILS].find_one({"_id": key})
        if held is None:
            raise
        return str(held["staff_id"])
    return staff_id


def insert_staff(staff: Staff, at: datetime) -> Write:
    return guards.insert(
        STAFF,
        {
            "_id": staff.staff_id,
            "name": staff.name,
            "email": staff.email,
            "role": staff.role,
            "registered_at": at,
        },
    )


async def staff_exists(db: AsyncDatabase, staff_id: str) -> bool:
    return await db[STAFF].find_one({"_id": staff_id}, {"_id": 1}) is not None


async def find_staff(db: AsyncDatabase, staff_ids: Sequence[str]) -> dict[str, Staff]:
    """The staff members with these ids (a small collection: scanned, not indexed)."""
    found = db[STAFF].find({"_id": {"$in": list(staff_ids)}})
    return {
        doc["_id"]: Staff(doc["_id"], doc["name"], doc["email"], doc.get("role"))
        async for doc in found
    }


# -- subscriptions ---------------------------------------------------------------------------


def set_subscription(subscription: Subscription, key: str, at: datetime) -> Write:
    """Replace the topics, once per message: a redelivery must not undo a later change."""
    fields = {"topics": subscription.topics, "mode": subscription.mode, "updated_at": at}
    return guards.apply_once(SUBSCRIPTIONS, subscription.staff_id, key, {"$set": fields})


async def subscribers(db: AsyncDatabase, topic: str) -> list[str]:
    """Staff ids subscribed to `topic`, in a stable order."""
    found = db[SUBSCRIPTIONS].find({"topics": topic, "mode": "immediate"}, {"_id": 1})
    return sorted([doc["_id"] async for doc in found])


# -- fan-out ---------------------------------------------------------------------------------


async def fix_recipients(
    db: AsyncDatabase, fanout_id: str, event: Mapping[str, Any], staff_ids: Sequence[str]
) -> list[str]:
    """The recipients of an event: those given the first time, whatever is given later.

    So a retry an hour later neither adds who subscribed since nor drops who left.
    """
    try:
        await db[FANOUTS].insert_one({"_id": fanout_id, **event, "recipients": list(staff_ids)})
    except DuplicateKeyError:
        fixed = await db[FANOUTS].find_one({"_id": fanout_id})
        if fixed is None:
            raise
        return list(fixed["recipients"])
    return list(staff_ids)


# -- deliveries ------------------------------------------------------------------------------


async def open_delivery(db: AsyncDatabase, record: Mapping[str, Any]) -> dict[str, Any]:
    """The delivery record: created as `pending` (the intent), or as it stands already."""
    try:
        await db[DELIVERIES].insert_one(dict(record))
    except DuplicateKeyError:
        existing = await db[DELIVERIES].find_one({"_id": record["_id"]})
        if existing is None:
            raise
        return existing
    return dict(record)


async def find_delivery(db: AsyncDatabase, delivery_id: str) -> dict[str, Any] | None:
    return await db[DELIVERIES].find_one({"_id": delivery_id})


def fate_of(record: Mapping[str, Any]) -> Fate:
    """Where a stored delivery stands."""
    return Fate(
        record["status"],
        record["attempts"],
        record.get("error"),
        permanent=record.get("permanent", False),
        round_from=record.get("round_from", 0),
    )


async def record_attempt(db: AsyncDatabase, delivery_id: str, fate: Fate, at: datetime) -> None:
    fields: dict[str, Any] = {
        "status": fate.status,
        "attempts": fate.attempts,
        "error": fate.error,
        "permanent": fate.permanent,
        "round_from": fate.round_from,
        "attempted_at": at,
    }
    if fate.status == "sent":
        fields["sent_at"] = at
    await db[DELIVERIES].update_one({"_id": delivery_id}, {"$set": fields})


async def take_lease(
    db: AsyncDatabase, delivery_id: str, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Whether `owner` may talk to SMTP for this delivery now.

    Another holder's lease blocks until it expires (its holder crashed mid-conversation
    and the broker handed the message to us); then it is taken over. The collection
    holds only leases in flight and the few a crash left behind, so the owner filter
    of the takeover scans a handful of rows.
    """
    for _ in range(2):
        try:
            await db[SENDING].insert_one({"_id": delivery_id, "owner": owner, "until": now + ttl})
        except DuplicateKeyError:
            held = await db[SENDING].find_one({"_id": delivery_id})
            if held is not None and held["until"] > now:
                return False
            if held is not None:
                await db[SENDING].delete_one({"_id": delivery_id, "owner": held["owner"]})
            continue
        return True
    return False


async def release_lease(db: AsyncDatabase, delivery_id: str, owner: str) -> None:
    await db[SENDING].delete_one({"_id": delivery_id, "owner": owner})


async def list_deliveries(
    db: AsyncDatabase, *, event_id: str | None, staff_id: str | None, limit: int
) -> list[Delivery]:
    """The log, newest first, filtered by event and/or staff member."""
    query: dict[str, Any] = {}
    if event_id is not None:
        query["event_id"] = event_id
    if staff_id is not None:
        query["staff_id"] = staff_id
    found = db[DELIVERIES].find(query).sort([("created_at", DESCENDING), ("_id", 1)]).limit(limit)
    return [delivery_from(doc) async for doc in found]


def delivery_from(doc: Mapping[str, Any]) -> Delivery:
    return Delivery(
        delivery_id=doc["_id"],
        staff_id=doc["staff_id"],
        email=doc["email"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        subject=doc["subject"],
        status=doc["status"],
        attempts=doc["attempts"],
        error=doc.get("error"),
        sent_at=doc.get("sent_at"),
    )


# -- proposals, for the action pages ---------------------------------------------------------


SUMMARY_FIELDS = ("applicant", "home_town", "occupation", "company", "town")


async def remember_proposals(
    db: AsyncDatabase, summaries: Sequence[ProposalSummary], at: datetime
) -> None:
    """Keep what the proposal e-mail says, at once: its links work as soon as it is sent.

    `linked_at` is refreshed whenever the e-mail is built again (a retry or a replay signs
    new links), so a summary lives as long as the newest link to it. A decision recorded
    before (its event overtook the proposal's) stays.
    """
    for summary in summaries:
        fields = {**asdict(summary), "linked_at": at}
        del fields["proposal_id"]
        # DuplicateKeyError: another handler inserted the same proposal at this moment.
        with suppress(DuplicateKeyError):
            await db[PROPOSALS].update_one(
                {"_id": summary.proposal_id}, {"$set": fields}, upsert=True
            )


def record_decision(proposal_id: str, decision: DecisionRecord, at: datetime) -> Write:
    """Note matching's decision on a proposal, for its action pages.

    Repeatable: matching announces one decision per proposal, and a redelivery sets the
    same values. A proposal not (yet) known gets a record of its own, kept as long as a
    link, so that an e-mail built after the decision still shows it.
    """
    fields = {
        "decision": {
            "status": decision.status,
            "decided_by": decision.decided_by,
            "decided_at": decision.decided_at,
        }
    }
    return Write(
        PROPOSALS,
        UpdateOne(
            {"_id": proposal_id},
            {"$set": fields, "$setOnInsert": {"linked_at": at}},
            upsert=True,
        ),
    )


async def mark_position_filled(db: AsyncDatabase, position_id: str) -> None:
    """The position of these proposals has no place left: their pages no longer offer accepting.

    At once and repeatable (a `$set` of a constant); the collection is small and scanned.
    """
    await db[PROPOSALS].update_many(
        {"position_id": position_id}, {"$set": {"position_filled": True}}
    )


async def find_proposal(db: AsyncDatabase, proposal_id: str) -> ProposalRecord | None:
    """What the service knows about a proposal; None if nothing (never mailed, or forgotten)."""
    doc = await db[PROPOSALS].find_one({"_id": proposal_id})
    if doc is None:
        return None
    summary = None
    if all(name in doc for name in SUMMARY_FIELDS):
        summary = ProposalSummary(
            proposal_id=doc["_id"],
            **{name: doc[name] for name in SUMMARY_FIELDS},
            position_id=doc.get("position_id"),
        )
    decision = None
    if isinstance(found := doc.get("decision"), dict):
        status: Status = "accepted" if found["status"] == "accepted" else "declined"
        decision = DecisionRecord(status, found.get("decided_by"), found["decided_at"])
    return ProposalRecord(
        proposal_id=doc["_id"],
        summary=summary,
        decision=decision,
        position_filled=bool(doc.get("position_filled")),
    )


async def staff_name(db: AsyncDatabase, staff_id: str) -> str | None:
    """The name of a staff member, for "… hat den Vorschlag angenommen"."""
    doc = await db[STAFF].find_one({"_id": staff_id}, {"name": 1})
    return None if doc is None else str(doc["name"])


async def forget_proposals(db: AsyncDatabase, before: datetime) -> None:
    """Drop summaries whose links have all expired: the names are matching's to keep."""
    await db[PROPOSALS].delete_many({"linked_at": {"$lt": before}})
