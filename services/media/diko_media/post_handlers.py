"""Posts: drafted from events and by staff, approved or rejected, scheduled, and the kit.

A draft is rendered (deterministically: the same content gives the same bytes), stored
with its images and announced (`post.drafted`); a post about a company also asks
notifications to e-mail the company's contact person (`notification.send`, one per post
by its idempotency key) with the signed link to its approval page and to its kit.

Every change of state is a staged update that holds only in the states it comes from,
and records the key of the message that made it: a redelivery of that message finds its
own work and announces it again (same event id, dropped as a duplicate downstream).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from diko_media import store
from diko_media.files import images
from diko_media.files.fetch import FetchRefused, fetch_to_file
from diko_media.instagram import publisher
from diko_media.links import Links
from diko_media.podcast.episodes import invalid, utc
from diko_media.posts import content
from diko_media.posts.drafting import (
    Draft,
    check_contrast,
    consent_of,
    document,
    reply,
    themed_palette,
    unknown_post,
    wrong_status,
)
from diko_media.settings import MediaSettings
from diko_media.signing import Signer
from diko_shared import due
from diko_shared.contract.companies import PositionFilled, PositionOpened
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import FairPlanned
from diko_shared.contract.media import (
    ApprovePost,
    AzubiContent,
    DraftPost,
    EpisodeContent,
    EpisodePublished,
    FairContent,
    GetPost,
    GetPostKit,
    Post,
    PostApproved,
    PostDrafted,
    PostKit,
    PostRef,
    PostRejected,
    PostScheduled,
    PresentationContent,
    RejectPost,
    SchedulePost,
    SuccessContent,
)
from diko_shared.contract.notifications import NoticeAction, NoticeRecipient, SendNotification
from diko_shared.messaging.errors import Conflict, Invalid
from diko_shared.messaging.handling import Context

#: Kinds that are about one company and cannot be drafted without it.
ABOUT_A_COMPANY = ("azubi_gesucht", "success", "presentation")
KIT_FILES = ("bildtext.txt", "hashtags.txt", "alternativtext.txt", "anleitung.html")


@dataclass(frozen=True)
class PostHandlers:
    links: Links
    settings: MediaSettings
    clock: due.Clock
    approvals: Signer
    kits: Signer

    # -- drafting --------------------------------------------------------------------------------

    async def _look(self, ctx: Context[Any], company_id: str | None, look: Any) -> dict | None:
        """The look a draft asks for (fetching its logo), else the company's remembered one."""
        if look is None:
            company = await store.find_company(ctx.db, company_id) if company_id else None
            return (company or {}).get("look")
        remembered: dict[str, Any] = {"colour": look.colour.upper()}
        themed_palette(remembered["colour"])  # refuses a colour text cannot be read on
        if look.logo_url:
            try:
                fetched = await fetch_to_file(
                    look.logo_url,
                    max_bytes=self.settings.image_max_bytes,
                    allow_private=self.settings.fetch_private_hosts,
                )
            except FetchRefused as refused:
                raise invalid("data.look.logo_url", str(refused)) from None
            try:
                data = await asyncio.to_thread(fetched.path.read_bytes)
            finally:
                fetched.path.unlink(missing_ok=True)
            try:
                _, info = await asyncio.to_thread(images.check_logo, data)
            except images.ImageRefused as refused:
                raise invalid("data.look.logo_url", str(refused)) from None
            await store.save_image(
                ctx.db,
                {
                    "_id": info.image_id,
                    "purpose": "logo",
                    "type": info.type,
                    "extension": info.extension,
                    "width": info.width,
                    "height": info.height,
                    "data": data,
                },
            )
            remembered["logo_id"] = info.image_id
        return remembered

    async def _stage_draft(
        self, ctx: Context[Any], draft: Draft, company: dict[str, Any] | None
    ) -> None:
        """Store, announce, and ask the company's contact person for approval.

        The slides are drawn at their first request (`slide_files`), not here. `company`
        is the company's record as the caller read it (every caller needs it for the
        words): read once per draft, not twice.
        """
        if draft.look:
            check_contrast(draft.written.kind, draft.fmt, themed_palette(draft.look["colour"]))
        post = document(draft, now=ctx.occurred_at)
        ctx.write(*store.insert_post(post))
        ctx.emit(
            PostDrafted(
                post_id=draft.post_id,
                kind=draft.written.kind,
                company_id=draft.company_id,
                position_id=draft.position_id,
                image_url=self.links.post_image(draft.post_id),
                caption=draft.written.caption,
            ),
            subject=draft.post_id,
        )
        if draft.company_id:
            ctx.send(self._approval_mail(post, company), subject=draft.post_id)

    def _approval_mail(
        self, post: dict[str, Any], company: dict[str, Any] | None
    ) -> SendNotification:
        post_id = post["_id"]
        approve = self.links.approval(self.approvals.token(post_id))
        kit = self.links.kit(self.kits.token(post_id))
        what = TITLES[post["kind"]]
        days = round(self.approvals.ttl.total_seconds() / 86400)
        consent = consent_of(post, company)
        if consent == "given":
            publish = (
                "Sobald Sie ihn freigeben, veröffentlicht DIKO Altmark ihn auf seinem "
                "Instagram-Kanal."
            )
        else:
            publish = (
                "Ihre Einwilligung, dass DIKO Altmark in sozialen Medien über Ihren Betrieb "
                "berichtet, liegt uns nicht vor: Wir veröffentlichen den Beitrag erst, wenn Sie "
                "sie uns gegeben haben."
            )
        return SendNotification(
            idempotency_key=f"post-approval/{post_id}",
            to=NoticeRecipient(company_id=post["company_id"]),
            subject=f"Ihr Instagram-Beitrag „{what}“ wartet auf Ihre Freigabe",
            paragraphs=[
                f"wir haben für {post['company_name']} einen Instagram-Beitrag „{what}“ "
                "vorbereitet.",
                "Bitte sehen Sie ihn sich an und geben Sie ihn frei – oder sagen Sie uns, was "
                f"wir ändern sollen. Der Link ist {days} Tage gültig.",
                publish,
                "Sie möchten ihn selbst auf Ihrem Kanal posten? Das Paket mit Bild, Text, "
                f"Hashtags und einer kurzen Anleitung laden Sie hier herunter: {kit}",
            ],
            action=NoticeAction(label="Beitrag ansehen und freigeben", url=approve),
            transactional=True,
            reason="Sie erhalten diese E-Mail als Ansprechperson Ihres Betriebs bei DIKO Altmark.",
            requested_by="media",
        )

    async def draft(self, ctx: Context[DraftPost]) -> PostRef:
        data = ctx.data
        if data.company_id and not data.company_name:
            raise invalid("data.company_name", "Zum Betrieb (company_id) fehlt sein Name.")
        if data.content.kind in ABOUT_A_COMPANY and not data.company_id:
            raise invalid(
                "data.company_id",
                f"Ein Beitrag „{TITLES[data.content.kind]}“ braucht den Betrieb, um den es geht.",
            )
        company_name = data.company_name or "DIKO Altmark"
        company = await store.find_company(ctx.db, data.company_id) if data.company_id else None
        handle = (company or {}).get("instagram")
        body = data.content
        episode_id = None
        if isinstance(body, AzubiContent):
            written = content.azubi(body, company_name, handle)
        elif isinstance(body, SuccessContent):
            written = content.success(body, company_name, handle)
        elif isinstance(body, PresentationContent):
            written = content.presentation(body, company_name, handle)
        elif isinstance(body, FairContent):
            written = content.fair(body, data.company_name, handle)
        else:
            assert isinstance(body, EpisodeContent)
            episode_id = body.episode_id
            written = await self._episode_words(ctx, body.episode_id, handle)
        written = content.with_overrides(written, caption_text=data.caption, hashtags=data.hashtags)
        look = await self._look(ctx, data.company_id, data.look)
        if data.look is not None and data.company_id:
            ctx.write(store.set_company(data.company_id, {"look": look}))
        draft = Draft(
            post_id=ctx.new_id("pst"),
            written=written,
            fmt=data.format,
            company_id=data.company_id,
            company_name=data.company_name,
            position_id=data.position_id,
            episode_id=episode_id,
            look=look,
            drafted_by=data.drafted_by,
        )
        await self._stage_draft(ctx, draft, company)
        return PostRef(post_id=draft.post_id, status="draft")

    async def _episode_words(
        self, ctx: Context[Any], episode_id: str, handle: str | None
    ) -> content.Written:
        episode = await store.find_episode(ctx.db, episode_id)
        if episode is None:
            raise Invalid(
                f"Eine Podcastfolge {episode_id} gibt es nicht.",
                [ErrorDetail(field="data.content.episode_id", problem="unbekannte Podcastfolge")],
            )
        company = (
            await store.find_company(ctx.db, episode["company_id"])
            if episode.get("company_id")
            else None
        )
        guests = tuple(
            p["name"]
            for p in episode.get("persons") or []
            if p["role"] == "guest"
            and (
                not p.get("contact_id")
                or (
                    ((company or {}).get("contacts", {}).get(p["contact_id"], {}))
                    .get("consents", {})
                    .get("podcast", {})
                    .get("status")
                    == "given"
                )
            )
        )
        facts = content.EpisodeFacts(
            title=episode["title"],
            number=episode.get("episode_number"),
            guests=guests,
            company=(company or {}).get("name"),
        )
        return content.episode(facts, handle)

    # -- drafting from events --------------------------------------------------------------------

    async def on_position_opened(self, ctx: Context[PositionOpened]) -> None:
        """position.opened → an "Azubi gesucht" post."""
        data = ctx.data
        company = await store.find_company(ctx.db, data.company_id)
        written = content.azubi(
            AzubiContent(
                occupation=data.occupation.name,
                town=data.town,
                start_date=data.start_date,
                places=data.places,
            ),
            data.company_name,
            (company or {}).get("instagram"),
        )
        await self._stage_position_draft(ctx, written, company, "position.opened")

    async def on_position_filled(self, ctx: Context[PositionFilled]) -> None:
        """position.filled → a "Platz besetzt" post, if the company consented to posts."""
        data = ctx.data
        company = await store.find_company(ctx.db, data.company_id)
        if consent_of({"company_id": data.company_id}, company) != "given":
            return
        written = content.success(
            SuccessContent(
                occupation=data.occupation.name, town=data.town, start_date=data.start_date
            ),
            data.company_name,
            (company or {}).get("instagram"),
        )
        await self._stage_position_draft(ctx, written, company, "position.filled")

    async def _stage_position_draft(
        self,
        ctx: Context[PositionOpened] | Context[PositionFilled],
        written: content.Written,
        company: dict[str, Any] | None,
        source: str,
    ) -> None:
        """The portrait draft about a position: both position events make the same one,
        with their own words."""
        data = ctx.data
        await self._stage_draft(
            ctx,
            Draft(
                post_id=ctx.new_id("pst"),
                written=written,
                fmt="portrait",
                company_id=data.company_id,
                company_name=data.company_name,
                position_id=data.position_id,
                look=(company or {}).get("look"),
                source=source,
            ),
            company,
        )

    async def on_episode_published(self, ctx: Context[EpisodePublished]) -> None:
        """episode.published → a "Neue Podcastfolge" post (the company's, or the network's)."""
        data = ctx.data
        company = await store.find_company(ctx.db, data.company_id) if data.company_id else None
        written = await self._episode_words(ctx, data.episode_id, (company or {}).get("instagram"))
        await self._stage_draft(
            ctx,
            Draft(
                post_id=ctx.new_id("pst"),
                written=written,
                fmt="portrait",
                company_id=data.company_id,
                company_name=(company or {}).get("name") if data.company_id else None,
                episode_id=data.episode_id,
                look=(company or {}).get("look"),
                source="episode.published",
            ),
            company,
        )

    async def on_fair_planned(self, ctx: Context[FairPlanned]) -> None:
        """fair.planned → a "Bewerberbörse" carousel for each company of the records taking part."""
        fair = ctx.data
        if fair.date is None or fair.venue is None:
            return  # no day or place yet: nothing to announce
        end = content.fair_end(fair.start, fair.n_slots, fair.slot_minutes)
        for entry in fair.companies:
            if entry.company_id is None:
                continue
            company = await store.find_company(ctx.db, entry.company_id)
            body = FairContent(
                title=fair.title,
                date=fair.date,
                start=fair.start,
                end=end,
                venue=fair.venue.name,
                town=fair.venue.town,
                companies=len(fair.companies),
            )
            written = content.fair(body, entry.name, (company or {}).get("instagram"))
            await self._stage_draft(
                ctx,
                Draft(
                    post_id=ctx.new_id("pst", entry.company_id),
                    written=written,
                    fmt="portrait",
                    company_id=entry.company_id,
                    company_name=entry.name,
                    look=(company or {}).get("look"),
                    source="fair.planned",
                ),
                company,
            )

    # -- approval --------------------------------------------------------------------------------

    async def _post(self, ctx: Context[Any], post_id: str) -> dict[str, Any]:
        post = await store.find_post(ctx.db, post_id)
        if post is None:
            raise unknown_post(post_id)
        return post

    async def _answer(self, ctx: Context[Any], post: dict[str, Any]) -> Post:
        company = (
            await store.find_company(ctx.db, post["company_id"]) if post.get("company_id") else None
        )
        return reply(post, self.links, company)

    async def approve(self, ctx: Context[ApprovePost]) -> Post:
        data = ctx.data
        post = await self._post(ctx, data.post_id)
        approval = post.get("approval") or {}
        mine = approval.get("key") == ctx.key
        if post["status"] == "draft" or mine:
            approval = {"by": data.approved_by, "via": data.via, "at": ctx.occurred_at,
                        "key": ctx.key}  # fmt: skip
            ctx.write(
                store.change_post(
                    data.post_id,
                    ("draft", "approved"),
                    {"status": "approved", "approval": approval},
                )
            )
            ctx.emit(
                PostApproved(
                    post_id=data.post_id,
                    company_id=post.get("company_id"),
                    via=data.via,
                    approved_at=ctx.occurred_at,
                ),
                subject=data.post_id,
            )
            post = {**post, "status": "approved", "approval": approval}
        elif post["status"] not in ("approved", "scheduled", "publishing", "published"):
            raise wrong_status(data.post_id, post["status"], "freigegeben")
        return await self._answer(ctx, post)

    async def reject(self, ctx: Context[RejectPost]) -> Post:
        data = ctx.data
        post = await self._post(ctx, data.post_id)
        rejection = post.get("rejection") or {}
        if post["status"] in ("draft", "approved", "scheduled") or rejection.get("key") == ctx.key:
            rejection = {"reason": data.reason, "by": data.rejected_by, "via": data.via,
                         "at": ctx.occurred_at, "key": ctx.key}  # fmt: skip
            ctx.write(
                store.change_post(
                    data.post_id,
                    ("draft", "approved", "scheduled", "rejected"),
                    {"status": "rejected", "rejection": rejection},
                ),
                publisher.cancel(data.post_id),
            )
            ctx.emit(
                PostRejected(
                    post_id=data.post_id,
                    company_id=post.get("company_id"),
                    reason=data.reason,
                    via=data.via,
                ),
                subject=data.post_id,
            )
            post = {**post, "status": "rejected", "rejection": rejection}
        else:
            raise wrong_status(data.post_id, post["status"], "abgelehnt")
        return await self._answer(ctx, post)

    async def schedule(self, ctx: Context[SchedulePost]) -> Post:
        data = ctx.data
        post = await self._post(ctx, data.post_id)
        scheduled = post.get("scheduling") or {}
        if post["status"] == "draft":
            raise Conflict(
                f"Der Post {data.post_id} ist noch nicht freigegeben: erst die Freigabe, dann "
                "der Termin.",
                [ErrorDetail(field="data.post_id", problem="nicht freigegeben")],
            )
        allowed = ("approved", "scheduled", "failed", "withheld")
        if post["status"] not in allowed and scheduled.get("key") != ctx.key:
            raise wrong_status(data.post_id, post["status"], "eingeplant")
        company = (
            await store.find_company(ctx.db, post["company_id"]) if post.get("company_id") else None
        )
        if consent_of(post, company) not in ("given", "not_needed"):
            message = (
                f"Für {post.get('company_name') or 'den Betrieb'} liegt keine Einwilligung in "
                "Beiträge in sozialen Medien vor: ohne sie veröffentlicht DIKO Altmark nichts."
            )
            raise Conflict(message, [ErrorDetail(field="data.post_id", problem=message)])
        at = utc(data.publish_at)
        instagram = dict(post.get("instagram") or {})
        instagram["attempts"] = 0
        changes = {
            "status": "scheduled",
            "publish_at": at,
            "scheduling": {"at": ctx.occurred_at, "key": ctx.key},
            "instagram": instagram,
        }
        ctx.write(
            store.change_post(data.post_id, (*allowed,), changes, unset=("failure", "withheld")),
            publisher.schedule(data.post_id, at, ctx.correlation_id),
        )
        ctx.emit(
            PostScheduled(post_id=data.post_id, company_id=post.get("company_id"), publish_at=at),
            subject=data.post_id,
        )
        return await self._answer(ctx, {**post, **changes})

    async def get(self, ctx: Context[GetPost]) -> Post:
        return await self._answer(ctx, await self._post(ctx, ctx.data.post_id))

    async def kit(self, ctx: Context[GetPostKit]) -> PostKit:
        post = await self._post(ctx, ctx.data.post_id)
        slides = post.get("slides") or []
        return PostKit(
            post_id=post["_id"],
            download_url=self.links.kit(self.kits.token(post["_id"])),
            expires_at=self.kits.expires_at(),
            files=[f"bild-{n}.jpg" for n in range(1, len(slides) + 1)] + list(KIT_FILES),
            caption=post["caption"],
            hashtags=list(post["hashtags"]),
            alt_texts=[s["alt_text"] for s in slides],
        )


TITLES = {
    "azubi_gesucht": "Azubi gesucht",
    "success": "Platz besetzt",
    "episode": "Neue Podcastfolge",
    "presentation": "Wir stellen vor",
    "fair": "Bewerberbörse",
}
