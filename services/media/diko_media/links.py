"""The service's public addresses: one place for the paths the routes serve and the links
that messages, e-mails and the feed carry, so that the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

POST_IMAGE_PATH = "/posts/{post_id}/image.png"
SLIDE_PNG_PATH = "/posts/{post_id}/{number:int}.png"
SLIDE_JPEG_PATH = "/posts/{post_id}/{number:int}.jpg"
APPROVAL_PATH = "/posts/freigabe/{token}"
KIT_PATH = "/posts/paket/{token}"
PAGE_PATH = "/podcast"
FEED_PATH = "/podcast/feed.xml"
COVER_PATH = "/podcast/cover.png"
EPISODE_PAGE_PATH = "/podcast/folgen/{episode_id}"
EPISODE_COVER_PATH = "/podcast/folgen/{episode_id}/cover.{extension}"
CHAPTERS_PATH = "/podcast/folgen/{episode_id}/kapitel.json"
TRANSCRIPT_PATH = "/podcast/folgen/{episode_id}/transkript.{extension}"
AUDIO_PATH = "/podcast/audio/{audio_id}.{extension}"
UPLOAD_PATH = "/podcast/uploads/{token}"
#: Where the project website shows a company's presentation (under DIKO_SITE_URL).
PRESENTATION_PATH = "/betriebe/{company_id}"


@dataclass(frozen=True)
class Links:
    """Absolute URLs under the public base URL (no trailing slash)."""

    base: str
    site: str = ""

    def post_image(self, post_id: str) -> str:
        return self.base + POST_IMAGE_PATH.format(post_id=post_id)

    def slide_png(self, post_id: str, number: int) -> str:
        return f"{self.base}/posts/{post_id}/{number}.png"

    def slide_jpeg(self, post_id: str, number: int) -> str:
        return f"{self.base}/posts/{post_id}/{number}.jpg"

    def approval(self, token: str) -> str:
        return self.base + APPROVAL_PATH.format(token=token)

    def kit(self, token: str) -> str:
        return self.base + KIT_PATH.format(token=token)

    def upload(self, token: str) -> str:
        return self.base + UPLOAD_PATH.format(token=token)

    @property
    def podcast_page(self) -> str:
        return self.base + PAGE_PATH

    @property
    def feed(self) -> str:
        return self.base + FEED_PATH

    @property
    def cover(self) -> str:
        return self.base + COVER_PATH

    def episode_page(self, episode_id: str) -> str:
        return self.base + EPISODE_PAGE_PATH.format(episode_id=episode_id)

    def episode_cover(self, episode_id: str, extension: str) -> str:
        return self.base + EPISODE_COVER_PATH.format(episode_id=episode_id, extension=extension)

    def chapters(self, episode_id: str) -> str:
        return self.base + CHAPTERS_PATH.format(episode_id=episode_id)

    def transcript(self, episode_id: str, extension: str) -> str:
        return self.base + TRANSCRIPT_PATH.format(episode_id=episode_id, extension=extension)

    def audio(self, audio_id: str, extension: str) -> str:
        return self.base + AUDIO_PATH.format(audio_id=audio_id, extension=extension)

    def presentation(self, company_id: str) -> str | None:
        """The company's presentation on the project website, if one is configured."""
        if not self.site:
            return None
        return self.site.rstrip("/") + PRESENTATION_PATH.format(company_id=company_id)
