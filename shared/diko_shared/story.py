"""The first story of diko, played through the public contract only.

A staff member subscribes; a company registers and opens a training position; media
drafts an "Azubi gesucht" post; an applicant registers; matching proposes them; the
staff member is e-mailed, accepts, the position is filled and the staff member is told;
media publishes a podcast episode. Every step sends commands and waits (with a timeout)
for the events that show it happened. `diko demo` prints it; the end-to-end tests run
it with faults injected between the steps, and accept through the e-mail's link.

The staff member is a fixed one (`DEMO_STAFF_EMAIL`), registered by the first run and
found again by later ones: a new one per run would get the e-mails of every later run.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from faststream.rabbit import Channel, RabbitBroker

from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import Address, Contact, OpenPosition, RegisterCompany
from diko_shared.contract.matching import DecideMatch, RegisterApplicant
from diko_shared.contract.media import CreateEpisode, GetPost, PublishEpisode
from diko_shared.contract.notifications import RegisterStaff, Subscribe
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Publisher, Unroutable

SOURCE = "diko-demo"
DEMO_STAFF_NAME = "Birte Albrecht"
DEMO_STAFF_EMAIL = "birte.albrecht@diko.example"
STAFF_ID = re.compile(r"stf_[0-9a-f]{20}")

Say = Callable[[str], None]
Hook = Callable[[], Awaitable[None]]
Decide = Callable[["Story"], Awaitable[None]]


class StoryFailed(Exception):
    """A step did not happen; the message says which and what was missing."""


@dataclass
class Envelope:
    """An event as the story saw it."""

    type: str
    id: str
    data: dict[str, Any]


def _owner(type_: str) -> str:
    """The service a message belongs to: whom to look at when it does not come."""
    spec = CATALOGUE.get(type_)
    return spec.owner if spec is not None else "the system"


class EventWatch:
    """Collects every event from the moment the story starts, to wait for the ones it needs."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []
        self._arrived = asyncio.Condition()

    async def add(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            try:
                body = json.loads(message.body)
                event = Envelope(body["type"], body["id"], body.get("data") or {})
            except (ValueError, KeyError, TypeError):
                return
        async with self._arrived:
            self.seen.append(event)
            self._arrived.notify_all()

    async def wait(
        self, type_: str, matches: Callable[[dict[str, Any]], bool], timeout: float
    ) -> Envelope:
        """The first matching event, seen already or arriving within `timeout`."""

        def found() -> Envelope | None:
            return next((e for e in self.seen if e.type == type_ and matches(e.data)), None)

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: found() is not None)
        event = found()
        assert event is not None
        return event

    def count(self, type_: str, matches: Callable[[dict[str, Any]], bool]) -> int:
        """How many distinct events (by id) of a type match: repeats of one id count once."""
        return len({e.id for e in self.seen if e.type == type_ and matches(e.data)})


class Replies:
    """An exclusive queue for the answers to the story's requests, by correlation id.

    Publishing and awaiting the answer are separate here (unlike `Publisher.request`), so
    that a fault can be injected after the broker confirmed a command and before its answer.
    """

    def __init__(self) -> None:
        self.queue = ""
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def open(self, channel: AbstractChannel) -> None:
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        self.queue = queue.name
        await queue.consume(self._arrived, no_ack=True)

    def expect(self, correlation_id: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        return future

    def forget(self, correlation_id: str) -> None:
        self._waiting.pop(correlation_id, None)

    async def _arrived(self, message: AbstractIncomingMessage) -> None:
        future = self._waiting.pop(message.correlation_id or "", None)
        if future is None or future.done():
            return  # a second answer, to a request redelivered after a crash
        try:
            future.set_result(json.loads(message.body))
        except ValueError:
            error = {"code": "internal", "message": "the answer is not JSON"}
            future.set_result({"ok": False, "error": error})


@dataclass
class StoryResult:
    """What the story created, and where a person can look at it."""

    run: str
    staff_id: str = ""
    staff_email: str = ""
    company_id: str = ""
    position_id: str = ""
    applicant_id: str = ""
    proposal_id: str = ""
    post_id: str = ""
    post_image_url: str = ""
    episode_id: str = ""
    feed_url: str = ""
    events: dict[str, str] = field(default_factory=dict)


class Story:
    """Plays the story against a running system reached at `amqp_url`.

    `decide` is how staff accept the proposal; by default `match.decide` is sent as the
    contract allows any system to. The end-to-end test follows the e-mail's link instead.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        timeout: float = 60.0,
        say: Say = print,
        run: str | None = None,
        staff_email: str = DEMO_STAFF_EMAIL,
        decide: Decide | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.timeout = timeout
        self.say = say
        self.decide = decide
        self.result = StoryResult(run=run or secrets.token_hex(3), staff_email=staff_email)
        self.watch = EventWatch()
        self.replies = Replies()
        self.broker = RabbitBroker(
            amqp_url,
            app_id=SOURCE,
            apply_types=False,
            default_channel=Channel(on_return_raises=True),
            log_level=10,
        )
        self.publisher = Publisher(self.broker, SOURCE)
        self.connection: AbstractRobustConnection | None = None
        self.hooks: Mapping[str, Hook] = {}
        self.step = ""

    async def __aenter__(self) -> Story:
        await self.broker.connect()
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self.connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(topology.EVENTS.name, "#")
        await queue.consume(self.watch.add)
        await self.replies.open(channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()
        if self.connection is not None:
            await self.connection.close()

    def failed(self, problem: str, service: str | None = None) -> StoryFailed:
        """The error for the current step; names the service to check when nothing came."""
        hint = f"; is {service} running? (`diko stack status`)" if service else ""
        return StoryFailed(f"step {self.step}: {problem}{hint}")

    async def request(self, payload: Payload, *, sent: Hook | None = None) -> dict[str, Any]:
        """Send a command or query and return the whole answer (`{"ok": …}`).

        `sent` runs once the broker has confirmed the message, before the answer is awaited.
        """
        message = self.publisher.command(payload, reply_to=self.replies.queue)
        owner = _owner(message.type)
        key = message.correlation_id or message.message_id
        answer = self.replies.expect(key)
        try:
            try:
                await self.publisher.publish(message)
            except Unroutable:
                raise self.failed(f"no queue takes {message.type}", owner) from None
            if sent is not None:
                await sent()
            try:
                async with asyncio.timeout(self.timeout):
                    return await answer
            except TimeoutError:
                problem = f"no answer to {message.type} within {self.timeout:g} s"
                raise self.failed(problem, owner) from None
        finally:
            self.replies.forget(key)

    async def ask(self, payload: Payload, *, sent: Hook | None = None) -> dict[str, Any]:
        """Send a command or query and return its reply data; an error reply fails the step."""
        reply = await self.request(payload, sent=sent)
        if not reply.get("ok"):
            type_ = CATALOGUE.for_payload(type(payload)).type
            error = json.dumps(reply.get("error"), ensure_ascii=False)
            raise self.failed(f"{type_} was refused: {error}")
        return reply["data"]

    async def event(
        self,
        type_: str,
        matches: Callable[[dict[str, Any]], bool] | None = None,
        **expected: Any,
    ) -> Envelope:
        """Wait for an event that `matches` or whose data has the `expected` values."""

        def wanted(data: dict[str, Any]) -> bool:
            if matches is not None and not matches(data):
                return False
            return all(data.get(k) == v for k, v in expected.items())

        try:
            event = await self.watch.wait(type_, wanted, self.timeout)
        except TimeoutError:
            problem = f"no {type_} within {self.timeout:g} s"
            raise self.failed(problem, _owner(type_)) from None
        self.result.events[type_] = event.id
        return event

    async def play(self, hooks: Mapping[str, Hook] | None = None) -> StoryResult:
        """Run every step in order; after a step, run the hook of its name, if any.

        The hook `applicant_sent` runs inside step 5, between the broker's confirm of
        `applicant.register` and its answer.
        """
        self.hooks = hooks or {}
        steps: list[tuple[str, str, Callable[[], Awaitable[None]]]] = [
            ("staff", "1 (staff member registers and subscribes)", self.staff),
            ("company", "2 (company registers)", self.company),
            ("position", "3 (company opens a position)", self.position),
            ("post", "4 (media drafts the post)", self.post),
            ("applicant", "5 (applicant registers)", self.applicant),
            ("proposal", "6 (matching proposes her)", self.proposal),
            ("proposal_mail", "7 (staff are e-mailed the proposal)", self.proposal_mail),
            ("decision", "8 (staff accept)", self.decision),
            ("filled", "8 (the position is filled, staff are told)", self.filled),
            ("episode", "9 (a podcast episode is published)", self.episode),
        ]
        for name, label, step in steps:
            self.step = label
            await step()
            if name in self.hooks:
                await self.hooks[name]()
        return self.result

    # -- the steps -------------------------------------------------------------------------

    async def staff(self) -> None:
        r = self.result
        registration = RegisterStaff(name=DEMO_STAFF_NAME, email=r.staff_email, role="Beraterin")
        reply = await self.request(registration)
        if reply.get("ok"):
            r.staff_id, how = reply["data"]["staff_id"], "registered"
        else:
            r.staff_id, how = self._registered_before(reply), "already registered (earlier run)"
        topics = ["match.proposed", "position.filled", "episode.published"]
        await self.ask(Subscribe(staff_id=r.staff_id, topics=topics))  # replaces, so repeatable
        self.say(f"1. staff member {how} and subscribed: {r.staff_email} ({r.staff_id})")

    def _registered_before(self, reply: dict[str, Any]) -> str:
        """The id of the staff member an earlier run registered: a conflict names it."""
        error = reply.get("error") or {}
        texts = [str(error.get("message", ""))]
        texts += [str(d.get("problem", "")) for d in error.get("details") or []]
        found = STAFF_ID.search(" ".join(texts))
        if error.get("code") != "conflict" or found is None:
            refused = json.dumps(error, ensure_ascii=False)
            raise self.failed(f"staff.register was refused: {refused}")
        return found.group()

    async def company(self) -> None:
        r = self.result
        name = f"Tischlerei Müller & Söhne {r.run.upper()} GmbH"
        data = await self.ask(
            RegisterCompany(
                name=name,
                address=Address(street="Breite Straße 12", postcode="39576", town="Stendal"),
                contact=Contact(
                    name="Jana Müller",
                    email=f"jana.mueller+{r.run}@tischlerei.example",
                    role="Ausbildungsleiterin",
                ),
                industry="Handwerk",
            )
        )
        r.company_id = data["company_id"]
        await self.event("company.registered", company_id=r.company_id)
        self.say(f"2. company registered in Stendal: {name} ({r.company_id})")

    async def position(self) -> None:
        r = self.result
        data = await self.ask(
            OpenPosition(
                company_id=r.company_id,
                occupation=Occupation(code="22342", name="Tischler/in"),
                places=1,
                start_date=date(date.today().year + 1, 8, 1),
                town="Stendal",
                school_certificate="hauptschule",
                description="Holz, Handwerk und ein Team, das ausbildet.",
            )
        )
        r.position_id = data["position_id"]
        await self.event("position.opened", position_id=r.position_id)
        self.say(f"3. training position opened: Tischler/in, 1 place ({r.position_id})")

    async def post(self) -> None:
        r = self.result
        drafted = await self.event("post.drafted", position_id=r.position_id)
        r.post_id = drafted.data["post_id"]
        post = await self.ask(GetPost(post_id=r.post_id))
        r.post_image_url = post["image_url"]
        self.say(f"4. media drafted an „Azubi gesucht“ post: {r.post_image_url}")

    async def applicant(self) -> None:
        r = self.result
        registration = RegisterApplicant(
            first_name="Lena",
            last_name=f"Schröder-{r.run}",
            email=f"lena.schroeder+{r.run}@example.org",
            home_town="Osterburg",
            reach_km=40,
            driving_licence=True,
            school_certificate="realschule",
            desired_occupations=["22342"],
            earliest_start=date(date.today().year + 1, 7, 1),
        )
        data = await self.ask(registration, sent=self.hooks.get("applicant_sent"))
        r.applicant_id = data["applicant_id"]
        await self.event("applicant.registered", applicant_id=r.applicant_id)
        self.say(f"5. applicant registered in Osterburg ({r.applicant_id})")

    async def proposal(self) -> None:
        r = self.result

        def ours(data: dict[str, Any]) -> bool:
            return any(
                p["position"]["position_id"] == r.position_id
                and p["applicant"]["applicant_id"] == r.applicant_id
                for p in data.get("proposals", [])
            )

        event = await self.event("match.proposed", ours)
        proposal = next(
            p for p in event.data["proposals"] if p["position"]["position_id"] == r.position_id
        )
        r.proposal_id = proposal["proposal_id"]
        self.say(f"6. matching proposed her, score {proposal['score']:.2f}:")
        for reason in proposal["reasons"]:
            self.say(f"     - {reason['text']}")

    async def proposal_mail(self) -> None:
        r = self.result
        proposed = r.events["match.proposed"]
        await self.event("notification.sent", event_id=proposed, staff_id=r.staff_id)
        self.say(f"7. the proposal was e-mailed to {r.staff_email}")

    async def decision(self) -> None:
        r = self.result
        if self.decide is not None:
            await self.decide(self)
        else:
            await self.ask(
                DecideMatch(proposal_id=r.proposal_id, decision="accept", decided_by=r.staff_id)
            )
        await self.event("match.accepted", proposal_id=r.proposal_id)
        self.say("8. staff accepted the proposal")

    async def filled(self) -> None:
        r = self.result
        filled = await self.event("position.filled", position_id=r.position_id)
        await self.event("notification.sent", event_id=filled.id, staff_id=r.staff_id)
        self.say("   the position is filled, and staff were told by e-mail")

    async def episode(self) -> None:
        r = self.result
        created = await self.ask(
            CreateEpisode(
                title=f"DIKO trifft… die Tischlerei Müller ({r.run})",
                description="Jana Müller erzählt, wie ihr Betrieb in der Altmark ausbildet.",
                audio_url=f"https://media.diko.example/podcast/demo-{r.run}.mp3",
                audio_bytes=28_311_552,
                audio_type="audio/mpeg",
                duration_s=1769,
                company_id=r.company_id,
            )
        )
        r.episode_id = created["episode_id"]
        await self.ask(PublishEpisode(episode_id=r.episode_id))
        published = await self.event("episode.published", episode_id=r.episode_id)
        r.feed_url = published.data["feed_url"]
        self.say(f"9. podcast episode published: {r.feed_url}")
