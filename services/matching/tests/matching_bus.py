"""Driving the matching service through the bus: people, positions, events, waiting."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import aio_pika

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import PositionOpened
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import RegisterApplicant
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing
from harness.bus import Bus, Seen, Tap
from harness.processes import ServiceProcess
from harness.stack import SessionStack
from harness.waiting import eventually

CRITERIA = ["occupation", "distance", "school", "start", "preference"]
KEYS = ["occupation.exact", "distance.within_reach", "school.met", "start.within_window"]


def matching_process(stack: SessionStack, name: str = "matching", **env: str) -> ServiceProcess:
    """A matching service process on this session's slice of the stack (not started)."""
    return ServiceProcess(name, "diko_matching", None, stack.service_env("matching", **env))


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def applicant(code: str, home_town: str, **changes: Any) -> RegisterApplicant:
    data = {
        "first_name": "Lena",
        "last_name": "Schröder",
        "email": "lena.schroeder@example.org",
        "home_town": home_town,
        "reach_km": 25,
        "school_certificate": "realschule",
        "desired_occupations": [code],
        "earliest_start": "2027-08-01",
    }
    return RegisterApplicant.model_validate({**data, **changes}, strict=False)


def position(
    code: str, name: str, town: str = "Stendal", *, places: int = 2, company_id: str | None = None
) -> PositionOpened:
    return PositionOpened(
        position_id=new_id("pos"),
        company_id=company_id or new_id("cmp"),
        company_name="Ausbildungsbetrieb Beispiel GmbH",
        occupation=Occupation(code=code, name=name),
        places=places,
        start_date=date(2027, 8, 1),
        town=town,
        school_certificate="hauptschule",
    )


def event_message(
    type_: str, payload: Payload, *, subject: str | None = None, time: datetime | None = None
) -> Outgoing:
    """An event as companies (or another service) would publish it, at `time` if given."""
    subject = subject or getattr(payload, "position_id", None)
    envelope = new_envelope(type_, payload, source="companies", subject=subject, time=time)
    return Outgoing.from_envelope(topology.EVENTS.name, envelope)


Processes = ServiceProcess | Sequence[ServiceProcess]
"""One matching process, or the replicas that share its queues."""


def handled(matching: Processes, type_: str, outcome: str = "processed") -> float:
    """How many `type_` events the process (all replicas together) has handled so."""
    processes = [matching] if isinstance(matching, ServiceProcess) else list(matching)
    queue = f"matching.on.{type_}"
    return sum(p.metric("diko_messages_total", queue=queue, outcome=outcome) for p in processes)


async def settled(
    matching: Processes, type_: str, before: float, count: int, outcome: str = "processed"
) -> None:
    """Wait until the service has handled `count` more `type_` events than `before`."""

    async def done() -> bool:
        return handled(matching, type_, outcome) >= before + count

    await eventually(done, what=f"{count} {type_} event(s) {outcome}")


async def register(bus: Bus, matching: Processes, *applicants: RegisterApplicant) -> list[str]:
    """Register applicants and wait until matching has reacted to their registration."""
    before = handled(matching, "applicant.registered")
    ids = [(await bus.ok(a))["applicant_id"] for a in applicants]
    await settled(matching, "applicant.registered", before, len(ids))
    return ids


async def open_position(bus: Bus, matching: Processes, opened: PositionOpened) -> None:
    await publish_event(bus, matching, "position.opened", opened)


async def publish_event(
    bus: Bus,
    matching: Processes,
    type_: str,
    payload: Payload,
    *,
    subject: str | None = None,
    time: datetime | None = None,
) -> None:
    """Publish an event matching reacts to and wait until it has been handled."""
    before = handled(matching, type_)
    await bus.publisher.publish(event_message(type_, payload, subject=subject, time=time))
    await settled(matching, type_, before, 1)


def proposed_for(tap: Tap, subject_id: str) -> list[Seen]:
    return tap.matching(
        lambda m: m.routing_key == "match.proposed" and m.data["subject_id"] == subject_id
    )


async def one_proposed(tap: Tap, subject_id: str) -> dict[str, Any]:
    """Wait for the `match.proposed` about `subject_id`; fail if a second one follows."""
    await tap.wait_for(
        lambda m: m.routing_key == "match.proposed" and m.data["subject_id"] == subject_id
    )
    await tap.fence()
    [event] = proposed_for(tap, subject_id)
    return event.data


async def at_once(
    bus: Bus, payloads: Sequence[Payload], timeout: float = 90.0
) -> list[dict[str, Any]]:
    """Publish every request before the first reply can come, and collect the replies in order.

    `Bus.request` goes through FastStream's request/reply, which sends one request at a
    time; a race needs the requests on the queue together, spread over the consumers.
    """
    assert bus.connection is not None
    channel = await bus.connection.channel(publisher_confirms=True)
    replies = await channel.declare_queue(exclusive=True, auto_delete=True)
    commands = await channel.get_exchange(topology.COMMANDS.name)
    ids = [str(uuid.uuid4()) for _ in payloads]
    for correlation_id, payload in zip(ids, payloads, strict=True):
        spec = CATALOGUE.for_payload(type(payload))
        envelope = new_envelope(spec.type, payload, source="tests")
        await commands.publish(
            aio_pika.Message(
                json.dumps(envelope).encode(),
                content_type="application/json",
                message_id=envelope["id"],
                correlation_id=correlation_id,
                reply_to=replies.name,
                type=spec.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=spec.type,
        )
    got: dict[str, dict[str, Any]] = {}
    async with replies.iterator(timeout=timeout) as stream:
        async for message in stream:
            async with message.process():
                got[message.correlation_id or ""] = json.loads(message.body)
            if len(got) == len(ids):
                break
    await channel.close()
    return [got[i] for i in ids]


async def partial(bus: Bus, payload: Payload, timeout: float = 30.0) -> dict[str, Any]:
    """Request a partial update with only the fields set (left out stays, null clears).

    The platform's publisher sends every field of a payload, unset ones as null, which a
    partial update reads as "clear it"; an integrator's JSON leaves them out.
    """
    spec = CATALOGUE.for_payload(type(payload))
    data = payload.model_dump(mode="json", exclude_unset=True)
    envelope = new_envelope(spec.type, data, source="tests")
    message = Outgoing.from_envelope(topology.COMMANDS.name, envelope)
    return await bus.publisher.request_raw(message, timeout=timeout)
