"""Each service's image, run by podman against the local stack: what compose would run.

`make image` builds them (deploy/local/image.py: deploy/Dockerfile on a debootstrap base).
Each container runs as compose runs it, with the host's network in place of compose's:
a read-only root file system, no capabilities, no new privileges, its passwords as
files under /run/secrets. It must become ready, pass its HEALTHCHECK (`podman
healthcheck run`: without systemd, podman runs none by itself), run as the non-root user
`diko`, write nowhere but its tmpfs, and answer a query through the broker as its own
broker user.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from diko_shared.contract.catalogue import CATALOGUE
from harness.bus import Bus
from harness.processes import free_port
from harness.stack import SessionStack, password

pytestmark = pytest.mark.image

SERVICES = ("companies", "matching", "notifications", "media")
READY_TIMEOUT_S = 180.0  # matching compiles its numba kernels in a fresh container


def podman(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def image(service: str) -> str:
    return f"localhost/diko-{service}:dev"


@pytest.fixture(scope="module", autouse=True)
def images_built() -> None:
    if shutil.which("podman") is None:
        pytest.fail("podman is missing: `make image` installs it and builds the images")
    missing = [s for s in SERVICES if podman("image", "exists", image(s)).returncode != 0]
    if missing:
        pytest.fail(f"not built: {', '.join(map(image, missing))}: run `make image`")


def service_settings(service: str, stack: SessionStack, port: int) -> dict[str, str]:
    """What compose gives the service, aimed at the local stack and this session."""
    broker = urlsplit(stack.base["DIKO_AMQP_URL"])
    env = {
        "DIKO_HTTP_HOST": "127.0.0.1",
        "DIKO_HTTP_PORT": str(port),
        "DIKO_LOG_LEVEL": "INFO",
        "DIKO_AMQP_URL": f"amqp://{service}@{broker.hostname}:{broker.port}/{stack.vhost}",
        "DIKO_AMQP_PASSWORD_FILE": "/run/secrets/amqp-password",
        "DIKO_MONGO_URL": stack.mongo_url,  # FerretDB here: no database user
        "DIKO_MONGO_DATABASE": stack.database(service),
        "DIKO_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    if service == "notifications":
        env |= {
            "DIKO_LINK_SECRET_FILE": "/run/secrets/link-secret",
            "DIKO_SMTP_HOST": stack.base["DIKO_SMTP_HOST"],
            "DIKO_SMTP_PORT": stack.base["DIKO_SMTP_PORT"],
        }
    return env


@pytest.fixture(params=SERVICES)
def container(
    request: pytest.FixtureRequest, stack: SessionStack, tmp_path: Path
) -> Iterator[tuple[str, str, int]]:
    """(service, container name, HTTP port) of a running container of the service."""
    service = request.param
    secrets_dir = tmp_path / "secrets"  # as compose mounts the secrets
    secrets_dir.mkdir(mode=0o755)
    secrets_dir.chmod(0o755)
    (secrets_dir / "amqp-password").write_text(password(service) + "\n")
    (secrets_dir / "link-secret").write_text(secrets.token_urlsafe(32) + "\n")
    for file in secrets_dir.iterdir():
        file.chmod(0o644)  # the container's user is not the host's
    port = free_port()
    name = f"diko-smoke-{service}-{secrets.token_hex(3)}"
    argv = [
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--volume",
        f"{secrets_dir}:/run/secrets:ro",
    ]
    if service == "matching":  # numba's compiled kernels: a named volume, as in compose
        argv += ["--volume", "diko-smoke-numba-cache:/home/diko/.cache/numba"]
    for key, value in service_settings(service, stack, port).items():
        argv += ["--env", f"{key}={value}"]
    started = podman(*argv, image(service))
    assert started.returncode == 0, started.stderr
    try:
        yield service, name, port
    finally:
        logs = podman("logs", "--tail", "20", name).stdout
        podman("rm", "--force", "--time", "10", name)
        print(f"last lines of {name}:\n{logs}")


def wait_ready(name: str, port: int) -> float:
    began = time.monotonic()
    while time.monotonic() - began < READY_TIMEOUT_S:
        state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        assert state == "running", f"{name} is {state}:\n{podman('logs', name).stdout}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(
        f"{name} not ready in {READY_TIMEOUT_S:.0f} s:\n{podman('logs', name).stdout}"
    )


def check_the_running_container(service: str, name: str, port: int) -> None:
    """Ready, healthy by its own HEALTHCHECK, non-root, read-only but for its tmpfs."""
    seconds = wait_ready(name, port)
    print(f"{service}: ready {seconds:.1f} s after start")
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["service"] == service

    checked = podman("healthcheck", "run", name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    health = json.loads(podman("inspect", "--format", "{{json .State.Health}}", name).stdout)
    assert health["Status"] == "healthy", health

    assert podman("inspect", "--format", "{{.Config.User}}", name).stdout.strip() == "diko:diko"
    assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
    written = podman("exec", name, "touch", "/home/diko/anything")
    assert written.returncode != 0
    assert "Read-only file system" in written.stderr
    assert podman("exec", name, "touch", "/tmp/scratch").returncode == 0


async def test_the_container_runs_as_compose_would_and_answers_through_the_broker(
    container: tuple[str, str, int], bus: Bus
) -> None:
    service, name, port = container
    await asyncio.to_thread(check_the_running_container, service, name, port)
    query = next(
        spec
        for spec in CATALOGUE.owned_by(service)
        if spec.kind == "query" and spec.payload.model_config.get("json_schema_extra")
    )
    example = query.payload.model_config["json_schema_extra"]["examples"][0]
    reply = await bus.request(query.payload.model_validate_json(json.dumps(example)), timeout=60)
    assert reply["ok"] or reply["error"]["code"] in ("not_found", "validation_error"), reply
