"""The media service's rules, without I/O: what a post says, and what an episode becomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from diko_media.posts import caption
from diko_media.posts.layouts import AZUBI_GESUCHT
from diko_shared.contract.companies import PositionOpened
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.media import CreateEpisode, Episode, EpisodePublished, PostKind
from diko_shared.messaging.errors import NotFound


@dataclass(frozen=True)
class PostDraft:
    """A post before it is stored: the layout's fields, the caption and its hashtags."""

    post_id: str
    kind: PostKind
    layout: str
    company_id: str
    position_id: str | None
    fields: Mapping[str, str]
    caption: str
    hashtags: tuple[str, ...]
    created_at: datetime


def azubi_gesucht(position: PositionOpened, *, post_id: str, created_at: datetime) -> PostDraft:
    """The "Azubi gesucht" post announcing an open training position."""
    occupation = position.occupation.name
    hashtags = caption.azubi_hashtags(occupation, position.town)
    text = caption.azubi_caption(
        company=position.company_name,
        occupation=occupation,
        town=position.town,
        start=position.start_date,
        places=position.places,
        hashtags=hashtags,
    )
    fields = {
        "company": position.company_name,
        "occupation": occupation,
        "town": position.town,
        "start": caption.start_phrase(position.start_date),
    }
    return PostDraft(
        post_id=post_id,
        kind="azubi_gesucht",
        layout=AZUBI_GESUCHT.name,
        company_id=position.company_id,
        position_id=position.position_id,
        fields=fields,
        caption=text,
        hashtags=tuple(hashtags),
        created_at=created_at,
    )


def new_episode(data: CreateEpisode, *, episode_id: str) -> Episode:
    """A draft episode: stored, answerable, but not in the feed until it is published."""
    return Episode(episode_id=episode_id, status="draft", published_at=None, **data.model_dump())


def announcement(episode: Episode, *, feed_url: str, page_url: str) -> EpisodePublished:
    """The event that tells the other services an episode is in the feed.

    It carries what they tell people about it (description, audio, length, the podcast's
    page), so that none of them has to ask media back, and none fails while media is down.
    """
    if episode.published_at is None:
        raise ValueError(f"episode {episode.episode_id} is not published")
    return EpisodePublished(
        episode_id=episode.episode_id,
        title=episode.title,
        company_id=episode.company_id,
        feed_url=feed_url,
        published_at=episode.published_at,
        description=episode.description,
        audio_url=episode.audio_url,
        duration_s=episode.duration_s,
        page_url=page_url,
    )


def unknown_post(post_id: str) -> NotFound:
    """The answer about a post media does not have, in German like every service's answers."""
    return NotFound(
        f"Einen Post {post_id} gibt es nicht.",
        [ErrorDetail(field="data.post_id", problem="unbekannter Post")],
    )


def unknown_episode(episode_id: str) -> NotFound:
    """The answer about a podcast episode media does not have."""
    return NotFound(
        f"Eine Podcastfolge {episode_id} gibt es nicht.",
        [ErrorDetail(field="data.episode_id", problem="unbekannte Podcastfolge")],
    )
