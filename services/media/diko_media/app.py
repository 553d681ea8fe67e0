"""Composition root of the media service: every subscription and every route, in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.routing import Route

from diko_media import rights, store
from diko_media.company_handlers import CompanyHandlers
from diko_media.episode_handlers import PUBLISH as EPISODE_PUBLISH
from diko_media.episode_handlers import EpisodeHandlers
from diko_media.instagram import publisher as post_publisher
from diko_media.instagram.graph import Graph
from diko_media.links import (
    APPROVAL_PATH,
    AUDIO_PATH,
    CHAPTERS_PATH,
    COVER_PATH,
    EPISODE_COVER_PATH,
    EPISODE_PAGE_PATH,
    FEED_PATH,
    KIT_PATH,
    PAGE_PATH,
    POST_IMAGE_PATH,
    SLIDE_JPEG_PATH,
    SLIDE_PNG_PATH,
    TRANSCRIPT_PATH,
    UPLOAD_PATH,
    Links,
)
from diko_media.post_handlers import PostHandlers
from diko_media.posts.approval import ApprovalPages
from diko_media.settings import MediaSettings
from diko_media.signing import Signer
from diko_media.site import store as site_store
from diko_media.site.build import SiteBuilder
from diko_media.site.handlers import SiteHandlers, both, site_info
from diko_media.site.photo_uploads import UPLOAD_PATH as PHOTO_UPLOAD_PATH
from diko_media.site.photo_uploads import PhotoUploads
from diko_media.site.serve import SiteFiles
from diko_media.web import PodcastPages, PostFiles, Uploads, channel
from diko_shared.brand import web as brand
from diko_shared.service.app import Service
from diko_shared.settings import load_settings

SERVICE = "media"
DESCRIPTION = (
    "Instagram posts from layouts (drafted from events and by staff, approved by the "
    "company through a signed link, scheduled and published through the Graph API, or "
    "taken as a kit), and the podcast „DIKO trifft…“: episodes with audio, chapters and "
    "transcripts, scheduled publication, its pages and its Podcasting 2.0 feed."
)
#: Audio nobody uses (or an upload that died half-way) is deleted after this long.
STALE_AUDIO = timedelta(days=1)


def build(settings: MediaSettings | None = None) -> Service:
    settings = settings or load_settings(MediaSettings, "media")
    links = Links(settings.base_url, site=settings.site_url)
    service = Service(SERVICE, settings, description=DESCRIPTION, indexes=store.INDEXES)
    secret = settings.link_secret.get_secret_value()
    post_ttl = timedelta(days=settings.post_link_ttl_days)
    approvals = Signer(secret, "approval", post_ttl)
    kits = Signer(secret, "kit", post_ttl)
    uploads = Signer(secret, "upload", timedelta(hours=settings.upload_link_ttl_hours))
    photo_links = Signer(secret, "photos", timedelta(hours=settings.upload_link_ttl_hours))
    podcast = channel(settings, links)
    rights.RIGHTS.wire(service)  # its part in exports and erasures (diko_shared.rights)

    episodes = EpisodeHandlers(links, podcast.link, settings, service.clock, uploads)
    service.on_request("episode.create", episodes.create)
    service.on_request("episode.update", episodes.update)
    service.on_request("episode.schedule", episodes.schedule)
    service.on_request("episode.publish", episodes.publish)
    service.on_request("episode.get", episodes.get)
    service.on_due(EPISODE_PUBLISH, episodes.publish_when_due)

    posts = PostHandlers(links, settings, service.clock, approvals, kits)
    service.on_request("post.draft", posts.draft)
    service.on_request("post.approve", posts.approve)
    service.on_request("post.reject", posts.reject)
    service.on_request("post.schedule", posts.schedule)
    service.on_request("post.get", posts.get)
    service.on_request("post.kit", posts.kit)
    site = SiteHandlers(
        links,
        settings.site_root,
        photo_upload=lambda company_id: (
            settings.base_url + PHOTO_UPLOAD_PATH.format(token=photo_links.token(company_id))
        ),
    )
    service.on_event("position.opened", both(posts.on_position_opened, site.position_opened))
    service.on_event("position.filled", both(posts.on_position_filled, site.position_filled))
    service.on_event("position.updated", site.position_updated)
    service.on_event("position.closed", site.position_closed)
    service.on_event("position.reopened", site.position_reopened)
    service.on_event("episode.published", both(posts.on_episode_published, site.episode_published))
    service.on_event("fair.planned", both(posts.on_fair_planned, site.fair_planned))
    service.on_request("presentation.publish", site.publish)
    service.on_request("presentation.unpublish", site.unpublish)

    graph = Graph(
        settings.instagram_api_url,
        settings.instagram_user_id,
        settings.instagram_token.get_secret_value(),
    )
    instagram = post_publisher.Publisher(
        service.db,
        graph,
        links,
        poll_s=settings.instagram_status_poll_s,
        retry_s=settings.instagram_retry_s,
        max_attempts=settings.instagram_max_attempts,
    )
    service.on_due(post_publisher.KIND, instagram.run)

    companies = CompanyHandlers()
    service.on_event("company.registered", both(companies.registered, site.company_registered))
    service.on_event("company.updated", both(companies.updated, site.company_updated))
    service.on_event("company.merged", both(companies.merged, site.company_merged))
    service.on_event(
        "company.consent_changed", both(companies.consent_changed, site.consent_changed)
    )

    builder = SiteBuilder(settings.site_directory, site_info(settings), links)
    service.on_due(site_store.BUILD, builder.run, each_scheduling=True)
    service.on_start(lambda: site_store.build_soon(service.db))

    async def forget_stale_audio() -> None:
        before = datetime.now(UTC) - STALE_AUDIO
        for record in await store.stale_audio(service.db, before):
            await store.forget_audio(service.db, record["_id"], int(record.get("chunks", 0)))

    service.hourly(forget_stale_audio)

    pages = PodcastPages(service.db, podcast, links)
    files = PostFiles(service.db, kits)
    approval = ApprovalPages(service.db, approvals, kits, service.publisher)
    upload = Uploads(service.db, uploads, settings, service.publisher)
    service.add_routes(
        Route(POST_IMAGE_PATH, files.first_png, methods=["GET"]),
        Route(SLIDE_PNG_PATH, files.png, methods=["GET"]),
        Route(SLIDE_JPEG_PATH, files.jpeg, methods=["GET"]),
        Route(KIT_PATH, files.kit, methods=["GET"]),
        Route(APPROVAL_PATH, approval.show, methods=["GET"]),
        Route(APPROVAL_PATH, approval.decide, methods=["POST"]),
        Route(PAGE_PATH, pages.overview, methods=["GET"]),
        Route(FEED_PATH, pages.feed, methods=["GET"]),
        Route(COVER_PATH, pages.cover, methods=["GET"]),
        Route(EPISODE_PAGE_PATH, pages.episode_page, methods=["GET"]),
        Route(EPISODE_COVER_PATH, pages.episode_cover, methods=["GET"]),
        Route(CHAPTERS_PATH, pages.chapters, methods=["GET"]),
        Route(TRANSCRIPT_PATH, pages.transcript, methods=["GET"]),
        Route(AUDIO_PATH, pages.audio, methods=["GET", "HEAD"]),
        Route(UPLOAD_PATH, upload.receive, methods=["POST"]),
        *PhotoUploads(
            service.db, photo_links, settings.image_max_bytes, settings.site_root
        ).routes(),
        *brand.routes(),
        *SiteFiles(settings.site_directory).routes(),
    )
    return service
