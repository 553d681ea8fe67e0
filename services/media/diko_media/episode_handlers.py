"""The podcast's commands and queries, and the due item that publishes a scheduled episode.

Files (audio from a URL, a cover) are fetched, checked and kept before the handler
stages its writes: they are named by their content, so a redelivery finds them kept
and stages the same document. Publishing is one conditional update that records which
message (or due item) published the episode: two cannot both announce it, and a
redelivery of the one that did announces it still.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_media import rights, store
from diko_media.files import audio as audio_files
from diko_media.files import images
from diko_media.files.fetch import FetchRefused, fetch_to_file
from diko_media.links import Links
from diko_media.podcast import episodes
from diko_media.podcast.episodes import invalid, unknown_episode, utc
from diko_media.settings import MediaSettings
from diko_media.signing import Signer
from diko_shared import due
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.media import (
    CreateEpisode,
    Episode,
    EpisodeChange,
    EpisodePerson,
    EpisodeRef,
    EpisodeScheduled,
    EpisodeUpdated,
    GetEpisode,
    PublishEpisode,
    ScheduleEpisode,
    UpdateEpisode,
)
from diko_shared.due import DueContext
from diko_shared.messaging.errors import Conflict
from diko_shared.messaging.handling import Context

PUBLISH = "episode.publish"


def _guests(persons: Sequence[EpisodePerson]) -> list[tuple[str, str | None]]:
    """The contact persons an episode names, with the field that names each."""
    return [(f"data.persons[{i}].contact_id", p.contact_id) for i, p in enumerate(persons)]


@dataclass(frozen=True)
class EpisodeHandlers:
    links: Links
    podcast_page: str
    settings: MediaSettings
    clock: due.Clock
    uploads: Signer

    # -- files ---------------------------------------------------------------------------------

    async def fetch_audio(
        self, db: AsyncDatabase, url: str, field: str, now: datetime
    ) -> dict[str, Any]:
        try:
            fetched = await fetch_to_file(
                url,
                max_bytes=self.settings.audio_max_bytes,
                allow_private=self.settings.fetch_private_hosts,
            )
        except FetchRefused as refused:
            raise invalid(field, str(refused)) from None
        try:
            return await keep_audio(db, fetched.path, field, now, source=url)
        finally:
            fetched.path.unlink(missing_ok=True)

    async def fetch_cover(self, db: AsyncDatabase, url: str, field: str) -> dict[str, Any]:
        try:
            fetched = await fetch_to_file(
                url,
                max_bytes=self.settings.image_max_bytes,
                allow_private=self.settings.fetch_private_hosts,
            )
        except FetchRefused as refused:
            raise invalid(field, str(refused)) from None
        try:
            data = await asyncio.to_thread(fetched.path.read_bytes)
        finally:
            fetched.path.unlink(missing_ok=True)
        return await keep_cover(db, data, field)

    def upload_link(self, episode_id: str) -> tuple[str, datetime]:
        return self.links.upload(self.uploads.token(episode_id)), self.uploads.expires_at()

    # -- commands --------------------------------------------------------------------------------

    async def create(self, ctx: Context[CreateEpisode]) -> EpisodeRef:
        data = ctx.data
        await rights.refuse_erased(ctx.db, _guests(data.persons))
        episode_id = ctx.new_id("epi")
        document = episodes.new_document(data, episode_id=episode_id, now=ctx.occurred_at)
        if data.audio_url:
            document["audio"] = await self.fetch_audio(
                ctx.db, data.audio_url, "data.audio_url", ctx.occurred_at
            )
            document["chapters"] = episodes.check_chapters(
                data.chapters, document["audio"]["duration_s"], "data.chapters"
            )
        if data.image_url:
            document["image"] = await self.fetch_cover(ctx.db, data.image_url, "data.image_url")
        ctx.write(store.insert_episode(document))
        url, expires = self.upload_link(episode_id)
        return EpisodeRef(episode_id=episode_id, upload_url=url, upload_expires_at=expires)

    async def update(self, ctx: Context[UpdateEpisode]) -> EpisodeChange:
        data = ctx.data
        document = await store.find_episode(ctx.db, data.episode_id)
        if document is None:
            raise unknown_episode(data.episode_id)
        await rights.refuse_erased(ctx.db, _guests(data.persons or []))
        changes, unset, changed = episodes.changes_of(document, data)
        audio = await self._new_audio(ctx, data)
        if audio is not None and audio != document.get("audio"):
            changes["audio"] = audio
            changed = sorted({*changed, "audio"})
            if document.get("chapters") and "chapters" not in changes:
                chapters = [episodes.Chapter.from_stored(c) for c in document["chapters"]]
                episodes.check_chapters(chapters, audio["duration_s"], "data.audio_url")
        cover = await self._new_cover(ctx, data)
        if cover is not None and cover != document.get("image"):
            changes["image"] = cover
            changed = sorted({*changed, "image_url"})
        status = document.get("status", "draft")
        if changes or unset:
            ctx.write(store.change_episode(data.episode_id, changes, unset=unset))
            if status == "published":
                ctx.write(store.bump_feed(ctx.new_id("ver")))
            ctx.emit(
                EpisodeUpdated(episode_id=data.episode_id, status=status, changed=changed),
                subject=data.episode_id,
            )
        url, _ = self.upload_link(data.episode_id)
        return EpisodeChange(
            episode_id=data.episode_id, status=status, changed=changed, upload_url=url
        )

    async def _new_audio(self, ctx: Context[UpdateEpisode], data: UpdateEpisode) -> dict | None:
        if data.audio_url and data.audio_upload:
            raise invalid("data.audio_upload", "Bitte entweder audio_url oder audio_upload.")
        if data.audio_url:
            return await self.fetch_audio(ctx.db, data.audio_url, "data.audio_url", ctx.occurred_at)
        if data.audio_upload:
            return await uploaded_audio(ctx.db, data.audio_upload, "data.audio_upload")
        return None

    async def _new_cover(self, ctx: Context[UpdateEpisode], data: UpdateEpisode) -> dict | None:
        if data.image_url and data.cover_upload:
            raise invalid("data.cover_upload", "Bitte entweder image_url oder cover_upload.")
        if data.image_url:
            return await self.fetch_cover(ctx.db, data.image_url, "data.image_url")
        if data.cover_upload:
            record = await store.find_image(ctx.db, data.cover_upload.replace("upl_", "img_"))
            if record is None or record.get("purpose") != "cover":
                raise invalid("data.cover_upload", "Dieses hochgeladene Titelbild gibt es nicht.")
            return image_ref(record)
        return None

    async def schedule(self, ctx: Context[ScheduleEpisode]) -> Episode:
        return await self._schedule_or_publish(ctx, ctx.data.episode_id, ctx.data.publish_at)

    async def publish(self, ctx: Context[PublishEpisode]) -> Episode:
        """Now (or at the given past time); a future time schedules the episode."""
        at = ctx.data.published_at
        if at is not None and utc(at) > await self.clock.now():
            return await self._schedule_or_publish(ctx, ctx.data.episode_id, at)
        return await self._publish_now(ctx, ctx.data.episode_id, at or ctx.occurred_at)

    async def _schedule_or_publish(
        self, ctx: Context[Any], episode_id: str, at: datetime
    ) -> Episode:
        if utc(at) <= await self.clock.now():
            return await self._publish_now(ctx, episode_id, at)
        document = await store.find_episode(ctx.db, episode_id)
        if document is None:
            raise unknown_episode(episode_id)
        if document.get("status") == "published":
            raise Conflict(
                f"Die Folge „{document['title']}“ ist schon veröffentlicht.",
                [ErrorDetail(field="data.episode_id", problem="schon veröffentlicht")],
            )
        missing = episodes.publishable(document)
        if missing:
            raise Conflict(missing, [ErrorDetail(field="data.episode_id", problem=missing)])
        ctx.write(
            store.change_episode(episode_id, {"status": "scheduled", "publish_at": utc(at)}),
            due.schedule(PUBLISH, episode_id, at, {"episode_id": episode_id},
                         correlation_id=ctx.correlation_id),
        )  # fmt: skip
        ctx.emit(
            EpisodeScheduled(episode_id=episode_id, title=document["title"], publish_at=utc(at)),
            subject=episode_id,
        )
        return episodes.reply(
            {**document, "status": "scheduled", "publish_at": utc(at)}, self.links
        )

    async def _publish_now(self, ctx: Context[Any], episode_id: str, at: datetime) -> Episode:
        document = await store.find_episode(ctx.db, episode_id)
        if document is None:
            raise unknown_episode(episode_id)
        if document.get("status") != "published":
            missing = episodes.publishable(document)
            if missing:
                raise Conflict(missing, [ErrorDetail(field="data.episode_id", problem=missing)])
        record = await store.publish_episode(
            ctx.db, episode_id, at=utc(at), key=ctx.key, from_status=("draft", "scheduled")
        )
        record = record or await store.find_episode(ctx.db, episode_id)
        assert record is not None
        if record.get("published_by") == ctx.key:
            ctx.write(due.cancel(PUBLISH, episode_id), store.bump_feed(ctx.new_id("ver")))
            ctx.emit(
                episodes.announcement(record, self.links, page_url=self.podcast_page),
                subject=episode_id,
            )
        return episodes.reply(record, self.links)

    async def get(self, ctx: Context[GetEpisode]) -> Episode:
        document = await store.find_episode(ctx.db, ctx.data.episode_id)
        if document is None:
            raise unknown_episode(ctx.data.episode_id)
        return episodes.reply(document, self.links)

    # -- the due item ----------------------------------------------------------------------------

    async def publish_when_due(self, ctx: DueContext) -> None:
        """A scheduled episode's time has come: publish it once, and announce it now."""
        episode_id = ctx.data["episode_id"]
        document = await store.find_episode(ctx.db, episode_id)
        if document is None:
            return
        at = document.get("publish_at") or ctx.due_at
        record = await store.publish_episode(
            ctx.db, episode_id, at=utc(at), key=ctx.key, from_status=("scheduled",)
        )
        record = record or await store.find_episode(ctx.db, episode_id)
        if record is None or record.get("published_by") != ctx.key:
            return  # published by a command meanwhile, which announced it
        ctx.write(store.bump_feed(ctx.new_id("ver")))
        ctx.emit(
            episodes.announcement(record, self.links, page_url=self.podcast_page),
            subject=episode_id,
        )


# -- keeping files (also used by the upload page) --------------------------------------------


async def keep_audio(
    db: AsyncDatabase, path: Path, field: str, now: datetime, *, source: str | None = None
) -> dict[str, Any]:
    """Read the file with mutagen, keep it, and return the episode's reference to it."""
    try:
        info = await asyncio.to_thread(audio_files.probe, path)
    except audio_files.AudioRefused as refused:
        raise invalid(field, str(refused)) from None
    audio_id = await audio_files.keep(db, path, info, now=now)
    reference = {
        "id": audio_id,
        "type": info.type,
        "extension": info.extension,
        "size": info.size,
        "duration_s": info.duration_s,
        "sha256": info.sha256,
    }
    if source:
        reference["source"] = source
    return reference


async def uploaded_audio(db: AsyncDatabase, upload_id: str, field: str) -> dict[str, Any]:
    record = await store.find_audio(db, upload_id.replace("upl_", "aud_"))
    if record is None or not record.get("complete"):
        raise invalid(field, "Diese hochgeladene Audiodatei gibt es nicht.")
    return {
        "id": record["_id"],
        "type": record["type"],
        "extension": record["extension"],
        "size": record["size"],
        "duration_s": record["duration_s"],
        "sha256": record["sha256"],
    }


def image_ref(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["_id"],
        "type": record["type"],
        "extension": record["extension"],
        "width": record["width"],
        "height": record["height"],
    }


async def keep_cover(db: AsyncDatabase, data: bytes, field: str) -> dict[str, Any]:
    try:
        info = await asyncio.to_thread(images.check_cover, data)
    except images.ImageRefused as refused:
        raise invalid(field, str(refused)) from None
    record = {
        "_id": info.image_id,
        "purpose": "cover",
        "type": info.type,
        "extension": info.extension,
        "width": info.width,
        "height": info.height,
        "data": data,
    }
    existing = await store.find_image(db, info.image_id)
    if existing is not None:
        return image_ref(existing)
    await store.save_image(db, record)
    return image_ref(record)
