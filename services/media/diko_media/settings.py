"""Settings of the media service: the platform's, its port, and the podcast channel."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field, SecretStr

from diko_shared.settings import ServiceSettings

PODCAST_DESCRIPTION = (
    "Im Podcast „DIKO trifft…“ erzählen Betriebe aus der Altmark, wie sie ausbilden und "
    "was ihre Azubis bei ihnen lernen. Netzwerkpartner stellen ihre Weiterbildungs- und "
    "Beratungsangebote vor. Für alle, die in der Altmark eine Ausbildung suchen oder "
    "anbieten – vom Netzwerk DIKO Altmark."
)

IMPRESSUM = (
    "Angaben gemäß § 5 DDG\n\nDIKO Altmark – Netzwerk für Ausbildung in der Altmark\n"
    "Der Betreiber trägt hier Anschrift, Vertretungsberechtigte, Kontakt und "
    "Registereintrag ein (Einstellung DIKO_SITE_IMPRESSUM)."
)
PRIVACY = (
    "Diese Website setzt keine Cookies, lädt nichts von fremden Servern und enthält "
    "weder Werbung noch Tracking.\n\nBeim Aufruf einer Seite verarbeitet der Webserver "
    "Ihre IP-Adresse, um die Seite auszuliefern. Betriebe erscheinen hier nur, wenn sie "
    "eingewilligt haben; ein Widerruf nimmt ihre Seite von der Website.\n\n"
    "Der Betreiber trägt hier Verantwortlichen, Zwecke, Rechtsgrundlagen und Ihre Rechte "
    "ein (Einstellung DIKO_SITE_PRIVACY)."
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
    podcast_guid: str = Field(
        "",
        pattern=r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$",
        description="podcast:guid; empty: the UUIDv5 of the feed URL (set it before moving "
        "the feed to another address, so that the podcast keeps its identity)",
    )
    podcast_locked: bool = Field(
        True, description="podcast:locked: other platforms may not import the feed"
    )
    podcast_region: str = Field(
        "Altmark", description="podcast:location of the channel: the region it is about"
    )

    link_secret: SecretStr = Field(
        min_length=32,
        description="Signs the approval, kit and upload links media hands out; keep it secret",
    )
    post_link_ttl_days: float = Field(
        14.0, gt=0, le=365, description="How long a post's approval and kit links stay valid"
    )
    upload_link_ttl_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="How long an episode's upload link stays valid"
    )
    audio_max_bytes: int = Field(
        500_000_000, ge=1_000_000, description="Largest audio file media takes (upload or URL)"
    )
    image_max_bytes: int = Field(
        10_000_000, ge=100_000, description="Largest cover, logo or company photo media takes"
    )
    fetch_private_hosts: bool = Field(
        False,
        description="Whether media may fetch audio and images from loopback or private "
        "addresses (a checkout, tests); never in production",
    )
    site_url: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="The project website; the episode page links a guest's company to its "
        "presentation there (/betriebe/<company id>) when it consented; empty: no link",
    )

    site_dir: str = Field(
        "",
        description="Where the website is built (`current` links to the served build; in "
        "compose a volume nginx serves); empty: a directory under the system's temp dir",
    )
    site_name: str = Field("DIKO Altmark", description="The website's name in titles and tags")
    site_contact_email: str = Field(
        "kontakt@diko.example",
        description="The network's address on the website: applicants write here when a "
        "company named no contact person; set it in production",
    )
    site_registration_url: str = Field(
        "",
        pattern=r"^((https?://|/)\S*)?$",
        description="Where the website's „Ich suche eine Ausbildung“ leads: matching's "
        "registration form (its /bewerbung), absolute, or a path on the site's own host "
        "where a web server routes it to matching (compose's nginx: /bewerbung); empty: no "
        "link",
    )
    site_impressum: str = Field(
        IMPRESSUM, description="The Impressum's text (paragraphs apart by an empty line)"
    )
    site_privacy: str = Field(
        PRIVACY, description="The Datenschutzerklärung's text (paragraphs apart by an empty line)"
    )

    instagram_api_url: str = Field(
        "https://graph.instagram.com/v24.0",
        pattern=r"^https?://\S+$",
        description="The Instagram Graph API with its version (the test double on loopback "
        "under make run and in tests)",
    )
    instagram_user_id: str = Field(
        "", description="The Instagram professional account that publishes (IG user id)"
    )
    instagram_token: SecretStr = Field(
        SecretStr(""), description="Its access token; empty: posts are not published"
    )
    instagram_status_poll_s: float = Field(
        30.0, gt=0, le=3600, description="How soon media asks again about a container in progress"
    )
    instagram_retry_s: float = Field(
        900.0, gt=0, description="How long media waits before trying again after a rate limit"
    )
    instagram_max_attempts: int = Field(
        6, ge=1, le=50, description="Attempts at one post before it fails for good"
    )

    @property
    def site_root(self) -> str:
        """The website's address: DIKO_SITE_URL, or media's own /site."""
        return (self.site_url or self.base_url + "/site").rstrip("/")

    @property
    def site_directory(self) -> Path:
        if self.site_dir:
            return Path(self.site_dir)
        return Path(tempfile.gettempdir()) / f"diko-media-site-{self.mongo_database or 'media'}"

    @property
    def base_url(self) -> str:
        """Where staff and podcast apps reach this service: absolute links start here."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "localhost" if self.http_host in ("", "0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.http_port}"
