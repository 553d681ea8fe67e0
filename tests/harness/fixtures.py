"""Session fixtures for tests that run against the real local stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo import AsyncMongoClient

from harness.bus import Bus
from harness.mailpit import Mailpit
from harness.stack import SessionStack


@pytest.fixture(scope="session")
def stack() -> Iterator[SessionStack]:
    """This session's own virtual host and database names on the local stack."""
    with SessionStack.create() as own:
        yield own


@pytest.fixture(scope="session")
async def bus(stack: SessionStack) -> AsyncIterator[Bus]:
    async with Bus(stack.amqp_url) as connected:
        yield connected


@pytest.fixture(autouse=True)
async def _taps_end_with_their_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A test's taps stop collecting when it ends (only for tests that use the bus)."""
    yield
    if "bus" in request.fixturenames:
        bus: Bus = request.getfixturevalue("bus")
        await bus.close_taps()


@pytest.fixture(scope="session")
async def mailpit(stack: SessionStack) -> AsyncIterator[Mailpit]:
    async with Mailpit(stack.mailpit_url) as client:
        yield client


@pytest.fixture(scope="session")
async def mongo(stack: SessionStack) -> AsyncIterator[AsyncMongoClient]:
    client: AsyncMongoClient = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    yield client
    await client.close()  # the stack drops its databases when it is destroyed
