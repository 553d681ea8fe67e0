"""What a person sees in the first hour, looked at in Debian's headless Chromium.

The story runs once (accepting through the e-mail's link, by clicking its button); then
each e-mail it sent is opened from Mailpit, each state of the accept/decline pages is
reached through the signed links of real e-mails, and the podcast page and the post
image are looked at. Every look asserts what a person needs: the page loaded, nothing
from another host, no failed request, the German text, the brand's colours and, on
pages, Lato from the service itself. Screenshots go to .local/test-output/screenshots/.
"""

from __future__ import annotations

import io
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from diko_notifications.domain import Action, ActionLinks
from diko_shared.brand import COLOURS, FONT_FILES, rgb
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import OpenPosition
from diko_shared.contract.matching import DecideMatch, RegisterApplicant
from diko_shared.contract.notifications import RegisterStaff, Subscribe
from diko_shared.story import Story, StoryResult
from harness.browser import DESKTOP, PHONE, SCREENSHOTS, Eyes, Look
from harness.bus import Bus
from harness.mailpit import Mailpit
from harness.stack import SessionStack
from harness.waiting import eventually

from .conftest import System

LINK = re.compile(r"(Vorschlag (?:annehmen|ablehnen)): (\S+)")
#: The brand's colours as computed styles report them.
CSS = {name: "rgb({}, {}, {})".format(*rgb(name)) for name in COLOURS}
#: The logo's ground and the button's colour, as the browser computes them.
LOOK_AT_BRAND = """(() => {
    const logo = document.querySelector('img[alt="DIKO Altmark"]');
    const button = document.querySelector('button');
    return {
        logo: logo ? logo.naturalWidth : 0,
        ground: logo ? getComputedStyle(logo.parentElement).backgroundColor : null,
        button: button ? getComputedStyle(button).backgroundColor : null,
        font: getComputedStyle(document.body).fontFamily,
    };
})()"""


@dataclass
class World:
    """The story's result, its staff members and where to reach the services."""

    story: StoryResult
    birte_id: str
    gerd_id: str
    gerd_email: str
    notifications: str
    media: str
    secret: str
    opened: Look  # the accept link before anything was decided
    accepted: Look  # after clicking its button


@pytest.fixture(scope="module")
async def world(
    stack: SessionStack, system: System, bus: Bus, mailpit: Mailpit, eyes: Eyes
) -> World:
    """The story, with a second staff member (Gerd) who receives the same proposals."""
    tag = secrets.token_hex(3)
    gerd_email = f"gerd.moeller+{tag}@diko.example"
    gerd_id = (await bus.ok(RegisterStaff(name="Gerd Möller", email=gerd_email)))["staff_id"]
    await bus.ok(Subscribe(staff_id=gerd_id, topics=["match.proposed"]))
    looks: dict[str, Look] = {}

    async def accept_in_chromium(story: Story) -> None:
        result = story.result
        links = await links_in_mail(mailpit, result.staff_email, result.proposal_id, secret)
        looks["opened"] = await look_at(eyes, links["accept"], "action-open", width=PHONE)
        page = await eyes.page(width=PHONE)
        try:
            await page.goto(links["accept"])
            async with page.expect_navigation():
                await page.get_by_role("button", name="Vorschlag annehmen").click()
        finally:
            await page.context.close()
        looks["accepted"] = await look_at(eyes, links["accept"], "action-accepted-by-me")

    secret = system["notifications"].env["DIKO_LINK_SECRET"]
    async with Story(
        stack.amqp_url,
        timeout=90,
        say=lambda _: None,
        staff_email=f"birte.albrecht+{tag}@diko.example",
        decide=accept_in_chromium,
        service_url=lambda name: system[name].base_url,
    ) as played:
        story = await played.play()
    return World(
        story=story,
        birte_id=story.staff_id,
        gerd_id=gerd_id,
        gerd_email=gerd_email,
        notifications=system["notifications"].base_url,
        media=system["media"].base_url,
        secret=secret,
        opened=looks["opened"],
        accepted=looks["accepted"],
    )


async def links_in_mail(
    mailpit: Mailpit, email: str, proposal_id: str, secret: str
) -> dict[str, str]:
    """The accept and decline links for a proposal in the e-mails to `email`."""
    reader = ActionLinks(secret, "http://unused", timedelta(days=365))

    async def found() -> dict[str, str]:
        links: dict[str, str] = {}
        for summary in await mailpit.search(f"to:{email}"):
            text = (await mailpit.message(summary["ID"]))["Text"]
            for _, url in LINK.findall(text):
                action = reader.read(url.rsplit("/", 1)[1])
                if action.proposal_id == proposal_id:
                    links[action.decision] = url
        return links if len(links) == 2 else {}

    return await eventually(found, timeout=60, what=f"the links for {proposal_id} to {email}")


async def mail_view(mailpit: Mailpit, email: str, subject_start: str) -> str:
    """Where Mailpit shows an e-mail's HTML part as a page, its inline logo linked."""

    async def found() -> list[dict[str, Any]]:
        mails = await mailpit.search(f"to:{email}")
        return [m for m in mails if m["Subject"].startswith(subject_start)]

    [summary] = await eventually(found, timeout=60, what=f"the e-mail {subject_start!r}")
    return f"{str(mailpit.client.base_url).rstrip('/')}/view/{summary['ID']}.html"


def assert_branded_page(look: Look, service: str) -> None:
    """A page of ours: Lato from the service itself, the brand's colours, the logo."""
    look.assert_sound()
    assert {"Lato 400", "Lato 700", "Lato 900"} <= set(look.fonts), look.fonts
    fonts = [url for url in look.loaded if url.endswith(".ttf")]
    assert fonts, look.loaded
    assert all(url.startswith(f"{service}/brand/fonts/Lato-") for url in fonts), fonts
    assert f"{service}/brand/brand.css" in look.loaded
    assert f"{service}/brand/logo.svg" in look.loaded
    assert look.probed["logo"] > 0, "the logo is shown"
    assert look.probed["ground"] == CSS["nachtblau"]
    assert look.probed["font"].startswith("Lato,")


async def look_at(eyes: Eyes, url: str, name: str, **kwargs: Any) -> Look:
    return await eyes.look(url, name, probe=LOOK_AT_BRAND, **kwargs)


async def new_proposal(
    bus: Bus, world: World, applicant: RegisterApplicant, position_id: str | None = None
) -> tuple[str, str]:
    """A proposal of a new applicant for the story's company: (proposal id, position id).

    The applicant registers first; then a Tischler/in position opens (or the given one is
    proposed to her), and matching proposes the pair to Birte and Gerd.
    """
    tap = await bus.tap(pattern="match.proposed")
    applicant_id = (await bus.ok(applicant))["applicant_id"]
    if position_id is None:
        opened = await bus.ok(
            OpenPosition(
                company_id=world.story.company_id,
                occupation=Occupation(code="22342", name="Tischler/in"),
                places=1,
                start_date=date(date.today().year + 1, 8, 1),
                town="Stendal",
                school_certificate="hauptschule",
            )
        )
        position_id = opened["position_id"]

    def pair(message: Any) -> bool:
        return any(
            p["applicant"]["applicant_id"] == applicant_id
            and p["position"]["position_id"] == position_id
            for p in message.data["proposals"]
        )

    [proposed] = await tap.wait_for(pair)
    [proposal] = [p for p in proposed.data["proposals"] if pair_of(p, applicant_id)]
    return proposal["proposal_id"], position_id


def pair_of(proposal: dict[str, Any], applicant_id: str) -> bool:
    return bool(proposal["applicant"]["applicant_id"] == applicant_id)


def applicant(first: str, last: str, town: str) -> RegisterApplicant:
    return RegisterApplicant(
        first_name=first,
        last_name=last,
        home_town=town,
        reach_km=30,
        school_certificate="realschule",
        desired_occupations=["22342"],
        earliest_start=date(date.today().year + 1, 7, 1),
    )


# -- the e-mails -----------------------------------------------------------------------------


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
async def test_the_proposal_mail(world: World, mailpit: Mailpit, eyes: Eyes, width: int) -> None:
    url = await mail_view(mailpit, world.story.staff_email, "Neuer Vorschlag für Tischler/in")
    look = await look_at(eyes, url, f"mail-proposal-{width}", width=width)
    look.assert_sound()
    look.assert_shows(
        "Hallo Birte Albrecht,",
        "für die Ausbildungsstelle als Tischler/in bei Tischlerei Müller & Söhne GmbH in "
        "Stendal gibt es einen neuen Vermittlungsvorschlag.",
        "1. Lena Schröder aus Osterburg (Altmark)",
        "Passung: 90\u00a0%",
        "Die Stelle bildet im Wunschberuf Tischler/in (KldB 22342) aus.",
        "Vorschlag annehmen",
        "Vorschlag ablehnen",
        "Die Links gelten 14\u00a0Tage.",
        "Viele Grüße DIKO Altmark",
    )
    assert_branded_mail(look)


def assert_branded_mail(look: Look) -> None:
    """An e-mail of ours: its logo inside the mail, the brand's colours, web-safe fonts."""
    assert look.probed["logo"] == 400, "the logo travels inside the e-mail"
    assert any("/part/" in url for url in look.loaded), look.loaded
    assert look.probed["ground"] == CSS["nachtblau"]
    assert look.probed["font"].startswith("Lato, ")
    assert "Arial, sans-serif" in look.probed["font"], "mail clients fall back to web-safe fonts"
    assert look.fonts == [], "an e-mail loads no fonts"


async def test_the_filled_position_mail(world: World, mailpit: Mailpit, eyes: Eyes) -> None:
    url = await mail_view(mailpit, world.story.staff_email, "Ausbildungsstelle besetzt")
    look = await look_at(eyes, url, "mail-filled", width=PHONE)
    look.assert_sound()
    look.assert_shows(
        "die Ausbildungsstelle als Tischler/in bei Tischlerei Müller & Söhne GmbH in Stendal "
        "ist besetzt.",
        "Ausbildungsberuf Tischler/in",
        "Beginn 1.\u00a0August",
        "Danke an alle, die dabei geholfen haben!",
    )
    assert "Platz ist vergeben" not in look.text
    assert_branded_mail(look)


async def test_the_episode_mail(world: World, mailpit: Mailpit, eyes: Eyes) -> None:
    url = await mail_view(mailpit, world.story.staff_email, "Neue Podcastfolge")
    look = await look_at(eyes, url, "mail-episode", width=DESKTOP)
    look.assert_sound()
    look.assert_shows(
        "ist eine neue Folge unseres Podcasts erschienen: „DIKO trifft… die Tischlerei Müller "
        "in Stendal“.",
        "Jana Müller erzählt, wie ihr Familienbetrieb",
        "Folge anhören (29\u00a0Minuten)",
        f"Alle Folgen: {world.media}/podcast",
    )
    assert_branded_mail(look)


# -- the action pages ------------------------------------------------------------------------


async def test_an_open_proposal_asks_before_anything_is_decided(world: World) -> None:
    look = world.opened
    look.assert_sound()
    assert look.title == "Vorschlag annehmen? – DIKO Altmark"
    look.assert_shows(
        "Vorschlag annehmen?",
        "Sie sind dabei, diesen Vorschlag anzunehmen:",
        "Bewerber/in Lena Schröder aus Osterburg (Altmark)",
        "Betrieb Tischlerei Müller & Söhne GmbH",
        "Es gilt die erste Entscheidung über einen Vorschlag",
        "Vorschlag annehmen",
        "das Öffnen des Links allein ändert nichts.",
    )


async def test_the_pages_load_lato_and_the_colours_from_the_service_itself(world: World) -> None:
    assert_branded_page(world.opened, world.notifications)
    assert world.opened.probed["button"] == CSS["nachtblau"]
    assert_branded_page(world.accepted, world.notifications)


async def test_accepted_by_this_person(world: World) -> None:
    look = world.accepted
    look.assert_sound()
    look.assert_shows("Vorschlag angenommen", "Sie haben diesen Vorschlag am ", "Uhr angenommen.")
    assert "Vorschlag annehmen" not in look.text, "nothing left to decide"


async def test_a_second_post_changes_nothing_and_says_so(
    world: World, mailpit: Mailpit, eyes: Eyes
) -> None:
    links = await links_in_mail(
        mailpit, world.story.staff_email, world.story.proposal_id, world.secret
    )
    again = await eyes.look(links["accept"], "action-second-post", method="POST", form={})
    assert again.status == 200
    again.assert_sound()
    again.assert_shows(
        "Vorschlag angenommen",
        "Sie haben diesen Vorschlag am ",
        "Über den Vorschlag war bereits entschieden; dieser Klick hat nichts geändert.",
    )
    declined = await eyes.look(links["decline"], "action-post-other", method="POST", form={})
    assert declined.status == 409
    declined.assert_shows(
        "Vorschlag angenommen", "Ablehnen ist nicht mehr möglich: Es gilt die erste Entscheidung."
    )


async def test_accepted_by_someone_else(world: World, mailpit: Mailpit, eyes: Eyes) -> None:
    links = await links_in_mail(mailpit, world.gerd_email, world.story.proposal_id, world.secret)
    for decision, width in (("accept", PHONE), ("decline", DESKTOP)):
        look = await look_at(eyes, links[decision], f"action-by-other-{decision}", width=width)
        look.assert_sound()
        look.assert_shows("Vorschlag angenommen", "Birte Albrecht hat diesen Vorschlag am ")
        assert "Vorschlag annehmen" not in look.text
        assert "Vorschlag ablehnen" not in look.text
    look.assert_shows("Ablehnen ist nicht mehr möglich: Es gilt die erste Entscheidung.")


async def test_declined_by_this_person_and_seen_by_the_other(
    world: World, bus: Bus, mailpit: Mailpit, eyes: Eyes
) -> None:
    proposal_id, _ = await new_proposal(bus, world, applicant("Jonas", "Becker", "Tangermünde"))
    gerd = await links_in_mail(mailpit, world.gerd_email, proposal_id, world.secret)
    birte = await links_in_mail(mailpit, world.story.staff_email, proposal_id, world.secret)

    asked = await look_at(eyes, gerd["decline"], "action-decline-open", width=PHONE)
    asked.assert_sound()
    asked.assert_shows("Vorschlag ablehnen?", "Sie sind dabei, diesen Vorschlag abzulehnen:")
    assert asked.probed["button"] == CSS["ziegel"]
    declined = await look_at(eyes, gerd["decline"], "action-declined", method="POST", form={})
    assert declined.status == 200
    declined.assert_sound()
    declined.assert_shows("Vorschlag abgelehnt", "Sie haben diesen Vorschlag am ", "abgelehnt.")

    seen = await look_at(eyes, birte["accept"], "action-declined-by-other", width=PHONE)
    seen.assert_sound()
    seen.assert_shows(
        "Vorschlag abgelehnt",
        "Gerd Möller hat diesen Vorschlag am ",
        "Annehmen ist nicht mehr möglich: Es gilt die erste Entscheidung.",
    )
    assert seen.probed["button"] is None, "no button: nothing left to decide"


async def test_a_decision_taken_while_the_page_was_open_gets_a_clear_page(
    world: World, bus: Bus, mailpit: Mailpit, eyes: Eyes
) -> None:
    proposal_id, _ = await new_proposal(bus, world, applicant("Mia", "Krüger", "Tangerhütte"))
    links = await links_in_mail(mailpit, world.story.staff_email, proposal_id, world.secret)
    page = await eyes.page(width=PHONE)
    try:
        await page.goto(links["accept"])
        button = page.get_by_role("button", name="Vorschlag annehmen")
        await button.wait_for()
        # Meanwhile, Gerd declines it elsewhere (any system may send match.decide).
        await bus.ok(
            DecideMatch(proposal_id=proposal_id, decision="decline", decided_by=world.gerd_id)
        )
        async with page.expect_navigation() as navigation:
            await button.click()
        response = await navigation.value
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "action-raced.png"), full_page=True)
        text = await page.inner_text("body")
        buttons = await page.locator("button").count()
    finally:
        await page.context.close()
    assert response is not None
    assert response.status == 409
    assert "Vorschlag abgelehnt" in text
    assert "Gerd Möller hat diesen Vorschlag am " in text
    assert "Annehmen ist nicht mehr möglich: Es gilt die erste Entscheidung." in text
    assert "bereits abgelehnt" not in text, "matching's own sentence is not shown"
    assert buttons == 0


async def test_an_expired_link_says_where_its_proposal_stands(world: World, eyes: Eyes) -> None:
    month_ago = time.time() - 30 * 86_400
    old = ActionLinks(
        world.secret, world.notifications, timedelta(days=14), clock=lambda: month_ago
    )
    url = old.url(Action(world.story.proposal_id, "decline", world.birte_id))
    for method in ("GET", "POST"):
        look = await eyes.look(url, f"action-expired-{method.lower()}", method=method, form={})
        assert look.status == 410
        look.assert_shows(
            "Link abgelaufen",
            "Dieser Link ist abgelaufen: Links aus den E-Mails gelten 14\u00a0Tage.",
            "Sie haben diesen Vorschlag am ",
            "Lena Schröder aus Osterburg (Altmark)",
        )
        assert "Vorschlag ablehnen" not in look.text
        assert look.foreign_requests == []


async def test_an_unknown_proposal_is_asked_by_reference_and_refused_by_matching(
    world: World, eyes: Eyes
) -> None:
    unknown = f"prp_{secrets.token_hex(10)}"
    links = ActionLinks(world.secret, world.notifications, timedelta(days=14))
    url = links.url(Action(unknown, "accept", world.birte_id))
    asked = await look_at(eyes, url, "action-unknown-open", width=PHONE)
    asked.assert_sound()
    asked.assert_shows(
        f"Sie sind dabei, den Vorschlag mit der Referenz {unknown} anzunehmen.",
        "Um wen und um welche Stelle es geht, steht in der E-Mail",
    )
    refused = await eyes.look(url, "action-unknown-post", method="POST", form={})
    assert refused.status == 404
    refused.assert_shows(
        "Vorschlag nicht gefunden",
        "Einen Vorschlag mit dieser Referenz kennt das Matching nicht.",
        f"Referenz: {unknown}",
    )


# -- media -----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
async def test_the_podcast_page(world: World, eyes: Eyes, width: int) -> None:
    look = await look_at(eyes, f"{world.media}/podcast", f"podcast-{width}", width=width)
    assert_branded_page(look, world.media)
    look.assert_shows(
        "DIKO trifft…",
        "Abonnieren: Fügen Sie diese Feed-Adresse in Ihre Podcast-App ein",
        f"{world.media}/podcast/feed.xml",
        "Alle Folgen",
        "DIKO trifft… die Tischlerei Müller in Stendal",
        "Folge 1 · ",
        "29\u00a0Minuten",
        "Audiodatei öffnen",
    )
    assert f"{world.media}/podcast/cover.png" in look.loaded


async def test_the_brand_files_are_served_by_each_service_that_shows_pages(world: World) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for base in (world.media, world.notifications):
            css = await http.get(f"{base}/brand/brand.css")
            assert css.headers["content-type"] == "text/css; charset=utf-8"
            for name, value in COLOURS.items():
                assert f"--{name}: {value};" in css.text
            for path in FONT_FILES.values():
                font = await http.get(f"{base}/brand/fonts/{path.name}")
                assert font.headers["content-type"] == "font/ttf"
                assert font.content == path.read_bytes()
            again = await http.get(
                f"{base}/brand/logo.svg", headers={"If-None-Match": css.headers["etag"]}
            )
            assert again.status_code == 200
            cached = await http.get(
                f"{base}/brand/logo.svg", headers={"If-None-Match": again.headers["etag"]}
            )
            assert cached.status_code == 304
            assert (await http.get(f"{base}/brand/nothing.css")).status_code == 404


async def test_the_post_image_and_the_cover_are_in_the_brands_colours(world: World) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        post = (await http.get(world.story.post_image_url)).content
        cover = (await http.get(f"{world.media}/podcast/cover.png")).content
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "post.png").write_bytes(post)
    (SCREENSHOTS / "cover.png").write_bytes(cover)
    image = Image.open(io.BytesIO(post)).convert("RGB")
    assert image.size == (1080, 1350)
    assert image.getpixel((20, 600)) == rgb("nachtblau"), "the ground"
    assert image.getpixel((20, 1340)) == rgb("raps"), "the band with the start"
    assert image.getpixel((540, 760)) == rgb("weiss"), "the card"
    assert image.getpixel((106, 90)) == rgb("raps"), "the logo's sun"
    square = Image.open(io.BytesIO(cover)).convert("RGB")
    assert square.getpixel((20, 20)) == rgb("nachtblau")
    assert square.getpixel((2900, 2900)) == rgb("raps")
    colours = Counter(image.get_flattened_data())
    brand = {rgb(name) for name in COLOURS}
    in_brand = sum(count for colour, count in colours.items() if colour in brand)
    assert in_brand / (1080 * 1350) > 0.9, "all but the edges of letters and shapes"
