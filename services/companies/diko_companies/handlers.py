"""Handlers of the company record: companies, contacts, consents, consultations, duplicates,
merge and history (positions are in `position_handlers`).

Handlers read through `ctx.db`, decide with `domain` and `records`, and stage their
writes and events; the platform commits and publishes them. Ids come from `ctx.new_id`,
so a redelivered command finds what its first delivery created. Every change of a
company stages an entry of its history and its row of the search directory.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from diko_companies import domain, duplicates, records, search, store
from diko_companies.directory import Directory, RowWriter, stage_company
from diko_companies.records import Change
from diko_shared import due
from diko_shared.contract.companies import (
    AddContact,
    Checklist,
    Company,
    CompanyBrief,
    CompanyChange,
    CompanyContact,
    CompanyHistory,
    CompanyHit,
    CompanyMerged,
    CompanyPage,
    CompanyRef,
    CompanyRegistered,
    CompanyUpdated,
    ConsentChanged,
    ConsentRecorded,
    ConsentState,
    ConsultationRecorded,
    ConsultationRef,
    ConsultationSummary,
    ContactAdded,
    ContactChange,
    ContactRef,
    ContactRemoved,
    ContactUpdated,
    DuplicateCandidate,
    DuplicatePair,
    DuplicateReason,
    DuplicateReport,
    DuplicateSuspected,
    FollowUpContact,
    FollowUpDue,
    GetCompany,
    GetHistory,
    GetPresenceHistory,
    HistoryEntry,
    MergeCompanies,
    MergeResult,
    PositionSummary,
    Presence,
    PresenceHistory,
    PresencePoint,
    RecordConsultation,
    RegisterCompany,
    RemoveContact,
    ScanDuplicates,
    SearchCompanies,
    SetConsent,
    UpdateCompany,
    UpdateContact,
)
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.due import DueContext
from diko_shared.messaging.errors import Conflict, Invalid, NotFound, TransientError
from diko_shared.messaging.handling import Context

#: The directory of this process (see `directory`): rows of every company and position.
DIRECTORY = Directory()
#: Writes the rows of registrations and company updates, many messages' at once.
ROWS = RowWriter(DIRECTORY)
#: Claims the duplicate keys of registrations and renames, many messages' at once.
KEY_CLAIMS = store.KeyClaims()
#: Asks whether contact persons were erased, for many messages at once.
TOMBSTONES = store.Tombstones()
#: The due kind of a consultation's follow-up.
FOLLOW_UP = "follow_up"
#: How old (in seconds) other replicas' changes may be for a duplicate check.
SUSPECTS_MAX_AGE_S = 1.0
#: Most consultations `company.get` lists.
CONSULTATIONS_SHOWN = 50


# -- reading -----------------------------------------------------------------------------------


async def _company_doc(
    ctx: Context[Any], company_id: str, *, merged_ok: bool = False
) -> dict[str, Any]:
    stored = await store.read(ctx.db, store.COMPANIES, company_id)
    if stored is None:
        raise NotFound(
            f"Firma {company_id} ist nicht registriert",
            [ErrorDetail(field="data.company_id", problem="unbekannte Firma")],
        )
    if stored.get("merged_into") and not merged_ok:
        raise records.merged_away(company_id, stored["merged_into"])
    return stored


async def _contacts(ctx: Context[Any] | DueContext, stored: dict[str, Any]) -> list[dict[str, Any]]:
    return await store.read_many(ctx.db, store.CONTACTS, list(stored.get("contact_ids") or []))


def _json(value: Any) -> Any:
    """A value as the history keeps it: dates as ISO strings, nested values alike."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _history(
    ctx: Context[Any],
    company_id: str,
    changes: list[Change],
    changed_by: str | None,
    *,
    new: bool = False,
) -> None:
    """Stage the history entry of this message (`new`: the company's first, an insert)."""
    if not changes:
        return
    entry = {
        "at": ctx.occurred_at,
        "message_type": ctx.spec.type,
        "message_id": ctx.envelope.id,
        "source": ctx.envelope.source,
        "changed_by": changed_by,
        "changes": [
            {**c.as_doc(), "before": _json(c.before), "after": _json(c.after)} for c in changes
        ],
    }
    entry_id = ctx.new_id("his", company_id)
    if new:
        ctx.write(
            store.guards.insert(store.HISTORY, {"_id": company_id, "entries": {entry_id: entry}})
        )
    else:
        ctx.write(store.history_entry(company_id, entry_id, entry))


def _stage_row(
    ctx: Context[Any], company_id: str, stored: dict[str, Any], contacts: list[dict[str, Any]]
) -> None:
    row = records.company_row(company_id, stored, contacts)
    ctx.write(stage_company(row, ctx.new_id("rev", company_id)))
    DIRECTORY.put_company(row)  # this replica sees it at once; others at their next catch-up


async def _write_row(
    ctx: Context[Any], company_id: str, stored: dict[str, Any], contacts: list[dict[str, Any]]
) -> duplicates.Profile:
    """Like `_stage_row`, but written with the rows of other messages handled meanwhile.

    For the messages an import sends by the thousand (registrations and the updates
    they become); called once the message can no longer be refused. Returns the
    company's profile, which the duplicate check compares.
    """
    row = records.company_row(company_id, stored, contacts)
    await ROWS.put_company(ctx.db, row)
    return row.profile


async def _suspects(ctx: Context[Any], profile: duplicates.Profile) -> list[DuplicateCandidate]:
    """Existing companies that look like `profile` (an exact duplicate is refused elsewhere)."""
    await DIRECTORY.refresh(ctx.db, max_age=SUSPECTS_MAX_AGE_S)
    strong, named = DIRECTORY.neighbours(profile)
    found = duplicates.candidates(profile, named, strong)
    return [
        DuplicateCandidate(
            company_id=other.company_id,
            name=other.name,
            town=other.town,
            postcode=other.postcode,
            score=match.score,
            reasons=[DuplicateReason(code=r.code, text=r.text) for r in match.reasons],  # type: ignore[arg-type]
        )
        for other, match in found
    ]


def _announce_suspects(
    ctx: Context[Any],
    company_id: str,
    fields: dict[str, Any],
    trigger: str,
    found: list[DuplicateCandidate],
) -> None:
    if not found:
        return
    ctx.emit(
        DuplicateSuspected(
            company_id=company_id,
            name=fields["name"],
            town=fields["address"]["town"],
            postcode=fields["address"]["postcode"],
            trigger=trigger,  # type: ignore[arg-type]
            candidates=found,
        ),
        subject=company_id,
    )


# -- company.register --------------------------------------------------------------------------


async def register_company(ctx: Context[RegisterCompany]) -> CompanyRef:
    """`company.register`: a new company, unless one of that name and postcode exists.

    Near duplicates are registered and announced; an exact duplicate is a conflict, or
    with `if_exists: update` an update of the company that exists.
    """
    data = ctx.data
    problems = domain.Problems()
    town = domain.canonical_town(data.address.town, "data.address.town", problems)
    contact_id = ctx.new_id("cnt")
    if data.contact is not None:
        await _refuse_erased(ctx, contact_id)
    contacts = [] if data.contact is None else [records.new_contact(data.contact, contact_id, "")]
    problems.raise_any()
    fields = records.registration_fields(data, town)
    company_id = ctx.new_id("cmp")
    key = domain.duplicate_key(data.name, data.address.postcode)
    async with KEY_CLAIMS.for_message(ctx) as held:
        holder = await _claim_duplicate_key(ctx, held, key, company_id)
        if holder is not None:
            if data.if_exists == "update":
                return await _register_as_update(ctx, holder, fields)
            raise domain.duplicate(data.name, data.address.postcode, holder["_id"])
        return await _register_new(ctx, company_id, key, fields, contacts)


async def _register_new(
    ctx: Context[RegisterCompany],
    company_id: str,
    key: str,
    fields: dict[str, Any],
    contacts: list[dict[str, Any]],
) -> CompanyRef:
    """Stage a new company whose duplicate key this message holds."""
    data = ctx.data
    town = fields["address"]["town"]
    for contact in contacts:
        contact["company_id"] = company_id
        ctx.write(store.guards.insert(store.CONTACTS, contact))
    document = {
        "_id": company_id,
        **fields,
        "duplicate_key": key,
        "registered_at": ctx.occurred_at,
        "contact_ids": [c["_id"] for c in contacts],
        "position_ids": [],
        "consultation_ids": [],
        "consents": {},
        "presence": None,
        "merged_into": None,
    }
    ctx.write(store.insert_company(document))
    changes = records.diff({}, fields, records.COMPANY_FIELDS)
    _history(ctx, company_id, changes, data.changed_by, new=True)
    found = await _suspects(ctx, await _write_row(ctx, company_id, document, contacts))
    ctx.emit(
        CompanyRegistered(
            company_id=company_id,
            name=fields["name"],
            town=town,
            postcode=data.address.postcode,
            industry=data.industry,
        ),
        subject=company_id,
    )
    for contact in contacts:
        _emit_contact_added(ctx, contact)
    _announce_suspects(ctx, company_id, fields, "register", found)
    return CompanyRef(company_id=company_id, outcome="created", suspected_duplicates=found)


async def _claim_duplicate_key(
    ctx: Context[Any], held: store.HeldKeys, key: str, company_id: str
) -> dict[str, Any] | None:
    """Hold the duplicate key for `company_id`; else the stored company that holds it.

    The claim is written at once (like `ctx.claim`, batched with other messages' claims:
    `store.KeyClaims`), so that two registrations of one company
    handled at the same time cannot both pass; if this message then fails for good, the
    platform gives the key back, so that it never blocks a correct one.
    """
    claim = await held.claim(key, company_id)
    holder = claim["company_id"]
    if holder == company_id:
        return None
    stored = await store.read(ctx.db, store.COMPANIES, holder)
    if stored is not None:
        return stored
    abandoned = domain.claim_abandoned(claim["claimed_at"], datetime.now(UTC))
    if abandoned and await store.take_over_company_key(ctx.db, key, holder, company_id, ctx.key):
        held.took_over(key)
        return None
    raise TransientError(f"a registration of the same company ({holder}) is still in progress")


async def _register_as_update(
    ctx: Context[RegisterCompany], stored: dict[str, Any], fields: dict[str, Any]
) -> CompanyRef:
    """A registration of a company that exists (`stored`), applied to it (`if_exists: update`).

    Only fields the registration gives replace stored ones (an empty spreadsheet cell
    clears nothing), except the name, which matched in its normalised form and keeps the
    record's spelling; its contact person is added unless the company knows them (the
    registration asked already whether that person was erased).
    """
    company_id = stored["_id"]
    if stored.get("merged_into"):
        raise records.merged_away(company_id, stored["merged_into"])
    contacts = await _contacts(ctx, stored)
    after = {name: stored.get(name) for name in records.COMPANY_FIELDS}
    # The name is the record's spelling: the registration matched it by its normalised form.
    after.update({k: v for k, v in fields.items() if v is not None and k != "name"})
    contact = ctx.data.contact
    added = None
    if contact is not None and not _knows(contacts, contact.name, contact.email):
        added = records.new_contact(contact, ctx.new_id("cnt"), company_id)
    changes = records.diff(stored, after, records.COMPANY_FIELDS)
    if not changes and added is None:
        return CompanyRef(company_id=company_id, outcome="unchanged")
    if added is not None:
        ctx.write(store.guards.insert(store.CONTACTS, added))
        ctx.write(store.add_to(store.COMPANIES, company_id, "contact_ids", added["_id"]))
        changes.append(Change(f"contacts.{added['_id']}", None, _contact_view(added)))
        contacts = [*contacts, added]
        _emit_contact_added(ctx, added)
    found = _stage_company_change(
        ctx, company_id, stored, after, changes, contacts, ctx.data.changed_by
    )
    return CompanyRef(company_id=company_id, outcome="updated", suspected_duplicates=await found)


def _knows(contacts: list[dict[str, Any]], name: str, email: str | None) -> bool:
    folded = duplicates.fold(name)
    for known in contacts:
        if email and (known.get("email") or "").casefold() == email.casefold():
            return True
        if duplicates.fold(known.get("name") or "") == folded:
            return True
    return False


def _contact_view(contact: dict[str, Any]) -> dict[str, Any]:
    return {name: contact.get(name) for name in records.CONTACT_FIELDS}


async def _stage_company_change(
    ctx: Context[Any],
    company_id: str,
    stored: dict[str, Any],
    after: dict[str, Any],
    changes: list[Change],
    contacts: list[dict[str, Any]],
    changed_by: str | None,
) -> list[DuplicateCandidate]:
    """Stage a changed company: its fields, history, row, events; returns suspected duplicates."""
    ctx.write(store.set_fields(store.COMPANIES, company_id, after))
    _history(ctx, company_id, changes, changed_by)
    document = {**stored, **after}
    profile = await _write_row(ctx, company_id, document, contacts)
    changed_fields = [c.field for c in changes if not c.field.startswith("contacts.")]
    if changed_fields:
        ctx.emit(
            CompanyUpdated(
                company_id=company_id,
                changed=changed_fields,
                name=after["name"],
                town=after["address"]["town"],
                postcode=after["address"]["postcode"],
                industry=after.get("industry"),
                website=after.get("website"),
                instagram=after.get("instagram"),
                google_business_profile=after.get("google_business_profile"),
            ),
            subject=company_id,
        )
    identity = ("name", "address", "website", "phone", "contacts")
    if not any(c.field.split(".")[0] in identity for c in changes):
        return []
    found = await _suspects(ctx, profile)
    _announce_suspects(ctx, company_id, after, "update", found)
    return found


# -- company.update and company.get ------------------------------------------------------------


async def update_company(ctx: Context[UpdateCompany]) -> CompanyChange:
    """`company.update`: the fields sent replace the stored ones; `null` clears optional ones."""
    data = ctx.data
    stored = await _company_doc(ctx, data.company_id)
    after = records.updated_company(stored, data)
    changes = records.diff(stored, after, records.COMPANY_FIELDS)
    if not changes:
        return CompanyChange(company_id=data.company_id, changed=[])
    old_key = stored.get("duplicate_key")
    new_key = domain.duplicate_key(after["name"], after["address"]["postcode"])
    if new_key == old_key:
        return await _update_fields(ctx, stored, after, changes)
    async with KEY_CLAIMS.for_message(ctx) as held:
        holder = await _claim_duplicate_key(ctx, held, new_key, data.company_id)
        if holder is not None:
            raise domain.duplicate(after["name"], after["address"]["postcode"], holder["_id"])
        after["duplicate_key"] = new_key
        if old_key and await store.holds_key(ctx.db, old_key, data.company_id):
            ctx.write(store.release_company_key(old_key))
        return await _update_fields(ctx, stored, after, changes)


async def _update_fields(
    ctx: Context[UpdateCompany],
    stored: dict[str, Any],
    after: dict[str, Any],
    changes: list[Change],
) -> CompanyChange:
    """Stage the changed fields (the duplicate key, if it changed, is this message's now)."""
    data = ctx.data
    contacts = await _contacts(ctx, stored)
    found = await _stage_company_change(
        ctx, data.company_id, stored, after, changes, contacts, data.changed_by
    )
    return CompanyChange(
        company_id=data.company_id, changed=[c.field for c in changes], suspected_duplicates=found
    )


async def get_company(ctx: Context[GetCompany]) -> Company:
    """`company.get`: the company with contacts, positions, consents, presence, consultations.

    A company merged into another answers with `merged_into` and nothing that moved.
    """
    company_id = ctx.data.company_id
    stored = await _company_doc(ctx, company_id, merged_ok=True)
    base = {
        "company_id": company_id,
        **{name: stored.get(name) for name in records.COMPANY_FIELDS},
        "consents": [ConsentState.from_stored(s) for s in (stored.get("consents") or {}).values()],
        "presence": _presence(stored.get("presence")),
        "merged_into": stored.get("merged_into"),
        "contacts": [],
    }
    if stored.get("merged_into"):
        return Company.from_stored(base)
    contacts, positions, consultations = (
        await _contacts(ctx, stored),
        await store.read_many(ctx.db, store.POSITIONS, list(stored.get("position_ids") or [])),
        await store.read_many(
            ctx.db, store.CONSULTATIONS, list(stored.get("consultation_ids") or [])
        ),
    )
    positions.sort(key=lambda p: (str(p["start_date"]), p["_id"]))
    consultations.sort(key=lambda c: (str(c["held_on"]), c["_id"]), reverse=True)
    base["contacts"] = [_contact(c) for c in contacts]
    base["positions"] = [
        PositionSummary.from_stored(_only(p, PositionSummary) | {"position_id": p["_id"]})
        for p in positions
    ]
    base["consultations"] = [
        ConsultationSummary.from_stored(
            {**_only(c, ConsultationSummary), "consultation_id": c["_id"]}
        )
        for c in consultations[:CONSULTATIONS_SHOWN]
    ]
    return Company.from_stored(base)


def _only(document: dict[str, Any], model: Any) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k in model.model_fields}


def _contact(document: dict[str, Any]) -> CompanyContact:
    consents = [ConsentState.from_stored(s) for s in (document.get("consents") or {}).values()]
    fields = _only(document, CompanyContact) | {"contact_id": document["_id"], "consents": consents}
    return CompanyContact.from_stored(fields)


def _presence(presence: dict[str, Any] | None) -> Presence | None:
    if not presence:
        return None
    return Presence(
        checklist=Checklist(**presence.get("checklist", {})),
        score=presence["score"],
        assessed_on=date.fromisoformat(presence["assessed_on"])
        if presence.get("assessed_on")
        else None,
        consultation_id=presence.get("consultation_id"),
    )


async def search_companies(ctx: Context[SearchCompanies]) -> CompanyPage:
    """`company.search`: companies meeting every criterion, a page at a time (see `search`)."""
    query = domain.company_query(ctx.data)
    await DIRECTORY.refresh(ctx.db)
    rows, next_cursor = search.companies(DIRECTORY, query)
    hits = [
        CompanyHit(
            company_id=row.company_id,
            name=row.profile.name,
            town=row.profile.town,
            postcode=row.profile.postcode,
            industry=row.industry,
            open_positions=max(0, DIRECTORY.open_positions.get(row.company_id, 0)),
            consents=sorted(row.consents),  # type: ignore[arg-type]
            maturity_score=row.score,
            distance_km=None if distance is None else round(distance, 1),
        )
        for row, distance in rows
    ]
    return CompanyPage(companies=hits, next_cursor=next_cursor)


# -- company.history ---------------------------------------------------------------------------


async def company_history(ctx: Context[GetHistory]) -> CompanyHistory:
    """`company.history`: every change of the company, newest first, a page at a time."""
    data = ctx.data
    await _company_doc(ctx, data.company_id, merged_ok=True)
    document = await store.read(ctx.db, store.HISTORY, data.company_id) or {}
    stored = (document.get("entries") or {}).items()
    entries = [e for _, e in sorted(stored, key=lambda kv: (kv[1]["at"], kv[0]), reverse=True)]
    start = 0
    if data.cursor is not None:
        after = _offset(data.cursor)
        start = after
    page = entries[start : start + data.limit]
    more = start + data.limit < len(entries)
    return CompanyHistory(
        company_id=data.company_id,
        entries=[HistoryEntry.from_stored(e) for e in page],
        next_cursor=f"o{start + data.limit}" if more else None,
    )


def _offset(cursor: str) -> int:
    if not (cursor.startswith("o") and cursor[1:].isdigit()):
        raise Invalid.field("data.cursor", "unbekannter Cursor: bitte next_cursor der Vorseite")
    return int(cursor[1:])


async def presence_history(ctx: Context[GetPresenceHistory]) -> PresenceHistory:
    """`company.presence_history`: the score after each consultation that assessed it."""
    stored = await _company_doc(ctx, ctx.data.company_id, merged_ok=True)
    consultations = await store.read_many(
        ctx.db, store.CONSULTATIONS, list(stored.get("consultation_ids") or [])
    )
    points = [
        PresencePoint(
            assessed_on=date.fromisoformat(str(c["held_on"])),
            score=c["score"],
            consultation_id=c["_id"],
            checklist=Checklist(**c["checklist"]),
        )
        for c in consultations
        if c.get("assessed")
    ]
    points.sort(key=lambda p: (p.assessed_on, p.consultation_id))
    return PresenceHistory(company_id=ctx.data.company_id, points=points)


# -- duplicates --------------------------------------------------------------------------------


async def scan_duplicates(ctx: Context[ScanDuplicates]) -> DuplicateReport:
    """`company.scan_duplicates`: near-duplicate pairs among all companies, best first."""
    data = ctx.data
    await DIRECTORY.refresh(ctx.db)
    profiles = DIRECTORY.profiles(data.postcode_prefix)
    result = duplicates.scan(profiles, min_score=data.min_score)

    def brief(p: duplicates.Profile) -> CompanyBrief:
        return CompanyBrief(company_id=p.company_id, name=p.name, town=p.town, postcode=p.postcode)

    pairs = [
        DuplicatePair(
            first=brief(a),
            second=brief(b),
            score=match.score,
            reasons=[DuplicateReason(code=r.code, text=r.text) for r in match.reasons],  # type: ignore[arg-type]
        )
        for a, b, match in result.pairs[: data.limit]
    ]
    return DuplicateReport(
        pairs=pairs,
        companies_scanned=len(profiles),
        comparisons=result.comparisons,
        truncated=len(result.pairs) > data.limit,
    )


# -- company.merge -----------------------------------------------------------------------------


async def merge_companies(ctx: Context[MergeCompanies]) -> MergeResult:
    """`company.merge`: everything of the merged company moves to the survivor.

    Every write is repeatable and derived from the merged company's document, which
    keeps its lists of ids and gains `merged_into`: a redelivery after a crash at any
    point computes and stages the same writes and events again. Another message asking
    for the same merge afterwards is answered with the result and changes nothing.
    """
    data = ctx.data
    if data.survivor_id == data.merged_id:
        raise Invalid.field(
            "data.merged_id", "eine Firma kann nicht mit sich selbst zusammengeführt werden"
        )
    survivor = await _company_doc(ctx, data.survivor_id)
    merged = await _company_doc(ctx, data.merged_id, merged_ok=True)
    into = merged.get("merged_into")
    if into is not None and into != data.survivor_id:
        raise records.merged_away(data.merged_id, into)
    result = MergeResult(
        survivor_id=data.survivor_id,
        merged_id=data.merged_id,
        positions=len(merged.get("position_ids") or []),
        contacts=len(merged.get("contact_ids") or []),
        consents=len(merged.get("consents") or {}),
        consultations=len(merged.get("consultation_ids") or []),
    )
    if into is not None and merged.get("merged_by") != ctx.key:
        return result  # merged by an earlier message
    position_ids = list(merged.get("position_ids") or [])
    contact_ids = list(merged.get("contact_ids") or [])
    consultation_ids = list(merged.get("consultation_ids") or [])
    for collection, ids in (
        (store.POSITIONS, position_ids),
        (store.CONTACTS, contact_ids),
        (store.CONSULTATIONS, consultation_ids),
    ):
        for id_ in ids:
            ctx.write(store.set_fields(collection, id_, {"company_id": data.survivor_id}))
    for field, ids in (
        ("position_ids", position_ids),
        ("contact_ids", contact_ids),
        ("consultation_ids", consultation_ids),
    ):
        if ids:
            ctx.write(store.add_to(store.COMPANIES, data.survivor_id, field, *ids))
    consents, changed_consents = _merged_consents(
        survivor.get("consents") or {}, merged.get("consents") or {}
    )
    survivor_after = dict(survivor)
    if changed_consents:
        ctx.write(store.set_fields(store.COMPANIES, data.survivor_id, {"consents": consents}))
        survivor_after["consents"] = consents
    presence = _later_presence(survivor.get("presence"), merged.get("presence"))
    if presence is not survivor.get("presence"):
        ctx.write(store.set_fields(store.COMPANIES, data.survivor_id, {"presence": presence}))
        survivor_after["presence"] = presence
    ctx.write(
        store.set_fields(
            store.COMPANIES, data.merged_id, {"merged_into": data.survivor_id, "merged_by": ctx.key}
        )
    )
    old_key = merged.get("duplicate_key")
    if old_key and await store.holds_key(ctx.db, old_key, data.merged_id):
        ctx.write(store.release_company_key(old_key))
    survivor_after["contact_ids"] = list(
        dict.fromkeys([*(survivor.get("contact_ids") or []), *contact_ids])
    )
    contacts = await _contacts(ctx, survivor_after)
    _stage_row(ctx, data.survivor_id, survivor_after, contacts)
    _stage_row(ctx, data.merged_id, {**merged, "merged_into": data.survivor_id}, [])
    for position in await store.read_many(ctx.db, store.POSITIONS, position_ids):
        from diko_companies.directory import stage_position

        row = records.position_row({**position, "company_id": data.survivor_id}, position["_id"])
        ctx.write(stage_position(row, ctx.new_id("rev", position["_id"])))
    moved = [
        Change(
            f"merged.{data.merged_id}",
            None,
            _json(result.model_dump(exclude={"survivor_id", "merged_id"})),
        )
    ]
    moved += [
        Change(f"consents.{p}", survivor.get("consents", {}).get(p), s)
        for p, s in changed_consents.items()
    ]
    _history(ctx, data.survivor_id, moved, data.changed_by)
    _history(ctx, data.merged_id, [Change("merged_into", None, data.survivor_id)], data.changed_by)
    ctx.emit(
        CompanyMerged(
            survivor_id=data.survivor_id,
            merged_id=data.merged_id,
            survivor_name=survivor["name"],
            position_ids=position_ids,
            contact_ids=contact_ids,
        ),
        subject=data.survivor_id,
    )
    for purpose, state in changed_consents.items():
        before = (survivor.get("consents") or {}).get(purpose) or {}
        if before.get("status") != state["status"]:
            _emit_consent(ctx, data.survivor_id, None, state)
    return result


def _merged_consents(
    survivor: dict[str, Any], merged: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per purpose the later declaration of the two; and those taken from the merged company."""
    combined = dict(survivor)
    taken = {}
    for purpose, state in merged.items():
        if records.supersedes(state, survivor.get(purpose)):
            combined[purpose] = state
            taken[purpose] = state
    return combined, taken


def _later_presence(
    survivor: dict[str, Any] | None, merged: dict[str, Any] | None
) -> dict[str, Any] | None:
    if not merged:
        return survivor
    if not survivor or str(merged.get("assessed_on") or "") > str(
        survivor.get("assessed_on") or ""
    ):
        return merged
    return survivor


# -- consents ----------------------------------------------------------------------------------


async def set_consent(ctx: Context[SetConsent]) -> ConsentRecorded:
    """`company.set_consent`: the later declaration per purpose is in force; a change of
    given/withdrawn is announced with `company.consent_changed`."""
    data = ctx.data
    stored = await _company_doc(ctx, data.company_id)
    state = records.consent_state(data)
    holder = stored
    collection, holder_id = store.COMPANIES, data.company_id
    if data.contact_id is not None:
        holder = await _live_contact(ctx, data.contact_id, data.company_id)
        collection, holder_id = store.CONTACTS, data.contact_id
    current = (holder.get("consents") or {}).get(data.purpose)
    if not records.supersedes(state, current):
        in_force = (current or state)["status"]
        return ConsentRecorded(
            company_id=data.company_id,
            contact_id=data.contact_id,
            purpose=data.purpose,
            status=in_force,
            changed=False,
        )
    ctx.write(store.set_fields(collection, holder_id, {f"consents.{data.purpose}": state}))
    where = (
        f"consents.{data.purpose}"
        if data.contact_id is None
        else f"contacts.{data.contact_id}.consents.{data.purpose}"
    )
    _history(ctx, data.company_id, [Change(where, current, state)], data.recorded_by)
    if data.contact_id is None:
        after = {**stored, "consents": {**(stored.get("consents") or {}), data.purpose: state}}
        _stage_row(ctx, data.company_id, after, await _contacts(ctx, stored))
    if (current or {}).get("status", "withdrawn") != state["status"] or current is None:
        _emit_consent(ctx, data.company_id, data.contact_id, state)
    return ConsentRecorded(
        company_id=data.company_id,
        contact_id=data.contact_id,
        purpose=data.purpose,
        status=data.status,
        changed=True,
    )


def _emit_consent(
    ctx: Context[Any], company_id: str, contact_id: str | None, state: dict[str, Any]
) -> None:
    declared = state["declared_at"]
    ctx.emit(
        ConsentChanged(
            company_id=company_id,
            contact_id=contact_id,
            purpose=state["purpose"],
            status=state["status"],
            declared_at=declared
            if isinstance(declared, datetime)
            else datetime.fromisoformat(declared),
        ),
        subject=company_id,
    )


# -- consultations -----------------------------------------------------------------------------


async def record_consultation(ctx: Context[RecordConsultation]) -> ConsultationRef:
    """`company.record_consultation`: stored; its checklist updates the presence score; a
    follow-up date becomes a due item that emits `consultation.follow_up_due` once."""
    data = ctx.data
    stored = await _company_doc(ctx, data.company_id)
    if data.contact_id is not None:
        await _live_contact(ctx, data.contact_id, data.company_id)
    consultation_id = ctx.new_id("cns")
    current = stored.get("presence")
    checklist = records.assess(current, data.checklist)
    score = records.score(checklist)
    assessed = data.checklist is not None
    document = {
        "_id": consultation_id,
        "company_id": data.company_id,
        **data.model_dump(mode="json", exclude={"company_id", "checklist"}),
        "checklist": checklist,
        "score": score,
        "assessed": assessed,
        "recorded_at": ctx.occurred_at,
    }
    ctx.write(store.guards.insert(store.CONSULTATIONS, document))
    ctx.write(store.add_to(store.COMPANIES, data.company_id, "consultation_ids", consultation_id))
    changes = [
        Change(
            f"consultations.{consultation_id}",
            None,
            {"held_on": data.held_on.isoformat(), "topics": list(data.topics)},
        )
    ]
    newest = not current or str(current.get("assessed_on") or "") <= data.held_on.isoformat()
    if assessed and newest:
        presence = {
            "checklist": checklist,
            "score": score,
            "assessed_on": data.held_on.isoformat(),
            "consultation_id": consultation_id,
        }
        ctx.write(store.set_fields(store.COMPANIES, data.company_id, {"presence": presence}))
        changes.append(Change("presence.score", (current or {}).get("score"), score))
        _stage_row(
            ctx, data.company_id, {**stored, "presence": presence}, await _contacts(ctx, stored)
        )
    _history(ctx, data.company_id, changes, None)
    if data.follow_up_on is not None:
        ctx.write(
            due.schedule(
                FOLLOW_UP,
                consultation_id,
                records.follow_up_due_at(data.follow_up_on),
                {"consultation_id": consultation_id},
                correlation_id=ctx.correlation_id,
            )
        )
    ctx.emit(
        ConsultationRecorded(
            consultation_id=consultation_id,
            company_id=data.company_id,
            held_on=data.held_on,
            staff_id=data.staff_id,
            topics=list(data.topics),
            follow_up_on=data.follow_up_on,
            maturity_score=score if assessed else (current or {}).get("score"),
        ),
        subject=data.company_id,
    )
    return ConsultationRef(
        consultation_id=consultation_id,
        maturity_score=score if assessed else (current or {}).get("score"),
    )


async def follow_up_due(ctx: DueContext) -> None:
    """Due item: a consultation's follow-up day has come; `consultation.follow_up_due` says so."""
    consultation = await store.read(ctx.db, store.CONSULTATIONS, ctx.data["consultation_id"])
    if consultation is None:
        return  # gone (erased): nothing to remind of
    company = await store.read(ctx.db, store.COMPANIES, consultation["company_id"]) or {}
    contact = None
    if consultation.get("contact_id"):
        found = await store.read(ctx.db, store.CONTACTS, consultation["contact_id"])
        if found is not None and not found.get("removed_at"):
            contact = FollowUpContact(
                contact_id=found["_id"],
                name=found["name"],
                email=found.get("email"),
                phone=found.get("phone"),
            )
    ctx.write(
        store.set_fields(store.CONSULTATIONS, consultation["_id"], {"follow_up_sent_at": ctx.now})
    )
    ctx.emit(
        FollowUpDue(
            consultation_id=consultation["_id"],
            company_id=consultation["company_id"],
            company_name=company.get("name", consultation["company_id"]),
            staff_id=consultation["staff_id"],
            held_on=date.fromisoformat(str(consultation["held_on"])),
            follow_up_on=date.fromisoformat(str(consultation["follow_up_on"])),
            topics=consultation["topics"],
            next_steps=consultation.get("next_steps"),
            contact=contact,
        ),
        subject=consultation["company_id"],
    )


# -- contacts ----------------------------------------------------------------------------------


async def _live_contact(
    ctx: Context[Any], contact_id: str, company_id: str | None = None
) -> dict[str, Any]:
    contact = await store.read(ctx.db, store.CONTACTS, contact_id)
    if contact is None or (contact.get("removed_at") and contact.get("removed_by") != ctx.key):
        raise NotFound(
            f"Ansprechperson {contact_id} gibt es nicht",
            [ErrorDetail(field="data.contact_id", problem="unbekannte Ansprechperson")],
        )
    if company_id is not None and contact["company_id"] != company_id:
        raise Invalid.field(
            "data.contact_id",
            f"die Ansprechperson gehört zu {contact['company_id']}, nicht zu {company_id}",
        )
    return contact


def _emit_contact_added(ctx: Context[Any], contact: dict[str, Any]) -> None:
    ctx.emit(
        ContactAdded(
            contact_id=contact["_id"],
            company_id=contact["company_id"],
            name=contact["name"],
            role=contact.get("role"),
            email=contact.get("email"),
            preferred_channel=contact.get("preferred_channel") or "email",
        ),
        subject=contact["company_id"],
    )


async def _refuse_erased(ctx: Context[Any], contact_id: str) -> None:
    """A contact's id derives from the message: only a replay of an old one finds it erased."""
    if await TOMBSTONES.erased(ctx.db, contact_id):
        raise Conflict(f"Ansprechperson {contact_id} wurde gelöscht; bitte neu anlegen")


async def add_contact(ctx: Context[AddContact]) -> ContactRef:
    """`contact.add`: a contact person of the company; `contact.added` says so."""
    data = ctx.data
    stored = await _company_doc(ctx, data.company_id)
    await _refuse_erased(ctx, ctx.new_id("cnt"))
    contact = records.new_contact(data, ctx.new_id("cnt"), data.company_id)
    ctx.write(store.guards.insert(store.CONTACTS, contact))
    ctx.write(store.add_to(store.COMPANIES, data.company_id, "contact_ids", contact["_id"]))
    _history(
        ctx,
        data.company_id,
        [Change(f"contacts.{contact['_id']}", None, _contact_view(contact))],
        data.changed_by,
    )
    contacts = [*(await _contacts(ctx, stored)), contact]
    _stage_row(ctx, data.company_id, stored, contacts)
    _emit_contact_added(ctx, contact)
    return ContactRef(contact_id=contact["_id"], company_id=data.company_id)


async def update_contact(ctx: Context[UpdateContact]) -> ContactChange:
    """`contact.update`: fields sent replace stored ones; `contact.updated` says which."""
    data = ctx.data
    contact = await _live_contact(ctx, data.contact_id)
    after = records.updated_contact(contact, data)
    changes = records.diff(contact, after, records.CONTACT_FIELDS, f"contacts.{data.contact_id}.")
    company_id = contact["company_id"]
    if changes:
        ctx.write(store.set_fields(store.CONTACTS, data.contact_id, after))
        _history(ctx, company_id, changes, data.changed_by)
        stored = await _company_doc(ctx, company_id)
        contacts = [
            {**c, **after} if c["_id"] == data.contact_id else c
            for c in await _contacts(ctx, stored)
        ]
        _stage_row(ctx, company_id, stored, contacts)
        ctx.emit(
            ContactUpdated(
                contact_id=data.contact_id,
                company_id=company_id,
                changed=[c.field.rsplit(".", 1)[1] for c in changes],
                name=after["name"],
                role=after.get("role"),
                email=after.get("email"),
                preferred_channel=after.get("preferred_channel") or "email",
            ),
            subject=company_id,
        )
    return ContactChange(
        contact_id=data.contact_id,
        company_id=company_id,
        changed=[c.field.rsplit(".", 1)[1] for c in changes],
    )


async def remove_contact(ctx: Context[RemoveContact]) -> ContactRef:
    """`contact.remove`: the contact person leaves the company; their own consents end."""
    data = ctx.data
    contact = await _live_contact(ctx, data.contact_id)
    company_id = contact["company_id"]
    ctx.write(
        store.set_fields(
            store.CONTACTS, data.contact_id, {"removed_at": ctx.occurred_at, "removed_by": ctx.key}
        )
    )
    ctx.write(store.pull_from(store.COMPANIES, company_id, "contact_ids", data.contact_id))
    _history(
        ctx,
        company_id,
        [Change(f"contacts.{data.contact_id}", _contact_view(contact), None)],
        data.changed_by,
    )
    stored = await _company_doc(ctx, company_id, merged_ok=True)
    remaining = [c for c in await _contacts(ctx, stored) if c["_id"] != data.contact_id]
    _stage_row(ctx, company_id, stored, remaining)
    ctx.emit(ContactRemoved(contact_id=data.contact_id, company_id=company_id), subject=company_id)
    for state in (contact.get("consents") or {}).values():
        if state.get("status") == "given":
            ended = {**state, "status": "withdrawn", "declared_at": ctx.occurred_at}
            _emit_consent(ctx, company_id, data.contact_id, ended)
    return ContactRef(contact_id=data.contact_id, company_id=company_id)
