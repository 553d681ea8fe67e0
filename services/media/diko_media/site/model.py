"""What the website shows, held in memory between builds: companies that consented, their
open positions, published episodes and coming fairs, read from media's database.

A full load reads every collection once; after that a build reloads only the documents
its change marks name (`company:<id>`, `position:<id>`, `fair:<id>`, `episodes:all`),
each by `_id`, so that one event costs a few reads, not the whole database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store
from diko_media.links import Links
from diko_media.podcast.episodes import Listed, listed, newest_first
from diko_media.site import photos as site_photos
from diko_media.site import store as site_store
from diko_media.site.photos import Photo, Shown
from diko_shared.geo.gazetteer import Gazetteer, load_gazetteer
from diko_shared.geo.records import Place


@lru_cache(maxsize=65_536)
def slug(text: str) -> str:
    """`Tischler/in` → `tischler-in`, `Möckern` → `moeckern`: readable, stable paths."""
    folded = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    folded = folded.replace("ß", "ss")
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-") or "x"


@dataclass(frozen=True)
class Company:
    company_id: str
    name: str
    town: str
    postcode: str
    industry: str | None
    website: str | None
    instagram: str | None
    about: str | None
    training: str | None
    contact: dict[str, Any] | None
    photos: tuple[Photo, ...] = ()


@dataclass(frozen=True)
class Position:
    position_id: str
    company_id: str
    occupation: str
    occupation_code: str
    places: int
    places_taken: int
    start_date: date
    town: str
    school_certificate: str
    description: str | None
    posted_at: datetime

    @property
    def year(self) -> int:
        return self.start_date.year

    @property
    def free(self) -> int:
        return max(self.places - self.places_taken, 0)


@dataclass(frozen=True)
class Fair:
    fair_id: str
    title: str
    day: date
    start: str
    venue: str
    town: str
    companies: tuple[str, ...]


def shown_company(
    document: dict[str, Any],
    presentation: dict[str, Any] | None,
    photos: tuple[Photo, ...] = (),
) -> Company | None:
    """The company as the site shows it, or None while it may not be shown.

    Only with its consent to the website in force, not merged into another record, and
    not taken off by `presentation.unpublish`.
    """
    consent = (document.get("consents") or {}).get("website") or {}
    if consent.get("status") != "given" or document.get("merged_into"):
        return None
    presentation = presentation or {}
    if presentation.get("status") == "unpublished":
        return None
    if not document.get("name") or not document.get("town"):
        return None
    return Company(
        company_id=document["_id"],
        name=document["name"],
        town=document["town"],
        postcode=document.get("postcode") or "",
        industry=document.get("industry"),
        website=document.get("website"),
        instagram=document.get("instagram"),
        about=presentation.get("about"),
        training=presentation.get("training"),
        contact=presentation.get("contact"),
        photos=photos,
    )


def open_position(document: dict[str, Any]) -> Position | None:
    """The position as listed, or None unless it is open and complete."""
    if document.get("status") != "open" or not document.get("occupation"):
        return None
    start = document["start_date"]
    posted = document.get("posted_at") or document.get("at")
    return Position(
        position_id=document["_id"],
        company_id=document["company_id"],
        occupation=document["occupation"]["name"],
        occupation_code=document["occupation"]["code"],
        places=int(document["places"]),
        places_taken=int(document.get("places_taken") or 0),
        start_date=date.fromisoformat(start) if isinstance(start, str) else start.date(),
        town=document["town"],
        school_certificate=document.get("school_certificate") or "none",
        description=document.get("description"),
        posted_at=posted.replace(tzinfo=UTC) if posted.tzinfo is None else posted,
    )


def planned_fair(document: dict[str, Any]) -> Fair | None:
    day = document.get("date")
    if not day:
        return None
    return Fair(
        fair_id=document["_id"],
        title=document.get("title") or "Bewerberbörse",
        day=date.fromisoformat(day),
        start=document.get("start") or "",
        venue=document.get("venue_name") or "",
        town=document.get("venue_town") or "",
        companies=tuple(document.get("companies") or ()),
    )


@dataclass
class SiteData:
    """Everything the pages are made of; the raw company documents too (episodes need them)."""

    links: Links
    raw_companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    presentations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Every company's photos (shown only with the company).
    photos: dict[str, list[Photo]] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    all_positions: dict[str, Position] = field(default_factory=dict)
    episodes: list[Listed] = field(default_factory=list)
    fairs: dict[str, Fair] = field(default_factory=dict)
    gazetteer: Gazetteer = field(default_factory=load_gazetteer)
    _places: dict[str, Place | None] = field(default_factory=dict)
    _km: dict[tuple[str, str], float | None] = field(default_factory=dict)

    # -- what is shown ------------------------------------------------------------------

    @property
    def positions(self) -> dict[str, Position]:
        """Open positions of companies the site shows."""
        return {
            p.position_id: p for p in self.all_positions.values() if p.company_id in self.companies
        }

    def place(self, town: str) -> Place | None:
        """The gazetteer's place of a town name (Altmark first), remembered."""
        if town not in self._places:
            self._places[town] = self.gazetteer.get(town)
        return self._places[town]

    def town_km(self, a: str, b: str) -> float | None:
        """Distance between two towns, remembered (the listings ask for the same pairs)."""
        if a == b:
            return 0.0
        key = (a, b) if a < b else (b, a)
        if key not in self._km:
            pa, pb = self.place(a), self.place(b)
            self._km[key] = None if pa is None or pb is None else self.gazetteer.distance_km(pa, pb)
        return self._km[key]

    def photo_files(self) -> dict[str, Shown]:
        """The photo files a build holds: every variant of the shown companies' photos."""
        return {
            variant.path: variant
            for company in self.companies.values()
            for photo in company.photos
            for variant in photo.variants
        }

    def episode_companies(self) -> set[str]:
        """The companies an episode is about: their pages list their episodes."""
        return {c for c in self._episode_company.values() if c}

    def company_episodes(self, company_id: str) -> list[Listed]:
        return [e for e in self.episodes if self._episode_company.get(e.episode_id) == company_id]

    # -- loading ------------------------------------------------------------------------

    _episode_company: dict[str, str] = field(default_factory=dict)

    async def load_all(self, db: AsyncDatabase) -> None:
        self.raw_companies = {d["_id"]: d for d in await db[store.COMPANIES].find({}).to_list(None)}
        self.presentations = {
            d["_id"]: d for d in await db[site_store.PRESENTATIONS].find({}).to_list(None)
        }
        self.photos = await site_photos.by_company(db)
        self.companies = {}
        for company_id in self.raw_companies:
            self._refresh_company(company_id)
        self.all_positions = {}
        for document in await db[site_store.POSITIONS].find({}).to_list(None):
            self._put_position(document["_id"], document)
        self.fairs = {}
        for document in await db[site_store.FAIRS].find({}).to_list(None):
            self._put_fair(document["_id"], document)
        await self.load_episodes(db)

    async def load_episodes(self, db: AsyncDatabase) -> None:
        documents = await store.published_episodes(db)
        self._episode_company = {d["_id"]: d.get("company_id") or "" for d in documents}
        shown = {k: v for k, v in self.raw_companies.items() if k in self.companies}
        found = [listed(d, shown, self.links) for d in documents]
        self.episodes = newest_first([e for e in found if e is not None])

    async def reload(self, db: AsyncDatabase, marks: list[str]) -> None:
        """Read again what the marks name (`kind:id`); the episodes when they or a company
        changed (an episode names its guest's company only while it is shown)."""
        for mark in marks:
            kind, _, id_ = mark.partition(":")
            if kind == "company":
                document = await db[store.COMPANIES].find_one({"_id": id_})
                presentation = await db[site_store.PRESENTATIONS].find_one({"_id": id_})
                if document is None:
                    self.raw_companies.pop(id_, None)
                else:
                    self.raw_companies[id_] = document
                if presentation is None:
                    self.presentations.pop(id_, None)
                else:
                    self.presentations[id_] = presentation
                shown = [site_photos.shown_photo(d) for d in await site_photos.of_company(db, id_)]
                self.photos[id_] = shown
                self._refresh_company(id_)
            elif kind == "position":
                self._put_position(id_, await db[site_store.POSITIONS].find_one({"_id": id_}))
            elif kind == "fair":
                self._put_fair(id_, await db[site_store.FAIRS].find_one({"_id": id_}))
        if any(m.startswith(("episodes:", "company:")) for m in marks):
            await self.load_episodes(db)

    def _refresh_company(self, company_id: str) -> None:
        document = self.raw_companies.get(company_id)
        photos = tuple(self.photos.get(company_id, ()))
        company = (
            shown_company(document, self.presentations.get(company_id), photos)
            if document
            else None
        )
        if company is None:
            self.companies.pop(company_id, None)
        else:
            self.companies[company_id] = company

    def _put_position(self, position_id: str, document: dict[str, Any] | None) -> None:
        position = open_position(site_store.position_document(document)) if document else None
        if position is None:
            self.all_positions.pop(position_id, None)
        else:
            self.all_positions[position_id] = position

    def _put_fair(self, fair_id: str, document: dict[str, Any] | None) -> None:
        fair = planned_fair(document) if document else None
        if fair is None:
            self.fairs.pop(fair_id, None)
        else:
            self.fairs[fair_id] = fair
