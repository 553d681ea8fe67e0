"""The podcast through the running media service: episodes created and changed through
the bus, audio uploaded through the signed link or fetched from a URL and read with
mutagen, scheduled publication on the service's test clock, the feed checked with lxml
against Apple and Podcasting 2.0 with every enclosure's length equal to the file served,
guests shown by consent, byte ranges, ETags."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from feed_rules import NS, problems
from lxml import etree
from media_harness import CLOCK, FileServer, as_event, media_env
from PIL import Image
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_shared import due
from diko_shared.contract.companies import ConsentChanged
from diko_shared.contract.media import (
    Chapter,
    CreateEpisode,
    EpisodePerson,
    GetEpisode,
    PublishEpisode,
    ScheduleEpisode,
    Transcript,
    UpdateEpisode,
)
from diko_shared.silence import silent_mp3
from harness.bus import Bus, Seen
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
MP3 = silent_mp3(50)
TOO_LONG = silent_mp3(1100)  # 1.1 MB: more than this module's DIKO_AUDIO_MAX_BYTES
WEBSITE = "https://www.diko.example/podcast"
COMPANY = "cmp_" + uuid.uuid4().hex[:20]
CONTACT = "cnt_" + uuid.uuid4().hex[:20]
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n<v Birte Albrecht>Willkommen!\n"
#: Each test moves the service's clock to a day of its own, later than the ones before.
DAYS = iter(range(1, 1000))


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    server = FileServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def media(stack: SessionStack) -> Iterator[ServiceProcess]:
    env = media_env(
        stack,
        BASE,
        DIKO_AUDIO_MAX_BYTES="1000000",
        DIKO_SITE_URL="https://www.diko.example",
    )
    process = ServiceProcess("media-podcast", "diko_media", PORT, env)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def empty_media() -> Iterator[ServiceProcess]:
    """A media service on a stack slice of its own (no episodes), linking to the website."""
    private = SessionStack.create()
    port = free_port()
    env = media_env(private, f"http://127.0.0.1:{port}", DIKO_PODCAST_LINK=WEBSITE)
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
    async with httpx.AsyncClient(timeout=60.0) as client:
        yield client


def day() -> datetime:
    return datetime(2040, 1, 1, 8, tzinfo=UTC) + timedelta(days=next(DAYS))


def payload(title: str, **more: Any) -> CreateEpisode:
    return CreateEpisode(
        title=title,
        description="Jana Müller erzählt, wie ihr Betrieb ausbildet – und was Azubis erwartet.",
        episode_number=22,
        **more,
    )


async def upload(
    web: httpx.AsyncClient, url: str, **files: tuple[str, bytes, str]
) -> httpx.Response:
    return await web.post(url, files=dict(files))


async def with_audio(bus: Bus, web: httpx.AsyncClient, title: str, **more: Any) -> str:
    created = await bus.ok(payload(title, **more))
    response = await upload(web, created["upload_url"], audio=("folge.mp3", MP3, "audio/mpeg"))
    assert response.status_code == 200, response.text
    return created["episode_id"]


async def feed(web: httpx.AsyncClient) -> bytes:
    response = await web.get(f"{BASE}/podcast/feed.xml")
    assert response.status_code == 200
    return response.content


def item_of(body: bytes, episode_id: str) -> etree._Element | None:
    for item in etree.fromstring(body).findall("channel/item"):
        if item.findtext("guid") == episode_id:
            return item
    return None


def announced(episode_id: str) -> Any:
    def matches(seen: Seen) -> bool:
        return seen.routing_key == "episode.published" and seen.data["episode_id"] == episode_id

    return matches


# -- audio and the feed ----------------------------------------------------------------------------


async def test_audio_uploaded_through_the_link_is_read_and_the_feed_states_what_is_served(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    tap = await bus.tap(pattern="episode.*")
    created = await bus.ok(payload(f"DIKO trifft… Müller & Söhne <{uuid.uuid4().hex[:6]}>"))
    episode_id = created["episode_id"]
    assert created["upload_url"].startswith(f"{BASE}/podcast/uploads/")

    early = await bus.request(PublishEpisode(episode_id=episode_id))
    assert early["error"]["code"] == "conflict"
    assert early["error"]["message"].startswith("Die Folge hat noch keine Audiodatei")

    response = await upload(web, created["upload_url"], audio=("folge.mp3", MP3, "audio/mpeg"))
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == ["audio"]
    draft = await bus.ok(GetEpisode(episode_id=episode_id))
    assert (draft["audio_bytes"], draft["audio_type"], draft["duration_s"]) == (
        len(MP3), "audio/mpeg", 50,
    )  # fmt: skip
    assert draft["status"] == "draft"
    assert item_of(await feed(web), episode_id) is None

    published = await bus.ok(PublishEpisode(episode_id=episode_id))
    (event,) = await tap.wait_for(announced(episode_id))
    assert event.data["audio_url"] == published["audio_url"]
    assert event.data["duration_s"] == 50

    body = await feed(web)
    assert problems(body) == []
    item = item_of(body, episode_id)
    assert item is not None
    enclosure = item.find("enclosure")
    head = await web.head(enclosure.get("url"))
    assert head.status_code == 200
    assert head.headers["accept-ranges"] == "bytes"
    assert int(head.headers["content-length"]) == int(enclosure.get("length")) == len(MP3)
    whole = await web.get(enclosure.get("url"))
    assert whole.content == MP3
    part = await web.get(enclosure.get("url"), headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(MP3)}"
    assert part.content == MP3[1000:2000]
    tail = await web.get(enclosure.get("url"), headers={"Range": "bytes=-10"})
    assert tail.content == MP3[-10:]
    beyond = await web.get(enclosure.get("url"), headers={"Range": f"bytes={len(MP3)}-"})
    assert beyond.status_code == 416

    first = await web.get(f"{BASE}/podcast/feed.xml")
    again = await web.get(
        f"{BASE}/podcast/feed.xml", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


async def test_audio_and_cover_from_urls_are_fetched_read_and_kept(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, files: FileServer
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1400, 1400), (18, 51, 91)).save(buffer, format="JPEG")
    cover = buffer.getvalue()
    audio_url = files.put(f"/{uuid.uuid4().hex}.mp3", MP3, "audio/mpeg")
    image_url = files.put(f"/{uuid.uuid4().hex}.jpg", cover, "image/jpeg")
    created = await bus.ok(
        payload(
            "Aus dem Netz geholt",
            audio_url=audio_url,
            image_url=image_url,
            audio_bytes=999,  # not trusted: media reads the file
            duration_s=4711,
        )
    )
    episode = await bus.ok(GetEpisode(episode_id=created["episode_id"]))
    assert (episode["audio_bytes"], episode["duration_s"]) == (len(MP3), 50)
    assert episode["audio_url"].startswith(f"{BASE}/podcast/audio/aud_")
    assert episode["image_url"] == f"{BASE}/podcast/folgen/{created['episode_id']}/cover.jpg"
    served = await web.get(episode["image_url"])
    assert (served.status_code, served.content) == (200, cover)


@pytest.mark.parametrize(
    ("name", "body", "kind", "field", "says"),
    [
        ("text.mp3", b"Kein Ton, nur Text.\n" * 300, "audio/mpeg", "data.audio_url",
         "keine MP3- oder M4A-Audiodatei"),
        ("small.jpg", None, "image/jpeg", "data.image_url", "zwischen 1400 × 1400 und 3000 × 3000"),
        ("missing.mp3", b"", "", "data.audio_url", "antwortete mit HTTP 404"),
    ],
)  # fmt: skip
async def test_a_file_from_a_url_that_cannot_be_used_is_refused_in_german(
    bus: Bus, media: ServiceProcess, files: FileServer, name: str, body: bytes | None,
    kind: str, field: str, says: str,
) -> None:  # fmt: skip
    if body is None:
        buffer = io.BytesIO()
        Image.new("RGB", (600, 600), "white").save(buffer, format="JPEG")
        body = buffer.getvalue()
    url = (
        files.put(f"/{uuid.uuid4().hex}-{name}", body, kind)
        if kind
        else (f"http://127.0.0.1:{files.port}/{uuid.uuid4().hex}-{name}")
    )
    source = {field.removeprefix("data."): url}
    reply = await bus.request(payload("Geht nicht", **source))
    assert reply["ok"] is False
    error = reply["error"]
    assert error["code"] == "validation_error"
    assert says in error["message"]
    assert error["details"][0]["field"] == field


async def test_an_upload_needs_its_link_the_right_fields_and_a_size_within_the_limit(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    created = await bus.ok(payload("Uploads prüfen"))
    url = created["upload_url"]
    forged = await upload(web, url[:-3] + "abc", audio=("folge.mp3", MP3, "audio/mpeg"))
    assert forged.status_code == 403
    assert forged.json()["error"]["message"] == "Dieser Upload-Link ist ungültig."
    wrong = await upload(web, url, audio=("notiz.txt", b"hallo", "text/plain"))
    assert wrong.status_code == 400
    assert "erwartet MP3 oder M4A, nicht text/plain" in wrong.json()["error"]["message"]
    fake = await upload(web, url, audio=("folge.mp3", b"ID3" + b"\0" * 5000, "audio/mpeg"))
    assert fake.status_code == 400
    assert "Audiodatei" in fake.json()["error"]["message"]
    big = await upload(web, url, audio=("lang.mp3", TOO_LONG, "audio/mpeg"))
    assert big.status_code == 400
    assert big.json()["error"]["message"] == "Die Audiodatei ist größer als erlaubt."
    buffer = io.BytesIO()
    Image.new("CMYK", (1500, 1500)).save(buffer, format="JPEG")
    cmyk = await upload(web, url, cover=("cover.jpg", buffer.getvalue(), "image/jpeg"))
    assert cmyk.status_code == 400
    assert cmyk.json()["error"]["message"] == (
        "Das Titelbild muss im RGB-Farbraum vorliegen (erhalten: CMYK)."
    )
    nothing = await web.post(
        url, data={"note": "ohne Datei"}, files={"x": ("x", b"", "text/plain")}
    )
    assert nothing.status_code == 400
    plain = await web.post(url, content=b"{}", headers={"Content-Type": "application/json"})
    assert plain.status_code == 415
    episode = await bus.ok(GetEpisode(episode_id=created["episode_id"]))
    assert episode["audio_url"] is None
    assert episode["image_url"] is None


# -- time ---------------------------------------------------------------------------------------


async def test_a_scheduled_episode_stays_hidden_until_its_time_and_is_announced_once_then(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, db: AsyncDatabase
) -> None:
    now = day()
    await due.set_test_clock(db, CLOCK, now)
    tap = await bus.tap(pattern="episode.*")
    episode_id = await with_audio(bus, web, f"Erst am Freitag {uuid.uuid4().hex[:6]}")
    at = now + timedelta(hours=20)
    scheduled = await bus.ok(ScheduleEpisode(episode_id=episode_id, publish_at=at))
    assert scheduled["status"] == "scheduled"
    assert scheduled["page_url"] is None
    (note,) = await tap.wait_for(lambda s: s.routing_key == "episode.scheduled"
                                 and s.data["episode_id"] == episode_id)  # fmt: skip
    assert datetime.fromisoformat(note.data["publish_at"]) == at

    await due.set_test_clock(db, CLOCK, at - timedelta(minutes=1))
    await tap.fence()
    assert not tap.matching(announced(episode_id))
    assert item_of(await feed(web), episode_id) is None
    assert (await web.get(f"{BASE}/podcast/folgen/{episode_id}")).status_code == 404
    assert episode_id not in (await web.get(f"{BASE}/podcast")).text

    await due.set_test_clock(db, CLOCK, at + timedelta(seconds=1))
    (event,) = await tap.wait_for(announced(episode_id), timeout=60)
    assert datetime.fromisoformat(event.data["published_at"]) == at

    async def listed() -> bool:
        return item_of(await feed(web), episode_id) is not None

    await eventually(listed, what="the episode in the feed")
    page = await web.get(f"{BASE}/podcast/folgen/{episode_id}")
    assert page.status_code == 200
    await due.set_test_clock(db, CLOCK, at + timedelta(hours=1))
    await tap.fence()
    assert len(tap.matching(announced(episode_id))) == 1
    assert (await bus.ok(GetEpisode(episode_id=episode_id)))["status"] == "published"


async def test_publish_with_a_future_time_schedules_instead_of_showing_it_at_once(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, db: AsyncDatabase
) -> None:
    now = day()
    await due.set_test_clock(db, CLOCK, now)
    episode_id = await with_audio(bus, web, "Noch nicht")
    answer = await bus.ok(
        PublishEpisode(episode_id=episode_id, published_at=now + timedelta(days=2))
    )
    assert answer["status"] == "scheduled"
    assert item_of(await feed(web), episode_id) is None
    moved = await bus.ok(ScheduleEpisode(episode_id=episode_id, publish_at=now + timedelta(days=1)))
    assert datetime.fromisoformat(moved["publish_at"]) == now + timedelta(days=1)
    past = await bus.ok(
        PublishEpisode(episode_id=episode_id, published_at=now - timedelta(hours=1))
    )
    assert past["status"] == "published"
    again = await bus.request(
        ScheduleEpisode(episode_id=episode_id, publish_at=now + timedelta(days=3))
    )
    assert again["error"]["code"] == "conflict"
    assert again["error"]["message"].endswith("ist schon veröffentlicht.")


# -- changes and consent -------------------------------------------------------------------------


async def test_an_update_changes_the_published_episode_and_the_guest_follows_the_consent(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    tap = await bus.tap(pattern="episode.*")
    guest = EpisodePerson(name="Jana Müller", role="guest", contact_id=CONTACT, company_id=COMPANY)
    episode_id = await with_audio(
        bus, web, "Mit Gast", persons=[EpisodePerson(name="Birte Albrecht", role="host"), guest]
    )
    await bus.ok(PublishEpisode(episode_id=episode_id))

    def persons(body: bytes) -> list[str]:
        item = item_of(body, episode_id)
        return [p.text for p in item.findall("podcast:person", NS)] if item is not None else []

    assert persons(await feed(web)) == ["Birte Albrecht"]  # no consent known yet

    declared = datetime.now(UTC)
    consent = ConsentChanged(company_id=COMPANY, contact_id=CONTACT, purpose="podcast",
                             status="given", declared_at=declared)  # fmt: skip
    await bus.publisher.publish(as_event(consent, subject=COMPANY))

    async def shown() -> bool:
        return persons(await feed(web)) == ["Birte Albrecht", "Jana Müller"]

    await eventually(shown, what="the guest in the feed after the consent")
    page = (await web.get(f"{BASE}/podcast/folgen/{episode_id}")).text
    assert "Jana Müller</strong> – zu Gast" in page

    change = await bus.ok(
        UpdateEpisode(
            episode_id=episode_id,
            title="Mit Gast (neu geschnitten)",
            chapters=[Chapter(start_s=0, title="Anfang"), Chapter(start_s=20, title="Mitte")],
            transcript=Transcript(format="text/vtt", text=VTT),
        )
    )
    assert change["changed"] == ["chapters", "title", "transcript"]
    (updated,) = await tap.wait_for(lambda s: s.routing_key == "episode.updated"
                                    and s.data["episode_id"] == episode_id
                                    and "title" in s.data["changed"])  # fmt: skip
    assert updated.data["status"] == "published"
    body = await feed(web)
    assert problems(body) == []
    item = item_of(body, episode_id)
    assert item.findtext("title") == "Mit Gast (neu geschnitten)"
    chapters = await web.get(item.find("podcast:chapters", NS).get("url"))
    assert chapters.json()["chapters"][1] == {"startTime": 20.0, "title": "Mitte"}
    transcript = await web.get(item.find("podcast:transcript", NS).get("url"))
    assert transcript.headers["content-type"].startswith("text/vtt")
    assert transcript.text == VTT

    older = ConsentChanged(
        company_id=COMPANY,
        contact_id=CONTACT,
        purpose="podcast",
        status="withdrawn",
        declared_at=declared - timedelta(days=1),
    )
    withdrawn = older.model_copy(update={"declared_at": declared + timedelta(seconds=1)})
    await bus.publisher.publish(as_event(older, subject=COMPANY))
    await bus.publisher.publish(as_event(withdrawn, subject=COMPANY))

    async def dropped() -> bool:
        return persons(await feed(web)) == ["Birte Albrecht"]

    await eventually(dropped, what="the guest gone after the withdrawal")
    assert "Jana Müller</strong>" not in (await web.get(f"{BASE}/podcast/folgen/{episode_id}")).text


async def test_wrong_notes_are_refused_in_german(bus: Bus, media: ServiceProcess) -> None:
    bad = await bus.request(payload("x", transcript=Transcript(format="text/vtt", text="Hallo")))
    assert bad["error"]["details"][0]["field"] == "data.transcript.text"
    assert bad["error"]["message"].startswith("Das Transkript ist kein gültiges WebVTT")
    lonely = await bus.request(
        payload("x", persons=[EpisodePerson(name="Jana", role="guest", contact_id=CONTACT)])
    )
    assert lonely["error"]["details"][0]["field"] == "data.persons[0].company_id"
    twice = await bus.request(
        payload("x", chapters=[Chapter(start_s=3, title="A"), Chapter(start_s=3, title="B")])
    )
    assert twice["error"]["message"] == "Zwei Kapitel beginnen zur selben Zeit."
    unknown = await bus.request(GetEpisode(episode_id="epi_" + "0" * 20))
    assert unknown["error"] == {
        "code": "not_found",
        "message": f"Eine Podcastfolge epi_{'0' * 20} gibt es nicht.",
        "details": [
            {"field": "data.episode_id", "problem": "unbekannte Podcastfolge", "type": "not_found"}
        ],
    }


async def test_a_podcast_without_episodes_says_so_and_the_link_setting_still_wins(
    empty_media: ServiceProcess, web: httpx.AsyncClient
) -> None:
    page = await web.get(f"{empty_media.base_url}/podcast")
    assert page.status_code == 200
    assert "Noch ist keine Folge erschienen." in page.text
    body = (await web.get(f"{empty_media.base_url}/podcast/feed.xml")).content
    assert problems(body) == []
    assert etree.fromstring(body).findtext("channel/link") == WEBSITE
    missing = await web.get(f"{empty_media.base_url}/podcast/folgen/epi_{'0' * 20}")
    assert missing.status_code == 404
    assert "Diese Folge gibt es (noch) nicht" in missing.text
