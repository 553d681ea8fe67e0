"""The podcast feed: RSS 2.0 with the iTunes tags that Apple Podcasts and Spotify require.

Pure: it turns the channel's description and the episodes into bytes. Only published
episodes appear, newest first; every link is absolute; the guid of an episode is its id,
so that podcast apps never list an episode twice when its title or audio changes. Every
text and attribute goes through `diko_shared.text.clean`: one character XML 1.0 forbids,
in an episode stored before the contract refused it, would break the feed for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree.ElementTree import Element, SubElement, indent, register_namespace, tostring

from diko_shared.contract.media import Episode
from diko_shared.text import clean

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/rss+xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

register_namespace("itunes", ITUNES)
register_namespace("atom", ATOM)


@dataclass(frozen=True)
class Channel:
    """What the feed says about the podcast as a whole."""

    title: str
    description: str
    link: str
    feed_url: str
    image_url: str
    author: str
    owner_name: str
    owner_email: str
    category: str
    subcategory: str
    explicit: bool
    copyright: str
    language: str = "de"


def in_feed(episodes: Iterable[Episode]) -> list[Episode]:
    """The published episodes, newest first (by id when two share a time, for stable output)."""
    published = [e for e in episodes if e.status == "published" and e.published_at is not None]
    published.sort(key=lambda e: e.episode_id, reverse=True)
    published.sort(key=lambda e: _utc(e.published_at), reverse=True)
    return published


def build_feed(channel: Channel, episodes: Iterable[Episode]) -> bytes:
    """The RSS document, UTF-8 encoded, with the XML declaration Apple asks for."""
    items = in_feed(episodes)
    rss = Element("rss", {"version": "2.0"})
    node = SubElement(rss, "channel")
    _describe_channel(node, channel, items)
    for episode in items:
        _item(node, episode)
    indent(rss)
    return XML_DECLARATION + tostring(rss, encoding="unicode").encode()


def _describe_channel(node: Element, channel: Channel, items: list[Episode]) -> None:
    _text(node, "title", channel.title)
    _text(node, "link", channel.link)
    _text(node, "description", channel.description)
    _text(node, "language", channel.language)
    _text(node, "copyright", channel.copyright)
    _text(node, "generator", "diko-media")
    if items:
        _text(node, "lastBuildDate", rfc822(items[0].published_at))
    _node(
        node,
        _atom("link"),
        {"href": channel.feed_url, "rel": "self", "type": CONTENT_TYPE.split(";")[0]},
    )
    image = SubElement(node, "image")
    _text(image, "url", channel.image_url)
    _text(image, "title", channel.title)
    _text(image, "link", channel.link)
    _node(node, _itunes("image"), {"href": channel.image_url})
    category = _node(node, _itunes("category"), {"text": channel.category})
    if channel.subcategory:
        _node(category, _itunes("category"), {"text": channel.subcategory})
    _text(node, _itunes("explicit"), _flag(channel.explicit))
    _text(node, _itunes("author"), channel.author)
    owner = SubElement(node, _itunes("owner"))
    _text(owner, _itunes("name"), channel.owner_name)
    _text(owner, _itunes("email"), channel.owner_email)
    _text(node, _itunes("type"), "episodic")


def _item(channel: Element, episode: Episode) -> None:
    item = SubElement(channel, "item")
    _text(item, "title", episode.title)
    _text(item, "description", episode.description)
    _node(
        item,
        "enclosure",
        {"url": episode.audio_url, "length": str(episode.audio_bytes), "type": episode.audio_type},
    )
    _text(item, "guid", episode.episode_id).set("isPermaLink", "false")
    _text(item, "pubDate", rfc822(episode.published_at))
    _text(item, _itunes("title"), episode.title)
    _text(item, _itunes("duration"), str(episode.duration_s))
    _text(item, _itunes("explicit"), _flag(episode.explicit))
    _text(item, _itunes("episodeType"), "full")
    if episode.episode_number is not None:
        _text(item, _itunes("episode"), str(episode.episode_number))
    if episode.season is not None:
        _text(item, _itunes("season"), str(episode.season))
    if episode.image_url:
        _node(item, _itunes("image"), {"href": episode.image_url})


def rfc822(moment: datetime | None) -> str:
    """`Sun, 01 Aug 2027 08:00:00 GMT`: the date format RSS 2.0 prescribes."""
    return format_datetime(_utc(moment), usegmt=True)


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        raise ValueError("a published episode has a publication time")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _text(parent: Element, tag: str, text: str) -> Element:
    child = SubElement(parent, tag)
    child.text = clean(text)
    return child


def _node(parent: Element, tag: str, attributes: dict[str, str]) -> Element:
    return SubElement(parent, tag, {name: clean(value) for name, value in attributes.items()})


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _itunes(tag: str) -> str:
    return f"{{{ITUNES}}}{tag}"


def _atom(tag: str) -> str:
    return f"{{{ATOM}}}{tag}"
