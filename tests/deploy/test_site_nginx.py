"""deploy/site/nginx.conf, run: Debian's nginx serves a website laid out as media builds it.

The configuration compose mounts into the official nginx image is checked with `nginx -t`
and then run by Debian's nginx (which `make test` installs, `stack.py up --test-tools`),
with only its root and port moved to a temporary directory: a build directory and the
`current` link swapped in as media does it. Over HTTP: the pages without `.html`, a
directory's index and its redirect, the Content-Security-Policy and the other headers on
every answer (the 404 page's too), caching for pages and assets, the swap seen at once.
The registration form at `/bewerbung` is matching's: a real matching process on the
session's stack answers it through nginx, with its own headers, and counts its flood
limit per visitor whatever address a request claims to come from.
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
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from diko_matching.registration.pages import SECURITY_HEADERS as FORM_HEADERS
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack

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


def configured(root: Path, port: int, matching: str = "http://127.0.0.1:9") -> str:
    """The repository's configuration with the root and the port of this test, matching's
    address (compose's `matching:8002`), and the pid file and temporary files in the
    test's own directory (others may run too)."""
    text = CONFIG.read_text(encoding="utf-8").replace(" /tmp/", f" {root}/")
    text, roots = re.subn(r"root /srv/site/current;", f"root {root}/current;", text)
    text, listens = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", text)
    text, upstreams = re.subn(r"http://matching:8002;", f"{matching};", text)
    assert (roots, listens, upstreams) == (1, 1, 1), (
        "nginx.conf has one root, one listen and one address of matching"
    )
    return text


@pytest.fixture
def site() -> Iterator[Site]:
    yield from serve_site()


def serve_site(matching: str = "http://127.0.0.1:9") -> Iterator[Site]:
    """nginx with the repository's configuration, until the test ends."""
    # Readable by nginx's worker user (mkdtemp makes 0700 directories).
    root = Path(tempfile.mkdtemp(prefix="diko-site-nginx-"))
    root.chmod(0o755)
    port = free_port()
    config = root / "nginx.conf"
    config.write_text(configured(root, port, matching), encoding="utf-8")
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


#: Form submissions matching takes from one address per hour in this test.
FLOOD_LIMIT = 3
TOKEN = re.compile(r'name="token" value="([^"]+)"')


@pytest.fixture(scope="module")
def matching(stack: SessionStack) -> Iterator[ServiceProcess]:
    """matching as compose runs it behind nginx: trusting X-Forwarded-For from anyone."""
    port = free_port()
    env = stack.service_env(
        "matching",
        DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DIKO_REGISTRATION_RATE_LIMIT=str(FLOOD_LIMIT),
        FORWARDED_ALLOW_IPS="*",
    )
    process = ServiceProcess("matching-behind-nginx", "diko_matching", port, env)
    process.start(timeout=180)
    yield process
    process.stop()


@pytest.fixture
def site_with_form(matching: ServiceProcess) -> Iterator[Site]:
    yield from serve_site(matching.base_url)


def submission(token: str) -> dict[str, str]:
    """A complete form of a 17-year-old from Osterburg, as the form's fields name it."""
    today = datetime.now(UTC).date()
    return {
        "token": token,
        "first_name": "Jana",
        "last_name": "Krüger",
        "date_of_birth": date(today.year - 17, today.month, 1).isoformat(),
        "home_town": "Osterburg",
        "email": f"jana-{os.urandom(4).hex()}@example.org",
        "phone": "",
        "wish_1": "22342",
        "wish_2": "",
        "wish_3": "",
        "earliest_start": f"{today.year + 1}-08-01",
        "reach_km": "30",
        "school_certificate": "realschule",
        "privacy": "on",
        "website": "",
    }


def test_the_registration_form_is_matching_s_with_its_own_headers(site_with_form: Site) -> None:
    site_with_form.build("sit_a", PAGES)
    with httpx.Client(base_url=site_with_form.url, timeout=60) as client:
        form = client.get("/bewerbung")
        styles = client.get("/brand/brand.css")
        sent = client.post("/bewerbung", data=submission(TOKEN.findall(form.text)[0]))
        start = client.get("/")
    assert form.status_code == 200
    assert "Ich suche eine Ausbildung" in form.text
    # matching's own policy and caching, once: not the site's beside them
    assert form.headers.get_list("content-security-policy") == [
        FORM_HEADERS["Content-Security-Policy"]
    ]
    assert form.headers.get_list("referrer-policy") == ["no-referrer"]
    assert form.headers["cache-control"] == "no-store"
    assert form.headers["x-robots-tag"] == "noindex"
    cookie = form.headers["set-cookie"]
    assert "Path=/bewerbung" in cookie
    assert "HttpOnly" in cookie
    assert styles.status_code == 200
    assert styles.headers["content-type"].startswith("text/css")
    # the cookie and the signed token came back through nginx: no cross-site refusal
    assert sent.status_code == 200, sent.text
    assert "Fast geschafft!" in sent.text
    # the site's own pages keep the site's headers
    assert start.headers["content-security-policy"] == media_csp()


def test_a_visitor_cannot_escape_the_flood_limit_by_claiming_another_address(
    site_with_form: Site,
) -> None:
    """nginx replaces X-Forwarded-For with the address it sees, so every claimed address
    below is the same visitor to matching."""
    answers = []
    with httpx.Client(base_url=site_with_form.url, timeout=60) as client:
        for n in range(FLOOD_LIMIT + 1):
            answers.append(
                client.post(
                    "/bewerbung",
                    data={"token": "forged"},
                    headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                )
            )
    codes = [a.status_code for a in answers]
    assert codes[-1] == 429, codes
    assert "Bitte warte einen Moment" in answers[-1].text
    assert "retry-after" in answers[-1].headers


def test_an_export_link_reaches_matching_through_the_site(site_with_form: Site) -> None:
    """An applicant's export link starts with the site's address: nginx passes it to
    matching (an unknown or unsigned export is matching's German page, not the site's)."""
    site_with_form.build("sit_a", PAGES)
    with httpx.Client(base_url=site_with_form.url, timeout=60) as client:
        page = client.get("/rights/exports/exp_unknown", params={"token": "forged"})
        data = client.get("/rights/exports/exp_unknown.json", params={"token": "forged"})
        posted = client.post("/rights/exports/exp_unknown", data={"token": "forged"})
    assert page.status_code == 404
    assert page.headers["x-robots-tag"] == "noindex"
    assert "Auskunft" in page.text
    assert data.status_code == 404
    assert data.json() == {"error": "Diese Auskunft gibt es nicht (mehr)."}
    assert posted.status_code == 403
