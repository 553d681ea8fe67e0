"""Messages owned by the media service: podcast episodes and Instagram posts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import CompanyId, EpisodeId, Name, PositionId, PostId, Text, Url

OWNER = "media"

PostKind = Literal["azubi_gesucht", "success", "episode"]
PostStatus = Literal["draft", "approved", "rejected", "published"]
AudioType = Literal["audio/mpeg", "audio/mp4", "audio/x-m4a"]


class GetPost(Payload):
    model_config = examples({"post_id": "pst_0123456789abcdef0123"})

    post_id: PostId


class Post(Payload):
    model_config = examples(
        {
            "post_id": "pst_0123456789abcdef0123",
            "kind": "azubi_gesucht",
            "status": "draft",
            "company_id": "cmp_0123456789abcdef0123",
            "position_id": "pos_0123456789abcdef0123",
            "caption": "Azubi gesucht in Stendal! #Ausbildung #Altmark #AzubiGesucht",
            "hashtags": ["#Ausbildung", "#Altmark", "#AzubiGesucht", "#Tischler", "#Stendal"],
            "image_url": "https://media.diko.example/posts/pst_0123456789abcdef0123/image.png",
            "image_width": 1080,
            "image_height": 1350,
            "created_at": "2026-11-26T10:00:00Z",
        }
    )

    post_id: PostId
    kind: PostKind
    status: PostStatus
    company_id: CompanyId
    position_id: PositionId | None = None
    caption: str
    hashtags: list[str]
    image_url: str
    image_width: int
    image_height: int
    created_at: datetime


class PostDrafted(Payload):
    model_config = examples(
        {
            "post_id": "pst_0123456789abcdef0123",
            "kind": "azubi_gesucht",
            "company_id": "cmp_0123456789abcdef0123",
            "position_id": "pos_0123456789abcdef0123",
            "image_url": "https://media.diko.example/posts/pst_0123456789abcdef0123/image.png",
            "caption": "Azubi gesucht! … #Ausbildung #Altmark #AzubiGesucht",
        }
    )

    post_id: PostId
    kind: PostKind
    company_id: CompanyId
    position_id: PositionId | None = None
    image_url: str
    caption: str


class CreateEpisode(Payload):
    """Create a podcast episode (not yet in the feed)."""

    model_config = examples(
        {
            "title": "DIKO trifft… die Tischlerei Müller",
            "description": "Jana Müller erzählt, wie ihr Betrieb ausbildet.",
            "audio_url": "https://media.diko.example/podcast/folge-22.mp3",
            "audio_bytes": 28311552,
            "audio_type": "audio/mpeg",
            "duration_s": 1769,
            "company_id": "cmp_0123456789abcdef0123",
            "episode_number": 22,
        }
    )

    title: Name
    description: Text
    audio_url: Url
    audio_bytes: Annotated[int, Field(ge=1)]
    audio_type: AudioType = "audio/mpeg"
    duration_s: Annotated[int, Field(ge=1, le=24 * 3600)]
    company_id: CompanyId | None = None
    episode_number: Annotated[int, Field(ge=1)] | None = None
    season: Annotated[int, Field(ge=1)] | None = None
    explicit: bool = False
    image_url: Url | None = None


class EpisodeRef(Payload):
    model_config = examples({"episode_id": "epi_0123456789abcdef0123"})

    episode_id: EpisodeId


class PublishEpisode(Payload):
    model_config = examples({"episode_id": "epi_0123456789abcdef0123"})

    episode_id: EpisodeId
    published_at: AwareDatetime | None = Field(None, description="Defaults to now")


class GetEpisode(Payload):
    model_config = examples({"episode_id": "epi_0123456789abcdef0123"})

    episode_id: EpisodeId


class Episode(Payload):
    model_config = examples(
        {
            "episode_id": "epi_0123456789abcdef0123",
            "title": "DIKO trifft… die Tischlerei Müller",
            "description": "Jana Müller erzählt, wie ihr Betrieb ausbildet.",
            "audio_url": "https://media.diko.example/podcast/folge-22.mp3",
            "audio_bytes": 28311552,
            "audio_type": "audio/mpeg",
            "duration_s": 1769,
            "company_id": "cmp_0123456789abcdef0123",
            "episode_number": 22,
            "explicit": False,
            "status": "published",
            "published_at": "2026-11-26T10:00:00Z",
        }
    )

    episode_id: EpisodeId
    title: Name
    description: Text
    audio_url: Url
    audio_bytes: int
    audio_type: AudioType
    duration_s: int
    company_id: CompanyId | None = None
    episode_number: int | None = None
    season: int | None = None
    explicit: bool
    image_url: Url | None = None
    status: Literal["draft", "published"]
    published_at: datetime | None = None


class EpisodePublished(Payload):
    """An episode appeared in the feed, with what a reader needs to tell people about it.

    The description, audio, length and podcast page travel with the event, so a consumer
    need not ask media (`episode.get`) and keeps working while media is down. They came
    later and are optional: an event from an older media, or one queued before, lacks them.
    """

    model_config = examples(
        {
            "episode_id": "epi_0123456789abcdef0123",
            "title": "DIKO trifft… die Tischlerei Müller",
            "company_id": "cmp_0123456789abcdef0123",
            "feed_url": "https://media.diko.example/podcast/feed.xml",
            "published_at": "2026-11-26T10:00:00Z",
            "description": "Jana Müller erzählt, wie ihr Betrieb ausbildet.",
            "audio_url": "https://media.diko.example/podcast/folge-22.mp3",
            "duration_s": 1769,
            "page_url": "https://media.diko.example/podcast",
        }
    )

    episode_id: EpisodeId
    title: Name
    company_id: CompanyId | None = None
    feed_url: str
    published_at: datetime
    description: Text | None = Field(None, description="What the episode is about")
    audio_url: Url | None = Field(None, description="The audio file, the feed's enclosure")
    duration_s: Annotated[int, Field(ge=1, le=24 * 3600)] | None = Field(
        None, description="How long the episode runs, in seconds"
    )
    page_url: Url | None = Field(
        None, description="The podcast's web page for listeners (the feed's channel link)"
    )


CATALOGUE.query("post.get", OWNER, GetPost, Post, "A post with its caption and image URL.")
CATALOGUE.event("post.drafted", OWNER, PostDrafted, "A post was drafted and awaits approval.")
CATALOGUE.command("episode.create", OWNER, CreateEpisode, EpisodeRef, "Create a podcast episode.")
CATALOGUE.command(
    "episode.publish", OWNER, PublishEpisode, Episode, "Put an episode into the podcast feed."
)
CATALOGUE.query("episode.get", OWNER, GetEpisode, Episode, "An episode.")
CATALOGUE.event(
    "episode.published", OWNER, EpisodePublished, "An episode appeared in the podcast feed."
)

CATALOGUE.reacts(OWNER, "position.opened")
