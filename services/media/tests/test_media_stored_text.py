"""An episode stored before the contract refused control characters breaks nothing.

One character XML 1.0 forbids, in one episode's title or description, made the whole feed
unparseable for every podcast app, for good: nothing could remove the episode. Such an
episode is stored here directly in the database, as data from before the rule would be,
and the feed still parses with libxml2, the page and the post image still render.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from lxml import etree
from media_harness import media_env
from pymongo import AsyncMongoClient

from diko_media import store
from diko_media.graphics.render import printable
from diko_media.podcast.feed import build_feed
from diko_media.podcast.page import render_page
from diko_shared import text
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from media_samples import CHANNEL, document, listing

#: What once got into text: C0 and C1 controls, DEL, non-characters (BSON cannot hold a
#: lone surrogate, so none can have been stored).
POISON = "\x01\x08\x0b\x0c\x1b\x7f\x85\x9f\ufdd0\ufffe\uffff\U0010ffff"


@pytest.fixture(scope="module")
def stack_slice() -> Iterator[SessionStack]:
    private = SessionStack.create()
    yield private
    private.destroy()


@pytest.fixture(scope="module")
def media(stack_slice: SessionStack) -> Iterator[ServiceProcess]:
    port = free_port()
    env = media_env(stack_slice, f"http://127.0.0.1:{port}")
    process = ServiceProcess("media-stored-text", "diko_media", port, env)
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


def poisoned(value: str) -> str:
    """`value` with every poisoned character after its first word."""
    first, _, rest = value.partition(" ")
    return f"{first}{POISON} {rest}"


async def test_a_poisoned_episode_in_the_database_leaves_feed_and_page_whole(
    media: ServiceProcess,
    stack_slice: SessionStack,
    mongo: AsyncMongoClient,
    web: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:6]
    title = f"DIKO trifft die Tischlerei Müller {tag}"
    description = f"Jana Müller erzählt\r\nvon der Ausbildung {tag}."
    stored = {
        **document(3),
        "_id": f"epi_{uuid.uuid4().hex[:20]}",
        "title": poisoned(title),
        "description": poisoned(description) + "\x00",
        "published_at": datetime(2026, 11, 27, 9, tzinfo=UTC),
        "created_at": datetime.now(UTC),
    }
    assert stored["title"] != title
    await mongo[stack_slice.database("media")][store.EPISODES].insert_one(stored)

    feed = await web.get(f"{media.base_url}/podcast/feed.xml")
    assert feed.status_code == 200
    root = etree.fromstring(feed.content)  # libxml2 refuses what XML 1.0 forbids
    (item,) = root.findall("channel/item")
    assert item.findtext("title") == title
    assert item.findtext("description") == "Jana Müller erzählt\nvon der Ausbildung " + tag + "."

    page = await web.get(f"{media.base_url}/podcast")
    assert page.status_code == 200
    assert title in page.text
    assert text.forbidden(page.text) is None


def test_the_feed_writer_drops_what_xml_cannot_carry_from_every_text_and_link() -> None:
    dirty = document(  # as stored before the rule
        5,
        title=f"Folge{POISON} fünf",
        description=f"Über{POISON} Holz",
        audio=None,
        audio_url=f"https://media.diko.example/audio/5{POISON}.mp3",
        audio_bytes=100,
        audio_type="audio/mpeg",
        duration_s=60,
        persons=[{"name": f"Jana{POISON} Müller", "role": "host"}],
    )
    body = build_feed(CHANNEL, listing([dirty]))
    root = etree.fromstring(body)
    item = root.find("channel/item")
    assert item is not None
    assert item.findtext("title") == "Folge fünf"
    assert item.findtext("description") == "Über Holz"
    assert item.find("enclosure").get("url") == "https://media.diko.example/audio/5.mp3"
    assert item.findtext("{https://podcastindex.org/namespace/1.0}person") == "Jana Müller"
    assert text.forbidden(body.decode()) is None


def test_the_page_and_the_post_image_text_drop_it_too() -> None:
    dirty = document(6, title=f"Folge{POISON} sechs", description=f"Über{POISON} Holz")
    html = render_page(CHANNEL, listing([dirty])).decode()
    assert "Folge sechs" in html
    assert text.forbidden(html) is None
    assert printable(f"Azubi{POISON} gesucht", "bold") == "Azubi gesucht"


def test_without_cleaning_the_feed_would_not_parse() -> None:
    """The check above can fail: libxml2 refuses a feed with one such character."""
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(b'<?xml version="1.0" encoding="UTF-8"?><rss><t>a\x1bb</t></rss>')
