"""The podcast feed built from episodes, without a server: checked with lxml against
Apple's requirements and the Podcasting 2.0 namespace (feed_rules), read by a feed
reader, and the consent rules for guests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import feedparser
from feed_rules import NS, problems
from lxml import etree

from diko_media.podcast import episodes
from diko_media.podcast.feed import GUID_NAMESPACE, build_feed, podcast_guid
from media_samples import (
    BASE,
    CHANNEL,
    COMPANY,
    CONTACT,
    LINKS,
    SITE,
    VTT,
    company,
    document,
    listing,
)

GUEST = {"name": "Jana Müller", "role": "guest", "contact_id": CONTACT, "company_id": COMPANY}
HOST = {"name": "Birte Albrecht", "role": "host"}


def full(number: int = 5) -> dict:
    """An episode with everything: notes, persons, chapters, transcript, season, company."""
    return document(
        number,
        show_notes='<p>Mehr bei <a href="https://tischlerei.example">der Tischlerei</a>.</p>',
        season=2,
        company_id=COMPANY,
        persons=[HOST, GUEST],
        chapters=[{"start_s": 0, "title": "Begrüßung"}, {"start_s": 95.5, "title": "Ausbildung"}],
        transcript={"format": "text/vtt", "text": VTT},
    )


def tree(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def test_a_feed_with_every_tag_meets_apple_and_podcasting_2_0() -> None:
    body = build_feed(CHANNEL, listing([full(), document(1), document(2, explicit=True)],
                                       [company(podcast="given", website="given")]))  # fmt: skip
    assert problems(body) == []
    assert not feedparser.parse(body).bozo


def test_the_rules_catch_what_apple_and_the_namespace_would_refuse() -> None:
    """The checker can fail: a feed broken in each way is reported, rule by rule."""
    good = build_feed(CHANNEL, listing([full()], [company(podcast="given")]))
    broken = (
        good.replace(b"cover.png", b"cover.gif")
        .replace(b"<itunes:duration>1769", b"<itunes:duration>-3")
        .replace(b'type="text/vtt"', b'type="text/x-unknown"')
        .replace(b'role="guest"', b'role="visitor"')
        .replace(b'<podcast:locked owner="podcast@diko.example">yes', b"<podcast:locked>maybe")
    )
    found = " | ".join(problems(broken))
    for expected in (
        "itunes:image href must be a .jpg/.png",
        "itunes:duration must be whole seconds",
        "podcast:transcript type",
        "podcast:person role 'visitor'",
        "podcast:locked must be yes or no",
    ):
        assert expected in found


def test_the_channel_has_the_podcasting_2_0_identity() -> None:
    channel = tree(build_feed(CHANNEL, [])).find("channel")
    expected = str(uuid.uuid5(GUID_NAMESPACE, "media.diko.example/podcast/feed.xml"))
    assert (
        channel.findtext("podcast:guid", namespaces=NS)
        == expected
        == podcast_guid(f"{BASE}/podcast/feed.xml/")
    )
    locked = channel.find("podcast:locked", NS)
    assert (locked.text, locked.get("owner")) == ("yes", "podcast@diko.example")
    assert channel.findtext("podcast:location", namespaces=NS) == "Altmark"


def test_an_item_carries_notes_persons_chapters_transcript_location_season() -> None:
    item = tree(build_feed(CHANNEL, listing([full()], [company(podcast="given", website="given")])))
    item = item.find("channel/item")
    assert item.findtext("link") == f"{BASE}/podcast/folgen/epi_{5:020x}"
    encoded = item.findtext("content:encoded", namespaces=NS)
    assert 'href="https://tischlerei.example"' in encoded
    assert 'rel="noopener noreferrer nofollow"' in encoded
    persons = item.findall("podcast:person", NS)
    assert [(p.text, p.get("role"), p.get("group")) for p in persons] == [
        ("Birte Albrecht", "host", "cast"),
        ("Jana Müller", "guest", "cast"),
    ]
    assert persons[1].get("href") == f"{SITE}/betriebe/{COMPANY}"
    transcript = item.find("podcast:transcript", NS)
    assert transcript.attrib == {
        "url": f"{BASE}/podcast/folgen/epi_{5:020x}/transkript.vtt",
        "type": "text/vtt",
        "language": "de",
        "rel": "captions",
    }
    chapters = item.find("podcast:chapters", NS)
    assert chapters.get("url") == f"{BASE}/podcast/folgen/epi_{5:020x}/kapitel.json"
    assert chapters.get("type") == "application/json+chapters"
    location = item.find("podcast:location", NS)
    assert location.text == "Stendal"
    assert location.get("geo").startswith("geo:52.")
    assert item.findtext("podcast:season", namespaces=NS) == "2"
    assert item.findtext("podcast:episode", namespaces=NS) == "5"
    assert item.findtext("itunes:season", namespaces=NS) == "2"
    enclosure = item.find("enclosure")
    assert enclosure.get("url") == f"{BASE}/podcast/audio/aud_{5:020x}.mp3"
    assert enclosure.get("length") == str(28_311_552 + 5)


def test_a_guest_appears_only_with_the_contacts_podcast_consent() -> None:
    def guests(consent: str | None) -> list[str]:
        body = build_feed(CHANNEL, listing([full()], [company(podcast=consent)]))
        return [p.text for p in tree(body).findall("channel/item/podcast:person", NS)]

    assert guests("given") == ["Birte Albrecht", "Jana Müller"]
    assert guests("withdrawn") == ["Birte Albrecht"]
    assert guests(None) == ["Birte Albrecht"]


def test_a_guests_company_links_to_its_presentation_only_with_its_website_consent() -> None:
    def href(website: str | None) -> str | None:
        body = build_feed(CHANNEL, listing([full()], [company(podcast="given", website=website)]))
        return tree(body).findall("channel/item/podcast:person", NS)[1].get("href")

    assert href("given") == f"{SITE}/betriebe/{COMPANY}"
    assert href("withdrawn") is None


def test_only_published_episodes_with_audio_newest_first() -> None:
    documents = [
        document(1),
        document(3),
        document(2),
        document(4, status="scheduled", published_at=None),
        document(6, status="draft", published_at=None),
        document(7, audio=None),
    ]
    items = tree(build_feed(CHANNEL, listing(documents))).findall("channel/item")
    assert [i.findtext("guid") for i in items] == [f"epi_{n:020x}" for n in (3, 2, 1)]


def test_titles_and_descriptions_are_escaped_and_the_xml_stays_well_formed() -> None:
    body = build_feed(
        CHANNEL, listing([document(1, title="Müller <b>& Söhne", description="a < b")])
    )
    assert problems(body) == []
    item = tree(body).find("channel/item")
    assert item.findtext("title") == "Müller <b>& Söhne"
    assert item.findtext("description") == "a < b"


def test_an_episode_from_before_media_kept_audio_still_lists() -> None:
    legacy = document(
        1,
        audio=None,
        audio_url="https://cdn.diko.example/folge-1.mp3",
        audio_bytes=123,
        audio_type="audio/mpeg",
        duration_s=60,
    )
    (item,) = listing([legacy])
    assert (item.audio_url, item.audio_bytes, item.duration_s) == (legacy["audio_url"], 123, 60)


def test_an_empty_feed_is_still_valid() -> None:
    assert problems(build_feed(CHANNEL, [])) == []


def test_the_same_episodes_give_the_same_bytes() -> None:
    one = build_feed(CHANNEL, listing([document(1), document(2)]))
    assert one == build_feed(CHANNEL, listing([document(2), document(1)]))


def test_the_announcement_carries_what_the_feed_shows() -> None:
    event = episodes.announcement(full(), LINKS, page_url=f"{BASE}/podcast")
    assert event.audio_url == f"{BASE}/podcast/audio/aud_{5:020x}.mp3"
    assert event.duration_s == 1769
    assert event.published_at == datetime(2026, 11, 5, 8, 30, tzinfo=UTC)
    assert event.feed_url == f"{BASE}/podcast/feed.xml"
