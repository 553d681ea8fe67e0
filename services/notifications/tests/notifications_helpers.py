"""Test helpers for the notifications service's people tests: a private Mailpit, a slow
SMTP relay in front of it, stand-ins for matching's `applicant.get` and `fair.get`, event
builders."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from aio_pika.abc import AbstractIncomingMessage

from diko_shared.contract.base import Payload
from diko_shared.contract.common import Occupation
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import (
    Fair,
    MatchProposed,
    Proposal,
    ProposedApplicant,
    ProposedPosition,
    Reason,
)
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing
from harness.bus import Bus
from harness.mailpit import Mailpit
from harness.processes import LOG_DIR
from harness.stack import REPO
from harness.waiting import eventually

MAILPIT = REPO / ".local" / "bin" / "mailpit"
TISCHLER = Occupation(code="22342", name="Tischler/in")
BAECKER = Occupation(code="29302", name="Bäcker/in")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def address(name: str, domain: str = "diko.example") -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@{domain}"


class PrivateMailpit:
    """A Mailpit of the test's own: it refuses (550) every recipient that `allowed` does not
    match (by default addresses outside `.example` and `.org`), and with `dedupe` drops a
    repeat of a Message-ID, as a careful mail system does. `stop` and `start` again keep
    its mail (an outage); `close` ends it for good."""

    def __init__(
        self, directory: Path, *, dedupe: bool = False, allowed: str = r"\.(example|org)$"
    ) -> None:
        self.directory = directory
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.dedupe = dedupe
        self.allowed = allowed
        self.process: asyncio.subprocess.Process | None = None
        self.client = Mailpit(f"http://127.0.0.1:{self.http_port}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        flags = ["--ignore-duplicate-ids"] if self.dedupe else []
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with (LOG_DIR / f"mailpit-{self.smtp_port}.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(MAILPIT),
                f"--smtp=127.0.0.1:{self.smtp_port}",
                f"--listen=127.0.0.1:{self.http_port}",
                f"--database={self.directory / f'mailpit-{self.smtp_port}.db'}",
                "--disable-version-check",
                f"--smtp-allowed-recipients={self.allowed}",
                "--max=0",  # keeps every message (the default prunes beyond 500)
                *flags,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

        async def answers() -> bool:
            try:
                return (await self.client.client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, what="the private Mailpit")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 30)

    async def close(self) -> None:
        await self.stop()
        await self.client.close()

    def view(self, message_id: str) -> str:
        """Where Mailpit shows an e-mail's HTML part as a page (its inline logo linked)."""
        return f"http://127.0.0.1:{self.http_port}/view/{message_id}.html"

    async def headers(self, message_id: str) -> dict[str, list[str]]:
        response = await self.client.client.get(f"/api/v1/message/{message_id}/headers")
        response.raise_for_status()
        return response.json()

    async def raw(self, message_id: str) -> bytes:
        """The e-mail as it came over SMTP."""
        response = await self.client.client.get(f"/api/v1/message/{message_id}/raw")
        response.raise_for_status()
        return response.content

    async def part(self, message_id: str, part_id: str) -> bytes:
        response = await self.client.client.get(f"/api/v1/message/{message_id}/part/{part_id}")
        response.raise_for_status()
        return response.content


class SlowRelay:
    """A TCP relay in front of an SMTP server that holds every chunk from the client for a
    moment: SMTP conversations then last long enough to kill a process in the middle."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port = target_port
        self.delay_s = delay_s
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
            try:
                while chunk := await src.read(65536):
                    if delay:
                        await asyncio.sleep(delay)
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer, self.delay_s), pipe(up_reader, writer, 0.0))


@asynccontextmanager
async def responder(
    bus: Bus, queue_name: str, answer: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
) -> AsyncIterator[list[dict[str, Any]]]:
    """A stand-in for another service's request queue: answers each request with `answer`."""
    assert bus.connection is not None
    channel = await bus.connection.channel()
    queue = await channel.declare_queue(queue_name, passive=True)
    asked: list[dict[str, Any]] = []

    async def reply(message: AbstractIncomingMessage) -> None:
        async with message.process():
            data = json.loads(message.body)["data"]
            asked.append(data)
            body = await answer(data)
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps(body).encode(),
                    correlation_id=message.correlation_id,
                    content_type="application/json",
                ),
                routing_key=message.reply_to or "",
            )

    tag = await queue.consume(reply)
    try:
        yield asked
    finally:
        await queue.cancel(tag)
        await channel.close()


@asynccontextmanager
async def matching_fairs(bus: Bus, *fairs: Fair) -> AsyncIterator[list[dict[str, Any]]]:
    """A stand-in for matching's `fair.get`, which knows these fairs (with the applicants'
    names and addresses that `fair.planned` leaves out)."""
    known = {fair.fair_id: fair.model_dump(mode="json") for fair in fairs}

    async def answer(data: dict[str, Any]) -> dict[str, Any]:
        fair = known.get(data["fair_id"])
        if fair is None:
            error = {"code": "not_found", "message": "unbekannt", "details": []}
            return {"ok": False, "error": error}
        return {"ok": True, "data": fair}

    async with responder(bus, "matching.fair.get", answer) as asked:
        yield asked


async def publish(
    bus: Bus, type_: str, payload: Payload | dict[str, Any], source: str, id_: str | None = None
) -> str:
    envelope = new_envelope(type_, payload, source=source, id_=id_)
    await bus.publisher.publish(Outgoing.from_envelope(topology.EVENTS.name, envelope))
    return envelope["id"]


def position(
    company: str, town: str, occupation: Occupation = TISCHLER, company_id: str | None = None
) -> ProposedPosition:
    return ProposedPosition(
        position_id=fresh("pos"),
        company_id=company_id or fresh("cmp"),
        company_name=company,
        occupation=occupation,
        town=town,
        start_date=date(2027, 8, 1),
    )


def proposal(
    where: ProposedPosition, rank: int, name: str, home: str, applicant_id: str | None = None
) -> Proposal:
    return Proposal(
        proposal_id=fresh("prp"),
        position=where,
        applicant=ProposedApplicant(
            applicant_id=applicant_id or fresh("apl"), name=name, home_town=home
        ),
        score=0.9 - rank / 10,
        rank=rank,
        reasons=[
            Reason(
                criterion="occupation",
                key="occupation.exact",
                score=1.0,
                weight=0.5,
                text=f"{where.occupation.name} ist der erste Berufswunsch.",
            )
        ],
    )


def proposed(*proposals: Proposal) -> MatchProposed:
    return MatchProposed(
        trigger="position", subject_id=proposals[0].position.position_id, proposals=list(proposals)
    )
