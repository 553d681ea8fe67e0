"""Composition root of the media service: every subscription and every route, in one place."""

from __future__ import annotations

from starlette.routing import Route

from diko_media import rights, store
from diko_media.handlers import Handlers
from diko_media.links import COVER_PATH, FEED_PATH, PAGE_PATH, POST_IMAGE_PATH, Links
from diko_media.settings import MediaSettings
from diko_media.web import Pages, channel
from diko_shared.brand import web as brand
from diko_shared.service.app import Service
from diko_shared.settings import load_settings

SERVICE = "media"
DESCRIPTION = (
    'Instagram posts rendered from layouts ("Azubi gesucht" for every opened position), '
    'and the podcast "DIKO trifft…" with its RSS feed.'
)


def build(settings: MediaSettings | None = None) -> Service:
    settings = settings or load_settings(MediaSettings, "media")
    links = Links(settings.base_url)
    service = Service(SERVICE, settings, description=DESCRIPTION, indexes=store.INDEXES)

    podcast = channel(settings, links)
    handlers = Handlers(links, podcast_page=podcast.link)
    service.on_event("position.opened", handlers.draft_azubi_post)
    service.on_request("post.get", handlers.get_post)
    service.on_request("episode.create", handlers.create_episode)
    service.on_request("episode.publish", handlers.publish_episode)
    service.on_request("episode.get", handlers.get_episode)
    rights.RIGHTS.wire(service)  # its part in exports and erasures (diko_shared.rights)

    pages = Pages(service.db, podcast)
    service.add_routes(
        Route(POST_IMAGE_PATH, pages.post_image, methods=["GET"]),
        Route(PAGE_PATH, pages.podcast_page, methods=["GET"]),
        Route(FEED_PATH, pages.feed, methods=["GET"]),
        Route(COVER_PATH, pages.cover, methods=["GET"]),
        *brand.routes(),
    )
    return service
