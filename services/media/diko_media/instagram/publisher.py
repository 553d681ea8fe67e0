"""Publishing one scheduled post: the due item `post.publish`, run when its time comes.

Each run takes the post one step further and records every step in the post's document
*before* the next call to Instagram, so that a process killed at any point resumes
without publishing twice:

1. the company's consent still stands (else the post is withheld);
2. no container yet: read the publishing limit (a post that would exceed it waits),
   create the containers (a carousel's children first) and keep each id at once;
3. a container: ask its status. `IN_PROGRESS`: come back later. `EXPIRED`: forget it
   and create a new one. `PUBLISHED`: it was published by an earlier run that died
   before it could record that; never publish it again. `FINISHED`: note that publishing
   starts, call `media_publish`, keep the media id;
4. record the post as published and announce it.

Errors are classified (`graph.classify`): a rate limit or a passing fault reschedules the
item after `DIKO_INSTAGRAM_RETRY_S` (up to `DIKO_INSTAGRAM_MAX_ATTEMPTS`); an expired
token, a missing permission or an image Instagram refuses fail the post with a German
reason staff can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store
from diko_media.instagram.graph import Decision, Graph, GraphError, classify
from diko_media.links import Links
from diko_media.posts.drafting import consent_of
from diko_media.posts.slide_files import slide_file
from diko_shared import due
from diko_shared.contract.media import PostFailed, PostPublished, PostWithheld
from diko_shared.due import DueContext

KIND = "post.publish"
WITHDRAWN = "Der Betrieb hat seine Einwilligung in Beiträge in sozialen Medien widerrufen."
NO_CONSENT = "Die Einwilligung des Betriebs in Beiträge in sozialen Medien liegt nicht (mehr) vor."


def schedule(post_id: str, at: datetime, correlation_id: str | None = None) -> Any:
    return due.schedule(KIND, post_id, at, {"post_id": post_id}, correlation_id=correlation_id)


def cancel(post_id: str) -> Any:
    return due.cancel(KIND, post_id)


@dataclass
class Publisher:
    db: AsyncDatabase
    graph: Graph
    links: Links
    poll_s: float
    retry_s: float
    max_attempts: int

    async def run(self, ctx: DueContext) -> None:
        post_id = ctx.data["post_id"]
        post = await store.find_post(self.db, post_id)
        if post is None or post["status"] not in ("scheduled", "publishing"):
            return
        company = (
            await store.find_company(self.db, post["company_id"])
            if post.get("company_id")
            else None
        )
        if consent_of(post, company) not in ("given", "not_needed"):
            self._withhold(ctx, post, company)
            return
        if not self.graph.configured:
            self._fail(
                ctx,
                post,
                Decision(
                    "not_configured",
                    "Für Instagram ist kein Konto eingerichtet (DIKO_INSTAGRAM_USER_ID, "
                    "DIKO_INSTAGRAM_TOKEN); der Beitrag kann nicht veröffentlicht werden.",
                    retry=False,
                ),
                None,
            )
            return
        if post["status"] == "scheduled":
            await store.set_post(self.db, post_id, {"status": "publishing"})
        try:
            await self._advance(ctx, post)
        except GraphError as error:
            self._fail(ctx, post, classify(error), error)

    async def _advance(self, ctx: DueContext, post: dict[str, Any]) -> None:
        post_id = post["_id"]
        instagram = dict(post.get("instagram") or {})
        if instagram.get("media_id") or instagram.get("published_unrecorded"):
            await self._finish(ctx, post, instagram)
            return
        container = instagram.get("container")
        if container:
            status = await self.graph.status(container)
            if status == "PUBLISHED":
                # An earlier run published it and died before recording the media id.
                instagram["published_unrecorded"] = True
                await store.set_post(self.db, post_id, {"instagram": instagram})
                await self._finish(ctx, post, instagram)
                return
            if status in ("EXPIRED", "ERROR"):
                instagram = self._without_containers(instagram, status)
                await store.set_post(self.db, post_id, {"instagram": instagram})
                container = None
            elif status != "FINISHED":
                self._again(ctx, ctx.now + timedelta(seconds=self.poll_s))
                return
        if not container:
            limit = await self.graph.publishing_limit()
            if limit.used >= limit.total:
                self._hold_for_limit(ctx, post, limit.used, limit.total)
                return
            instagram = await self._create(post, instagram)
            status = await self.graph.status(instagram["container"])
            if status != "FINISHED":
                self._again(ctx, ctx.now + timedelta(seconds=self.poll_s))
                return
        company = (
            await store.find_company(self.db, post["company_id"])
            if post.get("company_id")
            else None
        )
        if consent_of(post, company) not in ("given", "not_needed"):
            self._withhold(ctx, post, company)
            return
        instagram["publish_requested_at"] = ctx.now
        await store.set_post(self.db, post_id, {"instagram": instagram})
        instagram["media_id"] = await self.graph.publish(instagram["container"])
        await store.set_post(self.db, post_id, {"instagram": instagram})
        await self._finish(ctx, post, instagram)

    async def _create(self, post: Mapping[str, Any], instagram: dict[str, Any]) -> dict[str, Any]:
        """Create the containers, keeping each id before the next call.

        The JPEGs are drawn first if nobody has asked for them yet (`slide_files`), so
        Instagram's fetch of each finds it ready instead of waiting for it to be drawn.
        """
        post_id = post["_id"]
        slides = post.get("slides") or []
        for number in range(1, len(slides) + 1):
            await slide_file(self.db, post_id, number, "jpeg")
        if len(slides) == 1:
            instagram["container"] = await self.graph.create_image(
                self.links.slide_jpeg(post_id, 1),
                caption=post["caption"],
                alt_text=slides[0]["alt_text"],
                carousel_item=False,
            )
            instagram["containers_created"] = instagram.get("containers_created", 0) + 1
            await store.set_post(self.db, post_id, {"instagram": instagram})
            return instagram
        children = list(instagram.get("children") or [])
        for number in range(len(children) + 1, len(slides) + 1):
            child = await self.graph.create_image(
                self.links.slide_jpeg(post_id, number),
                caption=None,
                alt_text=slides[number - 1]["alt_text"],
                carousel_item=True,
            )
            children.append(child)
            instagram["children"] = children
            await store.set_post(self.db, post_id, {"instagram": instagram})
        instagram["container"] = await self.graph.create_carousel(children, caption=post["caption"])
        instagram["containers_created"] = instagram.get("containers_created", 0) + 1
        await store.set_post(self.db, post_id, {"instagram": instagram})
        return instagram

    async def _finish(self, ctx: DueContext, post: Mapping[str, Any], ig: dict[str, Any]) -> None:
        media_id = ig.get("media_id")
        if media_id and not ig.get("permalink"):
            try:
                ig["permalink"] = await self.graph.permalink(media_id)
            except GraphError:
                ig["permalink"] = None  # the post is published; its link is a nicety
        ig.setdefault("published_at", ctx.now)
        ctx.write(
            store.change_post(
                post["_id"],
                ("publishing", "scheduled"),
                {"status": "published", "instagram": ig},
                unset=("failure",),
            )
        )
        ctx.emit(
            PostPublished(
                post_id=post["_id"],
                company_id=post.get("company_id"),
                instagram_media_id=media_id,
                permalink=ig.get("permalink"),
                published_at=ig["published_at"],
            ),
            subject=post["_id"],
        )

    def _again(self, ctx: DueContext, at: datetime) -> None:
        ctx.write(schedule(ctx.data["post_id"], at, ctx.correlation_id))

    def _hold_for_limit(
        self, ctx: DueContext, post: Mapping[str, Any], used: int, total: int
    ) -> None:
        later = ctx.now + timedelta(seconds=self.retry_s)
        reason = (
            f"Das Instagram-Konto hat in den letzten 24 Stunden {used} von {total} erlaubten "
            "Beiträgen veröffentlicht; dieser wartet, bis wieder einer frei ist."
        )
        ctx.write(
            store.change_post(
                post["_id"],
                ("publishing", "scheduled"),
                {"failure": {"code": "publishing_limit", "reason": reason, "at": ctx.now}},
            )
        )
        self._again(ctx, later)

    def _withhold(
        self, ctx: DueContext, post: Mapping[str, Any], company: Mapping[str, Any] | None
    ) -> None:
        withdrawn = consent_of(post, company) == "withdrawn"
        reason = WITHDRAWN if withdrawn else NO_CONSENT
        ctx.write(
            store.change_post(
                post["_id"],
                ("publishing", "scheduled"),
                {"status": "withheld", "withheld": {"reason": reason, "at": ctx.now}},
            )
        )
        ctx.emit(
            PostWithheld(
                post_id=post["_id"],
                company_id=post["company_id"],
                previous_status=post["status"],
                reason=reason,
            ),
            subject=post["_id"],
        )

    def _fail(
        self,
        ctx: DueContext,
        post: Mapping[str, Any],
        decision: Decision,
        error: GraphError | None,
    ) -> None:
        instagram = dict(post.get("instagram") or {})
        attempts = int(instagram.get("attempts", 0)) + 1
        retry = decision.retry and attempts < self.max_attempts
        next_at = ctx.now + timedelta(seconds=self.retry_s) if retry else None
        failure = {
            "code": decision.code,
            "reason": decision.reason,
            "at": ctx.now,
            "graph_error": error.summary() if error else None,
        }
        if decision.recreate:
            instagram = self._without_containers(instagram, "recreate")
        instagram["attempts"] = attempts
        changes: dict[str, Any] = {"failure": failure, "instagram": instagram}
        if retry:
            self._again(ctx, next_at)  # type: ignore[arg-type]
        else:
            changes["status"] = "failed"
        ctx.write(store.change_post(post["_id"], ("publishing", "scheduled"), changes))
        ctx.emit(
            PostFailed(
                post_id=post["_id"],
                company_id=post.get("company_id"),
                code=decision.code,  # type: ignore[arg-type]
                reason=decision.reason,
                retrying=retry,
                next_attempt_at=next_at,
                graph_error=error.summary() if error else None,
            ),
            subject=post["_id"],
        )

    @staticmethod
    def _without_containers(instagram: dict[str, Any], why: str) -> dict[str, Any]:
        kept = {k: v for k, v in instagram.items() if k not in ("container", "children")}
        kept.setdefault("discarded", []).append(
            {"container": instagram.get("container"), "why": why}
        )
        return kept
