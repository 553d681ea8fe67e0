"""One small function per message the media service consumes (wired in `app.py`).

Every handler may run again for the same message (a crash before the acknowledgement):
ids come from `ctx.new_id`, times from the envelope, and rendering is deterministic, so
a repeat stages the same documents and emits the same events, which the platform drops
as duplicates.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from diko_media import domain, store
from diko_media.graphics.render import render
from diko_media.links import Links
from diko_media.posts.layouts import LAYOUTS
from diko_shared.contract.companies import PositionOpened
from diko_shared.contract.media import (
    CreateEpisode,
    Episode,
    EpisodeRef,
    GetEpisode,
    GetPost,
    Post,
    PostDrafted,
    PublishEpisode,
)
from diko_shared.messaging.handling import Context


@dataclass(frozen=True)
class Handlers:
    """The handlers, with the service's public addresses for the links they hand out.

    `podcast_page` is the feed's channel link: the page `DIKO_PODCAST_LINK` names, else ours.
    """

    links: Links
    podcast_page: str

    async def draft_azubi_post(self, ctx: Context[PositionOpened]) -> None:
        """position.opened → an "Azubi gesucht" draft with its image, and post.drafted."""
        draft = domain.azubi_gesucht(
            ctx.data, post_id=ctx.new_id("pst"), created_at=ctx.occurred_at
        )
        image = await asyncio.to_thread(render, LAYOUTS[draft.layout], draft.fields)
        ctx.write(*store.insert_post(draft, image))
        drafted = PostDrafted(
            post_id=draft.post_id,
            kind=draft.kind,
            company_id=draft.company_id,
            position_id=draft.position_id,
            image_url=self.links.post_image(draft.post_id),
            caption=draft.caption,
        )
        ctx.emit(drafted, subject=draft.post_id)

    async def get_post(self, ctx: Context[GetPost]) -> Post:
        post_id = ctx.data.post_id
        document = await store.find_post(ctx.db, post_id)
        if document is None:
            raise domain.unknown_post(post_id)
        return store.post_from(document, image_url=self.links.post_image(post_id))

    async def create_episode(self, ctx: Context[CreateEpisode]) -> EpisodeRef:
        episode = domain.new_episode(ctx.data, episode_id=ctx.new_id("epi"))
        ctx.write(store.insert_episode(episode, created_at=ctx.occurred_at))
        return EpisodeRef(episode_id=episode.episode_id)

    async def publish_episode(self, ctx: Context[PublishEpisode]) -> Episode:
        """Put a draft into the feed; an episode published before is answered as it is.

        The status changes at once, in one conditional update that names this message,
        rather than as a staged write: so two publish commands cannot both announce the
        episode, and a redelivery of the message that published it (after a crash before
        its event was stored) still announces it.
        """
        episode_id = ctx.data.episode_id
        at = ctx.data.published_at or ctx.occurred_at
        record = await store.publish_episode(ctx.db, episode_id, at=at, key=ctx.key)
        record = record or await store.find_episode(ctx.db, episode_id)
        if record is None:
            raise domain.unknown_episode(episode_id)
        if record.published_by == ctx.key:
            announced = domain.announcement(
                record.episode, feed_url=self.links.feed, page_url=self.podcast_page
            )
            ctx.emit(announced, subject=episode_id)
        return record.episode

    async def get_episode(self, ctx: Context[GetEpisode]) -> Episode:
        record = await store.find_episode(ctx.db, ctx.data.episode_id)
        if record is None:
            raise domain.unknown_episode(ctx.data.episode_id)
        return record.episode
