"""What feeds the website: companies' records and consents, positions, fairs, episodes, and
the presentations staff publish. Each handler updates media's read model and marks what
changed (`store.changed`), which has the due item `site.build` render it.

The company events are media's copies in `companies` (company_handlers.py keeps them);
here they only add what the site needs beyond them and mark the company. Position
events carry their time: a position keeps the newest event's state, whatever order
they arrive in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diko_media import rights, store
from diko_media.links import Links
from diko_media.settings import MediaSettings
from diko_media.site import store as site_store
from diko_media.site.model import shown_company
from diko_media.site.pages import BERLIN, SiteInfo
from diko_shared.contract.companies import (
    CompanyMerged,
    CompanyRegistered,
    CompanyUpdated,
    ConsentChanged,
    PositionClosed,
    PositionFilled,
    PositionOpened,
    PositionReopened,
    PositionUpdated,
)
from diko_shared.contract.matching import FairPlanned
from diko_shared.contract.media import (
    Presentation,
    PresentationPublished,
    PresentationUnpublished,
    PublishPresentation,
    UnpublishPresentation,
)
from diko_shared.messaging.errors import NotFound
from diko_shared.messaging.handling import Context
from diko_shared.store.group_commit import Write

NO_CONSENT = "Der Betrieb hat nicht in die Vorstellung auf der Website eingewilligt."
UNPUBLISHED = "Die Vorstellung wurde von der Website genommen."


def _mark(ctx: Context[Any], kind: str, id_: str) -> list[Write]:
    return site_store.changed(kind, id_, ctx.new_id("chg", kind, id_), ctx.occurred_at)


def _position(ctx: Context[Any], position_id: str, fields: dict[str, Any]) -> list[Write]:
    at = ctx.occurred_at
    return [site_store.set_position(position_id, fields, at), *_mark(ctx, "position", position_id)]


@dataclass(frozen=True)
class SiteHandlers:
    links: Links
    site_url: str
    #: The signed link for a company's photos (`PhotoUploads`), by company id.
    photo_upload: Callable[[str], str] | None = None

    def presentation_url(self, company_id: str) -> str:
        return f"{self.site_url.rstrip('/')}/betriebe/{company_id}"

    # -- companies --------------------------------------------------------------------

    async def company_registered(self, ctx: Context[CompanyRegistered]) -> None:
        data = ctx.data
        ctx.write(store.set_company(data.company_id, {"industry": data.industry}))
        ctx.write(_mark(ctx, "company", data.company_id))

    async def company_updated(self, ctx: Context[CompanyUpdated]) -> None:
        data = ctx.data
        ctx.write(
            store.set_company(data.company_id, {"industry": data.industry, "website": data.website})
        )
        ctx.write(_mark(ctx, "company", data.company_id))

    async def company_merged(self, ctx: Context[CompanyMerged]) -> None:
        data = ctx.data
        for company_id in (data.survivor_id, data.merged_id):
            ctx.write(_mark(ctx, "company", company_id))
        for position_id in data.position_ids:
            ctx.write(
                _position(
                    ctx,
                    position_id,
                    {"company_id": data.survivor_id, "company_name": data.survivor_name},
                )
            )

    async def consent_changed(self, ctx: Context[ConsentChanged]) -> None:
        if ctx.data.purpose == "website" and ctx.data.contact_id is None:
            ctx.write(_mark(ctx, "company", ctx.data.company_id))

    # -- positions --------------------------------------------------------------------

    async def position_opened(self, ctx: Context[PositionOpened]) -> None:
        data = ctx.data
        ctx.write(_position(ctx, data.position_id, {
            "company_id": data.company_id, "occupation": data.occupation.model_dump(),
            "places": data.places, "places_taken": 0, "start_date": data.start_date.isoformat(),
            "town": data.town, "school_certificate": data.school_certificate,
            "description": data.description, "status": "open", "posted_at": ctx.occurred_at,
        }))  # fmt: skip

    async def position_reopened(self, ctx: Context[PositionReopened]) -> None:
        data = ctx.data
        ctx.write(_position(ctx, data.position_id, {
            "company_id": data.company_id, "occupation": data.occupation.model_dump(),
            "places": data.places, "places_taken": data.places_taken,
            "start_date": data.start_date.isoformat(), "town": data.town,
            "school_certificate": data.school_certificate, "description": data.description,
            "status": "open", "posted_at": ctx.occurred_at,
        }))  # fmt: skip

    async def position_updated(self, ctx: Context[PositionUpdated]) -> None:
        data = ctx.data
        fields: dict[str, Any] = {"company_id": data.company_id, "places": data.places,
                                  "places_taken": data.places_taken}  # fmt: skip
        if data.status is not None:
            fields["status"] = data.status
        if data.occupation is not None:
            fields["occupation"] = data.occupation.model_dump()
        if data.start_date is not None:
            fields["start_date"] = data.start_date.isoformat()
        if data.town is not None:
            fields["town"] = data.town
        if data.school_certificate is not None:
            fields["school_certificate"] = data.school_certificate
        ctx.write(_position(ctx, data.position_id, fields))

    async def position_filled(self, ctx: Context[PositionFilled]) -> None:
        data = ctx.data
        ctx.write(_position(ctx, data.position_id,
                            {"company_id": data.company_id, "status": "filled"}))  # fmt: skip

    async def position_closed(self, ctx: Context[PositionClosed]) -> None:
        data = ctx.data
        ctx.write(_position(ctx, data.position_id,
                            {"company_id": data.company_id, "status": "closed"}))  # fmt: skip

    # -- fairs and episodes -----------------------------------------------------------

    async def fair_planned(self, ctx: Context[FairPlanned]) -> None:
        data = ctx.data
        venue = data.venue
        ctx.write(site_store.set_fair(data.fair_id, {
            "title": data.title, "date": data.date.isoformat() if data.date else None,
            "start": data.start, "venue_name": venue.name if venue else None,
            "venue_town": venue.town if venue else None,
            "companies": [c.company_id for c in data.companies if getattr(c, "company_id", None)],
        }))  # fmt: skip
        ctx.write(_mark(ctx, "fair", data.fair_id))

    async def episode_published(self, ctx: Context[Any]) -> None:
        ctx.write(_mark(ctx, "episodes", "all"))

    # -- presentations ----------------------------------------------------------------

    async def publish(self, ctx: Context[PublishPresentation]) -> Presentation:
        data = ctx.data
        company = await store.find_company(ctx.db, data.company_id)
        if company is None:
            raise NotFound(f"Einen Betrieb {data.company_id} kennt media nicht.")
        named = data.contact.contact_id if data.contact else None
        await rights.refuse_erased(ctx.db, [("data.contact.contact_id", named)])
        fields = {
            "status": "published",
            "about": data.about,
            "training": data.training,
            "contact": data.contact.model_dump() if data.contact else None,
        }
        ctx.write(site_store.set_presentation(data.company_id, fields))
        ctx.write(_mark(ctx, "company", data.company_id))
        shown = shown_company(company, fields) is not None
        url = self.presentation_url(data.company_id)
        ctx.emit(PresentationPublished(company_id=data.company_id, shown=shown, url=url),
                 subject=data.company_id)  # fmt: skip
        photos = self.photo_upload(data.company_id) if self.photo_upload else None
        return Presentation(company_id=data.company_id, status="published", shown=shown,
                            reason=None if shown else NO_CONSENT, url=url,
                            photo_upload_url=photos)  # fmt: skip

    async def unpublish(self, ctx: Context[UnpublishPresentation]) -> Presentation:
        data = ctx.data
        if await store.find_company(ctx.db, data.company_id) is None:
            raise NotFound(f"Einen Betrieb {data.company_id} kennt media nicht.")
        ctx.write(site_store.set_presentation(data.company_id, {"status": "unpublished"}))
        ctx.write(_mark(ctx, "company", data.company_id))
        ctx.emit(PresentationUnpublished(company_id=data.company_id), subject=data.company_id)
        url = self.presentation_url(data.company_id)
        return Presentation(company_id=data.company_id, status="unpublished", shown=False,
                            reason=UNPUBLISHED, url=url)  # fmt: skip


def both(*handlers: Callable[[Context[Any]], Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """One subscription, several handlers: each stages its writes in the same message."""

    async def handle(ctx: Context[Any]) -> None:
        for handler in handlers:
            await handler(ctx)

    return handle


def site_info(settings: MediaSettings) -> SiteInfo:
    return SiteInfo(
        url=settings.site_root + "/",
        name=settings.site_name,
        contact_email=settings.site_contact_email,
        impressum=settings.site_impressum,
        privacy=settings.site_privacy,
        today=lambda: datetime.now(BERLIN).date(),
        registration_url=settings.site_registration_url,
    )
