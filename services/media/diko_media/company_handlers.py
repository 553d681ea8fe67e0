"""What media keeps of companies: names, towns, Instagram handles and consents, copied from
companies' events (companies owns them).

Consents decide what media shows and publishes: a post needs its company's consent to
social-media posts (`social_media`), a guest who is a company's contact person appears
only with that person's consent to the podcast, and a guest's company is linked to its
presentation only with its consent to the website. A declaration older than the one
kept changes nothing (events may arrive out of order). A withdrawal acts at once: every
post of the company not yet published leaves the queue (`post.withheld`), and the feed
and pages drop what they may no longer show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from diko_media import store
from diko_media.instagram import publisher
from diko_media.podcast.episodes import utc
from diko_shared.contract.companies import (
    CompanyMerged,
    CompanyRegistered,
    CompanyUpdated,
    ConsentChanged,
)
from diko_shared.contract.media import PostWithheld
from diko_shared.messaging.handling import Context
from diko_shared.rights.participant import is_erased
from diko_shared.store.group_commit import Write

WITHDRAWN = "Der Betrieb hat seine Einwilligung in Beiträge in sozialen Medien widerrufen."
#: Consents that change what the feed and the podcast pages show.
SHOWN = ("podcast", "website")


@dataclass(frozen=True)
class CompanyHandlers:
    async def registered(self, ctx: Context[CompanyRegistered]) -> None:
        data = ctx.data
        ctx.write(
            store.set_company(
                data.company_id,
                {"name": data.name, "town": data.town, "postcode": data.postcode},
            )
        )

    async def updated(self, ctx: Context[CompanyUpdated]) -> None:
        data = ctx.data
        changes: dict[str, Any] = {"name": data.name, "town": data.town, "postcode": data.postcode}
        if "instagram" in data.changed or data.instagram is not None:
            changes["instagram"] = data.instagram
        ctx.write(store.set_company(data.company_id, changes), store.bump_feed(ctx.new_id("ver")))

    async def consent_changed(self, ctx: Context[ConsentChanged]) -> None:
        data = ctx.data
        if data.contact_id and await is_erased(ctx.db, data.contact_id):
            return  # a replayed old declaration must not bring the erased person's copy back
        company = await store.find_company(ctx.db, data.company_id) or {}
        path = (
            f"contacts.{data.contact_id}.consents.{data.purpose}"
            if data.contact_id
            else f"consents.{data.purpose}"
        )
        holder = (
            company.get("contacts", {}).get(data.contact_id, {}) if data.contact_id else company
        )
        kept = holder.get("consents", {}).get(data.purpose) or {}
        at = utc(data.declared_at)
        if kept.get("declared_at") is not None and utc(kept["declared_at"]) > at:
            return  # an older declaration than the one in force
        ctx.write(
            store.set_company(data.company_id, {path: {"status": data.status, "declared_at": at}})
        )
        if data.purpose in SHOWN:
            ctx.write(store.bump_feed(ctx.new_id("ver")))
        if (
            data.purpose == "social_media"
            and data.contact_id is None
            and data.status == "withdrawn"
        ):
            await self._withhold_all(ctx, data.company_id, at)

    async def _withhold_all(self, ctx: Context[Any], company_id: str, at: datetime) -> None:
        """Take every post of the company that is not published out of the queue."""
        for post in await store.posts_of(ctx.db, company_id):
            withheld = post.get("withheld") or {}
            if post["status"] not in store.QUEUED and withheld.get("key") != ctx.key:
                continue
            previous = withheld.get("previous", post["status"])
            ctx.write(
                store.change_post(
                    post["_id"],
                    (*store.QUEUED, "withheld"),
                    {
                        "status": "withheld",
                        "withheld": {"reason": WITHDRAWN, "at": at, "key": ctx.key,
                                     "previous": previous},
                    },
                ),
                publisher.cancel(post["_id"]),
            )  # fmt: skip
            ctx.emit(
                PostWithheld(
                    post_id=post["_id"],
                    company_id=company_id,
                    previous_status=previous,
                    reason=WITHDRAWN,
                ),
                subject=post["_id"],
            )

    async def merged(self, ctx: Context[CompanyMerged]) -> None:
        """Re-point posts and episodes to the survivor; its contacts' consents move along."""
        data = ctx.data
        survivor = await store.find_company(ctx.db, data.survivor_id) or {}
        merged = await store.find_company(ctx.db, data.merged_id) or {}
        moved_contacts = {
            contact_id: consents
            for contact_id, consents in (merged.get("contacts") or {}).items()
            if contact_id in data.contact_ids and contact_id not in (survivor.get("contacts") or {})
        }
        changes: dict[str, Any] = {"name": data.survivor_name}
        for contact_id, consents in moved_contacts.items():
            changes[f"contacts.{contact_id}"] = consents
        ctx.write(
            store.set_company(data.survivor_id, changes),
            store.set_company(data.merged_id, {"merged_into": data.survivor_id}),
        )
        for post in await store.posts_of(ctx.db, data.merged_id):
            ctx.write(
                Write(
                    store.POSTS,
                    UpdateOne(
                        {"_id": post["_id"]},
                        {"$set": {"company_id": data.survivor_id,
                                  "company_name": data.survivor_name}},
                    ),
                )
            )  # fmt: skip
        for episode in await store.episodes_of(ctx.db, data.merged_id):
            ctx.write(store.change_episode(episode["_id"], {"company_id": data.survivor_id}))
        for episode in await store.published_episodes(ctx.db):
            persons = episode.get("persons") or []
            if any(p.get("company_id") == data.merged_id for p in persons):
                repointed = [
                    {**p, "company_id": data.survivor_id}
                    if p.get("company_id") == data.merged_id
                    else p
                    for p in persons
                ]
                ctx.write(store.change_episode(episode["_id"], {"persons": repointed}))
        ctx.write(store.bump_feed(ctx.new_id("ver")))
