"""The service's own HTTP side: post images and kits, the podcast's pages, feed, audio,
chapters, transcripts and covers, and the episode upload.

Responses carry an ETag and answer a matching `If-None-Match` with 304, so that podcast
apps polling the feed, browsers reloading a page and Instagram fetching an image again
cost a database read and no transfer. The feed and the pages are built once per version
of what they show (`feed_state`, changed by every write that changes them) and kept per
process: a request reads one small document by `_id` and sends the bytes it has.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from diko_media import store
from diko_media.episode_handlers import keep_audio, keep_cover
from diko_media.files import audio as audio_files
from diko_media.files import notes
from diko_media.links import Links
from diko_media.podcast import episodes
from diko_media.podcast.cover import render_cover
from diko_media.podcast.feed import CONTENT_TYPE as FEED_CONTENT_TYPE
from diko_media.podcast.feed import Channel, build_feed
from diko_media.podcast.page import CONTENT_TYPE as PAGE_CONTENT_TYPE
from diko_media.podcast.page import render_episode_page, render_missing, render_page
from diko_media.posts.kit import build_kit
from diko_media.posts.slide_files import SlideFile, SlideFormat, slide_file
from diko_media.settings import MediaSettings
from diko_media.signing import LinkExpired, LinkInvalid, Signer
from diko_shared.contract.media import UpdateEpisode
from diko_shared.messaging.errors import DomainError
from diko_shared.messaging.publisher import Publisher

POST_ID = re.compile(r"^pst_[0-9a-f]{20}$")
EPISODE_ID = re.compile(r"^epi_[0-9a-f]{20}$")
AUDIO_ID = re.compile(r"^aud_[0-9a-f]{20}$")
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: A post's images only change if its layout does; a day keeps that change visible soon.
IMAGE_MAX_AGE_S = 86_400
#: Podcast apps poll; five minutes between fetches is what a new episode waits at most.
FEED_MAX_AGE_S = 300
#: Audio, covers and chapter files are named by their content or change with the feed.
FOREVER_S = 31_536_000
AUDIO_TYPES = {"audio/mpeg", "audio/mp3", "audio/mp4", "audio/x-m4a", "audio/m4a",
               "application/octet-stream"}  # fmt: skip
IMAGE_TYPES = {"image/jpeg", "image/png", "application/octet-stream"}
#: Room for the multipart boundaries and headers around the files.
UPLOAD_OVERHEAD = 64 * 1024


def channel(settings: MediaSettings, links: Links) -> Channel:
    """The feed's channel from the `DIKO_PODCAST_*` settings, with absolute links."""
    return Channel(
        title=settings.podcast_title,
        description=settings.podcast_description,
        link=settings.podcast_link or links.podcast_page,
        feed_url=links.feed,
        image_url=settings.podcast_image_url or links.cover,
        author=settings.podcast_author,
        owner_name=settings.podcast_owner_name,
        owner_email=settings.podcast_owner_email,
        category=settings.podcast_category,
        subcategory=settings.podcast_subcategory,
        explicit=settings.podcast_explicit,
        copyright=settings.podcast_copyright,
        guid=settings.podcast_guid,
        locked=settings.podcast_locked,
        region=settings.podcast_region,
    )


@dataclass(frozen=True)
class Built:
    version: str
    body: bytes
    digest: str


class PodcastPages:
    """The feed, the overview and the episode pages, built once per version."""

    def __init__(self, db: AsyncDatabase, podcast: Channel, links: Links) -> None:
        self.db = db
        self.podcast = podcast
        self.links = links
        self._built: dict[str, Built] = {}
        self._listed: tuple[str, dict[str, episodes.Listed]] | None = None
        self._lock = asyncio.Lock()
        self._cover: bytes | None = None

    async def listed(self, version: str) -> dict[str, episodes.Listed]:
        """Every listable episode by id, as of `version`."""
        if self._listed is not None and self._listed[0] == version:
            return self._listed[1]
        documents = await store.published_episodes(self.db)
        ids = {d.get("company_id") for d in documents}
        ids |= {p.get("company_id") for d in documents for p in d.get("persons") or []}
        companies = await store.find_companies(self.db, [i for i in ids if i])
        listed = {
            item.episode_id: item
            for item in (episodes.listed(d, companies, self.links) for d in documents)
            if item is not None
        }
        self._listed = (version, listed)
        return listed

    async def _build(self, name: str, make: Any) -> Built:
        version = await store.feed_version(self.db)
        built = self._built.get(name)
        if built is not None and built.version == version:
            return built
        async with self._lock:
            built = self._built.get(name)
            if built is not None and built.version == version:
                return built
            body = make(await self.listed(version))
            built = Built(version, body, hashlib.sha256(body).hexdigest())
            self._built[name] = built
            return built

    async def feed(self, request: Request) -> Response:
        built = await self._build("feed", lambda items: build_feed(self.podcast, items.values()))
        return cacheable(request, built.body, FEED_CONTENT_TYPE, built.digest, FEED_MAX_AGE_S)

    async def overview(self, request: Request) -> Response:
        built = await self._build("page", lambda items: render_page(self.podcast, items.values()))
        return cacheable(request, built.body, PAGE_CONTENT_TYPE, built.digest, FEED_MAX_AGE_S)

    async def _episode(self, request: Request) -> episodes.Listed | None:
        episode_id = request.path_params["episode_id"]
        if not EPISODE_ID.match(episode_id):
            return None
        return (await self.listed(await store.feed_version(self.db))).get(episode_id)

    async def episode_page(self, request: Request) -> Response:
        episode = await self._episode(request)
        if episode is None:
            body = render_missing(self.podcast)
            return Response(body, status_code=404, media_type=PAGE_CONTENT_TYPE)
        body = render_episode_page(self.podcast, episode)
        digest = hashlib.sha256(body).hexdigest()
        return cacheable(request, body, PAGE_CONTENT_TYPE, digest, FEED_MAX_AGE_S)

    async def chapters(self, request: Request) -> Response:
        episode = await self._episode(request)
        if episode is None or not episode.chapters:
            return PlainTextResponse("Zu dieser Folge gibt es keine Kapitel.", status_code=404)
        body = notes.chapters_json(list(episode.chapters))
        digest = hashlib.sha256(body).hexdigest()
        return cacheable(request, body, notes.CHAPTERS_TYPE, digest, FEED_MAX_AGE_S)

    async def transcript(self, request: Request) -> Response:
        episode = await self._episode(request)
        extension = request.path_params["extension"]
        if episode is None or episode.transcript_type is None:
            return PlainTextResponse("Zu dieser Folge gibt es kein Transkript.", status_code=404)
        if notes.EXTENSIONS[episode.transcript_type] != extension:
            return PlainTextResponse("Zu dieser Folge gibt es kein Transkript.", status_code=404)
        document = await store.find_episode(self.db, episode.episode_id)
        text = ((document or {}).get("transcript") or {}).get("text", "")
        body = text.encode()
        media_type = f"{episode.transcript_type}; charset=utf-8"
        return cacheable(
            request, body, media_type, hashlib.sha256(body).hexdigest(), FEED_MAX_AGE_S
        )

    async def episode_cover(self, request: Request) -> Response:
        episode_id = request.path_params["episode_id"]
        document = (
            await store.find_episode(self.db, episode_id) if EPISODE_ID.match(episode_id) else None
        )
        image = (document or {}).get("image")
        if not image or image["extension"] != request.path_params["extension"]:
            return PlainTextResponse("Kein Titelbild zu dieser Folge.", status_code=404)
        record = await store.find_image(self.db, image["id"])
        if record is None:
            return PlainTextResponse("Kein Titelbild zu dieser Folge.", status_code=404)
        data = bytes(record["data"])
        return cacheable(request, data, record["type"], image["id"], FOREVER_S)

    async def cover(self, request: Request) -> Response:
        async with self._lock:
            if self._cover is None:
                self._cover = (await asyncio.to_thread(render_cover, self.podcast.title)).png
        digest = hashlib.sha256(self._cover).hexdigest()
        return cacheable(request, self._cover, "image/png", digest, IMAGE_MAX_AGE_S)

    async def audio(self, request: Request) -> Response:
        """The audio file, in byte ranges as Apple Podcasts requires of an enclosure."""
        audio_id = request.path_params["audio_id"]
        record = await store.find_audio(self.db, audio_id) if AUDIO_ID.match(audio_id) else None
        if record is None or not record.get("complete"):
            return PlainTextResponse("Diese Audiodatei gibt es nicht.", status_code=404)
        if record["extension"] != request.path_params["extension"]:
            return PlainTextResponse("Diese Audiodatei gibt es nicht.", status_code=404)
        size = int(record["size"])
        etag = f'"{record["sha256"]}"'
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Cache-Control": f"public, max-age={FOREVER_S}, immutable",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        start, end = 0, size - 1
        status = 200
        wanted = request.headers.get("range")
        if wanted:
            parsed = _byte_range(wanted, size)
            if parsed is None:
                return Response(
                    status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
                )
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=record["type"])
        return StreamingResponse(
            audio_files.read_range(self.db, record, start, end),
            status_code=status,
            headers=headers,
            media_type=record["type"],
        )


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """One range `bytes=a-b`, `bytes=a-` or `bytes=-n`; None if it cannot be served."""
    match = RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            return None
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


class PostFiles:
    """Post images (PNG, JPEG per slide) and the kit ZIP behind its signed link."""

    def __init__(self, db: AsyncDatabase, kits: Signer) -> None:
        self.db = db
        self.kits = kits

    async def _file(self, post_id: str, number: int, fmt: SlideFormat) -> SlideFile | None:
        if not POST_ID.match(post_id):
            return None
        return await slide_file(self.db, post_id, number, fmt)

    async def first_png(self, request: Request) -> Response:
        return await self._serve(request, request.path_params["post_id"], 1, "png")

    async def png(self, request: Request) -> Response:
        post_id, number = request.path_params["post_id"], request.path_params["number"]
        return await self._serve(request, post_id, number, "png")

    async def jpeg(self, request: Request) -> Response:
        post_id, number = request.path_params["post_id"], request.path_params["number"]
        return await self._serve(request, post_id, number, "jpeg")

    async def _serve(
        self, request: Request, post_id: str, number: int, fmt: SlideFormat
    ) -> Response:
        """The slide's file; its first request draws it (`slide_files`)."""
        file = await self._file(post_id, number, fmt)
        if file is None:
            return PlainTextResponse("Kein Bild zu diesem Post.", status_code=404)
        return cacheable(request, file.body, f"image/{fmt}", file.sha256, IMAGE_MAX_AGE_S)

    async def kit(self, request: Request) -> Response:
        try:
            post_id = self.kits.read(request.path_params["token"])
        except LinkExpired:
            return PlainTextResponse(
                "Der Link zum Paket ist abgelaufen. Bitte fragen Sie DIKO Altmark nach einem "
                "neuen.",
                status_code=410,
            )
        except LinkInvalid:
            return PlainTextResponse("Dieser Link ist ungültig.", status_code=404)
        post = await store.find_post(self.db, post_id)
        if post is None:
            return PlainTextResponse("Diesen Beitrag gibt es nicht mehr.", status_code=404)
        jpegs = []
        for number in range(1, len(post["slides"]) + 1):
            file = await slide_file(self.db, post_id, number, "jpeg")
            if file is None:
                return PlainTextResponse("Ein Bild des Beitrags fehlt.", status_code=404)
            jpegs.append(file.body)
        body = await asyncio.to_thread(build_kit, post, jpegs)
        response = cacheable(
            request, body, "application/zip", hashlib.sha256(body).hexdigest(), 0, private=True
        )
        response.headers["Content-Disposition"] = (
            f'attachment; filename="diko-beitrag-{post_id}.zip"'
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


class Uploads:
    """`POST /podcast/uploads/<token>`: an episode's audio and cover, then `episode.update`.

    The signed token (from the reply to `episode.create` or `episode.update`) is the
    credential: it names the episode and expires. The body is multipart/form-data with a
    `Content-Length` within the limits; `audio` must be MP3 or M4A and `cover` a JPEG or
    PNG that Apple takes, as read from the files themselves.
    """

    def __init__(
        self, db: AsyncDatabase, uploads: Signer, settings: MediaSettings, publisher: Publisher
    ) -> None:
        self.db = db
        self.uploads = uploads
        self.settings = settings
        self.publisher = publisher

    async def receive(self, request: Request) -> Response:
        try:
            episode_id = self.uploads.read(request.path_params["token"])
        except LinkExpired:
            return _refusal(410, "link_expired", "Der Upload-Link ist abgelaufen: fragen Sie mit "
                            "episode.update (ohne Änderung) nach einem neuen.")  # fmt: skip
        except LinkInvalid:
            return _refusal(403, "forbidden", "Dieser Upload-Link ist ungültig.")
        limit = self.settings.audio_max_bytes + self.settings.image_max_bytes + UPLOAD_OVERHEAD
        length = request.headers.get("content-length")
        if length is None:
            return _refusal(411, "length_required", "Bitte mit Content-Length senden.")
        if int(length) > limit:
            return _refusal(413, "too_large", "Die Dateien sind größer als erlaubt.")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _refusal(
                415,
                "unsupported_media_type",
                "Bitte als multipart/form-data mit den Feldern audio und cover.",
            )
        try:
            form = await request.form(max_files=2, max_fields=4)
        except Exception:  # noqa: BLE001 - malformed multipart: say so
            return _refusal(
                400, "validation_error", "Der Inhalt ist kein lesbares multipart/form-data."
            )
        try:
            update = await self._keep(form, episode_id)
        except DomainError as error:
            return _refusal(400, error.code.value, error.message, error.details)
        finally:
            await form.close()
        if update is None:
            return _refusal(
                400, "validation_error", "Bitte eine Datei im Feld audio oder cover senden."
            )
        answer = await self.publisher.request(update, subject=episode_id, timeout=60.0)
        if not answer.get("ok"):
            return JSONResponse(answer, status_code=400)
        return JSONResponse(answer["data"])

    async def _keep(self, form: Any, episode_id: str) -> UpdateEpisode | None:
        fields: dict[str, str] = {}
        audio = form.get("audio")
        cover = form.get("cover")
        if isinstance(audio, UploadFile):
            fields["audio_upload"] = await self._keep_audio(audio)
        if isinstance(cover, UploadFile):
            fields["cover_upload"] = await self._keep_cover(cover)
        if not fields:
            return None
        return UpdateEpisode(episode_id=episode_id, **fields)

    async def _keep_audio(self, upload: UploadFile) -> str:
        declared = (upload.content_type or "").split(";")[0].strip()
        if declared and declared not in AUDIO_TYPES:
            raise episodes.invalid(
                "audio", f"Das Feld audio erwartet MP3 oder M4A, nicht {declared}."
            )
        if upload.size is not None and upload.size > self.settings.audio_max_bytes:
            raise episodes.invalid("audio", "Die Audiodatei ist größer als erlaubt.")
        with tempfile.NamedTemporaryFile(prefix="diko-upload-", delete=False) as handle:
            path = Path(handle.name)
            await asyncio.to_thread(shutil.copyfileobj, upload.file, handle)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
            if size > self.settings.audio_max_bytes:
                raise episodes.invalid("audio", "Die Audiodatei ist größer als erlaubt.")
            reference = await keep_audio(self.db, path, "audio", _now())
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        return "upl_" + reference["id"].removeprefix("aud_")

    async def _keep_cover(self, upload: UploadFile) -> str:
        declared = (upload.content_type or "").split(";")[0].strip()
        if declared and declared not in IMAGE_TYPES:
            raise episodes.invalid(
                "cover", f"Das Feld cover erwartet JPEG oder PNG, nicht {declared}."
            )
        data = await upload.read()
        if len(data) > self.settings.image_max_bytes:
            raise episodes.invalid("cover", "Das Titelbild ist größer als erlaubt.")
        reference = await keep_cover(self.db, data, "cover")
        return "upl_" + reference["id"].removeprefix("img_")


def _now() -> datetime:
    return datetime.now(UTC)


def _refusal(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> JSONResponse:
    body = {
        "ok": False,
        "error": {
            "code": code,
            "message": message,
            "details": [d.model_dump() if hasattr(d, "model_dump") else d for d in details or []],
        },
    }
    return JSONResponse(body, status_code=status)


def cacheable(
    request: Request,
    body: bytes,
    media_type: str,
    digest: str,
    max_age: int,
    *,
    private: bool = False,
) -> Response:
    etag = f'"{digest}"'
    scope = "private" if private else "public"
    headers: Mapping[str, str] = {"ETag": etag, "Cache-Control": f"{scope}, max-age={max_age}"}
    sent = request.headers.get("if-none-match", "")
    if etag in (tag.strip() for tag in sent.split(",")) or sent.strip() == "*":
        return Response(status_code=304, headers=dict(headers))
    return Response(body, media_type=media_type, headers=dict(headers))
