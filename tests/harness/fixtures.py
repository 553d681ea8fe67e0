"""Session fixtures for tests that run against the real local stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

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


def own_stack(
    scope: Literal["module", "package"],
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """`stack`, `bus`, `mailpit` and `mongo` for a module or package on a stack of its own.

    A virtual host and databases of its own keep what the rest of the suite left behind
    (queued events, people, companies) out of tests that read "everything" or wait behind
    a queue. Assign the four to those names in a conftest or test module.
    """

    @pytest.fixture(scope=scope, name="stack")
    def own() -> Iterator[SessionStack]:
        with SessionStack.create() as created:
            yield created

    @pytest.fixture(scope=scope, name="bus")
    async def own_bus(stack: SessionStack) -> AsyncIterator[Bus]:
        async with Bus(stack.amqp_url) as connected:
            yield connected

    @pytest.fixture(scope=scope, name="mailpit")
    async def own_mailpit(stack: SessionStack) -> AsyncIterator[Mailpit]:
        async with Mailpit(stack.mailpit_url) as client:
            yield client

    @pytest.fixture(scope=scope, name="mongo")
    async def own_mongo(stack: SessionStack) -> AsyncIterator[AsyncMongoClient]:
        client: AsyncMongoClient = AsyncMongoClient(stack.mongo_url, tz_aware=True)
        yield client
        await client.close()

    return own, own_bus, own_mailpit, own_mongo
