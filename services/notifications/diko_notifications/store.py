r"""The notifications service's collections, their indexes, and its reads and writes.

| collection      | `_id`          | what                                                       |
| --------------- | -------------- | ---------------------------------------------------------- |
| `staff`         | staff id       | name, e-mail, role, responsibilities, active, team         |
| `staff_emails`  | e-mail (lower) | which staff id an address belongs to: the uniqueness claim |
| `preferences`   | staff id       | per kind of mail: immediate, digest or off; quiet hours    |
| `subscriptions` | staff id       | release 1.1's topics and mode: adopted as preferences      |
| `fanouts`       | derived        | the recipients of one event, fixed when it first arrives   |
| `deliveries`    | `dlv_…`        | one e-mail about one thing to one recipient: the log       |
| `sending`       | `dlv_…`        | a lease while an SMTP conversation for a delivery runs     |
| `queued`        | `dlv_…`        | mail held for quiet hours or waiting for a digest          |
| `addresses`     | e-mail (lower) | addresses that refused mail for good                       |
| `optouts`       | recipient key  | contacts, applicants, addresses that unsubscribed          |
| `contacts`      | `cnt_…`        | companies' contact persons (a copy), consents by purpose   |
| `companies`     | `cmp_…`        | company name and town (a copy), for contacts and bounces   |
| `notices`       | sender\|key     | the idempotency keys of `notification.send`                |
| `proposals`     | `prp_…`        | what a proposal e-mail said, its decision, for its page    |

Writes that must happen before an e-mail leaves (the claims, the delivery record and its
lease) are made at once, by `_id` or as an insert whose unique `_id` decides between
competitors: FerretDB applies a conditional update as a read followed by a write, so
only the unique `_id` is a reliable arbiter there. Everything else is staged on the
handler's context and committed by the platform.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DESCENDING, DeleteOne, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from diko_notifications.delivery import Fate
from diko_notifications.domain import Staff
from diko_notifications.preferences import Prefs, from_document, from_subscription, to_document
from diko_notifications.proposals import (
    DecisionRecord,
    ProposalRecord,
    ProposalSummary,
    Status,
)
from diko_notifications.recipients import ContactCopy, StaffMember, area_of
from diko_shared.contract.notifications import Delivery, ListDeliveries
from diko_shared.rights.participant import is_erased
from diko_shared.store import guards
from diko_shared.store.group_commit import Write
from diko_shared.store.lookups import find_by_ids
from diko_shared.store.mongo import (
    DUPLICATE_KEY,
    Indexes,
    bulk_write_in_batches,
    insert_new,
    upsert_by_id,
)

STAFF = "staff"
STAFF_EMAILS = "staff_emails"
SUBSCRIPTIONS = "subscriptions"
FANOUTS = "fanouts"
DELIVERIES = "deliveries"
SENDING = "sending"
#: A delivery record's own lease, held by the process that created it to send it at once:
#: {owner, until}. It spares that first attempt the lease in `SENDING` and the record's
#: reading under it; the outcome clears it.
LEASE = "lease"
PROPOSALS = "proposals"
#: Positions filled (no personal data): a proposal's page stops offering "accept".
FILLED_POSITIONS = "filled_positions"
PREFERENCES = "preferences"
QUEUED = "queued"
ADDRESSES = "addresses"
OPTOUTS = "optouts"
CONTACTS = "contacts"
COMPANIES = "companies"
NOTICES = "notices"
#: Applicants who withdrew (id, status, when): no mail goes to them. Only ids, no names.
APPLICANTS = "applicants"

INDEXES: Indexes = {
    SUBSCRIPTIONS: [IndexModel("topics")],
    DELIVERIES: [
        IndexModel([("event_id", 1), ("created_at", DESCENDING)]),
        IndexModel([("staff_id", 1), ("created_at", DESCENDING)]),
        IndexModel([("recipient_id", 1), ("created_at", DESCENDING)]),
        IndexModel([("email", 1), ("created_at", DESCENDING)]),
        IndexModel([("created_at", DESCENDING)]),
    ],
    PROPOSALS: [IndexModel("linked_at")],
    QUEUED: [IndexModel("slot")],
    CONTACTS: [IndexModel("company_id")],
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


async def release_email(db: AsyncDatabase, key: str, staff_id: str) -> None:
    """Give up an address a staff member no longer uses (after a change of address)."""
    await db[STAFF_EMAILS].delete_one({"_id": key, "staff_id": staff_id})


def insert_staff(
    staff: Staff, at: datetime, responsibilities: Mapping[str, Any], *, team: bool = False
) -> Write:
    return guards.insert(
        STAFF,
        {
            "_id": staff.staff_id,
            "name": staff.name,
            "email": staff.email,
            "role": staff.role,
            "responsibilities": dict(responsibilities),
            "active": True,
            "team": team,
            "registered_at": at,
        },
    )


async def ensure_team(db: AsyncDatabase, staff_id: str, name: str, email: str) -> None:
    """The team address as a staff record (`team: true`), written by every start-up (two
    replicas may start at once)."""
    await upsert_by_id(
        db[STAFF],
        staff_id,
        {
            "$set": {"email": email, "team": True, "active": True},
            "$setOnInsert": {"name": name, "role": None, "responsibilities": {}},
        },
    )
    with suppress(DuplicateKeyError):
        await db[STAFF_EMAILS].insert_one({"_id": email.strip().lower(), "staff_id": staff_id})


def update_staff(staff_id: str, key: str, fields: Mapping[str, Any]) -> list[Write]:
    return guards.apply_once(STAFF, staff_id, key, {"$set": dict(fields)})


async def staff_doc(db: AsyncDatabase, staff_id: str) -> dict[str, Any] | None:
    return await db[STAFF].find_one({"_id": staff_id})


async def staff_docs(db: AsyncDatabase, staff_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Many staff records at once (a digest run reads a thousand: one query)."""
    return await find_by_ids(db[STAFF], staff_ids)


async def staff_by_email(db: AsyncDatabase, email: str) -> str | None:
    held = await db[STAFF_EMAILS].find_one({"_id": email.strip().lower()})
    return None if held is None else str(held["staff_id"])


async def staff_exists(db: AsyncDatabase, staff_id: str) -> bool:
    return await db[STAFF].find_one({"_id": staff_id}, {"_id": 1}) is not None


async def all_staff(db: AsyncDatabase) -> list[StaffMember]:
    """Every staff member with their responsibilities (a small collection: scanned)."""
    return [
        StaffMember(
            staff_id=doc["_id"],
            name=doc["name"],
            email=doc["email"],
            area=area_of(doc.get("responsibilities")),
            active=bool(doc.get("active", True)),
            team=bool(doc.get("team", False)),
        )
        async for doc in db[STAFF].find({})
    ]


async def find_staff(db: AsyncDatabase, staff_ids: Sequence[str]) -> dict[str, Staff]:
    """The staff members with these ids."""
    found = await find_by_ids(db[STAFF], staff_ids)
    return {
        id_: Staff(doc["_id"], doc["name"], doc["email"], doc.get("role"))
        for id_, doc in found.items()
    }


# -- preferences -----------------------------------------------------------------------------


async def all_preferences(db: AsyncDatabase) -> dict[str, Prefs]:
    """Every staff member's preferences; a member who never chose has the defaults."""
    return {doc["_id"]: from_document(doc) async for doc in db[PREFERENCES].find({})}


async def preferences_of(db: AsyncDatabase, staff_id: str) -> Prefs:
    return from_document(await db[PREFERENCES].find_one({"_id": staff_id}))


async def adopt_subscriptions(db: AsyncDatabase, at: datetime) -> int:
    """Turn what release 1.1's `staff.subscribe` left in `subscriptions` into preferences.

    A member with preferences keeps them (they always took precedence); one without gets
    the topics of their subscription; one who is gone or was erased gets nothing back.
    The subscription goes either way, so that every fan-out reads one collection instead
    of two. Made at every start, and hourly for a 1.1 replica left running; two replicas
    at once insert the same preferences, and the second insert is refused as a
    duplicate. Returns how many subscriptions were adopted.
    """
    legacy = [doc async for doc in db[SUBSCRIPTIONS].find({})]
    if not legacy:
        return 0
    members = await find_by_ids(db[STAFF], [doc["_id"] for doc in legacy], {"_id": 1})
    kept = [d for d in legacy if d["_id"] in members and not await is_erased(db, d["_id"])]
    adopted = [
        {
            "_id": doc["_id"],
            **to_document(
                from_subscription(
                    list(doc.get("topics", [])), doc.get("mode", "immediate"), Prefs()
                )
            ),
            "updated_at": at,
            guards.APPLIED: [],
        }
        for doc in kept
    ]
    had_preferences = await insert_new(db[PREFERENCES], adopted)
    await bulk_write_in_batches(db[SUBSCRIPTIONS], [DeleteOne({"_id": d["_id"]}) for d in legacy])
    return len(adopted) - len(had_preferences)


def set_preferences(staff_id: str, prefs: Prefs, key: str, at: datetime) -> list[Write]:
    """Replace the preferences, once per message: a redelivery must not undo a later change."""
    fields = {**to_document(prefs), "updated_at": at}
    return guards.apply_once(PREFERENCES, staff_id, key, {"$set": fields})


# -- fan-out ---------------------------------------------------------------------------------


async def fix_recipients(
    db: AsyncDatabase, fanout_id: str, event: Mapping[str, Any], recipients: Any
) -> Any:
    """The recipients of an event: those given the first time, whatever is given later.

    So a retry an hour later neither adds who subscribed since nor drops who left.
    """
    try:
        await db[FANOUTS].insert_one({"_id": fanout_id, **event, "recipients": recipients})
    except DuplicateKeyError:
        fixed = await db[FANOUTS].find_one({"_id": fanout_id})
        if fixed is None:
            raise
        return fixed["recipients"]
    return recipients


# -- deliveries ------------------------------------------------------------------------------


async def open_delivery(db: AsyncDatabase, record: Mapping[str, Any]) -> dict[str, Any]:
    """The delivery record: created as `pending` (the intent), or as it stands already."""
    return (await open_deliveries(db, [record]))[record["_id"]]


async def open_deliveries(
    db: AsyncDatabase, records: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Create the records in one bulk insert; those that exist already are read as they stand."""
    found, _ = await create_deliveries(db, records)
    return found


async def create_deliveries(
    db: AsyncDatabase, records: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """`open_deliveries`, and the ids of the records this call created (not read back)."""
    found = {r["_id"]: dict(r) for r in records}
    try:
        await db[DELIVERIES].insert_many([dict(r) for r in records], ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
        taken = {records[e["index"]]["_id"] for e in exc.details["writeErrors"]}
        for delivery_id in taken:
            existing = await db[DELIVERIES].find_one({"_id": delivery_id})
            if existing is None:
                raise
            found[delivery_id] = existing
        return found, set(found) - taken
    return found, set(found)


def leased_elsewhere(record: Mapping[str, Any], owner: str, now: datetime) -> bool:
    """Whether the process that created this delivery record sends it now (`LEASE`)."""
    lease = record.get(LEASE)
    return bool(lease) and lease["owner"] != owner and lease["until"] > now


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
    await record_attempts(db, [(delivery_id, fate, at)])


async def record_attempts(
    db: AsyncDatabase, attempts: Sequence[tuple[str, Fate, datetime]]
) -> list[None]:
    """The outcome of each of these SMTP attempts in its delivery's record (one bulk write)."""
    if attempts:
        ops = [UpdateOne({"_id": d}, {"$set": _attempt_fields(f, at)}) for d, f, at in attempts]
        await bulk_write_in_batches(db[DELIVERIES], ops, ordered=False)
    return [None] * len(attempts)


async def deliveries_by_id(db: AsyncDatabase, ids: Sequence[str]) -> list[dict[str, Any] | None]:
    """The records of these deliveries, in the same order (None where there is none)."""
    found = await find_by_ids(db[DELIVERIES], ids)
    return [found.get(delivery_id) for delivery_id in ids]


def _attempt_fields(fate: Fate, at: datetime) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": fate.status,
        "attempts": fate.attempts,
        "error": fate.error,
        "permanent": fate.permanent,
        "round_from": fate.round_from,
        "attempted_at": at,
        LEASE: None,
    }
    if fate.status == "sent":
        fields["sent_at"] = at
    return fields


async def set_status(
    db: AsyncDatabase, delivery_id: str, status: str, extra: Mapping[str, Any] | None = None
) -> None:
    await db[DELIVERIES].update_one(
        {"_id": delivery_id}, {"$set": {"status": status, **(extra or {})}}
    )


async def delivery_slots(db: AsyncDatabase, ids: Sequence[str]) -> dict[str, Any]:
    """The digest slot of each of these deliveries that exists."""
    found = await find_by_ids(db[DELIVERIES], ids, {"_id": 1, "slot": 1})
    return {id_: doc.get("slot") for id_, doc in found.items()}


async def set_statuses(
    db: AsyncDatabase, changes: Sequence[tuple[Sequence[str], str, Mapping[str, Any]]]
) -> None:
    """Several `set_status` at once: (delivery ids, status, extra fields) each, in one bulk
    write of one update per id (a lookup by `_id`, rather than one `$in` per person)."""
    ops = [
        UpdateOne({"_id": delivery_id}, {"$set": {"status": status, **extra}})
        for ids, status, extra in changes
        for delivery_id in ids
    ]
    await bulk_write_in_batches(db[DELIVERIES], ops, ordered=False)


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
    await release_leases(db, [(delivery_id, owner)])


async def take_leases(
    db: AsyncDatabase, leases: Sequence[tuple[str, str]], now: datetime, ttl: timedelta
) -> list[bool]:
    """`take_lease` for many (delivery id, owner) at once: one bulk insert; only the few
    that meet a lease (held elsewhere, or left behind by a crash) are looked at one by one."""
    if not leases:
        return []
    docs = [{"_id": d, "owner": owner, "until": now + ttl} for d, owner in leases]
    taken = [True] * len(leases)
    for i in await insert_new(db[SENDING], docs):
        taken[i] = await take_lease(db, leases[i][0], leases[i][1], now, ttl)
    return taken


async def release_leases(db: AsyncDatabase, leases: Sequence[tuple[str, str]]) -> list[None]:
    """Give these (delivery id, owner) leases back (one bulk write)."""
    if leases:
        ops = [DeleteOne({"_id": d, "owner": owner}) for d, owner in leases]
        await bulk_write_in_batches(db[SENDING], ops, ordered=False)
    return [None] * len(leases)


async def list_deliveries(db: AsyncDatabase, query: ListDeliveries) -> list[Delivery]:
    """The log, newest first, filtered by event, person, address, status and time."""
    found_query: dict[str, Any] = {}
    if query.event_id is not None:
        found_query["event_id"] = query.event_id
    if query.staff_id is not None:
        found_query["staff_id"] = query.staff_id
    if query.recipient_id is not None:
        found_query["recipient_id"] = query.recipient_id
    if query.email is not None:
        found_query["email"] = {"$regex": f"^{re.escape(query.email.strip())}$", "$options": "i"}
    if query.status is not None:
        found_query["status"] = query.status
    period: dict[str, Any] = {}
    if query.since is not None:
        period["$gte"] = query.since
    if query.until is not None:
        period["$lt"] = query.until
    if period:
        found_query["created_at"] = period
    found = (
        db[DELIVERIES]
        .find(found_query)
        .sort([("created_at", DESCENDING), ("_id", 1)])
        .limit(query.limit)
    )
    return [delivery_from(doc) async for doc in found]


def delivery_from(doc: Mapping[str, Any]) -> Delivery:
    return Delivery(
        delivery_id=doc["_id"],
        staff_id=doc.get("staff_id"),
        recipient_kind=doc.get("recipient_kind", "staff"),
        recipient_id=doc.get("recipient_id", doc.get("staff_id")),
        email=doc["email"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        subject=doc["subject"],
        status=doc["status"],
        attempts=doc["attempts"],
        error=doc.get("error"),
        permanent=bool(doc.get("permanent", False)),
        created_at=doc.get("created_at"),
        sent_at=doc.get("sent_at"),
        held_until=doc.get("held_until"),
    )


async def forget_deliveries(db: AsyncDatabase, before: datetime) -> int:
    """The delivery log's retention: deliveries created before `before` go (they hold addresses)."""
    gone = await db[DELIVERIES].delete_many({"created_at": {"$lt": before}})
    return int(gone.deleted_count)


async def forget_fanouts(db: AsyncDatabase, before: datetime) -> int:
    """Fan-outs (who got the mails of an event) created before `before` go with the log.

    A fan-out written before `created_at` existed is judged by its event's time (`at`).
    """
    gone = await db[FANOUTS].delete_many(
        {
            "$or": [
                {"created_at": {"$lt": before}},
                {"created_at": {"$exists": False}, "at": {"$lt": before}},
            ]
        }
    )
    return int(gone.deleted_count)


# -- held and digest mail --------------------------------------------------------------------


def queue(doc: Mapping[str, Any]) -> Write:
    """Mail that waits (quiet hours, a digest): one document per delivery, keyed by it."""
    return Write(QUEUED, UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": dict(doc)}, upsert=True))


async def queued_in(db: AsyncDatabase, slot: str) -> list[dict[str, Any]]:
    return [doc async for doc in db[QUEUED].find({"slot": slot})]


async def requeue(db: AsyncDatabase, ids: Sequence[str], slot: str) -> None:
    for delivery_id in ids:
        await db[QUEUED].update_one({"_id": delivery_id}, {"$set": {"slot": slot}})


def dequeue(ids: Sequence[str]) -> list[Write]:
    return [Write(QUEUED, DeleteOne({"_id": delivery_id})) for delivery_id in ids]


# -- addresses that refuse mail, and opt-outs ------------------------------------------------


async def undeliverable(db: AsyncDatabase, keys: set[str]) -> set[str]:
    """Which of these addresses (lower-cased) refused mail for good (a small collection)."""
    return set(await find_by_ids(db[ADDRESSES], sorted(keys), {"_id": 1}))


async def all_undeliverable(db: AsyncDatabase) -> set[str]:
    """Every address marked undeliverable (the whole collection: a few hundred at most)."""
    return {doc["_id"] async for doc in db[ADDRESSES].find({}, {"_id": 1})}


async def mark_undeliverable(
    db: AsyncDatabase, key: str, error: str, at: datetime, delivery_id: str
) -> dict[str, Any]:
    """Mark an address undeliverable; the first mark stands (and names when it began).

    `since` is kept to the millisecond, as the database keeps it, so that the mark read
    back later is the same moment (the reports to staff derive their ids from it)."""
    since = at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)
    doc = {"_id": key, "error": error, "since": since, "delivery_id": delivery_id}
    try:
        await db[ADDRESSES].insert_one(doc)
    except DuplicateKeyError:
        existing = await db[ADDRESSES].find_one({"_id": key})
        return existing or doc
    return doc


async def address_mark(db: AsyncDatabase, key: str) -> dict[str, Any] | None:
    """The mark of an undeliverable address: its error, since when, the delivery that began it."""
    return await db[ADDRESSES].find_one({"_id": key})


async def bounce_delivery(db: AsyncDatabase, delivery_id: str, error: str, at: datetime) -> bool:
    """A delivery SMTP took came back as undeliverable; True only for the first report."""
    changed = await db[DELIVERIES].update_one(
        {"_id": delivery_id, "status": {"$in": ["sent", "pending"]}},
        {"$set": {"status": "bounced", "error": error, "permanent": True, "bounced_at": at}},
    )
    return changed.modified_count == 1


async def note_bounce(db: AsyncDatabase, delivery_id: str, error: str) -> None:
    """A temporary bounce: the relay still tries; the log says what it reported."""
    await db[DELIVERIES].update_one(
        {"_id": delivery_id, "status": {"$ne": "bounced"}}, {"$set": {"error": error}}
    )


async def find_deliveries(db: AsyncDatabase, ids: Sequence[str]) -> list[dict[str, Any]]:
    return list((await find_by_ids(db[DELIVERIES], ids, {"_id": 1})).values())


async def mark_deliverable(db: AsyncDatabase, key: str) -> None:
    await db[ADDRESSES].delete_one({"_id": key})


async def is_undeliverable(db: AsyncDatabase, key: str) -> bool:
    return await db[ADDRESSES].find_one({"_id": key}, {"_id": 1}) is not None


async def opted_out(db: AsyncDatabase, recipient_key: str) -> bool:
    return await db[OPTOUTS].find_one({"_id": recipient_key}, {"_id": 1}) is not None


async def set_opt_out(db: AsyncDatabase, recipient_key: str, out: bool, at: datetime) -> None:
    if out:
        await db[OPTOUTS].update_one(
            {"_id": recipient_key}, {"$setOnInsert": {"at": at}}, upsert=True
        )
    else:
        await db[OPTOUTS].delete_one({"_id": recipient_key})


# -- copies of companies and their contact persons -------------------------------------------


def keep_company(company_id: str, fields: Mapping[str, Any]) -> Write:
    return Write(COMPANIES, UpdateOne({"_id": company_id}, {"$set": dict(fields)}, upsert=True))


async def company(db: AsyncDatabase, company_id: str) -> dict[str, Any] | None:
    return await db[COMPANIES].find_one({"_id": company_id})


def keep_contact(contact_id: str, fields: Mapping[str, Any]) -> list[Write]:
    """The contact person's copy, and its id in its company's list (`contacts_of`)."""
    return [
        Write(CONTACTS, UpdateOne({"_id": contact_id}, {"$set": dict(fields)}, upsert=True)),
        _list_contacts(fields["company_id"], [contact_id]),
    ]


def _list_contacts(company_id: str, contact_ids: Sequence[str]) -> Write:
    return Write(
        COMPANIES,
        UpdateOne(
            {"_id": company_id},
            {"$addToSet": {"contact_ids": {"$each": list(contact_ids)}}},
            upsert=True,
        ),
    )


def forget_contact(contact_id: str) -> Write:
    return Write(CONTACTS, DeleteOne({"_id": contact_id}))


async def list_all_contacts(db: AsyncDatabase) -> int:
    """At start: every contact person's id into its company's list; returns the companies.

    The lists came after the contact copies: copies kept by an earlier version (or by one
    still running during a rolling upgrade, until the next start) are listed here. One
    read of the collection at start, so that no message has to read it.
    """
    by_company: dict[str, list[str]] = {}
    async for doc in db[CONTACTS].find({}, {"company_id": 1}):
        if doc.get("company_id"):
            by_company.setdefault(doc["company_id"], []).append(doc["_id"])
    writes = [_list_contacts(company_id, ids).op for company_id, ids in by_company.items()]
    await bulk_write_in_batches(db[COMPANIES], writes, ordered=False)
    return len(by_company)


def contact_consent(contact_id: str, purpose: str, status: str, declared_at: datetime) -> Write:
    """A contact person's consent, the later declaration winning (replays change nothing)."""
    return Write(
        CONTACTS,
        UpdateOne(
            {
                "_id": contact_id,
                "$or": [
                    {f"consent_at.{purpose}": {"$exists": False}},
                    {f"consent_at.{purpose}": {"$lt": declared_at}},
                ],
            },
            {"$set": {f"consents.{purpose}": status, f"consent_at.{purpose}": declared_at}},
        ),
    )


def contact_from(doc: Mapping[str, Any]) -> ContactCopy:
    return ContactCopy(
        contact_id=doc["_id"],
        company_id=doc["company_id"],
        name=doc["name"],
        email=doc.get("email"),
        role=doc.get("role"),
        preferred_channel=doc.get("preferred_channel", "email"),
        consents=dict(doc.get("consents") or {}),
    )


async def contact(db: AsyncDatabase, contact_id: str) -> ContactCopy | None:
    doc = await db[CONTACTS].find_one({"_id": contact_id})
    return contact_from(doc) if doc is not None and "name" in doc else None


async def contacts_of(db: AsyncDatabase, company_id: str) -> list[ContactCopy]:
    """The company's contact persons, read by id from its list.

    FerretDB reads the whole collection for a filter on `company_id` (76 ms a company with
    a few hundred contact persons in bench/stories). An id in the list whose person was
    removed, erased or moved to another company is passed over.
    """
    listed = await db[COMPANIES].find_one({"_id": company_id}, {"contact_ids": 1})
    found = await find_by_ids(db[CONTACTS], (listed or {}).get("contact_ids") or ())
    return [
        contact_from(doc)
        for doc in found.values()
        if "name" in doc and doc.get("company_id") == company_id
    ]


async def move_contacts(db: AsyncDatabase, contact_ids: Sequence[str], company_id: str) -> None:
    for contact_id in contact_ids:
        await db[CONTACTS].update_one({"_id": contact_id}, {"$set": {"company_id": company_id}})
    if contact_ids:
        write = _list_contacts(company_id, contact_ids)
        await db[write.collection].bulk_write([write.op])


# -- notices (idempotency keys of notification.send) ------------------------------------------


async def claim_notice(db: AsyncDatabase, key: str, notification_id: str) -> bool:
    """Whether this is the first time the key is asked for (the notification id derives
    from the key, so a repeat stands for the same notification)."""
    try:
        await db[NOTICES].insert_one({"_id": key, "notification_id": notification_id})
    except DuplicateKeyError:
        return False
    return True


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


def withdraw_proposal(proposal_id: str, text: str, at: datetime) -> Write:
    """matching withdrew the proposal: its links are revoked, the page says why."""
    return Write(
        PROPOSALS,
        UpdateOne(
            {"_id": proposal_id},
            {"$set": {"withdrawn": text}, "$setOnInsert": {"linked_at": at}},
            upsert=True,
        ),
    )


async def applicant_status(
    db: AsyncDatabase, applicant_id: str, status: str, at: datetime
) -> list[Write]:
    """An applicant's status as matching last told it (an older event does not win).

    Only withdrawn applicants are kept: an applicant who came back is deleted again."""
    known = await db[APPLICANTS].find_one({"_id": applicant_id})
    if known is not None and known["at"] > at:
        return []
    if status == "withdrawn":
        doc = {"status": status, "at": at}
        return [Write(APPLICANTS, UpdateOne({"_id": applicant_id}, {"$set": doc}, upsert=True))]
    if known is None:
        return []
    return [Write(APPLICANTS, DeleteOne({"_id": applicant_id}))]


async def withdrawn_applicants(db: AsyncDatabase, ids: Sequence[str]) -> set[str]:
    found = await find_by_ids(db[APPLICANTS], ids, {"status": 1})
    return {id_ for id_, doc in found.items() if doc.get("status") == "withdrawn"}


async def find_proposals(db: AsyncDatabase, ids: Sequence[str]) -> dict[str, ProposalRecord]:
    """What the service knows about these proposals (one query for a digest run's many)."""
    found = await find_by_ids(db[PROPOSALS], sorted(set(ids)))
    filled = await _filled(db, found.values())
    return {id_: _proposal_from(doc, filled) for id_, doc in found.items()}


async def mark_position_filled(db: AsyncDatabase, position_id: str, at: datetime) -> None:
    """The position has no place left: its proposals' pages no longer offer accepting.

    One document by the position's id, read with each proposal, rather than a flag set on
    every proposal of the position: FerretDB would read the whole `proposals` collection
    for that update, and a proposal remembered after the fill is covered too. Repeatable.
    """
    with suppress(DuplicateKeyError):
        await db[FILLED_POSITIONS].update_one(
            {"_id": position_id}, {"$setOnInsert": {"at": at}}, upsert=True
        )


async def find_proposal(db: AsyncDatabase, proposal_id: str) -> ProposalRecord | None:
    """What the service knows about a proposal; None if nothing (never mailed, or forgotten)."""
    doc = await db[PROPOSALS].find_one({"_id": proposal_id})
    if doc is None:
        return None
    filled = await _filled(db, [doc])
    return _proposal_from(doc, filled)


async def _filled(db: AsyncDatabase, docs: Iterable[Mapping[str, Any]]) -> set[str]:
    """Which of these proposals' positions are filled."""
    positions = sorted({doc["position_id"] for doc in docs if doc.get("position_id")})
    return set(await find_by_ids(db[FILLED_POSITIONS], positions, {"_id": 1}))


def _proposal_from(doc: Mapping[str, Any], filled: set[str]) -> ProposalRecord:
    summary = None
    if all(name in doc for name in SUMMARY_FIELDS):
        summary = ProposalSummary(
            proposal_id=doc["_id"],
            **{name: doc[name] for name in SUMMARY_FIELDS},
            position_id=doc.get("position_id"),
            start_date=doc.get("start_date"),
            company_id=doc.get("company_id"),
        )
    decision = None
    if isinstance(found := doc.get("decision"), dict):
        status: Status = "accepted" if found["status"] == "accepted" else "declined"
        decision = DecisionRecord(status, found.get("decided_by"), found["decided_at"])
    return ProposalRecord(
        proposal_id=doc["_id"],
        summary=summary,
        decision=decision,
        # `position_filled` on the proposal itself: as versions before 2026-12-04 marked it
        position_filled=doc.get("position_id") in filled or bool(doc.get("position_filled")),
        withdrawn=doc.get("withdrawn"),
    )


async def staff_name(db: AsyncDatabase, staff_id: str) -> str | None:
    """The name of a staff member, for "… hat den Vorschlag angenommen"."""
    doc = await db[STAFF].find_one({"_id": staff_id}, {"name": 1})
    return None if doc is None else str(doc["name"])


async def forget_proposals(db: AsyncDatabase, before: datetime) -> int:
    """Drop summaries whose links have all expired: the names are matching's to keep.

    A summary whose e-mail still waits (quiet hours, a digest) stays: its links are not
    signed yet, and the mail needs it when it leaves.
    """
    waiting = await waiting_proposals(db)
    query: dict[str, Any] = {"linked_at": {"$lt": before}}
    if waiting:
        query["_id"] = {"$nin": sorted(waiting)}
    gone = await db[PROPOSALS].delete_many(query)
    return int(gone.deleted_count)


async def waiting_proposals(db: AsyncDatabase) -> set[str]:
    """The proposals named by staff mail that waits (quiet hours, a digest)."""
    found: set[str] = set()
    async for doc in db[QUEUED].find({"kind": "match.proposed"}, {"data": 1}):
        found.update(p["proposal_id"] for p in (doc.get("data") or {}).get("proposals", []))
    return found


async def relink_proposals(db: AsyncDatabase, proposal_ids: Sequence[str], at: datetime) -> None:
    """The e-mail naming these proposals is built now (a digest, mail after quiet hours):
    its links are signed now, so their summaries live from now (one update by `_id` each:
    FerretDB would read the whole collection for an `$in`)."""
    ops = [
        UpdateOne({"_id": id_}, {"$set": {"linked_at": at}}) for id_ in sorted(set(proposal_ids))
    ]
    await bulk_write_in_batches(db[PROPOSALS], ops, ordered=False)
