"""The four services as separate OS processes on the real local stack.

The story gets a virtual host and databases of its own, so that what the service suites
left behind in the session's (positions, applicants, queued events) stays out of it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.fixtures import own_stack
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack

SERVICES = ("companies", "matching", "notifications", "media")

#: The podcast channel media is configured with, so that the feed can be checked against it.
PODCAST = {
    "DIKO_PODCAST_TITLE": "DIKO trifft… (Ende-zu-Ende-Test)",
    "DIKO_PODCAST_DESCRIPTION": "Betriebe aus der Altmark erzählen, wie sie ausbilden.",
    "DIKO_PODCAST_OWNER_EMAIL": "podcast-e2e@diko.example",
}


@dataclass
class System:
    """The running services, by name."""

    processes: dict[str, ServiceProcess]

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]


stack, bus, mailpit, mongo = own_stack("module")


@pytest.fixture(scope="module")
def system(stack: SessionStack) -> Iterator[System]:
    link_secret = secrets.token_urlsafe(32)
    processes = {}
    for name in SERVICES:
        port = free_port()
        env = stack.service_env(
            name,
            DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            DIKO_LINK_SECRET=link_secret,
            **(PODCAST if name == "media" else {}),
        )
        processes[name] = ServiceProcess(name, f"diko_{name}", port, env)
    try:
        for process in processes.values():
            process.start(timeout=180)  # matching compiles its numba kernels on a fresh machine
        yield System(processes)
    finally:
        for process in processes.values():
            process.stop()
