"""The browser harness notices what a person would: a blank page, a request to another host."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.browser import Eyes

PAGES = {
    "/good": "<!doctype html><html lang='de'><title>Gut</title>"
    "<body><h1>Willkommen bei DIKO</h1><p>Alles kommt von hier.</p></body></html>",
    "/foreign": "<!doctype html><html lang='de'><title>Fremd</title>"
    "<script src='http://cdn.example.invalid/viewer.js'></script>"
    "<body><p>Diese Seite lädt ein Skript von einem fremden Server.</p></body></html>",
    "/missing-style": "<!doctype html><html lang='de'><link rel='stylesheet' href='/app.css'>"
    "<body><p>Hier fehlt die Gestaltung, die Seite bleibt ungestaltet.</p></body></html>",
    "/blank": "<!doctype html><html><body><div id='app'></div></body></html>",
}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = PAGES.get(self.path)
        body = (page or "nicht gefunden").encode()
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet: the test output is for failures."""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_sound_page_passes_and_is_screenshotted(eyes: Eyes, site: str) -> None:
    look = await eyes.look(f"{site}/good", "harness-good")
    look.assert_sound()
    look.assert_shows("Willkommen bei DIKO")
    assert look.title == "Gut"
    assert look.screenshot.stat().st_size > 1000


async def test_a_request_to_another_host_is_caught(eyes: Eyes, site: str) -> None:
    look = await eyes.look(f"{site}/foreign", "harness-foreign")
    assert look.foreign_requests == ["http://cdn.example.invalid/viewer.js"]
    with pytest.raises(AssertionError, match="loads from other hosts"):
        look.assert_sound()


async def test_a_blank_page_is_caught(eyes: Eyes, site: str) -> None:
    look = await eyes.look(f"{site}/blank", "harness-blank", width=390)
    with pytest.raises(AssertionError, match="shows \\(almost\\) nothing"):
        look.assert_sound()
    with pytest.raises(AssertionError, match="does not show"):
        look.assert_shows("Willkommen")


async def test_a_missing_asset_is_caught(eyes: Eyes, site: str) -> None:
    look = await eyes.look(f"{site}/missing-style", "harness-missing-style")
    assert look.failed_requests == [f"GET {site}/app.css: HTTP 404"]
    with pytest.raises(AssertionError, match="has failed requests"):
        look.assert_sound()
