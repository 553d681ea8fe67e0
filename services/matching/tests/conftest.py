"""The matching service tests' fixtures: each test module on its own slice of the stack.

A module gets its own virtual host and database (`stack`, `bus`), so that a run over
"every active applicant and open position" or a daily cap sees that module's people
only; within a module, tests keep apart by occupation (KldB codes sharing fewer than
three leading digits are never a pair). `matching` is the module's service process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.fixtures import own_stack
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from matching_bus import matching_process

stack, bus, mailpit, mongo = own_stack("module")


@pytest.fixture(scope="module")
def matching(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = matching_process(stack)
    # Importing numba and scipy and loading the kernels takes over 90 s on a busy machine.
    process.start(timeout=180)
    yield process
    process.stop()
