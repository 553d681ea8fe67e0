"""What media shows people, looked at in Debian's headless Chromium at phone and desktop
width: the episode page (player, show notes, chapters, transcript, guest and company),
the podcast overview, the approval page in every state a contact person meets, and the
kit's how-to. Screenshots land in .local/test-output/screenshots/."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from media_harness import SECRET, FileServer, as_event, media_env

from diko_media.signing import Signer
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import CompanyRegistered, ConsentChanged, PositionOpened
from diko_shared.contract.media import (
    Chapter,
    CompanyLook,
    CreateEpisode,
    DraftPost,
    EpisodePerson,
    GetPostKit,
    PresentationContent,
    PublishEpisode,
    Transcript,
)
from diko_shared.messaging import topology
from diko_shared.silence import silent_mp3
from harness.browser import DESKTOP, PHONE, Eyes
from harness.bus import Bus, Seen, Tap
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
COMPANY = "cmp_" + uuid.uuid4().hex[:20]
CONTACT = "cnt_" + uuid.uuid4().hex[:20]
NOTES = (
    "<p>Jana Müller leitet die Ausbildung der <strong>Tischlerei Müller &amp; Söhne</strong> "
    "in Stendal. Sie erzählt, wie ihre Azubis vom ersten Tag an an echten Aufträgen "
    "mitarbeiten – und warum sie Praktika für den besten Weg in die Ausbildung hält.</p>"
    "<ul><li>Was ein Praktikum zeigt, was ein Zeugnis nicht zeigt</li>"
    "<li>Wie die Berufsschule und der Betrieb zusammenarbeiten</li></ul>"
    '<p>Mehr über den Betrieb: <a href="https://tischlerei-mueller.example">'
    "tischlerei-mueller.example</a></p>"
)
VTT = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:05.000\n<v Birte Albrecht>Willkommen bei „DIKO trifft…“! "
    "Heute bin ich in Stendal, in der Tischlerei Müller.\n\n"
    "00:00:05.000 --> 00:00:11.000\n<v Jana Müller>Schön, dass Sie da sind. Bei uns riecht es "
    "immer nach Holz.\n\n"
    "00:00:11.000 --> 00:00:18.000\n<v Birte Albrecht>Wie fängt ein Azubi bei Ihnen an?\n"
)


@pytest.fixture(scope="module")
def media(stack: SessionStack) -> Iterator[ServiceProcess]:
    env = media_env(stack, BASE, DIKO_SITE_URL="https://www.diko-altmark.example")
    process = ServiceProcess("media-look", "diko_media", PORT, env)
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60.0) as client:
        yield client


async def consent(bus: Bus, purpose: str, contact: str | None = None) -> None:
    event = ConsentChanged(company_id=COMPANY, contact_id=contact, purpose=purpose,
                           status="given", declared_at=datetime.now(UTC))  # fmt: skip
    await bus.publisher.publish(as_event(event, subject=COMPANY))


@pytest.fixture(scope="module")
async def episode_page(bus: Bus, media: ServiceProcess) -> str:
    registered = CompanyRegistered(company_id=COMPANY, name="Tischlerei Müller & Söhne GmbH",
                                   town="Stendal", postcode="39576")  # fmt: skip
    await bus.publisher.publish(as_event(registered, subject=COMPANY))
    await consent(bus, "podcast", CONTACT)
    await consent(bus, "website")
    created = await bus.ok(
        CreateEpisode(
            title="Wie die Tischlerei Müller ihre Azubis findet",
            description="Jana Müller erzählt, wie ihr Betrieb ausbildet.",
            show_notes=NOTES,
            company_id=COMPANY,
            episode_number=22,
            season=2,
            persons=[
                EpisodePerson(name="Birte Albrecht", role="host"),
                EpisodePerson(name="Jana Müller", role="guest", contact_id=CONTACT,
                              company_id=COMPANY),
            ],
            chapters=[
                Chapter(start_s=0, title="Begrüßung in der Werkstatt"),
                Chapter(start_s=11, title="Der erste Tag als Azubi"),
                Chapter(start_s=35, title="Praktikum, Berufsschule, Prüfung"),
            ],
            transcript=Transcript(format="text/vtt", text=VTT),
        )
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=60.0) as client:
        response = await client.post(
            created["upload_url"], files={"audio": ("folge-22.mp3", silent_mp3(50), "audio/mpeg")}
        )
        assert response.status_code == 200, response.text
    published = await bus.ok(PublishEpisode(episode_id=created["episode_id"]))
    page = published["page_url"]

    async def guest_shown() -> bool:
        async with httpx.AsyncClient(timeout=10.0) as client:
            html = (await client.get(page)).text
        return "Jana Müller</strong>" in html and "www.diko-altmark.example" in html

    await eventually(guest_shown, what="the guest and the company link on the page")
    return page


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
async def test_the_episode_page(episode_page: str, eyes: Eyes, width: int) -> None:
    look = await eyes.look(episode_page, f"media-episode-{width}", width=width)
    look.assert_sound()
    look.assert_shows(
        "Wie die Tischlerei Müller ihre Azubis findet",
        "DIKO TRIFFT… · FOLGE 22 · STAFFEL 2",  # the label is set in capitals
        "Stendal",
        "Birte Albrecht – Moderation",
        "Jana Müller – zu Gast, Tischlerei Müller & Söhne GmbH",
        "Was ein Praktikum zeigt, was ein Zeugnis nicht zeigt",
        "0:11Der erste Tag als Azubi",
        "Jana Müller: Schön, dass Sie da sind.",
        "Transkript als Datei",
    )
    assert any(font.startswith("Lato") for font in look.fonts)
    look.assert_shows("Zu hören", "Kapitel")


async def test_the_player_reads_the_served_audio_and_a_chapter_seeks_it(
    episode_page: str, eyes: Eyes
) -> None:
    page = await eyes.page(width=PHONE)
    try:
        await page.goto(episode_page, wait_until="load")
        await page.wait_for_function(
            "document.getElementById('player').readyState >= 1", timeout=30_000
        )
        duration = await page.evaluate("document.getElementById('player').duration")
        assert 49 <= duration <= 51
        await page.click("text=Praktikum, Berufsschule, Prüfung")
        position = await page.evaluate("document.getElementById('player').currentTime")
        assert position >= 34
    finally:
        await page.context.close()


async def test_the_overview_links_the_episode(episode_page: str, eyes: Eyes) -> None:
    look = await eyes.look(f"{BASE}/podcast", "media-podcast-390", width=PHONE)
    look.assert_sound()
    look.assert_shows("Wie die Tischlerei Müller ihre Azubis findet", "Zur Folge mit Shownotes")


# -- the approval page --------------------------------------------------------------------------


@pytest.fixture
async def mails(bus: Bus) -> Tap:
    return await bus.tap(exchange=topology.COMMANDS.name, pattern="notification.send")


async def drafted(bus: Bus, mails: Tap) -> tuple[str, str]:
    events = await bus.tap(pattern="post.drafted")
    position = PositionOpened(
        position_id="pos_" + uuid.uuid4().hex[:20],
        company_id=COMPANY,
        company_name="Tischlerei Müller & Söhne GmbH",
        occupation=Occupation(code="22342", name="Tischler/in"),
        places=2,
        start_date=date(2027, 8, 1),
        town="Stendal",
    )
    await bus.publisher.publish(as_event(position))

    def about(seen: Seen) -> bool:
        return seen.data["position_id"] == position.position_id

    (seen,) = await events.wait_for(about, timeout=90)
    post_id = seen.data["post_id"]
    (mail,) = await mails.wait_for(
        lambda s: s.data["idempotency_key"] == f"post-approval/{post_id}", timeout=30
    )
    return post_id, mail.data["action"]["url"]


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
async def test_the_approval_page_while_the_post_waits(
    bus: Bus, media: ServiceProcess, mails: Tap, eyes: Eyes, width: int
) -> None:
    _, link = await drafted(bus, mails)
    look = await eyes.look(link, f"media-approval-draft-{width}", width=width)
    look.assert_sound()
    look.assert_shows(
        "Ihr Beitrag wartet auf Ihre Freigabe",
        "Instagram-Beitrag „Azubi gesucht“ für Tischlerei Müller & Söhne GmbH",
        "Text zum Beitrag",
        "Azubi gesucht in Stendal!",
        "Alternativtext",
        "Beitrag freigeben",
        "Was sollen wir ändern?",
        "Ablehnen und Grund senden",
        "Paket mit Bildern, Text, Hashtags und Anleitung herunterladen",
    )


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
async def test_a_carousel_in_the_companys_colour_on_the_approval_page(
    bus: Bus, media: ServiceProcess, mails: Tap, eyes: Eyes, width: int
) -> None:
    content = PresentationContent(
        town="Stendal",
        industry="Handwerk",
        about="Wir bauen Möbel, Treppen und Küchen nach Maß – seit drei Generationen.",
        facts=["seit 1952", "14 Mitarbeitende", "2 Azubis pro Jahr"],
        occupations=["Tischler/in", "Holzmechaniker/in"],
        website="https://www.tischlerei-mueller.example/",
    )
    name = "Tischlerei Müller & Söhne GmbH"
    ref = await bus.ok(
        DraftPost(content=content, company_id=COMPANY, company_name=name, format="square",
                  look=CompanyLook(colour="#7A2E1F"))
    )  # fmt: skip
    (mail,) = await mails.wait_for(
        lambda s: s.data["idempotency_key"] == f"post-approval/{ref['post_id']}", timeout=90
    )
    look = await eyes.look(mail.data["action"]["url"], f"media-approval-carousel-{width}",
                           width=width)  # fmt: skip
    look.assert_sound()
    look.assert_shows(
        "Instagram-Beitrag „Wir stellen vor“ für Tischlerei Müller & Söhne GmbH · "
        "Karussell mit 3 Bildern",
        "Bild 1: Grafik von DIKO Altmark: Wir stellen vor.",
        "Bild 2: Grafik von DIKO Altmark:",
        "Bild 3: Grafik von DIKO Altmark:",
        "Kontakt: tischlerei-mueller.example",
        "Beitrag freigeben",
    )


async def test_the_approval_page_after_approving_and_rejecting_and_when_expired(
    bus: Bus, media: ServiceProcess, mails: Tap, eyes: Eyes
) -> None:
    _, link = await drafted(bus, mails)
    look = await eyes.look(link, "media-approval-approved-390", width=PHONE, method="POST",
                           form={"action": "approve"})  # fmt: skip
    look.assert_sound()
    look.assert_shows("Ihr Beitrag ist freigegeben", "Danke! Sie haben den Beitrag freigegeben.")
    assert "Beitrag freigeben" not in look.text

    post_id, other = await drafted(bus, mails)
    reason = {"action": "reject", "reason": "Bitte mit unserem neuen Logo."}
    look = await eyes.look(
        other, "media-approval-rejected-390", width=PHONE, method="POST", form=reason
    )
    look.assert_sound()
    look.assert_shows(
        "Ihr Beitrag wurde abgelehnt",
        "Danke! Wir haben Ihren Grund erhalten und melden uns mit einem neuen Entwurf. "
        "Ihr Grund: Bitte mit unserem neuen Logo.",
    )

    old = Signer(SECRET, "approval", timedelta(days=14), clock=lambda: 1_000_000.0)
    look = await eyes.look(f"{BASE}/posts/freigabe/{old.token(post_id)}",
                           "media-approval-expired-390", width=PHONE)  # fmt: skip
    assert look.status == 410
    assert look.foreign_requests == []
    look.assert_shows("Link abgelaufen", "Der Link in Ihrer E-Mail ist nicht mehr gültig.",
                      "Dieser Beitrag wurde abgelehnt.")  # fmt: skip


async def test_the_kits_how_to(
    bus: Bus, media: ServiceProcess, mails: Tap, eyes: Eyes, web: httpx.AsyncClient
) -> None:
    post_id, _ = await drafted(bus, mails)
    kit = await bus.ok(GetPostKit(post_id=post_id))
    archive = zipfile.ZipFile(io.BytesIO((await web.get(kit["download_url"])).content))
    server = FileServer()
    server.start()
    try:
        for name in archive.namelist():
            kind = (
                "text/html; charset=utf-8"
                if name.endswith(".html")
                else ("image/jpeg" if name.endswith(".jpg") else "text/plain; charset=utf-8")
            )
            server.put(f"/{name}", archive.read(name), kind)  # fmt: skip
        look = await eyes.look(f"http://127.0.0.1:{server.port}/anleitung.html",
                               "media-kit-how-to-390", width=PHONE)  # fmt: skip
    finally:
        server.stop()
    look.assert_sound()
    look.assert_shows(
        "So posten Sie Ihren Beitrag auf Instagram",
        "Schritt für Schritt",
        "Kopieren Sie den Text aus bildtext.txt",
        "Alternativtext schreiben",
        "Azubi gesucht in Stendal!",
    )
