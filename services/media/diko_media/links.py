"""The service's public addresses: one place for the paths the routes serve and the links
that messages and the feed carry, so that the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

POST_IMAGE_PATH = "/posts/{post_id}/image.png"
PAGE_PATH = "/podcast"
FEED_PATH = "/podcast/feed.xml"
COVER_PATH = "/podcast/cover.png"


@dataclass(frozen=True)
class Links:
    """Absolute URLs under the public base URL (no trailing slash)."""

    base: str

    def post_image(self, post_id: str) -> str:
        return self.base + POST_IMAGE_PATH.format(post_id=post_id)

    @property
    def podcast_page(self) -> str:
        return self.base + PAGE_PATH

    @property
    def feed(self) -> str:
        return self.base + FEED_PATH

    @property
    def cover(self) -> str:
        return self.base + COVER_PATH
