"""Who sent a message is the broker user of its connection, and only the right ones count.

Against the real broker with the users and rights of production (`harness.stack`):
RabbitMQ itself refuses what a user may not publish or read, and the consumers refuse
what slipped past it (a message put straight into a queue through the default
exchange, which every service may use for its replies): an event from anyone but its
owner is dead-lettered as `forged`, a command from a sender the catalogue does not
list is answered `forbidden`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed

from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import Address, Contact, OpenPosition, RegisterCompany
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import DecideMatch, MatchAccepted
from diko_shared.messaging import access, topology
from diko_shared.messaging.identity import SENDER_HEADER
from harness.bus import Bus
from harness.processes import ServiceProcess
from harness.stack import HARNESS_USER, TEST_INTEGRATOR, SessionStack, ctl, password

COMPANIES_DLQ = "companies.dlq"
TAKE_QUEUE = "companies.on.match.accepted"
DECIDE_QUEUE = "matching.match.decide"


@pytest.fixture(scope="module")
def companies(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "companies-identity", "diko_companies", None, stack.service_env("companies")
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def matching(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "matching-identity", "diko_matching", None, stack.service_env("matching")
    )
    process.start(timeout=180)  # numba compiles the engine's kernels on a fresh machine
    yield process
    process.stop()


@pytest.fixture
async def connect(stack: SessionStack) -> AsyncIterator:
    """Log in to the session's virtual host as a given broker user."""
    opened: list[AbstractRobustConnection] = []

    async def as_user(user: str) -> aio_pika.abc.AbstractChannel:
        connection = await aio_pika.connect_robust(stack.amqp_url_as(user))
        opened.append(connection)
        return await connection.channel(publisher_confirms=True)

    yield as_user
    for connection in opened:
        await connection.close()


async def position_with_one_place(bus: Bus) -> tuple[str, str]:
    company = await bus.ok(
        RegisterCompany(
            name=f"Zimmerei {uuid.uuid4().hex[:8]} GmbH",
            address=Address(street="Hauptstraße 3", postcode="39606", town="Osterburg"),
            contact=Contact(name="Uwe Krüger", email="uwe@zimmerei.example", role="Inhaber"),
            industry="Handwerk",
        )
    )
    position = await bus.ok(
        OpenPosition(
            company_id=company["company_id"],
            occupation=Occupation(code="22342", name="Tischler/in"),
            places=1,
            start_date=date(2027, 8, 1),
            town="Osterburg",
            school_certificate="hauptschule",
        )
    )
    return company["company_id"], position["position_id"]


def match_accepted(company_id: str, position_id: str) -> bytes:
    """A `match.accepted` envelope as matching writes it, source and all."""
    event = MatchAccepted(
        proposal_id=f"prp_{uuid.uuid4().hex[:20]}",
        position_id=position_id,
        company_id=company_id,
        applicant_id=f"apl_{uuid.uuid4().hex[:20]}",
    )
    envelope = new_envelope("match.accepted", event, source="matching", subject=position_id)
    return json.dumps(envelope).encode()


def decide(proposal_id: str | None = None) -> bytes:
    command = DecideMatch(
        proposal_id=proposal_id or f"prp_{uuid.uuid4().hex[:20]}", decision="accept"
    )
    return json.dumps(new_envelope("match.decide", command, source="website")).encode()


# -- the consumers ---------------------------------------------------------------------------


async def test_a_match_accepted_put_in_by_another_service_is_forged_and_fills_no_place(
    bus: Bus, companies: ServiceProcess
) -> None:
    company_id, position_id = await position_with_one_place(bus)
    tap = await bus.tap(pattern="position.filled")
    await bus.drain(COMPANIES_DLQ)

    # media may publish to the default exchange (its replies go there), so it can put a
    # message straight into companies' queue; its user_id still says who it is.
    await bus.publish_raw(
        TAKE_QUEUE, match_accepted(company_id, position_id), exchange="", sender="media"
    )
    [letter] = await bus.wait_dead_letters(COMPANIES_DLQ, 1)
    assert letter.headers["x-diko-reason"] == "forged"
    assert letter.headers[SENDER_HEADER] == "media"
    assert "match.accepted“ ist ein Ereignis von matching" in letter.headers["x-diko-error"]
    assert "„media“" in letter.headers["x-diko-error"]
    await tap.fence()
    assert tap.of_type("position.filled") == [], "a forged acceptance took the only place"
    assert companies.metric("diko_dead_lettered_total", queue=TAKE_QUEUE, reason="forged") >= 1

    # The same event from matching's own user fills the place.
    await bus.publish_raw(TAKE_QUEUE, match_accepted(company_id, position_id), exchange="")
    [filled] = await tap.wait_type("position.filled")
    assert filled.data["position_id"] == position_id


async def test_an_event_without_user_id_or_with_a_borrowed_sender_header_is_forged(
    bus: Bus, companies: ServiceProcess, connect
) -> None:
    company_id, position_id = await position_with_one_place(bus)
    await bus.drain(COMPANIES_DLQ)
    anonymous = await connect(HARNESS_USER)  # may publish anywhere, sets no user_id here
    await anonymous.default_exchange.publish(
        aio_pika.Message(
            match_accepted(company_id, position_id),
            content_type="application/json",
            message_id=str(uuid.uuid4()),
            type="match.accepted",
        ),
        routing_key=TAKE_QUEUE,
    )
    media = await connect("media")
    await media.default_exchange.publish(
        aio_pika.Message(
            match_accepted(company_id, position_id),
            content_type="application/json",
            message_id=str(uuid.uuid4()),
            type="match.accepted",
            user_id="media",
            headers={SENDER_HEADER: "matching"},  # believed only from companies itself
        ),
        routing_key=TAKE_QUEUE,
    )
    letters = await bus.wait_dead_letters(COMPANIES_DLQ, 2)
    assert sorted(letter.headers["x-diko-reason"] for letter in letters) == ["forged", "forged"]
    assert sorted(letter.headers[SENDER_HEADER] for letter in letters) == ["", "media"]
    texts = " ".join(letter.headers["x-diko-error"] for letter in letters)
    assert "ohne Kennung (die AMQP-Eigenschaft user_id fehlt)" in texts


async def test_match_decide_put_into_matchings_queue_by_media_is_answered_forbidden(
    matching: ServiceProcess, connect
) -> None:
    media = await connect("media")  # past the broker: straight into the queue, with reply_to
    replies = await media.get_queue("amq.rabbitmq.reply-to", ensure=False)
    answered: asyncio.Future[dict] = asyncio.get_running_loop().create_future()

    async def arrived(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        answered.set_result(json.loads(message.body))

    await replies.consume(arrived, no_ack=True)
    await media.default_exchange.publish(
        aio_pika.Message(
            decide(),
            content_type="application/json",
            message_id=str(uuid.uuid4()),
            type="match.decide",
            user_id="media",
            reply_to="amq.rabbitmq.reply-to",
        ),
        routing_key=DECIDE_QUEUE,
    )
    reply = await asyncio.wait_for(answered, 30)
    assert reply["ok"] is False
    assert reply["error"]["code"] == "forbidden"
    assert reply["error"]["message"] == (
        "„media“ darf „match.decide“ nicht senden. Senden dürfen es nur: notifications, operator."
    )


async def test_match_decide_put_in_by_media_without_reply_to_is_dead_lettered_forbidden(
    bus: Bus, matching: ServiceProcess
) -> None:
    await bus.drain("matching.dlq")
    await bus.publish_raw(DECIDE_QUEUE, decide(), exchange="", sender="media")
    [letter] = await bus.wait_dead_letters("matching.dlq", 1)
    assert letter.headers["x-diko-reason"] == "forbidden"
    assert letter.headers[SENDER_HEADER] == "media"


async def test_match_decide_from_the_operator_reaches_the_handler(
    bus: Bus, matching: ServiceProcess
) -> None:
    reply = await bus.request_raw("match.decide", decide())
    assert reply["error"]["code"] == "not_found", reply  # past the sender check


# -- the broker --------------------------------------------------------------------------------


async def test_the_broker_refuses_an_event_from_a_service_that_does_not_own_it(connect) -> None:
    media = await connect("media")
    events = await media.get_exchange(topology.EVENTS.name)
    with pytest.raises(ChannelAccessRefused, match=re.escape("topic 'match.accepted'")):
        await events.publish(aio_pika.Message(b"{}", user_id="media"), routing_key="match.accepted")


async def test_the_broker_refuses_a_command_a_service_may_not_send(connect) -> None:
    media = await connect("media")
    commands = await media.get_exchange(topology.COMMANDS.name, ensure=False)
    with pytest.raises(ChannelAccessRefused, match=re.escape("exchange 'diko.commands'")):
        await commands.publish(aio_pika.Message(decide(), user_id="media"), "match.decide")
    integrator = await connect(TEST_INTEGRATOR)
    commands = await integrator.get_exchange(topology.COMMANDS.name)
    with pytest.raises(ChannelAccessRefused, match=re.escape("topic 'match.decide'")):
        await commands.publish(aio_pika.Message(decide(), user_id=TEST_INTEGRATOR), "match.decide")


async def test_the_broker_refuses_a_user_id_that_is_not_the_login(connect) -> None:
    media = await connect("media")
    events = await media.get_exchange(topology.EVENTS.name)
    with pytest.raises(ChannelPreconditionFailed, match="authenticated user was 'media'"):
        await events.publish(
            aio_pika.Message(b"{}", user_id="companies"), routing_key="post.drafted"
        )


async def test_a_service_reads_only_its_own_queues_and_events(connect) -> None:
    media = await connect("media")
    queue = await media.get_queue("companies.company.register", ensure=False)
    with pytest.raises(ChannelAccessRefused, match=re.escape("queue 'companies.company.register'")):
        await queue.get(fail=False)
    media = await connect("media")
    own = await media.get_queue("media.on.position.opened", ensure=False)
    with pytest.raises(ChannelAccessRefused, match=re.escape("topic 'applicant.registered'")):
        await own.bind(topology.EVENTS.name, "applicant.registered")  # names of applicants


async def test_the_operator_watches_events_but_cannot_publish_one(connect) -> None:
    operator = await connect("operator")
    queue = await operator.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(topology.EVENTS.name, "#")
    events = await operator.get_exchange(topology.EVENTS.name)
    with pytest.raises(ChannelAccessRefused, match=re.escape("exchange 'diko.events'")):
        await events.publish(aio_pika.Message(b"{}", user_id="operator"), "match.accepted")


def test_no_broker_user_is_an_administrator_and_there_is_no_guest() -> None:
    users = {}
    for line in ctl("list_users", "--silent").splitlines():
        name, _, tags = line.partition("\t")
        users[name] = tags
    assert "guest" not in users
    assert "diko" not in users, "the administrator of earlier versions is gone"
    assert not [name for name, tags in users.items() if "administrator" in tags]
    assert users["monitor"] == "[monitoring]"


async def test_the_documented_integrator_commands_give_exactly_an_integrators_rights(
    stack: SessionStack, connect
) -> None:
    """deploy/README.md creates an integrator with the commands `access integrator` prints."""
    name = f"readme{uuid.uuid4().hex[:6]}"
    user = f"integrator-{name}"
    ctl("add_user", user, stdin=password(user) + "\n")
    try:
        script = access.rabbitmqctl_script(access.integrator_grant(name), vhost=stack.vhost)
        for line in script.splitlines():
            if line and not line.startswith("#"):
                ctl(*shlex.split(line)[1:])
        integrator = await connect(user)
        commands = await integrator.get_exchange(topology.COMMANDS.name)
        await commands.publish(aio_pika.Message(b"{}", user_id=user), "company.get")
        with pytest.raises(ChannelAccessRefused, match=re.escape("topic 'match.decide'")):
            await commands.publish(aio_pika.Message(decide(), user_id=user), "match.decide")
    finally:
        ctl("delete_user", user)
