"""The test service, started as a real process for the platform tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

import testsvc.contract  # its messages (and its broker user) exist from the start
import testsvc.stock  # the event it reads, so its queue is granted in any module run alone
from harness.processes import ServiceProcess
from harness.stack import SessionStack

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def testsvc(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "testsvc", "testsvc", None, stack.service_env("testsvc"), pythonpath=(HERE,)
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def testsvc_db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncDatabase:
    return mongo[stack.database("testsvc")]
