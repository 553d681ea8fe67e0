"""The podcast's web page: what listeners see at the channel's link instead of a 404.

Pure: the channel and the episodes in, HTML bytes out. The feed's episodes (published,
newest first) so that page and feed never disagree. Jinja2 autoescapes every value:
titles and descriptions come from staff, and `<b>&` must arrive as text. Every value goes
through `diko_shared.text.clean` (`finalize`): no control character stored before the
contract refused it reaches the page. Days are told in Berlin, like every date staff and
listeners read: 23:30 UTC on the 26th is the 27th.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from diko_media.podcast.feed import Channel, in_feed
from diko_shared.contract.media import Episode
from diko_shared.german import NBSP, long_date
from diko_shared.text import finalize

CONTENT_TYPE = "text/html; charset=utf-8"
BERLIN = ZoneInfo("Europe/Berlin")

ENVIRONMENT = Environment(
    loader=PackageLoader("diko_media.podcast", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=True),
    undefined=StrictUndefined,
    finalize=finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class EpisodeView:
    """One episode as the page shows it."""

    episode_id: str
    title: str
    number: int | None
    published: str
    published_iso: str
    duration: str
    description: str
    audio_url: str
    audio_type: str


def render_page(channel: Channel, episodes: Iterable[Episode]) -> bytes:
    """The page, UTF-8 encoded; the same episodes always give the same bytes (the ETag)."""
    views = [_view(episode) for episode in in_feed(episodes)]
    html = ENVIRONMENT.get_template("podcast.html").render(channel=channel, episodes=views)
    return html.encode()


def berlin_day(moment: datetime) -> date:
    """The day `moment` falls on in Berlin (a naive time is UTC, as the database keeps it)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(BERLIN).date()


def berlin_date(moment: datetime) -> str:
    """`27. November 2026`, as german.py writes days (day and month kept on one line)."""
    return long_date(berlin_day(moment), space=NBSP)


def minutes(seconds: int) -> str:
    """`29 Minuten` for 1769 s: how long an episode runs, to the nearest minute."""
    count = max(1, round(seconds / 60))
    return f"{count}{NBSP}Minute" if count == 1 else f"{count}{NBSP}Minuten"


def _view(episode: Episode) -> EpisodeView:
    published = episode.published_at
    if published is None:
        raise ValueError("a published episode has a publication time")
    return EpisodeView(
        episode_id=episode.episode_id,
        title=episode.title,
        number=episode.episode_number,
        published=berlin_date(published),
        published_iso=berlin_day(published).isoformat(),
        duration=minutes(episode.duration_s),
        description=episode.description.strip(),
        audio_url=episode.audio_url,
        audio_type=episode.audio_type,
    )
