"""What a podcast feed must hold, checked with lxml: Apple Podcasts' requirements for RSS
(its "Podcast RSS feed requirements") and the Podcasting 2.0 namespace's tags as its
specification defines them. `problems(feed)` lists every rule broken (empty: none)."""

from __future__ import annotations

import re
import uuid
from email.utils import parsedate_to_datetime

from lxml import etree

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
ATOM = "http://www.w3.org/2005/Atom"
NS = {"itunes": ITUNES, "podcast": PODCAST, "content": CONTENT, "atom": ATOM}
GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
#: Apple's categories this podcast may use, with their subcategories (a subset).
CATEGORIES = {
    "Business": {"Careers", "Entrepreneurship", "Management", "Marketing", "Non-Profit"},
    "Education": {"Courses", "How To", "Language Learning", "Self-Improvement"},
}
AUDIO_TYPES = {"audio/mpeg", "audio/x-m4a", "audio/mp4", "audio/aac"}
TRANSCRIPT_TYPES = {"text/plain", "text/html", "text/vtt", "application/json",
                    "application/x-subrip", "application/srt"}  # fmt: skip
PERSON_ROLES = {"host", "co-host", "guest", "cover art designer", "producer", "editor"}
GEO = re.compile(r"^geo:-?\d{1,2}(\.\d+)?,-?\d{1,3}(\.\d+)?(,-?\d+(\.\d+)?)?(;u=\d+(\.\d+)?)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _rfc822(value: str | None) -> bool:
    try:
        return value is not None and parsedate_to_datetime(value) is not None
    except (TypeError, ValueError):
        return False


def problems(body: bytes) -> list[str]:
    found: list[str] = []
    root = etree.fromstring(body)
    if root.tag != "rss" or root.get("version") != "2.0":
        return ['the root is not <rss version="2.0">']
    for prefix, uri in NS.items():
        bound = root.nsmap.get(prefix)
        if (bound is None and prefix in ("itunes", "podcast", "atom")) or bound not in (None, uri):
            found.append(f"namespace {prefix} is not bound to {uri}")
    if not body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'):
        found.append("no XML declaration with UTF-8")
    channel = root.find("channel")
    if channel is None:
        return [*found, "no <channel>"]
    found += _channel(channel)
    for index, item in enumerate(channel.findall("item")):
        found += [f"item {index}: {p}" for p in _item(item)]
    return found


def _text(node: etree._Element, path: str) -> str | None:
    child = node.find(path, NS)
    return None if child is None else (child.text or "")


def _channel(channel: etree._Element) -> list[str]:
    found = []
    for tag in ("title", "description", "language", "link"):
        if not _text(channel, tag):
            found.append(f"channel <{tag}> missing or empty")
    image = channel.find("itunes:image", NS)
    href = image.get("href", "") if image is not None else ""
    if not re.match(r"^https?://\S+\.(jpg|jpeg|png)$", href):
        found.append(f"channel itunes:image href must be a .jpg/.png URL, not {href!r}")
    category = channel.find("itunes:category", NS)
    if category is None or category.get("text") not in CATEGORIES:
        found.append("channel itunes:category missing or not an Apple category")
    else:
        for sub in category.findall("itunes:category", NS):
            if sub.get("text") not in CATEGORIES[category.get("text")]:
                found.append(f"subcategory {sub.get('text')!r} not under {category.get('text')}")
    if _text(channel, "itunes:explicit") not in ("true", "false"):
        found.append("channel itunes:explicit must be true or false")
    if not _text(channel, "itunes:author"):
        found.append("channel itunes:author missing")
    email = _text(channel, "itunes:owner/itunes:email")
    if not email or not EMAIL.match(email):
        found.append("channel itunes:owner has no e-mail")
    if _text(channel, "itunes:type") not in ("episodic", "serial"):
        found.append("channel itunes:type must be episodic or serial")
    self_link = channel.find("atom:link[@rel='self']", NS)
    feed_url = self_link.get("href") if self_link is not None else None
    if not feed_url:
        found.append("no atom:link rel=self")
    guid = _text(channel, "podcast:guid")
    try:
        parsed = uuid.UUID(guid or "")
        if parsed.version != 5:
            found.append("podcast:guid is not a UUIDv5")
        bare = (feed_url or "").split("://", 1)[-1].rstrip("/")
        if feed_url and parsed != uuid.uuid5(GUID_NAMESPACE, bare):
            found.append("podcast:guid is not the UUIDv5 of the feed URL")
    except ValueError:
        found.append("podcast:guid missing or not a UUID")
    locked = channel.find("podcast:locked", NS)
    if locked is None or locked.text not in ("yes", "no"):
        found.append("podcast:locked must be yes or no")
    elif not EMAIL.match(locked.get("owner", "")):
        found.append("podcast:locked has no owner e-mail")
    for location in channel.findall("podcast:location", NS):
        found += _location(location)
    return found


def _location(node: etree._Element) -> list[str]:
    found = []
    if not node.text or len(node.text) > 128:
        found.append("podcast:location needs a name of at most 128 characters")
    geo = node.get("geo")
    if geo is not None and not GEO.match(geo):
        found.append(f"podcast:location geo {geo!r} is not a geo: URI")
    return found


def _positive(value: str | None) -> bool:
    return value is not None and value.isdigit() and int(value) > 0


def _item(item: etree._Element) -> list[str]:
    found = []
    if not _text(item, "title"):
        found.append("<title> missing")
    enclosure = item.find("enclosure")
    if enclosure is None:
        found.append("<enclosure> missing")
    else:
        if not re.match(r"^https?://\S+\.(mp3|m4a)$", enclosure.get("url", "")):
            found.append("enclosure url must be an http(s) .mp3 or .m4a")
        if not _positive(enclosure.get("length")):
            found.append("enclosure length must be the file's size in bytes")
        if enclosure.get("type") not in AUDIO_TYPES:
            found.append(f"enclosure type {enclosure.get('type')!r} is not audio")
    guid = item.find("guid")
    if guid is None or not guid.text:
        found.append("<guid> missing")
    if not _rfc822(_text(item, "pubDate")):
        found.append("pubDate is not an RFC 822 date")
    if not _positive(_text(item, "itunes:duration")):
        found.append("itunes:duration must be whole seconds")
    if _text(item, "itunes:explicit") not in ("true", "false"):
        found.append("itunes:explicit must be true or false")
    if _text(item, "itunes:episodeType") not in ("full", "trailer", "bonus"):
        found.append("itunes:episodeType must be full, trailer or bonus")
    for tag in ("itunes:episode", "itunes:season", "podcast:episode", "podcast:season"):
        value = _text(item, tag)
        if value is not None and not _positive(value):
            found.append(f"{tag} must be a positive whole number")
    if (_text(item, "itunes:episode") is None) != (_text(item, "podcast:episode") is None):
        found.append("itunes:episode and podcast:episode differ")
    for transcript in item.findall("podcast:transcript", NS):
        if not transcript.get("url", "").startswith(("http://", "https://")):
            found.append("podcast:transcript needs a url")
        if transcript.get("type") not in TRANSCRIPT_TYPES:
            found.append(f"podcast:transcript type {transcript.get('type')!r} unknown")
    for chapters in item.findall("podcast:chapters", NS):
        if chapters.get("type") != "application/json+chapters" or not chapters.get("url"):
            found.append("podcast:chapters needs a url and type application/json+chapters")
    for person in item.findall("podcast:person", NS):
        if not person.text or len(person.text) > 128:
            found.append("podcast:person needs a name of at most 128 characters")
        if person.get("role", "host").lower() not in PERSON_ROLES:
            found.append(f"podcast:person role {person.get('role')!r} not in the taxonomy")
    for location in item.findall("podcast:location", NS):
        found += _location(location)
    encoded = item.find("content:encoded", NS)
    if encoded is not None and not (encoded.text or "").strip():
        found.append("content:encoded is empty")
    return found
