"""The service's own HTTP pages: post images, the podcast's page, its feed and cover art.

Every response carries an ETag (the SHA-256 of its body) and answers a matching
`If-None-Match` with 304, so that podcast apps polling the feed, browsers reloading the
podcast page and Instagram tools fetching an image again cost a database read and no
transfer.
"""

from __future__ import annotations

import asyncio
import hashlib
import re

from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from diko_media import store
from diko_media.links import Links
from diko_media.podcast.cover import render_cover
from diko_media.podcast.feed import CONTENT_TYPE as FEED_CONTENT_TYPE
from diko_media.podcast.feed import Channel, build_feed
from diko_media.podcast.page import CONTENT_TYPE as PAGE_CONTENT_TYPE
from diko_media.podcast.page import render_page
from diko_media.settings import MediaSettings

POST_ID = re.compile(r"pst_[0-9a-f]{20}")
#: A post's image only changes if its layout does; a day keeps that change visible soon.
IMAGE_MAX_AGE_S = 86_400
#: Podcast apps poll; five minutes between fetches is what a new episode waits at most.
#: The podcast page lists the same episodes, so it is kept as long.
FEED_MAX_AGE_S = 300


def channel(settings: MediaSettings, links: Links) -> Channel:
    """The feed's channel from the `DIKO_PODCAST_*` settings, with absolute links.

    Its link is the podcast page this service serves, unless `DIKO_PODCAST_LINK` names
    another (a page on the project website, say).
    """
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
    )


class Pages:
    """The routes' handlers; `app.py` maps them to paths."""

    def __init__(self, db: AsyncDatabase, podcast: Channel) -> None:
        self.db = db
        self.podcast = podcast
        self._cover: bytes | None = None
        self._cover_lock = asyncio.Lock()

    async def post_image(self, request: Request) -> Response:
        post_id = request.path_params["post_id"]
        image = await store.find_image(self.db, post_id) if POST_ID.fullmatch(post_id) else None
        if image is None:
            return PlainTextResponse("Kein Bild zu diesem Post.", status_code=404)
        return _cacheable(request, image.png, "image/png", image.sha256, IMAGE_MAX_AGE_S)

    async def podcast_page(self, request: Request) -> Response:
        body = render_page(self.podcast, await store.published_episodes(self.db))
        digest = hashlib.sha256(body).hexdigest()
        return _cacheable(request, body, PAGE_CONTENT_TYPE, digest, FEED_MAX_AGE_S)

    async def feed(self, request: Request) -> Response:
        body = build_feed(self.podcast, await store.published_episodes(self.db))
        digest = hashlib.sha256(body).hexdigest()
        return _cacheable(request, body, FEED_CONTENT_TYPE, digest, FEED_MAX_AGE_S)

    async def cover(self, request: Request) -> Response:
        png = await self._cover_png()
        digest = hashlib.sha256(png).hexdigest()
        return _cacheable(request, png, "image/png", digest, IMAGE_MAX_AGE_S)

    async def _cover_png(self) -> bytes:
        """Rendered once per process: it depends on the settings only, like on every replica."""
        async with self._cover_lock:
            if self._cover is None:
                rendered = await asyncio.to_thread(render_cover, self.podcast.title)
                self._cover = rendered.png
            return self._cover


def _cacheable(
    request: Request, body: bytes, media_type: str, digest: str, max_age: int
) -> Response:
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    sent = request.headers.get("if-none-match", "")
    if etag in (tag.strip() for tag in sent.split(",")) or sent.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
