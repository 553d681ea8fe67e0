"""One handler per command, query and event the companies service consumes.

Handlers read through `ctx.db`, decide with `domain`, and stage their writes and events;
the platform commits and publishes them. Ids come from `ctx.new_id`, so a redelivered
command finds what its first delivery created instead of creating it again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_companies import domain, store
from diko_shared.contract.companies import (
    Company,
    CompanyRef,
    CompanyRegistered,
    GetCompany,
    OpenPosition,
    Position,
    PositionFilled,
    PositionList,
    PositionOpened,
    PositionRef,
    PositionUpdated,
    RegisterCompany,
    SearchPositions,
)
from diko_shared.contract.envelope import ErrorCode, ErrorDetail
from diko_shared.contract.matching import MatchAccepted
from diko_shared.messaging.errors import DomainError, NotFound, TransientError
from diko_shared.messaging.handling import Context


async def register_company(ctx: Context[RegisterCompany]) -> CompanyRef:
    """`company.register`: a new company, unless one of that name and postcode exists."""
    company = domain.register(ctx.data, ctx.new_id("cmp"), ctx.new_id("cnt"))
    key = domain.duplicate_key(company.name, company.address.postcode)
    await _claim_duplicate_key(ctx.db, key, company)
    ctx.write(store.insert_company(company, key, ctx.occurred_at))
    ctx.emit(
        CompanyRegistered(
            company_id=company.company_id,
            name=company.name,
            town=company.address.town,
            postcode=company.address.postcode,
            industry=company.industry,
        ),
        subject=company.company_id,
    )
    return CompanyRef(company_id=company.company_id)


async def _claim_duplicate_key(db: AsyncDatabase, key: str, company: Company) -> None:
    """Hold the duplicate key for `company`, or say which company holds it."""
    claim = await store.claim_company_key(db, key, company.company_id)
    holder = claim["company_id"]
    if holder == company.company_id:
        return
    if await store.company_exists(db, holder):
        raise domain.duplicate(company.name, company.address.postcode, holder)
    abandoned = domain.claim_abandoned(claim["claimed_at"], datetime.now(UTC))
    if abandoned and await store.take_over_company_key(db, key, holder, company.company_id):
        return
    raise TransientError(f"a registration of the same company ({holder}) is still in progress")


async def get_company(ctx: Context[GetCompany]) -> Company:
    """`company.get`: the company with its positions."""
    company = await _company(ctx.db, ctx.data.company_id)
    positions = await store.positions_of(ctx.db, company.company_id)
    return company.model_copy(update={"positions": [domain.summary(p) for p in positions]})


async def open_position(ctx: Context[OpenPosition]) -> PositionRef:
    """`position.open`: an open position of a registered company; `position.opened` says so."""
    company = await _company(ctx.db, ctx.data.company_id)
    position = domain.open_position(ctx.data, ctx.new_id("pos"), company)
    ctx.write(store.insert_position(position, ctx.occurred_at))
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


async def search_positions(ctx: Context[SearchPositions]) -> PositionList:
    """`position.search`: positions meeting every given criterion."""
    found = await store.search_positions(ctx.db, domain.criteria(ctx.data))
    return PositionList(positions=found)


async def take_place(ctx: Context[MatchAccepted]) -> None:
    """`match.accepted`: the match takes one place of its position.

    The place is claimed at once by inserting its document (place 1, 2, ... in order);
    of two matches racing for one place exactly one insert succeeds and the other moves
    on to the next place, or finds none and is refused as a conflict. A redelivery finds
    the place its first delivery claimed and stages the same writes and events again.
    """
    match = ctx.data
    position = await _position(ctx.db, match.position_id)
    domain.check_match(position, match)
    held, free = await store.held_or_free(ctx.db, position, match.proposal_id)
    take = domain.decide_take(position, match, ctx.key, held, free)
    while take.claim and not await store.claim_place(
        ctx.db, take.number, match, ctx.key, ctx.occurred_at
    ):
        held, free = await store.held_or_free(ctx.db, position, match.proposal_id, take.number)
        take = domain.decide_take(position, match, ctx.key, held, free)
    if take.announce:
        _announce(ctx, position, take)


def _announce(ctx: Context[MatchAccepted], position: Position, take: domain.Take) -> None:
    ctx.write(store.record_take(position.position_id, take))
    ctx.emit(
        PositionUpdated(
            position_id=position.position_id,
            company_id=position.company_id,
            places=position.places,
            places_taken=take.places_taken,
            status=take.status,
            proposal_id=ctx.data.proposal_id,
        ),
        subject=position.position_id,
    )
    if take.fills:
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


async def _company(db: AsyncDatabase, company_id: str) -> Company:
    company = await store.find_company(db, company_id)
    if company is None:
        raise NotFound(
            f"Firma {company_id} ist nicht registriert",
            [ErrorDetail(field="data.company_id", problem="unbekannte Firma")],
        )
    return company


async def _position(db: AsyncDatabase, position_id: str) -> Position:
    position = await store.find_position(db, position_id)
    if position is None:
        raise NotFound(
            f"Stelle {position_id} gibt es nicht",
            [ErrorDetail(field="data.position_id", problem="unbekannte Stelle")],
        )
    return position


class NotServedYet(DomainError):
    """A message type of the contract this version of the service does not serve yet."""

    code = ErrorCode.UNKNOWN_TYPE


async def not_served_yet(ctx: Context[Any]) -> None:
    """Answer a contract type the service learns in a later commit with `unknown_type`."""
    raise NotServedYet(f"{ctx.spec.type} wird von diesem Stand des Dienstes noch nicht bedient")
