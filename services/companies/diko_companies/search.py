"""Company and position search over the in-memory directory (no I/O).

Results are sorted by a key that ends in the id, so the order is total and stable; a
cursor is the key of the last row returned, and the next page starts after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diko_companies.directory import (
    CompanyRow,
    Directory,
    PositionRow,
    decode_cursor,
    encode_cursor,
    haversine_km,
)
from diko_companies.duplicates import fold
from diko_shared.messaging.errors import Invalid


@dataclass(frozen=True)
class Centre:
    """The middle of a radius search."""

    latitude: float
    longitude: float
    radius_km: float | None


@dataclass(frozen=True)
class CompanyQuery:
    words: tuple[str, ...]
    town: str | None  # canonical; only without a radius
    postcode: str | None  # only without a radius
    centre: Centre | None
    industry: str | None
    has_open_positions: bool | None
    consents: frozenset[str]
    order: str
    limit: int
    after: list[Any] | None


@dataclass(frozen=True)
class PositionQuery:
    code_prefix: str | None
    town: str | None
    centre: Centre | None
    start_from: str | None  # YYYY-MM
    start_until: str | None
    company_id: str | None
    status: str | None
    limit: int
    after: list[Any] | None


def cursor_after(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    after = decode_cursor(cursor)
    if after is None:
        raise Invalid.field("data.cursor", "unbekannter Cursor: bitte next_cursor der Vorseite")
    return after


def search_words(text: str | None) -> tuple[str, ...]:
    return tuple(fold(text).split()) if text else ()


def _distance(centre: Centre | None, lat: float, lon: float) -> float | None:
    if centre is None:
        return None
    return haversine_km(centre.latitude, centre.longitude, lat, lon)


def _outside(centre: Centre | None, distance: float | None) -> bool:
    radius = None if centre is None else centre.radius_km
    return distance is not None and radius is not None and distance > radius


def _page(
    keyed: list[tuple[list[Any], Any]], limit: int, after: list[Any] | None
) -> tuple[list[Any], str | None]:
    keyed.sort(key=lambda pair: pair[0])
    if after is not None:
        keyed = [pair for pair in keyed if pair[0] > after]
    page = keyed[:limit]
    more = len(keyed) > limit
    return [item for _, item in page], encode_cursor(page[-1][0]) if more and page else None


def companies(
    directory: Directory, query: CompanyQuery
) -> tuple[list[tuple[CompanyRow, float | None]], str | None]:
    """The page of companies meeting every criterion, and the cursor of the next page."""
    industry = fold(query.industry) if query.industry else None
    keyed: list[tuple[list[Any], Any]] = []
    rows = directory.companies.values()
    if query.words:
        rows = [directory.companies[i] for i in directory.with_prefixes(query.words)]
    for row in rows:
        if row.merged:
            continue
        profile = row.profile
        if query.town is not None and profile.town != query.town:
            continue
        if query.postcode is not None and profile.postcode != query.postcode:
            continue
        if industry is not None and fold(row.industry or "") != industry:
            continue
        if query.consents and not query.consents <= row.consents:
            continue
        if query.has_open_positions is not None:
            has = directory.open_positions.get(row.company_id, 0) > 0
            if has != query.has_open_positions:
                continue
        distance = _distance(query.centre, row.lat, row.lon)
        if _outside(query.centre, distance):
            continue
        if query.order == "distance":
            key = [round(distance or 0.0, 6), row.company_id]
        else:
            key = [row.sort_name, row.company_id]
        keyed.append((key, (row, distance)))
    return _page(keyed, query.limit, query.after)


def positions(
    directory: Directory, query: PositionQuery
) -> tuple[list[tuple[PositionRow, float | None]], str | None]:
    """The page of positions meeting every criterion (by start date, then id)."""
    keyed: list[tuple[list[Any], Any]] = []
    for row in directory.positions.values():
        if query.status is not None and row.status != query.status:
            continue
        if query.company_id is not None and row.company_id != query.company_id:
            continue
        if query.code_prefix is not None and not row.code.startswith(query.code_prefix):
            continue
        if query.town is not None and row.town != query.town:
            continue
        month = row.start[:7]
        if query.start_from is not None and month < query.start_from:
            continue
        if query.start_until is not None and month > query.start_until:
            continue
        distance = _distance(query.centre, row.lat, row.lon)
        if _outside(query.centre, distance):
            continue
        keyed.append(([row.start, row.position_id], (row, distance)))
    return _page(keyed, query.limit, query.after)
