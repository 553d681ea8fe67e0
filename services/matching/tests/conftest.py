"""The matching service tests' fixtures: each test module on its own slice of the stack.

A module gets its own virtual host and database (`stack`, `bus`), so that a run over
"every active applicant and open position" or a daily cap sees that module's people
only; within a module, tests keep apart by occupation (KldB codes sharing fewer than
three leading digits are never a pair). `matching` is the module's service process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from matching_bus import matching_process


@pytest.fixture(scope="module")
def stack() -> Iterator[SessionStack]:
    with SessionStack.create() as own:
        yield own


@pytest.fixture(scope="module")
async def bus(stack: SessionStack) -> AsyncIterator[Bus]:
    async with Bus(stack.amqp_url) as connected:
        yield connected


@pytest.fixture(scope="module")
def matching(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = matching_process(stack)
    # Importing numba and scipy and loading the kernels takes over 90 s on a busy machine.
    process.start(timeout=180)
    yield process
    process.stop()
