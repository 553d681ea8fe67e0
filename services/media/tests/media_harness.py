"""What the media service tests share: the service's environment, the Graph API double as a
process of its own, a file server on loopback for audio and images given by URL, and
companies' and matching's events as their owners publish them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.envelope import new_envelope
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing
from harness.processes import LOG_DIR, free_port
from harness.stack import REPO, SessionStack

USER = "17841400000000001"
TOKEN = "double-token-for-tests"
CLOCK = "media-tests"
SECRET = "media-tests-link-secret-0123456789abcdef"


def media_env(
    stack: SessionStack, base: str, *, graph: str | None = None, **extra: str
) -> dict[str, str]:
    env = {
        **stack.service_env("media"),
        "DIKO_PUBLIC_BASE_URL": base,
        "DIKO_LINK_SECRET": SECRET,
        "DIKO_FETCH_PRIVATE_HOSTS": "true",
        "DIKO_TEST_CLOCK": CLOCK,
        "DIKO_DUE_POLL_S": "0.2",
        "DIKO_DUE_LEASE_S": "5",
    }
    if graph:
        env.update(
            {
                "DIKO_INSTAGRAM_API_URL": f"{graph}/v24.0",
                "DIKO_INSTAGRAM_USER_ID": USER,
                "DIKO_INSTAGRAM_TOKEN": TOKEN,
                "DIKO_INSTAGRAM_STATUS_POLL_S": "0.3",
                "DIKO_INSTAGRAM_RETRY_S": "1",
            }
        )
    env.update(extra)
    return env


def as_event(
    payload: Payload, *, subject: str | None = None, at: datetime | None = None
) -> Outgoing:
    """An event as its owning service publishes it (`at`: when it happened, default now)."""
    spec = CATALOGUE.for_payload(type(payload))
    envelope = new_envelope(spec.type, payload, source=spec.owner, subject=subject, time=at)
    return Outgoing.from_envelope(topology.EVENTS.name, envelope)


class GraphDouble:
    """`python -m diko_media.instagram.double` on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"graph-double-{self.port}.log"

    def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "diko_media.instagram.double", "--port", str(self.port),
                 "--user", USER, "--token", TOKEN],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Graph API double exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/_double/state", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the Graph API double did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    async def control(self, action: str, body: Mapping[str, Any] | None = None) -> dict:
        async with httpx.AsyncClient(timeout=30.0) as client:
            response = await client.post(f"{self.url}/_double/{action}", json=dict(body or {}))
            response.raise_for_status()
            return response.json()

    async def state(self) -> dict[str, Any]:
        return await self.control("state")


class FileServer:
    """Files on loopback, as a public host would serve audio and images given by URL."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = files.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def put(self, path: str, body: bytes, content_type: str) -> str:
        self.files[path] = (body, content_type)
        return f"http://127.0.0.1:{self.port}{path}"
