"""Settings of the media service: the platform's, its port, and the podcast channel."""

from __future__ import annotations

from pydantic import Field

from diko_shared.settings import ServiceSettings

PODCAST_DESCRIPTION = (
    "Im Podcast „DIKO trifft…“ erzählen Betriebe aus der Altmark, wie sie ausbilden und "
    "was ihre Azubis bei ihnen lernen. Netzwerkpartner stellen ihre Weiterbildungs- und "
    "Beratungsangebote vor. Für alle, die in der Altmark eine Ausbildung suchen oder "
    "anbieten – vom Netzwerk DIKO Altmark."
)


class MediaSettings(ServiceSettings):
    """`DIKO_*` variables; the podcast's channel is described by `DIKO_PODCAST_*`."""

    http_port: int = Field(8004, description="Port of the images, the feed and the platform pages")

    podcast_title: str = Field("DIKO trifft…", description="The podcast's name")
    podcast_description: str = Field(PODCAST_DESCRIPTION, description="What the podcast is about")
    podcast_author: str = Field("DIKO Altmark", description="itunes:author of the channel")
    podcast_owner_name: str = Field("DIKO Altmark", description="itunes:owner name")
    podcast_owner_email: str = Field(
        "podcast@diko.example",
        description="itunes:owner e-mail: the directories write here; set it in production",
    )
    podcast_category: str = Field("Business", description="Apple Podcasts category")
    podcast_subcategory: str = Field(
        "Careers", description="Apple Podcasts subcategory of the category; empty for none"
    )
    podcast_explicit: bool = Field(False, description="Whether the channel is marked explicit")
    podcast_image_url: str = Field(
        "", description="Cover art (1400–3000 px square); empty: the cover this service renders"
    )
    podcast_link: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="The podcast's web page (http/https, `episode.published` carries it); "
        "empty: the page this service serves at /podcast",
    )
    podcast_copyright: str = Field("© DIKO Altmark", description="Copyright line of the feed")

    @property
    def base_url(self) -> str:
        """Where staff and podcast apps reach this service: absolute links start here."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "localhost" if self.http_host in ("", "0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.http_port}"
