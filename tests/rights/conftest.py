"""The four services as OS processes on a stack of the module's own, for the rights tests.

The completeness and "appears nowhere" tests read every collection of every service's
database, so the module gets its own virtual host and databases: nothing the other
suites leave behind is mistaken for a copy the rights modules forgot.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from harness.fixtures import own_stack
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack

SERVICES = ("companies", "matching", "notifications", "media")
#: The platform's own collections: searched by the erasure, listed apart in the export.
#: Matching's test clock: the retention test moves it a year on and back.
CLOCK = "rights"
PLATFORM = {"inbox", "processed", "outbox", "due", "due_claims", "test_clock"}


@dataclass
class System:
    processes: dict[str, ServiceProcess]

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]


stack, bus, mailpit, mongo = own_stack("package")


@pytest.fixture(scope="package")
def system(stack: SessionStack) -> Iterator[System]:
    link_secret = secrets.token_urlsafe(32)
    processes = {}
    for name in SERVICES:
        port = free_port()
        clock = {"DIKO_TEST_CLOCK": CLOCK} if name == "matching" else {}
        env = stack.service_env(
            name,
            DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            DIKO_LINK_SECRET=link_secret,
            **clock,
        )
        processes[name] = ServiceProcess(name, f"diko_{name}", port, env)
    try:
        for process in processes.values():
            process.start(timeout=180)
        yield System(processes)
    finally:
        for process in processes.values():
            process.stop()


async def every_document(
    mongo: AsyncMongoClient, stack: SessionStack
) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
    """(service, collection, document) for every document of every service's database."""
    for service in SERVICES:
        db = mongo[stack.database(service)]
        for collection in sorted(await db.list_collection_names()):
            async for document in db[collection].find({}):
                yield service, collection, document
