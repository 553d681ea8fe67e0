"""A service stops promptly on SIGTERM in every state, and /readyz always says why it is not ready.

Each test starts the test service as a real process, brings it into one state (waiting
for a broker or database that is not there, having lost either while running, holding a
message in its handler), then sends SIGTERM. It must be gone within the harness's kill
timeout and have logged a clean shutdown; meanwhile /readyz answers within the CLI's
probe timeout with the reason. Brokers and databases "go away" behind a `Plug`, a
loopback relay the test cuts, so that the real servers keep serving everyone else.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from harness.bus import Bus
from harness.plug import Plug
from harness.processes import KILL_TIMEOUT_S, ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually
from testsvc.contract import HoldWork

HERE = Path(__file__).resolve().parent
#: What `diko stack status` waits for an answer; /readyz must answer well within it.
CLI_PROBE_TIMEOUT_S = 3.0
CLEAN_SHUTDOWN = '"message": "service stopped"'


@pytest.fixture
def launch(stack: SessionStack) -> Iterator[Callable[..., ServiceProcess]]:
    """Start test-service processes with some settings overridden; stop them afterwards."""
    started: list[ServiceProcess] = []

    def launch_one(*, wait_ready: bool = True, **overrides: str) -> ServiceProcess:
        env = stack.service_env("testsvc", **overrides)
        process = ServiceProcess("testsvc-shutdown", "testsvc", None, env, pythonpath=(HERE,))
        started.append(process)
        if wait_ready:
            process.start()
        else:
            process.launch()
        return process

    yield launch_one
    for process in started:
        process.stop()


async def answer(
    service: ServiceProcess, path: str, expected: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The JSON of `path` once it shows what is expected; each answer within the CLI's timeout."""

    async def probe() -> dict[str, Any] | None:
        try:
            async with httpx.AsyncClient(timeout=CLI_PROBE_TIMEOUT_S) as client:
                response = await client.get(f"{service.base_url}{path}")
        except httpx.TransportError:
            return None  # not listening yet
        body = {"http": response.status_code, **response.json()}
        return body if expected(body) else None

    return await eventually(probe, timeout=90, interval=0.2, what=f"{path} as expected")


def assert_stops_cleanly(service: ServiceProcess) -> str:
    """SIGTERM: gone within the kill timeout, with a clean shutdown logged; returns the log."""
    code = service.terminate()
    log = service.log_of_last_start()
    assert code is not None, f"still running {KILL_TIMEOUT_S:.0f} s after SIGTERM:\n{log[-3000:]}"
    assert code in (0, -signal.SIGTERM), f"exit status {code}:\n{log[-3000:]}"
    assert CLEAN_SHUTDOWN in log, f"no clean shutdown logged:\n{log[-3000:]}"
    return log


async def test_waiting_for_the_broker_it_says_so_and_stops_at_once(
    stack: SessionStack, launch: Callable[..., ServiceProcess]
) -> None:
    nowhere = Plug("127.0.0.1", free_port()).url(stack.amqp_url_as("testsvc"))
    service = launch(wait_ready=False, DIKO_AMQP_URL=nowhere)

    # the stage names the error once the first attempt failed (at once: nobody listens)
    health = await answer(
        service, "/healthz", lambda b: b.get("stage", "").startswith("waiting for the broker: ")
    )
    assert health["http"] == 503
    assert health["status"] == "starting"
    ready = await answer(service, "/readyz", lambda b: "broker" in b.get("stage", ""))
    assert ready["http"] == 503
    assert ready["broker"] == "unavailable: not connected yet"
    assert ready["database"] == "ok"
    log = assert_stops_cleanly(service)
    assert "start-up interrupted by shutdown" in log


async def test_waiting_for_the_database_it_says_so_and_stops_at_once(
    stack: SessionStack, launch: Callable[..., ServiceProcess]
) -> None:
    port = free_port()
    service = launch(wait_ready=False, DIKO_MONGO_URL=f"mongodb://127.0.0.1:{port}/")

    refused = f"127.0.0.1:{port}: [Errno 111]"  # refused, and where

    def says_refused(body: dict[str, Any]) -> bool:
        # on a busy machine one probe may run out of time ("no answer within 1.5 s")
        return "database" in body.get("stage", "") and refused in body.get("database", "")

    ready = await answer(service, "/readyz", says_refused)
    assert ready["http"] == 503
    assert ready["status"] == "starting"
    assert ready["stage"].startswith("waiting for the database")
    assert ready["database"].startswith("unavailable: "), ready
    assert_stops_cleanly(service)


async def test_after_losing_the_broker_it_says_so_and_stops_at_once(
    stack: SessionStack, launch: Callable[..., ServiceProcess]
) -> None:
    own_url = stack.amqp_url_as("testsvc")
    with Plug.to(own_url) as plug:
        service = launch(DIKO_AMQP_URL=plug.url(own_url))
        plug.pull()
        ready = await answer(service, "/readyz", lambda b: b["broker"] != "ok")
        assert ready["http"] == 503
        assert ready["status"] == "not ready"
        assert ready["broker"].startswith("unavailable: connection lost"), ready
        assert ready["broker"].endswith("reconnecting"), ready
        assert ready["database"] == "ok"
        assert_stops_cleanly(service)


async def test_after_losing_the_database_it_says_so_and_stops_at_once(
    stack: SessionStack, launch: Callable[..., ServiceProcess]
) -> None:
    with Plug.to(stack.mongo_url) as plug:
        service = launch(DIKO_MONGO_URL=plug.url(stack.mongo_url))
        plug.pull()
        ready = await answer(service, "/readyz", lambda b: b["database"] != "ok")
        assert ready["http"] == 503
        assert ready["database"].startswith("unavailable: "), ready
        assert ready["broker"] == "ok"
        assert_stops_cleanly(service)


@pytest.mark.parametrize("broker", ["there", "away"])
async def test_mid_message_it_stops_at_once_and_the_message_is_done_later(
    stack: SessionStack,
    launch: Callable[..., ServiceProcess],
    bus: Bus,
    testsvc_db: AsyncDatabase,
    broker: str,
) -> None:
    own_url = stack.amqp_url_as("testsvc")
    with Plug.to(own_url) as plug:
        service = launch(DIKO_AMQP_URL=plug.url(own_url))
        message_id = await bus.send(HoldWork(item=f"hold-{uuid.uuid4().hex[:8]}", hold_s=3600))

        async def in_handler() -> bool:
            return await testsvc_db["attempts"].find_one({"_id": message_id}) is not None

        await eventually(in_handler, timeout=60, what="the handler holding the message")
        if broker == "away":
            plug.pull()
            await answer(service, "/readyz", lambda b: b["broker"] != "ok")
        log = assert_stops_cleanly(service)
        assert "abandoning unfinished messages" in log
        plug.put_in()
        service.start()  # the broker delivers the unacknowledged message again

        async def done() -> dict[str, Any] | None:
            return await testsvc_db["held_done"].find_one({"_id": message_id})

        finished = await eventually(done, timeout=60, what="the message done after the restart")
        assert finished["attempts"] == 2


async def test_a_message_in_its_handler_finishes_within_the_drain_and_is_not_handled_again(
    launch: Callable[..., ServiceProcess], bus: Bus, testsvc_db: AsyncDatabase
) -> None:
    # SIGTERM cancels the consumers first: nothing more is delivered, and the message in
    # its handler finishes, is acknowledged, and only then does the connection close.
    service = launch()
    message_id = await bus.send(HoldWork(item=f"hold-{uuid.uuid4().hex[:8]}", hold_s=1.5))

    async def in_handler() -> bool:
        return await testsvc_db["attempts"].find_one({"_id": message_id}) is not None

    await eventually(in_handler, timeout=60, what="the handler holding the message")
    assert service.metric("diko_messages_in_progress", queue="testsvc.tally.hold") == 1
    log = assert_stops_cleanly(service)
    assert "abandoning unfinished messages" not in log
    assert (await testsvc_db["held_done"].find_one({"_id": message_id}))["attempts"] == 1
    service.start()
    # A message sent after the restart is handled after anything the broker gave back.
    later = await bus.send(HoldWork(item=f"hold-{uuid.uuid4().hex[:8]}", hold_s=0))

    async def later_done() -> bool:
        return await testsvc_db["held_done"].find_one({"_id": later}) is not None

    await eventually(later_done, timeout=60, what="the message sent after the restart")
    assert (await testsvc_db["attempts"].find_one({"_id": message_id}))["n"] == 1
