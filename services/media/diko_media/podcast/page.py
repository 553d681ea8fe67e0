"""The podcast's web pages: the overview at the channel's link and one page per episode.

Pure: the channel and the listed episodes in, HTML bytes out. The feed's episodes
(published, newest first) so that pages and feed never disagree. Jinja2 autoescapes
every value: titles and descriptions come from staff, and `<b>&` must arrive as text,
and through `diko_shared.text.clean` (`finalize`), so no control character stored before
the contract refused it reaches the page;
show notes are HTML, sanitised again before they are marked safe. Days are told in
Berlin, like every date staff and listeners read: 23:30 UTC on the 26th is the 27th.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from diko_media.files.notes import clean_html, timestamp
from diko_media.podcast.episodes import Listed, newest_first
from diko_media.podcast.feed import Channel
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


def _notes(html: str | None) -> Markup:
    return Markup(clean_html(html)) if html else Markup("")


ENVIRONMENT.filters["notes"] = _notes
ENVIRONMENT.filters["timestamp"] = timestamp


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


ENVIRONMENT.filters["berlin_date"] = berlin_date
ENVIRONMENT.filters["berlin_iso"] = lambda moment: berlin_day(moment).isoformat()
ENVIRONMENT.filters["minutes"] = minutes


def render_page(channel: Channel, episodes: Iterable[Listed]) -> bytes:
    """The overview, UTF-8 encoded; the same episodes always give the same bytes (the ETag)."""
    html = ENVIRONMENT.get_template("podcast.html").render(
        channel=channel, episodes=newest_first(list(episodes)), brand_root="brand"
    )
    return html.encode()


def render_episode_page(channel: Channel, episode: Listed) -> bytes:
    """One episode's page: player, show notes, chapters, transcript, guests."""
    html = ENVIRONMENT.get_template("episode.html").render(
        channel=channel, episode=episode, brand_root="../../brand"
    )
    return html.encode()


def render_missing(channel: Channel) -> bytes:
    """What a link to an episode that is not (or not yet) published shows."""
    html = ENVIRONMENT.get_template("missing.html").render(
        channel=channel, brand_root="../../brand"
    )
    return html.encode()
