"""The project website, built by the running media service from events as their owners
publish them, served under /site and looked at in headless Chromium: every page type
sound at phone and desktop width with zero axe-core violations, the JobPosting data with
the properties job search requires, and a company gone from the site once it withdraws
its consent (and a position once it is filled or closed), within one rebuild. Company
photos arrive over HTTP through the presentation's signed link, are checked and resized
to WebP for `srcset`, shown with their alt text, and leave with the company."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from media_harness import as_event, media_env
from PIL import Image, ImageDraw
from pymongo import AsyncMongoClient

from diko_media.site import store as site_store
from diko_shared import due
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import (
    CompanyRegistered,
    CompanyUpdated,
    ConsentChanged,
    PositionClosed,
    PositionFilled,
    PositionOpened,
    PositionUpdated,
)
from diko_shared.contract.matching import FairPlanned
from diko_shared.contract.media import PublishPresentation, UnpublishPresentation
from harness.browser import DESKTOP, PHONE, Eyes
from harness.bus import Bus
from harness.fixtures import own_stack
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

BERLIN = ZoneInfo("Europe/Berlin")
PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
SITE = f"{BASE}/site/"
MUELLER = "cmp_" + uuid.uuid4().hex[:20]
BAECKER = "cmp_" + uuid.uuid4().hex[:20]
HIDDEN = "cmp_" + uuid.uuid4().hex[:20]
TISCHLER = "pos_" + uuid.uuid4().hex[:20]
MECHATRONIK = "pos_" + uuid.uuid4().hex[:20]
BAECKEREI = "pos_" + uuid.uuid4().hex[:20]
SECRET_POSITION = "pos_" + uuid.uuid4().hex[:20]
FILLED = "pos_" + uuid.uuid4().hex[:20]
#: A rebuild waits for the due loop and renders pages; a loaded machine stretches both.
REBUILT_S = 60.0
#: What job search requires of a JobPosting (and the address it needs in a place).
REQUIRED = ("title", "description", "datePosted", "validThrough", "hiringOrganization",
            "jobLocation", "employmentType")  # fmt: skip
MAX_PAGE_BYTES = 300_000
#: matching's registration form, as an operator configures it for the site.
REGISTRATION = "https://www.diko-altmark.example/bewerbung"
#: The largest photo media takes in this test (DIKO_IMAGE_MAX_BYTES).
PHOTO_MAX_BYTES = 2_000_000
WORKSHOP = "Zwei Auszubildende hobeln in der Werkstatt eine Tischplatte aus Eiche."
BAKERY = "Frische Brötchen liegen in der Backstube auf einem Blech."
#: Photo upload links, by company (from the answers to presentation.publish).
UPLOADS: dict[str, str] = {}


# A virtual host and databases of this module's own, with media's queues empty. On the
# session's, media's queues hold every event the modules before this one caused (the
# whole suite: hundreds of `position.opened`, each an Instagram draft rendered before its
# position is copied for the site), and this module's events queue behind them: whether
# the first build came within REBUILT_S then depended on the suite's history and the
# machine's load, not on media (200 such events ahead at a load average of 12 took
# longer, with the pipeline of main and of the pipeline lane alike).
stack, bus, mailpit, mongo = own_stack("module")


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("site")


@pytest.fixture(scope="module")
def media(stack: SessionStack, site_dir: Path) -> Iterator[ServiceProcess]:
    env = media_env(stack, BASE, DIKO_SITE_DIR=str(site_dir),
                    DIKO_SITE_CONTACT_EMAIL="ausbildung@diko-altmark.example",
                    DIKO_SITE_REGISTRATION_URL=REGISTRATION,
                    DIKO_IMAGE_MAX_BYTES=str(PHOTO_MAX_BYTES),
                    DIKO_SITE_IMPRESSUM="Angaben gemäß § 5 DDG\n\nDIKO Altmark e. V.\n"
                    "Breite Straße 1, 39576 Stendal")  # fmt: skip
    process = ServiceProcess("media-site", "diko_media", PORT, env)
    process.start()
    yield process
    process.stop()


async def publish(bus: Bus, *events: object) -> None:
    for event in events:
        await bus.publisher.publish(as_event(event))  # type: ignore[arg-type]


def consent(company_id: str, status: str) -> ConsentChanged:
    return ConsentChanged(company_id=company_id, purpose="website", status=status,
                          declared_at=datetime.now(UTC))  # fmt: skip


def opened(position_id: str, company_id: str, name: str, occupation: Occupation, town: str,
           start: date, **extra: object) -> PositionOpened:  # fmt: skip
    return PositionOpened(position_id=position_id, company_id=company_id, company_name=name,
                          occupation=occupation, places=2, start_date=start, town=town,
                          **extra)  # type: ignore[arg-type]  # fmt: skip


async def get(path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30.0) as client:
        return await client.get(SITE + path)


async def shows(path: str, *phrases: str) -> bool:
    response = await get(path)
    return response.status_code == 200 and all(p in response.text for p in phrases)


async def gone(path: str) -> bool:
    return (await get(path)).status_code == 404


def camera_photo(width: int = 2400, height: int = 1600, orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: stored sideways with an EXIF orientation, and where it
    was taken (GPS) in its metadata."""
    image = Image.new("RGB", (width, height), (196, 150, 98))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 4, height), fill=(40, 60, 110))  # marks the stored left
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Telefonhersteller"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


async def photos_of(link: str) -> list[dict[str, Any]]:
    """The company's photos as its link lists them."""
    async with httpx.AsyncClient(timeout=30.0) as client:
        answer = await client.get(link)
    assert answer.status_code == 200, answer.text
    return answer.json()["photos"]


async def upload_photo(
    link: str, data: bytes, alt: str | None, name: str = "IMG_2041.jpg", kind: str = "image/jpeg"
) -> httpx.Response:
    fields = {} if alt is None else {"alt": alt}
    async with httpx.AsyncClient(timeout=60.0) as client:
        return await client.post(link, files={"foto": (name, data, kind)}, data=fields)


@pytest.fixture(scope="module")
async def site(bus: Bus, media: ServiceProcess) -> str:
    year = date.today().year + 1
    await publish(
        bus,
        CompanyRegistered(company_id=MUELLER, name="Tischlerei Müller & Söhne GmbH",
                          town="Stendal", postcode="39576", industry="Handwerk"),
        CompanyRegistered(company_id=BAECKER, name="Bäckerei Sonnenschein",
                          town="Tangerhütte", postcode="39517"),
        CompanyRegistered(company_id=HIDDEN, name="Betrieb ohne Einwilligung",
                          town="Salzwedel", postcode="29410"),
        consent(MUELLER, "given"),
        consent(BAECKER, "given"),
    )  # fmt: skip
    await publish(
        bus,
        opened(TISCHLER, MUELLER, "Tischlerei Müller & Söhne GmbH",
               Occupation(code="22342", name="Tischler/in"), "Stendal", date(year, 8, 1),
               school_certificate="hauptschule",
               description="Du baust mit uns Möbel <b>& Treppen</b> – vom Entwurf bis zum Einbau."),
        opened(MECHATRONIK, MUELLER, "Tischlerei Müller & Söhne GmbH",
               Occupation(code="26112", name="Mechatroniker/in"), "Stendal", date(year + 1, 8, 1)),
        opened(BAECKEREI, BAECKER, "Bäckerei Sonnenschein",
               Occupation(code="29202", name="Bäcker/in"), "Tangerhütte", date(year, 9, 1)),
        opened(SECRET_POSITION, HIDDEN, "Betrieb ohne Einwilligung",
               Occupation(code="29202", name="Bäcker/in"), "Salzwedel", date(year, 9, 1)),
        opened(FILLED, BAECKER, "Bäckerei Sonnenschein",
               Occupation(code="63302", name="Fachverkäufer/in im Lebensmittelhandwerk"),
               "Tangerhütte", date(year, 8, 1)),
    )  # fmt: skip
    example = FairPlanned.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    day = (date.today() + timedelta(days=30)).isoformat()
    fair = FairPlanned.model_validate_json(json.dumps({**example, "date": day}))
    await publish(bus, fair)
    await eventually(
        lambda: shows("", "Tischler/in", "Bäcker/in", "Bewerberbörse Stendal"),
        timeout=REBUILT_S, what="the start page with the positions and the fair",
    )  # fmt: skip
    reply = await bus.ok(
        PublishPresentation(
            company_id=MUELLER,
            about="Wir sind eine Tischlerei mit zwölf Leuten in Stendal und bauen Möbel, Treppen "
            "und Fenster für Kunden in der ganzen Altmark.",
            training="Bei uns arbeitest du vom ersten Tag an an echten Aufträgen mit.",
            contact={"name": "Jana Müller", "role": "Ausbilderin",
                     "email": "ausbildung@tischlerei-mueller.example"},
        )  # type: ignore[arg-type]
    )  # fmt: skip
    assert reply["shown"] is True
    assert reply["url"] == f"{SITE}betriebe/{MUELLER}"
    assert reply["photo_upload_url"].startswith(f"{BASE}/betriebe/fotos/")
    UPLOADS[MUELLER] = reply["photo_upload_url"]
    baker = await bus.ok(PublishPresentation(company_id=BAECKER, about="Wir backen seit 1952."))
    UPLOADS[BAECKER] = baker["photo_upload_url"]
    for company_id, alt in ((MUELLER, WORKSHOP), (BAECKER, BAKERY)):
        answer = await upload_photo(UPLOADS[company_id], camera_photo(), alt)
        assert answer.status_code == 201, answer.text
    await eventually(lambda: shows(f"betriebe/{MUELLER}", "Jana Müller", WORKSHOP),
                     timeout=REBUILT_S, what="the presentation with its photo")  # fmt: skip
    await eventually(lambda: shows(f"betriebe/{BAECKER}", BAKERY), timeout=REBUILT_S,
                     what="the bakery's photo")  # fmt: skip
    return SITE


PAGES = {
    "start": "",
    "positions": "stellen/",
    "position": f"stellen/{TISCHLER}",
    "occupation": "stellen/beruf/tischler-in",
    "town": "stellen/ort/stendal-25-km",
    "year": f"stellen/beginn/{date.today().year + 1}",
    "companies": "betriebe/",
    "company": f"betriebe/{MUELLER}",
    "podcast": "podcast/",
    "impressum": "impressum/",
    "privacy": "datenschutz/",
}


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("kind", list(PAGES))
async def test_every_page_type_is_sound_and_accessible(
    site: str, eyes: Eyes, kind: str, width: int
) -> None:
    look = await eyes.look(site + PAGES[kind], f"site-{kind}-{width}", width=width, axe=True)
    look.assert_sound()
    look.assert_accessible()
    assert "default-src 'none'" in look.headers["content-security-policy"]
    assert "script-src" not in look.headers["content-security-policy"]
    assert any(font.startswith("Lato") for font in look.fonts)
    response = await get(PAGES[kind])
    assert len(response.content) < MAX_PAGE_BYTES
    html = response.text
    canonical = re.search(r'<link rel="canonical" href="([^"]+)">', html)
    assert canonical is not None
    assert canonical.group(1) == site + PAGES[kind]
    assert f'<meta property="og:url" content="{site + PAGES[kind]}">' in html
    assert '<meta property="og:title"' in html
    assert '<meta property="og:image"' in html


async def test_what_the_pages_say(site: str, eyes: Eyes) -> None:
    start = await eyes.look(site, "site-start-text", width=PHONE)
    start.assert_shows("Deine Ausbildung in der Altmark", "Neue Ausbildungsplätze",
                       "Tischler/in", "Bewerberbörse Stendal", "Nächste Bewerberbörse")  # fmt: skip
    assert "Betrieb ohne Einwilligung" not in start.text
    position = await eyes.look(site + PAGES["position"], "site-position-text", width=PHONE)
    position.assert_shows(
        "Ausbildung als Tischler/in", "Tischlerei Müller & Söhne GmbH",
        "Du baust mit uns Möbel <b>& Treppen</b>", "Hauptschulabschluss",
        "So bewirbst du dich", "ausbildung@tischlerei-mueller.example",
    )  # fmt: skip
    impressum = await eyes.look(site + PAGES["impressum"], "site-impressum-text", width=PHONE)
    impressum.assert_shows("DIKO Altmark e. V.", "Breite Straße 1, 39576 Stendal")
    town = await eyes.look(site + "stellen/ort/stendal-25-km", "site-town-text", width=PHONE)
    town.assert_shows("bis 25 km Umkreis", "Tischler/in", "Bäcker/in", "km entfernt")
    company = await eyes.look(site + PAGES["company"], "site-company-text", width=PHONE)
    for look in (start, position, company):
        look.assert_shows("Ich suche eine Ausbildung – jetzt anmelden")
    for kind in ("start", "position", "company"):
        html = (await get(PAGES[kind])).text
        assert f'<a class="button" href="{REGISTRATION}">Ich suche eine Ausbildung' in html
    assert REGISTRATION not in (await get(PAGES["positions"])).text
    near = await get("stellen/ort/stendal-10-km")
    assert TISCHLER in near.text
    assert BAECKEREI not in near.text  # Tangerhütte lies 19 km from Stendal


async def test_a_position_carries_job_posting_data(site: str) -> None:
    html = (await get(PAGES["position"])).text
    (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    posting = json.loads(block)
    assert posting["@context"].startswith("https://schema.org")
    assert posting["@type"] == "JobPosting"
    missing = [name for name in REQUIRED if not posting.get(name)]
    assert missing == []
    assert posting["title"] == "Ausbildung Tischler/in"
    assert "&lt;b&gt;&amp; Treppen&lt;/b&gt;" in posting["description"]
    assert "<b>" not in posting["description"]
    posted = date.fromisoformat(posting["datePosted"])
    today = datetime.now(BERLIN).date()
    assert posted in (today, today - timedelta(days=1)), "the site dates postings in Berlin's day"
    assert datetime.fromisoformat(posting["validThrough"]) > datetime.now(UTC)
    assert posting["hiringOrganization"] == {"@type": "Organization",
                                             "name": "Tischlerei Müller & Söhne GmbH"}  # fmt: skip
    address = posting["jobLocation"]["address"]
    assert posting["jobLocation"]["@type"] == "Place"
    assert address["@type"] == "PostalAddress"
    assert address["addressLocality"] == "Stendal"
    assert address["addressCountry"] == "DE"
    assert address["postalCode"] == "39576"
    assert address["addressRegion"] == "Sachsen-Anhalt"
    assert posting["employmentType"] == ["FULL_TIME"]


async def test_sitemap_robots_and_the_missing_page(site: str) -> None:
    sitemap = (await get("sitemap.xml")).text
    assert f"<loc>{site}betriebe/{MUELLER}</loc>" in sitemap
    assert f"<loc>{site}stellen/{TISCHLER}</loc>" in sitemap
    assert HIDDEN not in sitemap
    assert SECRET_POSITION not in sitemap
    robots = (await get("robots.txt")).text
    assert f"Sitemap: {site}sitemap.xml" in robots
    missing = await get("stellen/pos_00000000000000000000")
    assert missing.status_code == 404
    assert "Diese Seite gibt es nicht" in missing.text
    assert "default-src 'none'" in missing.headers["content-security-policy"]
    hidden = await get(f"betriebe/{HIDDEN}")
    assert hidden.status_code == 404
    assert (await get(f"stellen/{SECRET_POSITION}")).status_code == 404


async def test_a_company_that_withdraws_its_consent_leaves_the_site(
    site: str, bus: Bus, site_dir: Path
) -> None:
    rebuilt = await bus.tap(pattern="site.rebuilt")
    (photo,) = await photos_of(UPLOADS[BAECKER])
    photo_urls = [v["url"] for v in photo["variants"]]
    async with httpx.AsyncClient(timeout=30) as client:
        assert all([(await client.get(u)).status_code == 200 for u in photo_urls])
    await publish(bus, consent(BAECKER, "withdrawn"))
    await eventually(lambda: gone(f"betriebe/{BAECKER}"), timeout=REBUILT_S,
                     what="the withdrawn company's page gone")  # fmt: skip
    assert await gone(f"stellen/{BAECKEREI}")
    for path in ("", "stellen/", "betriebe/", "sitemap.xml", "stellen/beruf/baecker-in"):
        response = await get(path)
        assert "Bäckerei Sonnenschein" not in response.text
        assert BAECKEREI not in response.text
    files = [p for p in (site_dir / "current").resolve().rglob("*") if p.is_file()]
    assert not any(BAECKER in str(p) or BAECKEREI in str(p) for p in files)
    assert not any(b"Sonnenschein" in p.read_bytes() for p in files)
    # its photos went with it: not served, not in the served directory
    assert not any(photo["photo_id"] in p.name for p in files)
    async with httpx.AsyncClient(timeout=30) as client:
        assert [(await client.get(u)).status_code for u in photo_urls] == [404] * len(photo_urls)
    (event,) = await rebuilt.wait_for(lambda s: s.data["removed"] > 0, timeout=REBUILT_S)
    assert event.data["full"] is False

    await publish(bus, consent(BAECKER, "given"))
    await eventually(lambda: shows(f"betriebe/{BAECKER}", "Bäckerei Sonnenschein", BAKERY),
                     timeout=REBUILT_S, what="the company back with its consent")  # fmt: skip
    async with httpx.AsyncClient(timeout=30) as client:
        assert [(await client.get(u)).status_code for u in photo_urls] == [200] * len(photo_urls)


async def test_a_filled_or_closed_position_disappears(site: str, bus: Bus) -> None:
    await eventually(lambda: shows(f"stellen/{FILLED}", "Fachverkäufer/in"), timeout=REBUILT_S,
                     what="the position before it is filled")  # fmt: skip
    await publish(bus, PositionFilled(position_id=FILLED, company_id=BAECKER,
                                      company_name="Bäckerei Sonnenschein",
                                      occupation=Occupation(code="63302", name="Fachverkäufer/in "
                                                            "im Lebensmittelhandwerk"),
                                      places=2, town="Tangerhütte",
                                      start_date=date(date.today().year + 1, 8, 1)))  # fmt: skip
    await eventually(lambda: gone(f"stellen/{FILLED}"), timeout=REBUILT_S, what="filled: gone")
    assert "Fachverkäufer" not in (await get("stellen/")).text
    await publish(bus, PositionClosed(position_id=MECHATRONIK, company_id=MUELLER,
                                      reason="withdrawn"))  # fmt: skip
    await eventually(lambda: gone(f"stellen/{MECHATRONIK}"), timeout=REBUILT_S,
                     what="closed: gone")  # fmt: skip
    assert await gone(f"stellen/beginn/{date.today().year + 2}")
    assert "Mechatroniker" not in (await get(f"betriebe/{MUELLER}")).text


async def test_an_edit_that_overtakes_the_opening_is_not_lost(site: str, bus: Bus) -> None:
    """A redelivery or a slow replica can hand media a position's edit before its opening:
    each field keeps its newest value, so the page shows the edited town and places."""
    position_id = "pos_" + uuid.uuid4().hex[:20]
    opened_at = datetime.now(UTC) - timedelta(minutes=5)
    edit = PositionUpdated(position_id=position_id, company_id=MUELLER, places=4,
                           places_taken=1, status="open", town="Tangermünde",
                           changed=["town", "places"])  # fmt: skip
    opening = opened(position_id, MUELLER, "Tischlerei Müller & Söhne GmbH",
                     Occupation(code="22342", name="Tischler/in"), "Stendal",
                     date(date.today().year + 1, 8, 1))  # fmt: skip
    await bus.publisher.publish(as_event(edit, at=opened_at + timedelta(minutes=1)))
    await bus.publisher.publish(as_event(opening, at=opened_at))
    await eventually(lambda: shows(f"stellen/{position_id}", "Tangermünde", "Tischler/in"),
                     timeout=REBUILT_S, what="the opened position with its later edit")  # fmt: skip
    html = (await get(f"stellen/{position_id}")).text
    (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert json.loads(block)["jobLocation"]["address"]["addressLocality"] == "Tangermünde"


async def test_a_burst_of_changes_moves_one_build_item_and_every_change_is_built(
    site: str, bus: Bus, mongo: AsyncMongoClient, stack: SessionStack
) -> None:
    """Every change moves the one due item `site.build|site` to now: a burst of openings
    leaves no pile of items for the due loop to decode at every poll (400 stories left
    1,400 when each change had an item of its own), each opening reaches the site, and
    each build announces itself under ids of its own, since a run after a rescheduling
    is a new build, not a repeat that consumers would drop."""
    db = mongo[stack.database("media")]
    rebuilt = await bus.tap(pattern="site.rebuilt")
    burst = ["pos_" + uuid.uuid4().hex[:20] for _ in range(12)]
    start = date(date.today().year + 1, 8, 1)
    await publish(bus, *(opened(p, MUELLER, "Tischlerei Müller & Söhne GmbH",
                                Occupation(code="22342", name="Tischler/in"), "Stendal", start)
                         for p in burst))  # fmt: skip
    items: set[str] = set()

    async def all_built() -> bool:
        found = await db[due.DUE].find({"kind": site_store.BUILD}, {"_id": 1}).to_list(None)
        items.update(d["_id"] for d in found if "|start-" not in d["_id"])
        return all([await shows(f"stellen/{p}", "Tischler/in") for p in burst])

    await eventually(all_built, timeout=REBUILT_S, what="every opening of the burst built")
    assert items <= {due.item_id(site_store.BUILD, site_store.SITE_KEY)}
    later = "pos_" + uuid.uuid4().hex[:20]
    tischler = Occupation(code="22342", name="Tischler/in")
    await publish(bus, opened(later, MUELLER, "Tischlerei Müller & Söhne GmbH", tischler,
                              "Stendal", start))  # fmt: skip
    await eventually(lambda: shows(f"stellen/{later}", "Tischler/in"), timeout=REBUILT_S,
                     what="an opening after the burst built")  # fmt: skip
    await rebuilt.fence()
    assert len(rebuilt.of_type("site.rebuilt")) >= 2
    ids = [m.message_id for m in rebuilt.of_type("site.rebuilt")]
    builds = [m.envelope["data"]["build_id"] for m in rebuilt.of_type("site.rebuilt")]
    assert len(set(ids)) == len(ids)
    assert len(set(builds)) == len(builds)


async def test_a_presentation_taken_off_and_an_update(site: str, bus: Bus) -> None:
    events = await bus.tap(pattern="presentation.*")
    reply = await bus.ok(UnpublishPresentation(company_id=MUELLER))
    assert reply["status"] == "unpublished"
    assert reply["shown"] is False
    await eventually(lambda: gone(f"betriebe/{MUELLER}"), timeout=REBUILT_S,
                     what="the presentation taken off")  # fmt: skip
    assert await gone(f"stellen/{TISCHLER}")
    await events.wait_type("presentation.unpublished")
    await bus.ok(PublishPresentation(company_id=MUELLER, about="Neu: wir bauen auch Küchen."))
    await publish(bus, CompanyUpdated(company_id=MUELLER, changed=["website"],
                                      name="Tischlerei Müller & Söhne GmbH", town="Stendal",
                                      postcode="39576",
                                      website="https://tischlerei-mueller.example"))  # fmt: skip
    await eventually(
        lambda: shows(f"betriebe/{MUELLER}", "Neu: wir bauen auch Küchen.",
                      "https://tischlerei-mueller.example"),
        timeout=REBUILT_S, what="the presentation back, with the website",
    )  # fmt: skip
    (published,) = await events.wait_type("presentation.published")
    assert published.data["shown"] is True


async def test_publishing_a_presentation_of_an_unknown_company_is_refused(
    site: str, bus: Bus
) -> None:
    reply = await bus.request(PublishPresentation(company_id="cmp_" + "f" * 20, about="Hallo"))
    assert reply["error"]["code"] == "not_found"
    assert "kennt media nicht" in reply["error"]["message"]


async def test_a_photo_is_shown_upright_in_sizes_without_its_metadata(site: str) -> None:
    (photo,) = await photos_of(UPLOADS[MUELLER])
    assert photo["alt"] == WORKSHOP
    # stored sideways with EXIF orientation 6: shown upright, 1600 × 2400
    assert (photo["width"], photo["height"]) == (1600, 2400)
    assert [v["width"] for v in photo["variants"]] == [480, 960, 1600]
    async with httpx.AsyncClient(timeout=30) as client:
        for variant in photo["variants"]:
            assert variant["url"].startswith(f"{site}fotos/{photo['photo_id']}-")
            served = await client.get(variant["url"])
            assert served.status_code == 200
            assert served.headers["content-type"] == "image/webp"
            image = Image.open(io.BytesIO(served.content))
            assert image.format == "WEBP"
            assert image.size == (variant["width"], variant["height"])
            assert image.height > image.width
            assert len(image.getexif()) == 0, "the camera's metadata is gone"
            # the stored left edge (dark) is the top now, the bottom is light
            rgb = image.convert("RGB")
            assert rgb.getpixel((rgb.width // 2, 2))[0] < 100
            assert rgb.getpixel((rgb.width // 2, rgb.height - 3))[0] > 150
    html = (await get(PAGES["company"])).text
    (img,) = re.findall(r"<img src=\"[^\"]*fotos/[^>]*>", html)
    assert f'alt="{WORKSHOP}"' in img
    srcset = re.search(r'srcset="([^"]+)"', img)
    assert srcset is not None
    assert [c.split()[-1] for c in srcset.group(1).split(", ")] == ["480w", "960w", "1600w"]
    assert 'loading="lazy"' in img
    assert f'<meta property="og:image" content="{site}fotos/{photo["photo_id"]}-1600.webp">' in html


async def test_photos_that_cannot_be_shown_are_refused_in_german(site: str) -> None:
    link = UPLOADS[MUELLER]
    gif = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 0, 0)).save(gif, "GIF")
    small = io.BytesIO()
    Image.new("RGB", (300, 200), (0, 120, 0)).save(small, "PNG")
    cases = [
        (await upload_photo(link, camera_photo(), None), 400, "Bitte beschreiben Sie das Foto"),
        (await upload_photo(link, camera_photo(), "IMG_2041.jpg"), 400, "Dateiname"),
        (await upload_photo(link, b"kein Bild, nur Text", WORKSHOP, "foto.jpg"), 400,
         "keine lesbare Bilddatei"),
        (await upload_photo(link, gif.getvalue(), WORKSHOP, "foto.gif", "image/gif"), 415,
         "JPEG-, PNG- oder WebP-Bild"),
        (await upload_photo(link, gif.getvalue(), WORKSHOP, "foto.bin",
                            "application/octet-stream"), 400, "erhalten: GIF"),
        (await upload_photo(link, small.getvalue(), WORKSHOP, "klein.png", "image/png"), 400,
         "mindestens 480 Pixel breit"),
        (await upload_photo(link, b"x" * (PHOTO_MAX_BYTES + 100_000), WORKSHOP), 413,
         "größer als erlaubt"),
        (await upload_photo(link[:-4] + "abcd", camera_photo(), WORKSHOP), 403, "ungültig"),
    ]  # fmt: skip
    for answer, status, phrase in cases:
        assert answer.status_code == status, answer.text
        assert phrase in answer.json()["error"]["message"], answer.text
    (photo,) = await photos_of(link)
    assert photo["alt"] == WORKSHOP, "nothing refused was kept"


async def test_a_photo_taken_out_leaves_the_page(site: str) -> None:
    link = UPLOADS[MUELLER]
    second = "Die Ausbilderin zeigt einer Auszubildenden, wie man eine Zinkenverbindung sägt."
    added = await upload_photo(link, camera_photo(1200, 900, 1), second)
    assert added.status_code == 201, added.text
    assert [v["width"] for v in added.json()["variants"]] == [480, 960, 1200]
    await eventually(lambda: shows(f"betriebe/{MUELLER}", WORKSHOP, second),
                     timeout=REBUILT_S, what="both photos")  # fmt: skip
    async with httpx.AsyncClient(timeout=30) as client:
        removed = await client.delete(f"{link}/{added.json()['photo_id']}")
        again = await client.delete(f"{link}/{added.json()['photo_id']}")
    assert removed.status_code == 200
    assert again.status_code == 404
    assert "gibt es bei diesem Betrieb nicht" in again.json()["error"]["message"]

    async def without_it() -> bool:
        page = await get(f"betriebe/{MUELLER}")
        return page.status_code == 200 and second not in page.text and WORKSHOP in page.text

    await eventually(without_it, timeout=REBUILT_S, what="the page without the photo")
    variant = added.json()["variants"][0]["url"]
    assert (await get(variant.removeprefix(site))).status_code == 404
