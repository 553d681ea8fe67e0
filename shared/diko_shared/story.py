"""The first story of diko, played through the public contract only.

A staff member subscribes; a company registers and opens a training position; media
drafts an "Azubi gesucht" post; an applicant registers; matching proposes them; the
staff member is e-mailed, accepts, the position is filled and the staff member is told;
media publishes a podcast episode. Every step sends commands and waits (with a timeout)
for the events that show it happened. `diko demo` prints it; the end-to-end tests run
it with faults injected between the steps.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from faststream.rabbit import Channel, RabbitBroker

from diko_shared.contract.base import Payload
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import Address, Contact, OpenPosition, RegisterCompany
from diko_shared.contract.matching import DecideMatch, RegisterApplicant
from diko_shared.contract.media import CreateEpisode, GetPost, PublishEpisode
from diko_shared.contract.notifications import RegisterStaff, Subscribe
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Publisher

SOURCE = "diko-demo"

Say = Callable[[str], None]
Hook = Callable[[], Awaitable[None]]


class StoryFailed(Exception):
    """A step did not happen; the message says which and what was missing."""


@dataclass
class Envelope:
    """An event as the story saw it."""

    type: str
    id: str
    data: dict[str, Any]


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
        self, type_: str, matches: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> Envelope:
        def found() -> Envelope | None:
            return next((e for e in self.seen if e.type == type_ and matches(e.data)), None)

        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: found() is not None)
        except TimeoutError:
            raise StoryFailed(f"{what}: no {type_} within {timeout:.0f} s") from None
        event = found()
        assert event is not None
        return event

    def count(self, type_: str, matches: Callable[[dict[str, Any]], bool]) -> int:
        """How many distinct events (by id) of a type match: repeats of one id count once."""
        return len({e.id for e in self.seen if e.type == type_ and matches(e.data)})


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
    """Plays the story against a running system reached at `amqp_url`."""

    def __init__(
        self, amqp_url: str, *, timeout: float = 60.0, say: Say = print, run: str | None = None
    ) -> None:
        self.amqp_url = amqp_url
        self.timeout = timeout
        self.say = say
        self.result = StoryResult(run=run or secrets.token_hex(3))
        self.watch = EventWatch()
        self.broker = RabbitBroker(
            amqp_url,
            app_id=SOURCE,
            apply_types=False,
            default_channel=Channel(on_return_raises=True),
            log_level=10,
        )
        self.publisher = Publisher(self.broker, SOURCE)
        self.connection: AbstractRobustConnection | None = None

    async def __aenter__(self) -> Story:
        await self.broker.connect()
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self.connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(topology.EVENTS.name, "#")
        await queue.consume(self.watch.add)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()
        if self.connection is not None:
            await self.connection.close()

    async def ask(self, payload: Payload, what: str) -> dict[str, Any]:
        """Send a command or query and return its reply data; an error reply fails the step."""
        try:
            reply = await self.publisher.request(payload, timeout=self.timeout)
        except TimeoutError:
            raise StoryFailed(f"{what}: no reply within {self.timeout:.0f} s") from None
        if not reply.get("ok"):
            raise StoryFailed(f"{what}: {json.dumps(reply['error'], ensure_ascii=False)}")
        return reply["data"]

    async def event(self, type_: str, what: str, **expected: Any) -> Envelope:
        """Wait for an event whose data has the `expected` values."""
        event = await self.watch.wait(
            type_,
            lambda data: all(data.get(k) == v for k, v in expected.items()),
            self.timeout,
            what,
        )
        self.result.events[type_] = event.id
        return event

    async def play(self, hooks: Mapping[str, Hook] | None = None) -> StoryResult:
        """Run every step in order; after a step, run the hook of its name, if any."""
        hooks = hooks or {}
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("staff", self.staff),
            ("company", self.company),
            ("position", self.position),
            ("post", self.post),
            ("applicant", self.applicant),
            ("proposal", self.proposal),
            ("proposal_mail", self.proposal_mail),
            ("decision", self.decision),
            ("filled", self.filled),
            ("episode", self.episode),
        ]
        for name, step in steps:
            await step()
            if name in hooks:
                await hooks[name]()
        return self.result

    # -- the steps -------------------------------------------------------------------------

    async def staff(self) -> None:
        r = self.result
        r.staff_email = f"birte.albrecht+{r.run}@diko.example"
        data = await self.ask(
            RegisterStaff(name="Birte Albrecht", email=r.staff_email, role="Beraterin"),
            "staff.register",
        )
        r.staff_id = data["staff_id"]
        await self.ask(
            Subscribe(
                staff_id=r.staff_id,
                topics=["match.proposed", "position.filled", "episode.published"],
            ),
            "staff.subscribe",
        )
        self.say(f"1. staff member registered and subscribed: {r.staff_email} ({r.staff_id})")

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
            ),
            "company.register",
        )
        r.company_id = data["company_id"]
        await self.event("company.registered", "company.register", company_id=r.company_id)
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
            ),
            "position.open",
        )
        r.position_id = data["position_id"]
        await self.event("position.opened", "position.open", position_id=r.position_id)
        self.say(f"3. training position opened: Tischler/in, 1 place ({r.position_id})")

    async def post(self) -> None:
        r = self.result
        drafted = await self.event("post.drafted", "media's post", position_id=r.position_id)
        r.post_id = drafted.data["post_id"]
        post = await self.ask(GetPost(post_id=r.post_id), "post.get")
        r.post_image_url = post["image_url"]
        self.say(f"4. media drafted an „Azubi gesucht“ post: {r.post_image_url}")

    async def applicant(self) -> None:
        r = self.result
        data = await self.ask(
            RegisterApplicant(
                first_name="Lena",
                last_name=f"Schröder-{r.run}",
                email=f"lena.schroeder+{r.run}@example.org",
                home_town="Osterburg",
                reach_km=40,
                driving_licence=True,
                school_certificate="realschule",
                desired_occupations=["22342"],
                earliest_start=date(date.today().year + 1, 7, 1),
            ),
            "applicant.register",
        )
        r.applicant_id = data["applicant_id"]
        await self.event("applicant.registered", "applicant.register", applicant_id=r.applicant_id)
        self.say(f"5. applicant registered in Osterburg ({r.applicant_id})")

    async def proposal(self) -> None:
        r = self.result

        def ours(data: dict[str, Any]) -> bool:
            return any(
                p["position"]["position_id"] == r.position_id
                and p["applicant"]["applicant_id"] == r.applicant_id
                for p in data.get("proposals", [])
            )

        event = await self.watch.wait("match.proposed", ours, self.timeout, "matching")
        self.result.events["match.proposed"] = event.id
        proposal = next(
            p for p in event.data["proposals"] if p["position"]["position_id"] == r.position_id
        )
        r.proposal_id = proposal["proposal_id"]
        self.say(f"6. matching proposed her, score {proposal['score']:.2f}:")
        for reason in proposal["reasons"]:
            self.say(f"     - {reason['text']}")

    async def proposal_mail(self) -> None:
        r = self.result
        await self.event(
            "notification.sent",
            "the proposal e-mail",
            event_id=r.events["match.proposed"],
            staff_id=r.staff_id,
        )
        self.say(f"7. the proposal was e-mailed to {r.staff_email}")

    async def decision(self) -> None:
        r = self.result
        await self.ask(
            DecideMatch(proposal_id=r.proposal_id, decision="accept", decided_by=r.staff_id),
            "match.decide",
        )
        await self.event("match.accepted", "match.decide", proposal_id=r.proposal_id)
        self.say("8. staff accepted the proposal")

    async def filled(self) -> None:
        r = self.result
        filled = await self.event("position.filled", "companies", position_id=r.position_id)
        await self.event(
            "notification.sent", "the filled e-mail", event_id=filled.id, staff_id=r.staff_id
        )
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
            ),
            "episode.create",
        )
        r.episode_id = created["episode_id"]
        await self.ask(PublishEpisode(episode_id=r.episode_id), "episode.publish")
        published = await self.event(
            "episode.published", "episode.publish", episode_id=r.episode_id
        )
        r.feed_url = published.data["feed_url"]
        self.say(f"9. podcast episode published: {r.feed_url}")
