"""The website's form „Ich suche eine Ausbildung“ through the real stack.

Matching serves the form and turns a submission into `applicant.register`; notifications
mails the confirmation link (to Mailpit); Chromium fills the form, opens the mail and the
link. Refusals (a form from elsewhere, a flood, a honeypot, bad input, a minor without a
guardian) and the link's clear pages are checked with plain HTTP as a script would send.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from diko_matching.registration.signing import Signer
from diko_shared.contract.matching import GetApplicant, GuardianConsent, UpdateApplicant
from diko_shared.contract.notifications import NoticeRecipient, SendNotification
from harness.browser import AXE, AXE_RUN, DESKTOP, PHONE, SCREENSHOTS, Eyes
from harness.bus import Bus, Tap
from harness.mailpit import Mailpit
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from matching_bus import applicant, open_position, partial, position, register

TOKEN = re.compile(r'name="token" value="([^"]+)"')
LINK = re.compile(r"E-Mail-Adresse bestätigen:\s*(\S+)")


@pytest.fixture(scope="module")
async def mailpit(stack: SessionStack) -> AsyncIterator[Mailpit]:
    async with Mailpit(stack.mailpit_url) as client:
        yield client


@pytest.fixture(scope="module")
def matching(stack: SessionStack) -> Iterator[ServiceProcess]:
    port = free_port()
    env = stack.service_env(
        "matching",
        DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DIKO_REGISTRATION_RATE_LIMIT="50",
        DIKO_PRIVACY_VERSION="Datenschutzhinweise 2026-2",
    )
    process = ServiceProcess("matching", "diko_matching", port, env)
    process.start(timeout=180)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def notifications(stack: SessionStack) -> Iterator[ServiceProcess]:
    port = free_port()
    env = stack.service_env(
        "notifications",
        DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DIKO_LINK_SECRET=secrets.token_urlsafe(32),
    )
    process = ServiceProcess("notifications", "diko_notifications", port, env)
    process.start(timeout=180)
    yield process
    process.stop()


def unique_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.org"


def born(years: int) -> str:
    today = datetime.now(UTC).date()
    return date(today.year - years, today.month, 1).isoformat()


def filled(email: str, **changes: str) -> dict[str, str]:
    """A complete submission of a 17-year-old, as the form's fields name it."""
    fields = {
        "first_name": "Jana",
        "last_name": "Krüger",
        "date_of_birth": born(17),
        "home_town": "Osterburg",
        "email": email,
        "phone": "",
        "wish_1": "22342",
        "wish_2": "",
        "wish_3": "",
        "earliest_start": f"{datetime.now(UTC).year + 1}-08-01",
        "reach_km": "30",
        "school_certificate": "realschule",
        "privacy": "on",
        "website": "",
    }
    return {**fields, **changes}


async def open_form(http: httpx.AsyncClient, base: str) -> str:
    """GET the form (its cookie lands in the client) and return its token."""
    page = await http.get(f"{base}/bewerbung")
    assert page.status_code == 200
    [token] = TOKEN.findall(page.text)
    return token


async def send(http: httpx.AsyncClient, base: str, fields: dict[str, str]) -> httpx.Response:
    token = await open_form(http, base)
    return await http.post(f"{base}/bewerbung", data={**fields, "token": token})


def registered(tap: Tap) -> list[dict[str, Any]]:
    return [m.data for m in tap.of_type("applicant.registered")]


async def confirmation_link(mailpit: Mailpit, email: str) -> tuple[dict[str, Any], str]:
    [summary] = await mailpit.wait_for(f"to:{email}", timeout=60)
    mail = await mailpit.message(summary["ID"])
    [link] = LINK.findall(mail["Text"])
    return mail, link


async def test_the_form_reads_well_on_a_phone_and_a_desktop_and_passes_axe(
    matching: ServiceProcess, eyes: Eyes
) -> None:
    for width in (PHONE, DESKTOP):
        look = await eyes.look(
            f"{matching.base_url}/bewerbung",
            f"registration-form-{width}",
            width=width,
            axe=True,
            probe="document.querySelector('.trap').getBoundingClientRect().right",
        )
        look.assert_sound()
        look.assert_accessible()
        look.assert_shows(
            "Ich suche eine Ausbildung",
            "Wohnort",
            "1. Wunsch",
            "Nur wenn du jünger als 16 bist",
            "Fassung Datenschutzhinweise 2026-2",
        )
        assert look.probed <= 0, "the honeypot lies outside the page, where nobody sees it"
        assert "Lato 400" in look.fonts
        assert look.headers["content-security-policy"].startswith("default-src 'none'")


async def test_a_visitor_registers_in_chromium_and_the_mailed_link_starts_matching(
    bus: Bus, matching: ServiceProcess, notifications: ServiceProcess, mailpit: Mailpit, eyes: Eyes
) -> None:
    tap = await bus.tap(pattern="#")
    email = unique_email("jana")
    page = await eyes.page(width=PHONE)
    try:
        await page.goto(f"{matching.base_url}/bewerbung")
        await page.fill("#first_name", "Jana")
        await page.fill("#last_name", "Krüger")
        await page.fill("#date_of_birth", born(17))
        await page.fill("#home_town", "Osterburg")
        await page.fill("#email", email)
        await page.select_option("#wish_1", "22342")
        await page.select_option("#school_certificate", "realschule")
        await page.check("#privacy")
        async with page.expect_navigation(wait_until="load", timeout=60_000):
            await page.click("button[type=submit]")
        assert "Fast geschafft!" in await page.inner_text("main")
    finally:
        await page.context.close()

    [event] = await tap.wait_type("applicant.registered")
    applicant_id = event.data["applicant_id"]
    record = await bus.ok(GetApplicant(applicant_id=applicant_id))
    assert (record["email"], record["email_confirmed"]) == (email, False)
    assert record["privacy_consent"]["privacy_version"] == "Datenschutzhinweise 2026-2"
    assert "noch nicht bestätigt" in record["held"]

    opened = position("22342", "Tischler/in", "Osterburg (Altmark)", places=1)
    await open_position(bus, matching, opened)
    await tap.fence()
    assert not [
        p
        for m in tap.of_type("match.proposed")
        for p in m.data["proposals"]
        if p["applicant"]["applicant_id"] == applicant_id
    ], "proposed before the address was confirmed"

    mail, link = await confirmation_link(mailpit, email)
    assert mail["Subject"] == "Bitte bestätige deine E-Mail-Adresse"
    assert "Hallo Jana," in mail["Text"]
    look = await eyes.look(link, "registration-confirm-ask", width=PHONE, axe=True)
    look.assert_sound()
    look.assert_accessible()
    look.assert_shows("Bitte bestätige deine E-Mail-Adresse")

    page = await eyes.page(width=PHONE)
    try:
        await page.goto(link)
        async with page.expect_navigation(wait_until="load", timeout=60_000):
            await page.click("button[type=submit]")
        assert "Deine E-Mail-Adresse ist bestätigt" in await page.inner_text("main")
        await page.screenshot(path=str(look.screenshot.with_name("registration-confirmed.png")))
    finally:
        await page.context.close()

    [proposed] = await tap.wait_for(
        lambda m: m.routing_key == "match.proposed" and m.data["subject_id"] == applicant_id
    )
    assert proposed.data["cause"] == "applicant_changed"
    assert [p["position"]["position_id"] for p in proposed.data["proposals"]] == [
        opened.position_id
    ]

    replayed = await eyes.look(link, "registration-confirm-replayed", width=PHONE, axe=True)
    replayed.assert_accessible()
    replayed.assert_shows("Schon erledigt", "bereits bestätigt")
    async with httpx.AsyncClient(timeout=30) as http:
        again = await http.post(
            f"{matching.base_url}/bewerbung/bestaetigen", data={"t": link.split("t=", 1)[1]}
        )
        assert again.status_code == 200
        assert "Schon erledigt" in again.text
        forged = await http.get(link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb"))
        assert forged.status_code == 400
        assert "Dieser Link stimmt nicht" in forged.text


async def test_an_expired_link_says_so_and_confirms_nothing(
    bus: Bus, matching: ServiceProcess, stack: SessionStack
) -> None:
    [applicant_id] = await register(
        bus, matching, applicant("25212", "Stendal", email=unique_email("tom"), confirm_email=True)
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        stored = await client[stack.database("matching")]["registration_secret"].find_one(
            {"_id": "registration"}
        )
    finally:
        await client.close()
    assert stored is not None
    yesterday = datetime.now(UTC) - timedelta(days=1)
    token = Signer(stored["secret"]).confirm_token(applicant_id, yesterday)
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(f"{matching.base_url}/bewerbung/bestaetigen", params={"t": token})
        posted = await http.post(f"{matching.base_url}/bewerbung/bestaetigen", data={"t": token})
    assert page.status_code == 410
    assert "Dieser Link ist abgelaufen" in page.text
    assert posted.status_code == 410
    record = await bus.ok(GetApplicant(applicant_id=applicant_id))
    assert record["email_confirmed"] is False


async def test_the_same_form_sent_twice_registers_once(bus: Bus, matching: ServiceProcess) -> None:
    tap = await bus.tap(pattern="applicant.registered")
    async with httpx.AsyncClient(timeout=30) as http:
        token = await open_form(http, matching.base_url)
        fields = {**filled(unique_email("doppelt")), "token": token}
        first = await http.post(f"{matching.base_url}/bewerbung", data=fields)
        second = await http.post(f"{matching.base_url}/bewerbung", data=fields)
    assert first.status_code == 200
    assert "Fast geschafft!" in first.text
    assert second.status_code == 200
    assert "Deine Anmeldung ist schon da" in second.text
    await tap.fence()
    assert len(registered(tap)) == 1


async def test_a_form_from_elsewhere_is_refused(bus: Bus, matching: ServiceProcess) -> None:
    tap = await bus.tap(pattern="applicant.registered")
    fields = filled(unique_email("fremd"))
    async with httpx.AsyncClient(timeout=30) as http:
        no_token = await http.post(f"{matching.base_url}/bewerbung", data=fields)
        token = await open_form(http, matching.base_url)
    async with httpx.AsyncClient(timeout=30) as other:  # the token without its cookie
        stolen = await other.post(f"{matching.base_url}/bewerbung", data={**fields, "token": token})
    async with httpx.AsyncClient(timeout=30, cookies={"diko_bewerbung": "abc"}) as forger:
        forged = await forger.post(
            f"{matching.base_url}/bewerbung", data={**fields, "token": "abc.def"}
        )
    for answer in (no_token, stolen, forged):
        assert answer.status_code == 403
        assert "Das Formular ist abgelaufen" in answer.text
    await tap.fence()
    assert registered(tap) == []


async def test_a_filled_honeypot_registers_nobody(bus: Bus, matching: ServiceProcess) -> None:
    tap = await bus.tap(pattern="applicant.registered")
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await send(
            http, matching.base_url, filled(unique_email("bot"), website="http://spam.example")
        )
    assert answer.status_code == 200
    assert "Fast geschafft!" in answer.text
    await tap.fence()
    assert registered(tap) == []


async def test_bad_input_is_named_beside_each_field_in_german_and_kept(
    bus: Bus, matching: ServiceProcess, eyes: Eyes
) -> None:
    tap = await bus.tap(pattern="applicant.registered")
    fields = filled("keine-adresse", home_town="Stendahl", first_name="Jana<b>", privacy="")
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await send(http, matching.base_url, fields)
    assert answer.status_code == 422
    html = answer.text
    assert 'value="Stendahl"' in html, "values kept"
    assert 'value="Jana&lt;b&gt;"' in html, "and escaped"
    assert "<b>" not in html.split("<main", 1)[1]
    errors = dict(
        re.findall(r'<p class="error" id="([a-z_0-9]+)-fehler">.*?</span>([^<]+)</p>', html)
    )
    assert set(errors) == {"home_town", "email", "privacy"}, errors
    assert "Stendal" in unescape(errors["home_town"])  # the gazetteer's suggestion
    assert "Datenschutzhinweisen" in errors["privacy"]
    assert 'aria-invalid="true"' in html
    await tap.fence()
    assert registered(tap) == []

    page = await eyes.page(width=PHONE)
    try:  # the same mistakes typed in Chromium: the page with the errors is accessible too
        await page.goto(f"{matching.base_url}/bewerbung")
        await page.fill("#first_name", "Jana")
        await page.fill("#last_name", "Krüger")
        await page.fill("#date_of_birth", born(17))
        await page.fill("#home_town", "Stendahl")
        await page.fill("#email", "keine-adresse")
        await page.select_option("#wish_1", "22342")
        async with page.expect_navigation(wait_until="load", timeout=60_000):
            await page.click("button[type=submit]")
        shown = await page.inner_text("main")
        await page.screenshot(path=str(SCREENSHOTS / "registration-errors-390.png"), full_page=True)
        await page.evaluate(AXE.read_text())
        assert await page.evaluate(AXE_RUN) == []
        assert await page.input_value("#home_town") == "Stendahl"
    finally:
        await page.context.close()
    assert "Bitte schau dir diese 3 Angaben noch einmal an" in shown


async def test_an_applicant_under_16_needs_a_guardian_whose_consent_is_recorded(
    bus: Bus, matching: ServiceProcess
) -> None:
    tap = await bus.tap(pattern="applicant.registered")
    email = unique_email("mia")
    young = filled(email, first_name="Mia", date_of_birth=born(14))
    async with httpx.AsyncClient(timeout=30) as http:
        refused = await send(http, matching.base_url, young)
        assert refused.status_code == 422
        errors = set(re.findall(r'<p class="error" id="([a-z_0-9]+)-fehler">', refused.text))
        assert errors == {"guardian_name", "guardian_email", "guardian_ok"}
        assert "Weil du jünger als 16 bist" in refused.text
        accepted = await send(
            http,
            matching.base_url,
            {
                **young,
                "guardian_name": "Sabine Beispiel",
                "guardian_email": unique_email("sabine"),
                "guardian_ok": "on",
            },
        )
    assert accepted.status_code == 200
    assert "Fast geschafft!" in accepted.text
    [event] = await tap.wait_type("applicant.registered")
    record = await bus.ok(GetApplicant(applicant_id=event.data["applicant_id"]))
    assert record["date_of_birth"] == born(14)
    assert record["guardian_consent"]["name"] == "Sabine Beispiel"
    assert record["guardian_consent"]["privacy_version"] == "Datenschutzhinweise 2026-2"


async def test_notifications_write_to_a_minor_only_with_a_guardians_consent(
    bus: Bus, matching: ServiceProcess, notifications: ServiceProcess, mailpit: Mailpit
) -> None:
    email = unique_email("ben")
    [ben] = await register(
        bus, matching, applicant("51312", "Stendal", email=email, date_of_birth=born(15))
    )

    def notice(key: str) -> SendNotification:
        return SendNotification(
            idempotency_key=f"{key}-{ben}",
            to=NoticeRecipient(applicant_id=ben),
            subject="Einladung zur Bewerberbörse",
            paragraphs=["wir laden dich zur Bewerberbörse ein."],
        )

    held = await bus.ok(notice("vorher"))
    assert held["status"] == "no_address"
    consent = GuardianConsent(
        name="Paul Beispiel",
        given_at=datetime.now(UTC),
        privacy_version="Datenschutzhinweise 2026-2",
    )
    assert (await partial(bus, UpdateApplicant(applicant_id=ben, guardian_consent=consent)))["ok"]
    sent = await bus.ok(notice("nachher"))
    assert sent["status"] == "sent", sent
    [mail] = await mailpit.wait_for(f"to:{email}", timeout=60)
    assert mail["Subject"] == "Einladung zur Bewerberbörse"


async def test_a_flood_from_one_address_is_stopped_with_a_clear_page(stack: SessionStack) -> None:
    process = ServiceProcess(
        "matching-flood",
        "diko_matching",
        None,
        stack.service_env("matching", DIKO_REGISTRATION_RATE_LIMIT="2"),
    )
    process.start(timeout=180)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            answers = [
                await send(http, process.base_url, filled("keine-adresse")) for _ in range(3)
            ]
    finally:
        process.stop()
    assert [a.status_code for a in answers] == [422, 422, 429]
    assert "Bitte warte einen Moment" in answers[2].text
    assert int(answers[2].headers["retry-after"]) > 0
