"""Handlers of training positions: open, update, close, reopen, get, search, places taken."""

from __future__ import annotations

from typing import Any

from diko_companies import domain, records, search, store
from diko_companies.directory import stage_position
from diko_companies.handlers import DIRECTORY, _company_doc, _history
from diko_companies.records import Change
from diko_shared.contract.common import PositionStatus
from diko_shared.contract.companies import (
    ClosePosition,
    GetPosition,
    OpenPosition,
    Position,
    PositionChange,
    PositionClosed,
    PositionFilled,
    PositionList,
    PositionOpened,
    PositionRef,
    PositionReopened,
    PositionUpdated,
    ReopenPosition,
    SearchPositions,
    UpdatePosition,
)
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import MatchAccepted
from diko_shared.messaging.errors import Conflict, Invalid, NotFound
from diko_shared.messaging.handling import Context
from diko_shared.rights.participant import is_erased

#: The fields of a position `position.update` may change, in the history's order.
POSITION_FIELDS = (
    "occupation",
    "places",
    "start_date",
    "town",
    "school_certificate",
    "description",
)


async def _position_doc(ctx: Context[Any], position_id: str) -> dict[str, Any]:
    document = await store.read(ctx.db, store.POSITIONS, position_id)
    if document is None:
        raise NotFound(
            f"Stelle {position_id} gibt es nicht",
            [ErrorDetail(field="data.position_id", problem="unbekannte Stelle")],
        )
    return document


def _position(document: dict[str, Any], company_name: str | None = None) -> Position:
    fields = {k: v for k, v in document.items() if k in Position.model_fields}
    if company_name is not None:
        fields["company_name"] = company_name
    return Position.from_stored({**fields, "position_id": document["_id"]})


def _stage_row(ctx: Context[Any], document: dict[str, Any]) -> None:
    row = records.position_row(document, document["_id"])
    ctx.write(stage_position(row, ctx.new_id("rev", document["_id"])))
    DIRECTORY.put_position(row)


def _updated(
    ctx: Context[Any], after: dict[str, Any], changed: list[str], proposal_id: str | None = None
) -> None:
    """`position.updated` after an edit: the counts and the fields matching copies."""
    fields = {
        "position_id": after["_id"],
        "company_id": after["company_id"],
        "places": after["places"],
        "places_taken": after.get("places_taken", 0),
        "status": after["status"],
        "proposal_id": proposal_id,
        "changed": changed,
        **{k: after[k] for k in ("occupation", "start_date", "town", "school_certificate")},
    }
    ctx.emit(PositionUpdated.from_stored(fields), subject=after["_id"])


def _filled(ctx: Context[Any], position: Position) -> None:
    ctx.emit(
        PositionFilled(
            position_id=position.position_id,
            company_id=position.company_id,
            company_name=position.company_name,
            occupation=position.occupation,
            places=position.places,
            town=position.town,
            start_date=position.start_date,
        ),
        subject=position.position_id,
    )


# -- commands ----------------------------------------------------------------------------------


async def open_position(ctx: Context[OpenPosition]) -> PositionRef:
    """`position.open`: an open position of a registered company; `position.opened` says so."""
    stored = await _company_doc(ctx, ctx.data.company_id)
    position = domain.open_position(ctx.data, ctx.new_id("pos"), stored["name"])
    ctx.write(store.insert_position(position, ctx.occurred_at))
    ctx.write(
        store.add_to(store.COMPANIES, position.company_id, "position_ids", position.position_id)
    )
    document = {**position.model_dump(mode="json"), "_id": position.position_id}
    _stage_row(ctx, document)
    _history(
        ctx,
        position.company_id,
        [
            Change(
                f"positions.{position.position_id}",
                None,
                {
                    "occupation": position.occupation.name,
                    "places": position.places,
                    "status": "open",
                },
            )
        ],
        None,
    )
    ctx.emit(
        PositionOpened(
            position_id=position.position_id,
            company_id=position.company_id,
            company_name=position.company_name,
            occupation=position.occupation,
            places=position.places,
            start_date=position.start_date,
            town=position.town,
            school_certificate=position.school_certificate,
            description=position.description,
        ),
        subject=position.position_id,
    )
    return PositionRef(position_id=position.position_id)


async def update_position(ctx: Context[UpdatePosition]) -> PositionChange:
    """`position.update`: fields sent replace stored ones; places not below those taken."""
    data = ctx.data
    stored = await _position_doc(ctx, data.position_id)
    after = domain.updated_position(stored, data)
    changes = records.diff(
        stored, after, (*POSITION_FIELDS, "status"), f"positions.{data.position_id}."
    )
    if not changes:
        return PositionChange(position_id=data.position_id, status=stored["status"], changed=[])
    ctx.write(
        store.set_fields(
            store.POSITIONS, data.position_id, {k: after[k] for k in (*POSITION_FIELDS, "status")}
        )
    )
    _stage_row(ctx, after)
    _history(ctx, stored["company_id"], changes, data.changed_by)
    changed = list(dict.fromkeys(c.field.split(".")[2] for c in changes))
    _updated(ctx, after, changed)
    if after["status"] == "filled" and stored["status"] != "filled":
        company = await _company_doc(ctx, stored["company_id"], merged_ok=True)
        _filled(ctx, _position(after, company["name"]))
    return PositionChange(position_id=data.position_id, status=after["status"], changed=changed)


async def close_position(ctx: Context[ClosePosition]) -> PositionChange:
    """`position.close`: no more proposals; `position.closed` says so (closing twice: no-op)."""
    data = ctx.data
    stored = await _position_doc(ctx, data.position_id)
    if stored["status"] == "closed":
        return PositionChange(position_id=data.position_id, status="closed", changed=[])
    after = {**stored, "status": "closed", "close_reason": data.reason}
    ctx.write(
        store.set_fields(
            store.POSITIONS,
            data.position_id,
            {"status": "closed", "close_reason": data.reason, "closed_at": ctx.occurred_at},
        )
    )
    _stage_row(ctx, after)
    field = f"positions.{data.position_id}"
    _history(
        ctx,
        stored["company_id"],
        [
            Change(f"{field}.status", stored["status"], "closed"),
            Change(f"{field}.close_reason", stored.get("close_reason"), data.reason),
        ],
        data.changed_by,
    )
    ctx.emit(
        PositionClosed(
            position_id=data.position_id, company_id=stored["company_id"], reason=data.reason
        ),
        subject=data.position_id,
    )
    return PositionChange(
        position_id=data.position_id, status="closed", changed=["status", "close_reason"]
    )


async def reopen_position(ctx: Context[ReopenPosition]) -> PositionChange:
    """`position.reopen`: a closed position is open again (with free places)."""
    data = ctx.data
    stored = await _position_doc(ctx, data.position_id)
    if stored["status"] == "open" and data.places in (None, stored["places"]):
        return PositionChange(position_id=data.position_id, status="open", changed=[])
    if stored["status"] != "closed":
        raise Conflict(
            f"Die Stelle {data.position_id} ist nicht geschlossen, sondern "
            f"{domain.STATUS_WORDS[stored['status']]}; mehr Plätze gibt position.update",
            [ErrorDetail(field="data.position_id", problem="nicht geschlossen")],
        )
    places = data.places or stored["places"]
    taken = stored.get("places_taken", 0)
    if places <= taken:
        raise Invalid.field(
            "data.places",
            f"alle {taken} Plätze sind vergeben; "
            f"zum Wiedereröffnen mehr als {taken} Plätze angeben",
        )
    company = await _company_doc(ctx, stored["company_id"])
    after = {**stored, "status": "open", "places": places, "close_reason": None}
    ctx.write(
        store.set_fields(
            store.POSITIONS,
            data.position_id,
            {"status": "open", "places": places, "close_reason": None},
        )
    )
    _stage_row(ctx, after)
    changes = records.diff(
        stored, after, ("status", "places", "close_reason"), f"positions.{data.position_id}."
    )
    _history(ctx, stored["company_id"], changes, data.changed_by)
    position = _position(after, company["name"])
    ctx.emit(
        PositionReopened(
            position_id=position.position_id,
            company_id=position.company_id,
            company_name=position.company_name,
            occupation=position.occupation,
            places=position.places,
            places_taken=position.places_taken,
            start_date=position.start_date,
            town=position.town,
            school_certificate=position.school_certificate,
            description=position.description,
        ),
        subject=position.position_id,
    )
    return PositionChange(
        position_id=data.position_id,
        status="open",
        changed=[c.field.split(".")[2] for c in changes],
    )


# -- queries -----------------------------------------------------------------------------------


async def get_position(ctx: Context[GetPosition]) -> Position:
    """`position.get`: the position, with its company's current name."""
    document = await _position_doc(ctx, ctx.data.position_id)
    company = await store.read(ctx.db, store.COMPANIES, document["company_id"]) or {}
    return _position(document, company.get("name"))


async def search_positions(ctx: Context[SearchPositions]) -> PositionList:
    """`position.search`: positions meeting every criterion, by start date, then id."""
    data = ctx.data
    query = domain.position_query(data)
    await DIRECTORY.refresh(ctx.db)
    rows, next_cursor = search.positions(DIRECTORY, query)
    documents = await store.read_many(ctx.db, store.POSITIONS, [row.position_id for row, _ in rows])
    by_id = {d["_id"]: d for d in documents}
    found = []
    for row, distance in rows:
        document = by_id.get(row.position_id)
        if document is None:
            continue
        company = DIRECTORY.companies.get(row.company_id)
        name = company.profile.name if company is not None else None
        position = _position(document, name)
        found.append(
            position.model_copy(
                update={"distance_km": None if distance is None else round(distance, 1)}
            )
        )
    return PositionList(positions=found, next_cursor=next_cursor)


# -- match.accepted: taking places -------------------------------------------------------------


async def take_place(ctx: Context[MatchAccepted]) -> None:
    """`match.accepted`: the match takes one place of its position.

    The place is claimed at once by inserting its document (place 1, 2, ... in order);
    of two matches racing for one place exactly one insert succeeds and the other moves
    on to the next place, or finds none and is refused as a conflict. A redelivery finds
    the place its first delivery claimed and stages the same writes and events again.
    """
    match = ctx.data
    document = await _position_doc(ctx, match.position_id)
    position = _position(document)
    domain.check_match(position, match)
    held, free = await store.held_or_free(ctx.db, position, match.proposal_id)
    take = domain.decide_take(position, match, ctx.key, held, free)
    erased = await is_erased(ctx.db, match.applicant_id)
    while take.claim and not await store.claim_place(
        ctx.db, take.number, match, ctx.key, ctx.occurred_at, applicant_erased=erased
    ):
        held, free = await store.held_or_free(ctx.db, position, match.proposal_id, take.number)
        take = domain.decide_take(position, match, ctx.key, held, free)
    if take.announce:
        _announce(ctx, document, position, take)


def _announce(
    ctx: Context[MatchAccepted], document: dict[str, Any], position: Position, take: domain.Take
) -> None:
    ctx.write(store.record_take(position.position_id, take))
    status: PositionStatus = take.status
    ctx.emit(
        PositionUpdated(
            position_id=position.position_id,
            company_id=position.company_id,
            places=position.places,
            places_taken=take.places_taken,
            status=status,
            proposal_id=ctx.data.proposal_id,
            changed=["places_taken", "status"] if take.fills else ["places_taken"],
        ),
        subject=position.position_id,
    )
    if take.fills:
        _stage_row(ctx, {**document, "status": "filled"})
        _history(
            ctx,
            position.company_id,
            [Change(f"positions.{position.position_id}.status", "open", "filled")],
            None,
        )
        _filled(ctx, position)
