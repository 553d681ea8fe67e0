"""Looking at what diko shows a person, as a person would: in Debian's headless Chromium.

`make test` has the stack install Debian's `chromium` (`stack.py up --test-tools`);
Playwright drives it (`executable_path`), so no browser is downloaded. A look loads a
page, waits until the network is idle, and reports what a person would notice: the
visible text, every request that went to another host (diko works offline, from its
own files), requests that failed, errors in the console, and a screenshot saved under
`.local/test-output/screenshots/` for a human to open.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    async_playwright,
)

from harness.stack import REPO

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / ".local" / "test-output" / "screenshots"
#: The flags that let Chromium run as root in a closed network without calling home.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
#: Schemes that never leave the page (inline images, the page's own HTML).
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
#: The font faces a page has loaded (`Lato 400`), once its fonts are ready.
LOADED_FONTS = """document.fonts.ready.then(() => Array.from(document.fonts)
    .filter(f => f.status === 'loaded').map(f => `${f.family.replaceAll('"', '')} ${f.weight}`))"""
#: Phone and desktop widths the screenshots are taken at.
PHONE = 390
DESKTOP = 1280


@dataclass
class Look:
    """What a person saw on one page."""

    url: str
    status: int | None
    title: str
    text: str
    screenshot: Path
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    #: Every URL the page loaded successfully (the page itself, styles, fonts, images).
    loaded: list[str] = field(default_factory=list)
    #: The font faces the page loaded and uses, as `family weight` (`Lato 700`).
    fonts: list[str] = field(default_factory=list)
    #: What the `probe` script passed to `look` returned (computed styles, say).
    probed: Any = None

    def assert_sound(self) -> None:
        """A page a person can use: loaded, not blank, nothing fetched from another host."""
        assert self.status is not None, f"{self.url} gave no response"
        assert self.status < 400, f"{self.url} answered {self.status}"
        assert self.foreign_requests == [], (
            f"{self.url} loads from other hosts: {self.foreign_requests}"
        )
        assert self.failed_requests == [], f"{self.url} has failed requests: {self.failed_requests}"
        assert self.console_errors == [], f"{self.url} logs errors: {self.console_errors}"
        assert len(self.text.strip()) >= 20, f"{self.url} shows (almost) nothing: {self.text!r}"

    def assert_shows(self, *phrases: str) -> None:
        """Every phrase is visible on the page (white space folded)."""
        visible = re.sub(r"\s+", " ", self.text)
        missing = [p for p in phrases if re.sub(r"\s+", " ", p) not in visible]
        assert not missing, f"{self.url} does not show {missing}; it shows: {visible[:2000]!r}"


class Eyes:
    """One Chromium for a test session; each `look` opens a fresh page."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser

    async def look(
        self,
        url: str,
        name: str,
        *,
        width: int = DESKTOP,
        height: int = 900,
        full_page: bool = True,
        method: str = "GET",
        form: dict[str, str] | None = None,
        probe: str | None = None,
    ) -> Look:
        """Load `url` (or POST `form` to it) like a person, screenshot it as `name`.png.

        `probe` is a JavaScript expression evaluated in the loaded page (`look.probed`).
        """
        context = await self.browser.new_context(
            viewport={"width": width, "height": height}, locale="de-DE"
        )
        page = await context.new_page()
        foreign: list[str] = []
        failed: dict[str, str] = {}  # by URL: an error status wins over the abort it causes
        errors: list[str] = []
        loaded: list[str] = []
        page.on("request", lambda r: _note_foreign(r, foreign))
        page.on("requestfinished", lambda r: loaded.append(r.url))
        page.on(
            "requestfailed", lambda r: failed.setdefault(r.url, f"{r.method} {r.url}: {r.failure}")
        )
        page.on("response", lambda r: _note_error_status(r, failed))
        page.on("console", lambda m: _note_error(m, errors))
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        try:
            status = await _open(page, url, method, form)
            await page.wait_for_load_state("networkidle", timeout=15_000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / f"{name}.png"
            await page.screenshot(path=str(shot), full_page=full_page)
            fonts = await page.evaluate(LOADED_FONTS)
            probed = await page.evaluate(probe) if probe else None
            return Look(
                url=url,
                status=status,
                title=await page.title(),
                text=await page.inner_text("body"),
                screenshot=shot,
                foreign_requests=foreign,
                failed_requests=list(failed.values()),
                console_errors=errors,
                loaded=[url for url in loaded if url not in failed],
                fonts=fonts,
                probed=probed,
            )
        finally:
            await context.close()

    async def page(self, *, width: int = DESKTOP, height: int = 900) -> Page:
        """A fresh page for tests that click and type; the caller closes its context."""
        context = await self.browser.new_context(
            viewport={"width": width, "height": height}, locale="de-DE"
        )
        return await context.new_page()


async def _open(page: Page, url: str, method: str, form: dict[str, str] | None) -> int | None:
    if method == "GET":
        response = await page.goto(url, wait_until="load", timeout=30_000)
        return response.status if response else None
    # A form post as a browser sends it: build the form in an empty page and submit it.
    await page.set_content("<form method='post'></form>")
    await page.evaluate(
        """([action, fields]) => {
            const f = document.forms[0]; f.action = action;
            for (const [k, v] of Object.entries(fields)) {
                const i = document.createElement('input'); i.type = 'hidden';
                i.name = k; i.value = v; f.appendChild(i);
            }
        }""",
        [url, form or {}],
    )
    async with page.expect_navigation(wait_until="load", timeout=30_000) as navigation:
        await page.evaluate("document.forms[0].submit()")
    response = await navigation.value
    return response.status if response else None


def _note_foreign(request: Request, foreign: list[str]) -> None:
    parts = urlsplit(request.url)
    if parts.scheme in LOCAL_SCHEMES:
        return
    if parts.hostname not in LOCAL_HOSTS:
        foreign.append(request.url)


def _note_error_status(response: Response, failed: dict[str, str]) -> None:
    """A resource the page asked for and did not get (the browser's own favicon probe aside)."""
    if response.status >= 400 and urlsplit(response.url).path != "/favicon.ico":
        failed[response.url] = f"{response.request.method} {response.url}: HTTP {response.status}"


def _note_error(message: ConsoleMessage, errors: list[str]) -> None:
    # A resource that failed to load is reported, with its URL, by the response handler.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


@pytest.fixture(scope="session")
async def eyes() -> AsyncIterator[Eyes]:
    """Headless Chromium for the session (Debian's package, installed by `make test`).

    Playwright gives each launch a fresh, empty profile of its own.
    """
    if not CHROMIUM.exists():  # noqa: ASYNC240 - once per session, before the browser starts
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (stack.py up --test-tools)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            yield Eyes(browser)
        finally:
            await browser.close()
