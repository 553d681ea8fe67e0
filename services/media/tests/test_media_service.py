"""The media service as a real process on the real stack: driven through the bus, its
images, its podcast page and its feed fetched over HTTP."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from xml.etree import ElementTree

import feedparser
import httpx
import pytest
from PIL import Image
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import PositionOpened
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.media import CreateEpisode, GetEpisode, GetPost, PublishEpisode
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing
from harness.bus import Bus, Seen
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

PORT = 18004
BASE = f"http://127.0.0.1:{PORT}"
REACTION_QUEUE = "media.on.position.opened"
NBSP = "\u00a0"
#: Where the channel links instead of the podcast page when `DIKO_PODCAST_LINK` is set.
WEBSITE = "https://www.diko.example/podcast"
LPG = "Landwirtschaftliche Produktions- und Vermarktungsgenossenschaft Altmärkische Wische eG"


@pytest.fixture(scope="module")
def media(stack: SessionStack) -> Iterator[ServiceProcess]:
    env = stack.service_env("media", DIKO_PUBLIC_BASE_URL=BASE)
    process = ServiceProcess("media", "diko_media", PORT, env)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def empty_media() -> Iterator[ServiceProcess]:
    """A media service on a stack slice of its own (no episodes), linking to the website."""
    private = SessionStack.create()
    port = free_port()
    env = private.service_env(
        "media", DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", DIKO_PODCAST_LINK=WEBSITE
    )
    process = ServiceProcess("media-empty", "diko_media", port, env)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        private.destroy()


@pytest.fixture
def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncDatabase:
    return mongo[stack.database("media")]


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


def unique_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def position_opened(company_name: str = "Tischlerei Müller GmbH") -> PositionOpened:
    return PositionOpened(
        position_id=unique_id("pos"),
        company_id=unique_id("cmp"),
        company_name=company_name,
        occupation=Occupation(code="22342", name="Tischler/in"),
        places=2,
        start_date=date(2027, 8, 1),
        town="Tangermünde",
    )


def as_event(position: PositionOpened) -> Outgoing:
    """`position.opened` as the companies service publishes it."""
    envelope = new_envelope(
        "position.opened", position, source="companies", subject=position.position_id
    )
    return Outgoing.from_envelope(topology.EVENTS.name, envelope)


#: How long drafting a post may take: rendering costs over a second of CPU, and a loaded
#: two-core machine (the whole suite, other work) stretches that many times.
DRAFTING_S = 90.0


def about(position: PositionOpened) -> Callable[[Seen], bool]:
    def matches(seen: Seen) -> bool:
        return seen.routing_key == "post.drafted" and seen.data["position_id"] == (
            position.position_id
        )

    return matches


def episode_payload(title: str) -> CreateEpisode:
    return CreateEpisode(
        title=title,
        description="Jana Müller erzählt, wie ihr Betrieb ausbildet – und was Azubis erwartet.",
        audio_url="https://media.diko.example/podcast/folge-22.mp3",
        audio_bytes=28_311_552,
        duration_s=1769,
        company_id=unique_id("cmp"),
        episode_number=22,
    )


# -- posts --------------------------------------------------------------------------------


async def test_an_opened_position_becomes_a_drafted_post(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    tap = await bus.tap(pattern="post.*")
    position = position_opened(LPG)
    message = as_event(position)
    await bus.publisher.publish(message)

    (seen,) = await tap.wait_for(about(position), timeout=DRAFTING_S)
    drafted = seen.data
    post_id = drafted["post_id"]
    assert drafted["kind"] == "azubi_gesucht"
    assert drafted["company_id"] == position.company_id
    assert drafted["image_url"] == f"{BASE}/posts/{post_id}/image.png"
    assert "#Ausbildung #Altmark #AzubiGesucht #Tischler #Tangermünde" in drafted["caption"]
    assert LPG in drafted["caption"]
    assert "ab 1. August 2027" in drafted["caption"]
    assert seen.envelope["source"] == "media"
    assert seen.envelope["subject"] == post_id
    assert seen.envelope["causationid"] == message.message_id

    post = await bus.ok(GetPost(post_id=post_id))
    assert post["status"] == "draft"
    assert post["position_id"] == position.position_id
    assert (post["image_width"], post["image_height"]) == (1080, 1350)
    assert post["image_url"] == drafted["image_url"]
    assert post["caption"] == drafted["caption"]
    assert post["hashtags"][:3] == ["#Ausbildung", "#Altmark", "#AzubiGesucht"]

    response = await web.get(post["image_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "max-age" in response.headers["cache-control"]
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert image.size == (1080, 1350)

    again = await web.get(post["image_url"], headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_the_same_position_opened_twice_drafts_one_post(
    bus: Bus, media: ServiceProcess, db: AsyncDatabase
) -> None:
    tap = await bus.tap(pattern="post.*")
    position = position_opened()
    message = as_event(position)
    labels = {"queue": REACTION_QUEUE, "outcome": "duplicate"}
    duplicates = media.metric("diko_messages_total", **labels)

    await bus.publisher.publish(message)
    await bus.publisher.publish(message)

    async def repeat_dropped() -> bool:
        return media.metric("diko_messages_total", **labels) == duplicates + 1

    await eventually(repeat_dropped, what="the second delivery handled as a duplicate")
    await tap.wait_for(about(position), timeout=DRAFTING_S)
    await tap.fence()
    assert len(tap.matching(about(position))) == 1
    assert await db[store.POSTS].count_documents({"position_id": position.position_id}) == 1


async def test_an_unknown_post_is_not_found_in_german(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    reply = await bus.request(GetPost(post_id="pst_" + "0" * 20))
    assert reply["ok"] is False
    assert reply["error"] == {
        "code": "not_found",
        "message": f"Einen Post pst_{'0' * 20} gibt es nicht.",
        "details": [{"field": "data.post_id", "problem": "unbekannter Post", "type": "not_found"}],
    }
    assert (await web.get(f"{BASE}/posts/pst_{'0' * 20}/image.png")).status_code == 404
    assert (await web.get(f"{BASE}/posts/nonsense/image.png")).status_code == 404


# -- podcast ------------------------------------------------------------------------------


async def test_a_published_episode_is_announced_and_in_the_feed(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    tap = await bus.tap(pattern="episode.*")
    title = f"DIKO trifft… Müller & Söhne <{uuid.uuid4().hex[:6]}>"
    created = await bus.ok(episode_payload(title))
    episode_id = created["episode_id"]

    draft = await bus.ok(GetEpisode(episode_id=episode_id))
    assert draft["status"] == "draft"
    assert draft["published_at"] is None
    assert episode_id not in (await web.get(f"{BASE}/podcast/feed.xml")).text

    published = await bus.ok(PublishEpisode(episode_id=episode_id))
    assert published["status"] == "published"
    assert published["published_at"] is not None
    assert published["title"] == title

    def announced(seen: Seen) -> bool:
        return seen.routing_key == "episode.published" and seen.data["episode_id"] == episode_id

    (event,) = await tap.wait_for(announced)
    assert event.data["feed_url"] == f"{BASE}/podcast/feed.xml"
    assert event.data["title"] == title
    # What a reader tells people about the episode travels with the event.
    assert event.data["description"] == published["description"]
    assert event.data["audio_url"] == "https://media.diko.example/podcast/folge-22.mp3"
    assert event.data["duration_s"] == 1769
    assert event.data["page_url"] == f"{BASE}/podcast"

    assert await bus.ok(PublishEpisode(episode_id=episode_id)) == published
    assert await bus.ok(GetEpisode(episode_id=episode_id)) == published
    await tap.fence()
    assert len(tap.matching(announced)) == 1

    response = await web.get(event.data["feed_url"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo
    assert feed.feed.title == "DIKO trifft…"
    assert feed.feed.language == "de"
    assert feed.feed.image.href == f"{BASE}/podcast/cover.png"
    assert feed.feed.link == event.data["page_url"]
    (entry,) = [e for e in feed.entries if e.id == episode_id]
    assert entry.title == title
    assert entry.enclosures[0].href == event.data["audio_url"]
    assert entry.enclosures[0].length == "28311552"
    assert entry.itunes_duration == "1769"

    cover = await web.get(feed.feed.image.href)
    assert cover.status_code == 200
    assert cover.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(cover.content)).size == (3000, 3000)


async def test_an_unknown_episode_is_not_found_in_german(bus: Bus, media: ServiceProcess) -> None:
    unknown = {
        "code": "not_found",
        "message": f"Eine Podcastfolge epi_{'0' * 20} gibt es nicht.",
        "details": [
            {"field": "data.episode_id", "problem": "unbekannte Podcastfolge", "type": "not_found"}
        ],
    }
    reply = await bus.request(PublishEpisode(episode_id="epi_" + "0" * 20))
    assert reply["ok"] is False
    assert reply["error"] == unknown
    reply = await bus.request(GetEpisode(episode_id="epi_" + "0" * 20))
    assert reply["error"] == unknown


async def test_the_podcast_page_lists_published_episodes_newest_first_escaped(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex[:6]
    older = (await bus.ok(episode_payload(f"Zu Gast: Müller <b>& Söhne {tag}")))["episode_id"]
    newer = (await bus.ok(episode_payload(f"Zu Gast: Bäckerei Nöthe {tag}")))["episode_id"]
    draft = (await bus.ok(episode_payload(f"Noch nicht erschienen {tag}")))["episode_id"]
    await bus.ok(PublishEpisode(episode_id=older, published_at=datetime(2026, 3, 1, 9, tzinfo=UTC)))
    # 23:30 UTC on 4 March is the 5th in Berlin, where listeners read the date.
    at = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
    await bus.ok(PublishEpisode(episode_id=newer, published_at=at))

    page = await web.get(f"{BASE}/podcast")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "max-age" in page.headers["cache-control"]
    html = page.text
    assert '<html lang="de">' in html
    assert "DIKO Altmark" in html
    assert "<h1>DIKO trifft…</h1>" in html
    assert f'src="{BASE}/podcast/cover.png"' in html
    assert f"Zu Gast: Müller &lt;b&gt;&amp; Söhne {tag}" in html
    assert "<b>&" not in html
    assert html.index(newer) < html.index(older), "newest first"
    assert draft not in html
    assert f"Noch nicht erschienen {tag}" not in html
    newest = html[html.index(newer) : html.index(older)]
    assert f"Zu Gast: Bäckerei Nöthe {tag}" in newest
    assert f"5.{NBSP}März 2026" in newest
    assert f"29{NBSP}Minuten" in newest
    assert "Folge 22" in newest
    assert "Jana Müller erzählt, wie ihr Betrieb ausbildet – und was Azubis erwartet." in newest
    audio = "https://media.diko.example/podcast/folge-22.mp3"
    assert f'<audio controls preload="none" src="{audio}">' in newest
    assert f'<a href="{audio}"' in newest
    assert f"1.{NBSP}März 2026" in html[html.index(older) :]
    assert "Feed-Adresse in Ihre Podcast-App ein" in html
    assert f"<code>{BASE}/podcast/feed.xml</code>" in html

    again = await web.get(f"{BASE}/podcast", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""

    body = (await web.get(f"{BASE}/podcast/feed.xml")).content
    assert feedparser.parse(body).feed.link == f"{BASE}/podcast"
    assert ElementTree.fromstring(body).findtext("channel/image/link") == f"{BASE}/podcast"


async def test_a_podcast_without_episodes_says_so_and_the_link_setting_still_wins(
    empty_media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    page = await web.get(f"{empty_media.base_url}/podcast")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Noch ist keine Folge erschienen." in page.text
    assert "<article" not in page.text
    assert f"<code>{empty_media.base_url}/podcast/feed.xml</code>" in page.text

    feed = feedparser.parse((await web.get(f"{empty_media.base_url}/podcast/feed.xml")).content)
    assert not feed.bozo
    assert feed.feed.link == WEBSITE
    assert feed.entries == []
