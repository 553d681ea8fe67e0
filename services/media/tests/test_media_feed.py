"""The podcast feed built from episodes: parsed by a feed reader and checked, tag by tag,
against what Apple Podcasts and Spotify require."""

from __future__ import annotations

from xml.etree import ElementTree

import feedparser

from diko_media.domain import announcement
from diko_media.podcast.feed import ATOM, ITUNES, Channel, build_feed, in_feed, rfc822
from diko_media.settings import PODCAST_DESCRIPTION
from diko_shared.contract.media import Episode
from media_samples import BASE, CHANNEL, episode

NS = {"itunes": ITUNES, "atom": ATOM}


EPISODES = [
    episode(1),
    episode(3, season=1, image_url=f"{BASE}/podcast/folge-3.png"),
    episode(2, explicit=True),
    episode(4, status="draft", published_at=None),
]


def parsed(episodes: list[Episode]) -> feedparser.FeedParserDict:
    document = feedparser.parse(build_feed(CHANNEL, episodes))
    assert not document.bozo, document.get("bozo_exception")
    return document


def test_the_feed_is_rss_2_with_the_itunes_namespace() -> None:
    document = parsed(EPISODES)
    assert document.version == "rss20"
    assert document.namespaces["itunes"] == ITUNES
    body = build_feed(CHANNEL, EPISODES)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(body)
    assert root.tag == "rss"
    assert root.get("version") == "2.0"


def test_the_channel_has_every_tag_apple_and_spotify_require() -> None:
    feed = parsed(EPISODES).feed
    assert feed.title == "DIKO trifft…"
    assert feed.link == f"{BASE}/podcast"
    assert feed.subtitle == PODCAST_DESCRIPTION  # feedparser's name for <description>
    assert feed.language == "de"
    assert feed.image.href == f"{BASE}/podcast/cover.png"
    # Apple's values are "true" and "false"; feedparser knows only the older "yes" and
    # "clean", so it reports the tag without a value (the value is checked in the XML below).
    assert "itunes_explicit" in feed
    assert feed.author == "DIKO Altmark"
    assert feed.publisher_detail == {"name": "DIKO Altmark", "email": "podcast@diko.example"}
    assert [t.term for t in feed.tags] == ["Business", "Careers"]
    assert feed.rights == "© DIKO Altmark"


def test_the_channel_tags_in_their_namespaces() -> None:
    channel = ElementTree.fromstring(build_feed(CHANNEL, EPISODES)).find("channel")
    assert channel is not None
    assert channel.find("itunes:image", NS).get("href") == f"{BASE}/podcast/cover.png"
    category = channel.find("itunes:category", NS)
    assert category.get("text") == "Business"
    assert category.find("itunes:category", NS).get("text") == "Careers"
    assert channel.findtext("itunes:explicit", namespaces=NS) == "false"
    assert channel.findtext("itunes:author", namespaces=NS) == "DIKO Altmark"
    assert channel.findtext("itunes:owner/itunes:name", namespaces=NS) == "DIKO Altmark"
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "podcast@diko.example"
    self_link = channel.find("atom:link", NS)
    assert self_link.get("href") == f"{BASE}/podcast/feed.xml"
    assert self_link.get("rel") == "self"
    assert channel.findtext("lastBuildDate") == "Tue, 03 Nov 2026 08:30:00 GMT"


def test_only_published_episodes_newest_first() -> None:
    entries = parsed(EPISODES).entries
    assert [e.title for e in entries] == [
        "DIKO trifft… Folge 3",
        "DIKO trifft… Folge 2",
        "DIKO trifft… Folge 1",
    ]
    assert [e.episode_id for e in in_feed(EPISODES)] == [
        EPISODES[1].episode_id,
        EPISODES[2].episode_id,
        EPISODES[0].episode_id,
    ]


def test_every_item_has_the_required_tags() -> None:
    entries = {e.id: e for e in parsed(EPISODES).entries}
    for source in EPISODES[:3]:
        entry = entries[source.episode_id]
        assert entry.title == source.title
        assert entry.description == source.description
        assert entry.guidislink is False
        (enclosure,) = entry.enclosures
        assert enclosure.href == source.audio_url
        assert enclosure.length == str(source.audio_bytes)
        assert enclosure.type == "audio/mpeg"
        assert entry.published == rfc822(source.published_at)
        assert entry.published_parsed[:6] == source.published_at.timetuple()[:6]
        assert entry.itunes_duration == "1769"
        assert "itunes_explicit" in entry
        assert entry.itunes_episode == str(source.episode_number)


def test_item_tags_in_their_namespaces() -> None:
    channel = ElementTree.fromstring(build_feed(CHANNEL, EPISODES)).find("channel")
    newest = channel.find("item")
    guid = newest.find("guid")
    assert guid.text == EPISODES[1].episode_id
    assert guid.get("isPermaLink") == "false"
    assert newest.findtext("pubDate") == "Tue, 03 Nov 2026 08:30:00 GMT"
    assert newest.findtext("itunes:duration", namespaces=NS) == "1769"
    assert newest.findtext("itunes:explicit", namespaces=NS) == "false"
    explicit = channel.findall("item")[1]
    assert explicit.findtext("itunes:explicit", namespaces=NS) == "true"
    assert newest.findtext("itunes:season", namespaces=NS) == "1"
    assert newest.find("itunes:image", NS).get("href") == f"{BASE}/podcast/folge-3.png"


def test_the_guid_stays_when_the_episode_changes() -> None:
    before = parsed([episode(5)]).entries[0]
    after = parsed([episode(5, title="Neuer Titel", audio_url=f"{BASE}/neu.mp3")]).entries[0]
    assert before.id == after.id == episode(5).episode_id


def test_titles_and_descriptions_are_escaped() -> None:
    tricky = episode(
        7,
        title="Müller & Söhne <GmbH>: „Ausbildung“ ist Trumpf",
        description="Tipps & Tricks für <Bewerbungen> – kurz & knapp",
    )
    body = build_feed(CHANNEL, [tricky])
    assert "Müller &amp; Söhne &lt;GmbH&gt;" in body.decode()
    entry = parsed([tricky]).entries[0]
    assert entry.title == "Müller & Söhne <GmbH>: „Ausbildung“ ist Trumpf"
    item = ElementTree.fromstring(body).find("channel/item")
    assert item.findtext("description") == "Tipps & Tricks für <Bewerbungen> – kurz & knapp"


def test_a_channel_title_with_markup_is_escaped_too() -> None:
    channel = Channel(**{**CHANNEL.__dict__, "title": "Azubis & Betriebe <Altmark>"})
    feed = feedparser.parse(build_feed(channel, [])).feed
    assert feed.title == "Azubis & Betriebe <Altmark>"


def test_an_empty_feed_is_still_valid() -> None:
    document = parsed([])
    assert document.entries == []
    assert document.feed.title == "DIKO trifft…"


def test_the_same_episodes_give_the_same_bytes() -> None:
    assert build_feed(CHANNEL, EPISODES) == build_feed(CHANNEL, list(reversed(EPISODES)))


def test_the_announcement_carries_what_the_feed_shows_of_the_episode() -> None:
    """`episode.published` tells readers what the feed does, so they need not ask media."""
    source = EPISODES[0]
    event = announcement(source, feed_url=CHANNEL.feed_url, page_url=CHANNEL.link)
    (entry,) = [e for e in parsed(EPISODES).entries if e.id == event.episode_id]
    assert event.audio_url == entry.enclosures[0].href == source.audio_url
    assert event.description == entry.description
    assert str(event.duration_s) == entry.itunes_duration
    assert event.title == entry.title
    assert event.page_url == parsed(EPISODES).feed.link
    assert event.feed_url == f"{BASE}/podcast/feed.xml"
    assert event.published_at == source.published_at
