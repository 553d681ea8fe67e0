"""deploy/site/nginx.conf, run: Debian's nginx serves a website laid out as media builds it.

The configuration compose mounts into the official nginx image is checked with `nginx -t`
and then run by Debian's nginx (which `make test` installs, `stack.py up --test-tools`),
with only its root and port moved to a temporary directory: a build directory and the
`current` link swapped in as media does it. Over HTTP: the pages without `.html`, a
directory's index and its redirect, the Content-Security-Policy and the other headers on
every answer (the 404 page's too), caching for pages and assets, the swap seen at once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.processes import free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "site" / "nginx.conf"
SERVE = REPO / "services" / "media" / "diko_media" / "site" / "serve.py"
START_TIMEOUT_S = 10.0


def nginx() -> str:
    found = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.fail(
            "nginx is missing: `make test` installs Debian's nginx "
            "(python3 deploy/local/stack.py up --test-tools)"
        )
    return found


def media_csp() -> str:
    """The policy media's own /site sends: nginx must send the same."""
    text = SERVE.read_text(encoding="utf-8")
    block = re.search(r"^CSP = \((.*?)^\)", text, re.M | re.S)
    assert block, "serve.py defines CSP"
    return "".join(re.findall(r'"([^"]*)"', block[1]))


@dataclass
class Site:
    root: Path
    url: str

    def build(self, build_id: str, files: dict[str, str]) -> None:
        """A finished build swapped in as media's builder does it (rename, link, replace)."""
        target = self.root / "builds" / build_id
        for name, body in files.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(body, encoding="utf-8")
        link = self.root / "current.tmp"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("builds") / build_id)
        os.replace(link, self.root / "current")


def configured(root: Path, port: int) -> str:
    """The repository's configuration with the root and the port of this test, and the
    pid file and temporary files in the test's own directory (others may run too)."""
    text = CONFIG.read_text(encoding="utf-8").replace(" /tmp/", f" {root}/")
    text, roots = re.subn(r"root /srv/site/current;", f"root {root}/current;", text)
    text, listens = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", text)
    assert (roots, listens) == (1, 1), "nginx.conf has one root and one listen"
    return text


@pytest.fixture
def site() -> Iterator[Site]:
    # Readable by nginx's worker user (mkdtemp makes 0700 directories).
    root = Path(tempfile.mkdtemp(prefix="diko-site-nginx-"))
    root.chmod(0o755)
    port = free_port()
    config = root / "nginx.conf"
    config.write_text(configured(root, port), encoding="utf-8")
    checked = subprocess.run(
        [nginx(), "-t", "-c", str(config)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    log = (root / "nginx.log").open("wb")
    process = subprocess.Popen(
        [nginx(), "-c", str(config), "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (root / "nginx.log").read_text()
            assert time.monotonic() < deadline, "nginx did not answer /healthz"
            time.sleep(0.05)
        yield Site(root, url)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


PAGES = {
    "index.html": "<h1>Ausbildung in der Altmark</h1>",
    "stellen/index.html": "<h1>Alle offenen Ausbildungsplätze</h1>",
    "stellen/pos_0123456789abcdef0123.html": "<h1>Tischler/in</h1>",
    "404.html": "<h1>Nicht gefunden</h1>",
    "assets/site.css": "body { color: #1c2b4a; }",
    "sitemap.xml": "<urlset/>",
}


def test_the_configuration_passes_nginx_t_as_written() -> None:
    checked = subprocess.run(
        [nginx(), "-t", "-c", str(CONFIG)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_pages_directories_and_the_missing_page_with_the_site_s_headers(site: Site) -> None:
    site.build("sit_a", PAGES)
    with httpx.Client(base_url=site.url, timeout=5) as client:
        page = client.get("/stellen/pos_0123456789abcdef0123")
        index = client.get("/stellen/")
        bare = client.get("/stellen")
        start = client.get("/")
        css = client.get("/assets/site.css")
        sitemap = client.get("/sitemap.xml")
        missing = client.get("/stellen/pos_ffffffffffffffffffff")
        posted = client.post("/stellen/", content=b"x")
    assert page.status_code == 200
    assert "Tischler/in" in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert index.status_code == 200
    assert "Alle offenen" in index.text
    assert start.status_code == 200
    assert "Altmark" in start.text
    assert bare.status_code == 301
    assert bare.headers["location"] == "/stellen/"
    assert missing.status_code == 404
    assert "Nicht gefunden" in missing.text
    assert sitemap.headers["content-type"].startswith("application/xml")
    assert posted.status_code == 403
    for answer in (page, index, start, css, missing, bare):
        assert answer.headers["content-security-policy"] == media_csp()
        assert "script-src" not in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "server" not in answer.headers or "/" not in answer.headers["server"]
    for answer in (page, index, start):
        assert answer.headers["cache-control"] == "max-age=300"
    assert css.headers["cache-control"] == "max-age=86400"
    assert css.headers["content-type"] == "text/css; charset=utf-8"


def test_a_swapped_in_build_is_served_at_once_and_validators_answer_304(site: Site) -> None:
    site.build("sit_a", PAGES)
    with httpx.Client(base_url=site.url, timeout=5) as client:
        first = client.get("/stellen/pos_0123456789abcdef0123")
        again = client.get(
            "/stellen/pos_0123456789abcdef0123", headers={"If-None-Match": first.headers["etag"]}
        )
        changed = {**PAGES, "stellen/pos_0123456789abcdef0123.html": "<h1>Bäcker/in</h1>"}
        site.build("sit_b", changed)
        after = client.get("/stellen/pos_0123456789abcdef0123")
    assert again.status_code == 304
    assert after.status_code == 200
    assert "Bäcker/in" in after.text
    assert after.headers["etag"] != first.headers["etag"]
