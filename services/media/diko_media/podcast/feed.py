"""The podcast feed: RSS 2.0 with Apple's iTunes tags and the Podcasting 2.0 namespace.

Pure: the channel's description and the listed episodes in, bytes out. The tags follow
what Castopod, the reference podcast host, writes: `podcast:guid` (UUIDv5 of the feed
URL), `podcast:locked` with the owner's e-mail, `podcast:person` for hosts and guests,
`podcast:transcript`, `podcast:chapters`, `podcast:location`, `podcast:season` and
`podcast:episode` beside their iTunes twins; and `content:encoded` with the sanitised
show notes.

Every text and attribute goes through `diko_shared.text.clean`: one character XML 1.0
forbids, in an episode stored before the contract refused it, would break the feed for
good.

Built by hand on the standard library's ElementTree: neither feedgen (its podcast
extension writes the iTunes tags only) nor podgen (no release since 2020) writes the
Podcasting 2.0 namespace, so a library would leave every podcast: tag to us anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree.ElementTree import Element, SubElement, indent, register_namespace, tostring

from diko_media.files.notes import CHAPTERS_TYPE
from diko_media.podcast.episodes import Listed, newest_first
from diko_shared.text import clean

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM = "http://www.w3.org/2005/Atom"
PODCAST = "https://podcastindex.org/namespace/1.0"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
#: The namespace of podcast:guid values (Podcasting 2.0).
GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
CONTENT_TYPE = "application/rss+xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

register_namespace("itunes", ITUNES)
register_namespace("atom", ATOM)
register_namespace("podcast", PODCAST)
register_namespace("content", CONTENT)


def podcast_guid(feed_url: str) -> str:
    """The UUIDv5 of the feed URL without its scheme and trailing slashes (the spec's rule)."""
    bare = feed_url.split("://", 1)[-1].rstrip("/")
    return str(uuid.uuid5(GUID_NAMESPACE, bare))


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
    guid: str = ""
    locked: bool = True
    region: str = ""

    @property
    def podcast_guid(self) -> str:
        return self.guid or podcast_guid(self.feed_url)


def build_feed(channel: Channel, episodes: Iterable[Listed]) -> bytes:
    """The RSS document, UTF-8 encoded, with the XML declaration Apple asks for."""
    items = newest_first(list(episodes))
    rss = Element("rss", {"version": "2.0"})
    node = SubElement(rss, "channel")
    _describe_channel(node, channel, items)
    for episode in items:
        _item(node, channel, episode)
    indent(rss)
    return XML_DECLARATION + tostring(rss, encoding="unicode").encode()


def _describe_channel(node: Element, channel: Channel, items: list[Listed]) -> None:
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
        _ns(ATOM, "link"),
        {"href": channel.feed_url, "rel": "self", "type": CONTENT_TYPE.split(";")[0]},
    )
    image = SubElement(node, "image")
    _text(image, "url", channel.image_url)
    _text(image, "title", channel.title)
    _text(image, "link", channel.link)
    _node(node, _ns(ITUNES, "image"), {"href": channel.image_url})
    category = _node(node, _ns(ITUNES, "category"), {"text": channel.category})
    if channel.subcategory:
        _node(category, _ns(ITUNES, "category"), {"text": channel.subcategory})
    _text(node, _ns(ITUNES, "explicit"), _flag(channel.explicit))
    _text(node, _ns(ITUNES, "author"), channel.author)
    owner = SubElement(node, _ns(ITUNES, "owner"))
    _text(owner, _ns(ITUNES, "name"), channel.owner_name)
    _text(owner, _ns(ITUNES, "email"), channel.owner_email)
    _text(node, _ns(ITUNES, "type"), "episodic")
    _text(node, _ns(PODCAST, "guid"), channel.podcast_guid)
    locked = _text(node, _ns(PODCAST, "locked"), "yes" if channel.locked else "no")
    locked.set("owner", clean(channel.owner_email))
    if channel.region:
        _text(node, _ns(PODCAST, "location"), channel.region)


def _item(node: Element, channel: Channel, episode: Listed) -> None:
    item = SubElement(node, "item")
    _text(item, "title", episode.title)
    _text(item, "link", episode.page_url)
    _text(item, "description", episode.description)
    if episode.show_notes:
        _text(item, _ns(CONTENT, "encoded"), episode.show_notes)
    _node(
        item,
        "enclosure",
        {"url": episode.audio_url, "length": str(episode.audio_bytes), "type": episode.audio_type},
    )
    _text(item, "guid", episode.episode_id).set("isPermaLink", "false")
    _text(item, "pubDate", rfc822(episode.published_at))
    _text(item, _ns(ITUNES, "title"), episode.title)
    _text(item, _ns(ITUNES, "duration"), str(episode.duration_s))
    _text(item, _ns(ITUNES, "explicit"), _flag(episode.explicit))
    _text(item, _ns(ITUNES, "episodeType"), "full")
    if episode.number is not None:
        _text(item, _ns(ITUNES, "episode"), str(episode.number))
        _text(item, _ns(PODCAST, "episode"), str(episode.number))
    if episode.season is not None:
        _text(item, _ns(ITUNES, "season"), str(episode.season))
        _text(item, _ns(PODCAST, "season"), str(episode.season))
    if episode.image_url:
        _node(item, _ns(ITUNES, "image"), {"href": episode.image_url})
    if episode.transcript_url and episode.transcript_type:
        _node(
            item,
            _ns(PODCAST, "transcript"),
            {
                "url": episode.transcript_url,
                "type": episode.transcript_type,
                "language": channel.language,
                "rel": "captions",
            },
        )
    if episode.chapters_url:
        _node(item, _ns(PODCAST, "chapters"), {"url": episode.chapters_url, "type": CHAPTERS_TYPE})
    for person in episode.persons:
        attributes = {"role": person.role, "group": "cast"}
        if person.img:
            attributes["img"] = person.img
        href = person.href or person.company_url
        if href:
            attributes["href"] = href
        person_node = _text(item, _ns(PODCAST, "person"), person.name)
        person_node.attrib.update({k: clean(v) for k, v in attributes.items()})
    if episode.location is not None:
        location = _text(item, _ns(PODCAST, "location"), episode.location.name)
        if episode.location.geo:
            location.set("geo", clean(episode.location.geo))


def rfc822(moment: datetime) -> str:
    """`Sun, 01 Aug 2027 08:00:00 GMT`: the date format RSS 2.0 prescribes."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return format_datetime(aware.astimezone(UTC), usegmt=True)


def _text(parent: Element, tag: str, text: str) -> Element:
    child = SubElement(parent, tag)
    child.text = clean(text)
    return child


def _node(parent: Element, tag: str, attributes: dict[str, str]) -> Element:
    return SubElement(parent, tag, {name: clean(value) for name, value in attributes.items()})


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _ns(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"
