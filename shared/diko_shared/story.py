"""The first story of diko, played through the public contract only.

A staff member subscribes; a company registers, consents to the project website and
presents itself there; an applicant registers; the company opens a training position
(and the website shows it on the company's page); media drafts an "Azubi gesucht" post;
matching proposes the applicant; the staff member is e-mailed, accepts, the position is
filled and the staff member is told; media publishes a podcast episode, and the website
shows it on the company's page. Every step sends commands and waits
(with a timeout) for the events that show it happened. `diko demo` prints it; the
end-to-end tests run it with faults injected between the steps, and accept through the
e-mail's link.

The story is played again and again on one database, which may hold other data too, so:

- the staff member is a fixed one (`DEMO_STAFF_EMAIL`), registered by the first run and
  found again by later ones: a new one per run would get the e-mails of every later run;
- the company is registered once and found again from the conflict reply; each run opens
  its own position, with its own applicant and episode (`story_cast`), no name decorated;
- the applicant registers before the position opens, so that matching proposes the
  position's best applicants when it opens: other open positions, however many, cannot
  push the story's pair out of the proposals (the applicant's best ten positions could);
- before the first step the story checks that RabbitMQ answers and that every service
  consumes its queues, and a step that does not happen says why, as far as it can tell:
  the service's own readiness (`/readyz`), or what matching proposed instead.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import httpx
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import AMQPConnectionError, ProbableAuthenticationError
from faststream.rabbit import Channel, RabbitBroker

from diko_shared import story_cast
from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.companies import GetCompany, OpenPosition, SetConsent
from diko_shared.contract.matching import DecideMatch, GetShortlist, RegisterApplicant
from diko_shared.contract.media import (
    CreateEpisode,
    GetPost,
    PresentationContact,
    PublishEpisode,
    PublishPresentation,
)
from diko_shared.contract.notifications import RegisterStaff, Subscribe
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Publisher, Unroutable
from diko_shared.silence import silent_mp3

SOURCE = "diko-demo"
DEMO_STAFF_NAME = "Birte Albrecht"
DEMO_STAFF_EMAIL = "birte.albrecht@diko.example"
STAFF_ID = re.compile(r"stf_[0-9a-f]{20}")
COMPANY_ID = re.compile(r"cmp_[0-9a-f]{20}")
#: The services the story needs, and one queue each consumes (a command it answers).
SERVICE_QUEUES = {
    "companies": "company.register",
    "matching": "applicant.register",
    "notifications": "staff.register",
    "media": "episode.create",
}
CONNECT_TIMEOUT_S = 5.0
READYZ_TIMEOUT_S = 5.0
#: Uploading an episode's audio (under 2 MB of silence) to media.
UPLOAD_TIMEOUT_S = 60.0
START_SERVICES = "start the services with `make up` (their logs are in .local/run/)"
START_STACK = "start the local stack with `make stack`"

Say = Callable[[str], None]
Hook = Callable[[], Awaitable[None]]
Decide = Callable[["Story"], Awaitable[None]]


class StoryFailed(Exception):
    """A step did not happen; the message says which, what was missing and, where the
    story can tell, why and what to do. `service` is the one to look at, if known."""

    def __init__(self, message: str, service: str | None = None) -> None:
        super().__init__(message)
        self.service = service


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


def _where(amqp_url: str) -> str:
    """`127.0.0.1:5672, virtual host diko`: the broker's address without the password."""
    parts = urlsplit(amqp_url)
    vhost = unquote(parts.path.lstrip("/")) or "/"
    return f"{parts.hostname}:{parts.port or 5672}, virtual host {vhost}"


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
    """What the story created, and where a person can look at it.

    `run` counts the company's runs: 1 for the run that registered it, 2 for the next, …
    """

    run: int = 0
    staff_id: str = ""
    staff_email: str = ""
    company_id: str = ""
    company_name: str = ""
    position_id: str = ""
    occupation: str = ""
    applicant_id: str = ""
    applicant_name: str = ""
    proposal_id: str = ""
    post_id: str = ""
    post_image_url: str = ""
    episode_id: str = ""
    episode_title: str = ""
    feed_url: str = ""
    site_url: str = ""
    events: dict[str, str] = field(default_factory=dict)


class Story:
    """Plays the story against a running system reached at `amqp_url`.

    `decide` is how staff accept the proposal; by default `match.decide` is sent as the
    contract allows any system to. The end-to-end test follows the e-mail's link instead.
    `service_url` names where a service's HTTP side is (for its `/readyz` when a step
    does not happen); `today` decides the start years.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        timeout: float = 60.0,
        say: Say = print,
        staff_email: str = DEMO_STAFF_EMAIL,
        decide: Decide | None = None,
        service_url: Callable[[str], str] | None = None,
        today: date | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.timeout = timeout
        self.say = say
        self.decide = decide
        self.service_url = service_url
        self.today = today or date.today()
        self.cast: story_cast.Run | None = None
        self.result = StoryResult(staff_email=staff_email)
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
        await self._reach_broker()
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

    async def _reach_broker(self) -> None:
        """RabbitMQ answers and lets the story in; otherwise what is wrong and what to do."""
        try:
            with _quiet("aiormq.connection"):  # the failure is told below, once, with what to do
                connection = await aio_pika.connect(self.amqp_url, timeout=CONNECT_TIMEOUT_S)
        except ProbableAuthenticationError as exc:
            raise StoryFailed(
                f"the story cannot start: RabbitMQ ({_where(self.amqp_url)}) refused the "
                f"login ({exc}): check DIKO_AMQP_URL, which `make stack` writes to "
                ".local/stack.env"
            ) from None
        except (AMQPConnectionError, ConnectionError, OSError, TimeoutError) as exc:
            raise StoryFailed(
                f"the story cannot start: RabbitMQ does not answer at {_where(self.amqp_url)} "
                f"({_why(exc)}): {START_STACK}, then {START_SERVICES}"
            ) from None
        await connection.close()

    async def check_services(self) -> None:
        """Every service the story needs consumes its queues; otherwise which do not."""
        missing = await self._not_consuming()
        if missing:
            names = " and ".join(missing) if len(missing) <= 2 else ", ".join(missing)
            verb = "is" if len(missing) == 1 else "are"
            raise StoryFailed(
                f"the story cannot start: {names} {verb} not running (no process takes "
                f"{_their(missing)} messages on {_where(self.amqp_url)}): {START_SERVICES}; "
                "`diko stack status` shows what runs"
            )

    async def _not_consuming(self) -> list[str]:
        """The services none of whose processes consumes their queue right now."""
        assert self.connection is not None
        missing: list[str] = []
        for service, type_ in SERVICE_QUEUES.items():
            queue = topology.request_queue(CATALOGUE.require(type_)).name
            channel = await self.connection.channel()
            try:
                declared = await channel.declare_queue(queue, passive=True)
                consumers = declared.declaration_result.consumer_count
            except aio_pika.exceptions.ChannelClosed:
                consumers = 0  # never started on this virtual host: the queue is not there
            finally:
                if not channel.is_closed:
                    await channel.close()
            if not consumers:
                missing.append(service)
        return missing

    def failed(self, problem: str, service: str | None = None) -> StoryFailed:
        """The error for the current step; `why()` adds the cause when a service is named."""
        return StoryFailed(f"the story stopped at step {self.step}: {problem}", service)

    async def why(self, error: StoryFailed) -> StoryFailed:
        """The error with what the named service says about itself, and what to do."""
        if error.service not in SERVICE_QUEUES:
            return error
        cause = await self._diagnose(error.service)
        return StoryFailed(f"{error}; {cause}", error.service)

    async def _diagnose(self, service: str) -> str:
        """Whether `service` still consumes, and what its /readyz says."""
        if service in await self._not_consuming():
            return f"{service} is not running: {START_SERVICES}"
        if self.service_url is None:
            return f"{service} runs: see its log and `diko dlq list {service}`"
        url = f"{self.service_url(service)}/readyz"
        try:
            async with httpx.AsyncClient(timeout=READYZ_TIMEOUT_S) as client:
                response = await client.get(url)
        except httpx.HTTPError:
            return (
                f"{service} runs but {url} does not answer: see its log (.local/run/{service}.log)"
            )
        if response.status_code == 200:
            return (
                f"{service} runs and is ready: see its log (.local/run/{service}.log) and "
                f"`diko dlq list {service}`"
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        broken = [
            f"{part}: {body[part]}"
            for part in ("broker", "database")
            if body.get(part, "ok") != "ok"
        ]
        detail = "; ".join(broken) or f"HTTP {response.status_code}"
        hint = f"; {START_STACK}" if "database" in detail else ""
        return f"{service} is not ready ({detail}){hint}"

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

        The hook `applicant_sent` runs inside step 3, between the broker's confirm of
        `applicant.register` and its answer.
        """
        self.hooks = hooks or {}
        await self.check_services()
        steps: list[tuple[str, str, Callable[[], Awaitable[None]]]] = [
            ("staff", "1 (staff member registers and subscribes)", self.staff),
            ("company", "2 (company registers)", self.company),
            ("applicant", "3 (applicant registers)", self.applicant),
            ("position", "4 (company opens a position)", self.position),
            ("post", "5 (media drafts the post)", self.post),
            ("proposal", "6 (matching proposes the applicant)", self.proposal),
            ("proposal_mail", "7 (staff are e-mailed the proposal)", self.proposal_mail),
            ("decision", "8 (staff accept)", self.decision),
            ("filled", "8 (the position is filled, staff are told)", self.filled),
            ("episode", "9 (a podcast episode is published)", self.episode),
            ("site", "10 (the website shows the company and the episode)", self.site),
        ]
        for name, label, step in steps:
            self.step = label
            try:
                await step()
            except StoryFailed as error:
                raise await self.why(error) from None
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
            r.staff_id = self._found("staff.register", reply, STAFF_ID)
            how = "already registered (earlier run)"
        topics = ["match.proposed", "position.filled", "episode.published"]
        await self.ask(Subscribe(staff_id=r.staff_id, topics=topics))  # replaces, so repeatable
        self.say(f"1. staff member {how} and subscribed: {r.staff_email} ({r.staff_id})")

    async def company(self) -> None:
        """Register the company, or find it: its duplicate guard names the earlier one."""
        r = self.result
        registration = story_cast.COMPANY
        reply = await self.request(registration)
        if reply.get("ok"):
            r.company_id, how = reply["data"]["company_id"], "registered"
            await self.event("company.registered", company_id=r.company_id)
        else:
            r.company_id = self._found("company.register", reply, COMPANY_ID)
            how = "found (registered by an earlier run)"
        company = await self.ask(GetCompany(company_id=r.company_id))
        r.company_name = company["name"]
        r.run = len(company.get("positions") or []) + 1
        self.cast = story_cast.run(r.run, self.today)
        self.say(f"2. company {how} in Stendal: {r.company_name} ({r.company_id})")
        await self.presentation()

    async def presentation(self) -> None:
        """The company consents to the website and publishes its presentation: its page,
        its positions and its episodes appear on the project website."""
        r, contact = self.result, story_cast.COMPANY.contact
        await self.ask(
            SetConsent(
                company_id=r.company_id,
                purpose="website",
                status="given",
                declared_at=datetime.now(UTC),
                declared_by=contact.name,
                via="written",
                text_version=story_cast.WEBSITE_CONSENT_TEXT,
            )
        )
        shown = await self._until_media_knows_the_company(
            PublishPresentation(
                company_id=r.company_id,
                about=story_cast.PRESENTATION_ABOUT,
                training=story_cast.PRESENTATION_TRAINING,
                contact=PresentationContact(
                    name=contact.name, role=contact.role, email=contact.email
                ),
            )
        )
        r.site_url = shown["url"]
        self.say(f"   the company consented to the website and presents itself: {r.site_url}")

    async def _until_media_knows_the_company(self, payload: Payload) -> dict[str, Any]:
        """Ask media, again while it answers `not_found`: it takes a company's presentation
        once its copy of the company (from `company.registered`, on media's own queue) is
        there, which may be a moment after companies answered. Polled, within the step's
        timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        pause = 0.1
        while True:
            reply = await self.request(payload)
            if reply.get("ok"):
                return reply["data"]
            error = reply.get("error") or {}
            if error.get("code") != "not_found" or loop.time() + pause > deadline:
                type_ = CATALOGUE.for_payload(type(payload)).type
                problem = json.dumps(error, ensure_ascii=False)
                raise self.failed(f"{type_} was refused: {problem}", "media")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def applicant(self) -> None:
        r, cast = self.result, self._cast()
        person = cast.applicant
        registration = RegisterApplicant(
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            home_town=person.home_town,
            reach_km=story_cast.REACH_KM,
            driving_licence=person.driving_licence,
            school_certificate="realschule",
            desired_occupations=[cast.position.occupation.code],
            earliest_start=date(cast.start_date.year, 7, 1),
        )
        data = await self.ask(registration, sent=self.hooks.get("applicant_sent"))
        r.applicant_id, r.applicant_name = data["applicant_id"], person.name
        await self.event("applicant.registered", applicant_id=r.applicant_id)
        self.say(
            f"3. applicant registered: {person.name} from {person.home_town}, "
            f"wants to become {cast.position.occupation.name} ({r.applicant_id})"
        )

    async def position(self) -> None:
        r, cast = self.result, self._cast()
        data = await self.ask(
            OpenPosition(
                company_id=r.company_id,
                occupation=cast.position.occupation,
                places=1,
                start_date=cast.start_date,
                town="Stendal",
                school_certificate=cast.position.school_certificate,  # type: ignore[arg-type]
                description=cast.position.description,
            )
        )
        r.position_id, r.occupation = data["position_id"], cast.position.occupation.name
        await self.event("position.opened", position_id=r.position_id)
        self.say(
            f"4. training position opened: {r.occupation}, 1 place, starting "
            f"{cast.start_date.isoformat()} ({r.position_id})"
        )
        await self._site_shows(r.company_name, f"stellen/{r.position_id}")
        self.say(f"   the website shows the position on the company's page: {r.site_url}")

    async def post(self) -> None:
        r = self.result
        drafted = await self.event("post.drafted", position_id=r.position_id)
        r.post_id = drafted.data["post_id"]
        post = await self.ask(GetPost(post_id=r.post_id))
        r.post_image_url = post["image_url"]
        self.say(f"5. media drafted an „Azubi gesucht“ post: {r.post_image_url}")

    async def proposal(self) -> None:
        r = self.result

        def ours(data: dict[str, Any]) -> bool:
            return any(
                p["position"]["position_id"] == r.position_id
                and p["applicant"]["applicant_id"] == r.applicant_id
                for p in data.get("proposals", [])
            )

        try:
            event = await self.event("match.proposed", ours)
        except StoryFailed as missing:
            raise await self._not_proposed(missing) from None
        proposal = next(
            p for p in event.data["proposals"] if p["position"]["position_id"] == r.position_id
        )
        r.proposal_id = proposal["proposal_id"]
        self.say(f"6. matching proposed {r.applicant_name}, score {proposal['score']:.2f}:")
        for reason in proposal["reasons"]:
            self.say(f"     - {reason['text']}")

    async def _not_proposed(self, missing: StoryFailed) -> StoryFailed:
        """Why the pair was not proposed, from matching's shortlist of the position."""
        r = self.result
        reply = await self.request(GetShortlist(position_id=r.position_id, limit=100))
        if not reply.get("ok"):
            code = (reply.get("error") or {}).get("code")
            if code == "not_found":
                return self.failed(
                    f"no match.proposed within {self.timeout:g} s: matching has not taken in "
                    f"the position {r.position_id} (position.opened)",
                    "matching",
                )
            return missing
        others = [
            c
            for c in reply["data"]["candidates"]
            if c["applicant"]["applicant_id"] != r.applicant_id
        ]
        if len(others) == len(reply["data"]["candidates"]) and others:
            best = max(c["score"] for c in others)
            return self.failed(
                f"matching proposed {len(others)} other applicant(s) for the position (best "
                f"score {best:.2f}), not {r.applicant_name}: it proposes only the applicants "
                "who fit a position best, and more of them fit this one at least as well"
            )
        return missing

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
        """Create the episode, upload its audio through the episode's signed link (media
        reads length and size from the file), publish it."""
        r, episode = self.result, self._cast().episode
        created = await self.ask(
            CreateEpisode(
                title=episode.title,
                description=episode.description,
                company_id=r.company_id,
                episode_number=episode.number,
            )
        )
        r.episode_id, r.episode_title = created["episode_id"], episode.title
        audio = silent_mp3(episode.duration_s)
        async with httpx.AsyncClient(timeout=UPLOAD_TIMEOUT_S) as client:
            uploaded = await client.post(
                created["upload_url"],
                files={"audio": (f"diko-trifft-{episode.number:03d}.mp3", audio, "audio/mpeg")},
            )
        if uploaded.status_code != 200:
            raise StoryFailed(
                f"media did not take the episode's audio: HTTP {uploaded.status_code} "
                f"{uploaded.text[:300]}",
                service="media",
            )
        await self.ask(PublishEpisode(episode_id=r.episode_id))
        published = await self.event("episode.published", episode_id=r.episode_id)
        r.feed_url = published.data["feed_url"]
        self.say(f"9. podcast episode {episode.number} published: „{episode.title}“")

    async def site(self) -> None:
        """The company's page shows the episode (the position, filled in step 8, has left
        the website by now)."""
        r = self.result
        await self._site_shows(r.episode_title)
        self.say(f"10. the website shows {r.company_name} with the episode: {r.site_url}")

    async def _site_shows(self, *texts: str) -> None:
        """Reads the company's page after each rebuild of the website until it shows
        every one of `texts`."""
        r = self.result
        read: set[str] = set()
        last = "no rebuild yet"
        async with httpx.AsyncClient(timeout=READYZ_TIMEOUT_S) as client:
            while True:
                try:
                    rebuilt = await self.event("site.rebuilt", lambda d: d["build_id"] not in read)
                except StoryFailed:
                    raise self.failed(
                        f"the website's page {r.site_url} does not show "
                        f"{' and '.join(texts)} ({last})",
                        "media",
                    ) from None
                read.add(rebuilt.data["build_id"])
                try:
                    page = await client.get(r.site_url)
                except httpx.HTTPError as exc:
                    problem = f"the website does not answer at {r.site_url}: {exc}"
                    raise self.failed(problem, "media") from None
                shown = html.unescape(page.text)
                if page.status_code == 200 and all(t in shown for t in texts):
                    return
                last = f"after build {rebuilt.data['build_id']}: HTTP {page.status_code}"

    def _cast(self) -> story_cast.Run:
        if self.cast is None:
            raise RuntimeError("the company step decides the run: play the steps in order")
        return self.cast

    def _found(self, type_: str, reply: dict[str, Any], id_: re.Pattern[str]) -> str:
        """The id an earlier run registered: a conflict reply names it."""
        error = reply.get("error") or {}
        texts = [str(error.get("message", ""))]
        texts += [str(d.get("problem", "")) for d in error.get("details") or []]
        found = id_.search(" ".join(texts))
        if error.get("code") != "conflict" or found is None:
            refused = json.dumps(error, ensure_ascii=False)
            raise self.failed(f"{type_} was refused: {refused}")
        return found.group()


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Silence a library's logger for a moment (its own line would repeat ours, bare)."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _why(exc: BaseException) -> str:
    """`connection refused`, `timed out`: the cause in a few words."""
    text = str(exc)
    if "111" in text or "refused" in text.lower() or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer within 5 s"
    return text or type(exc).__name__


def _their(services: list[str]) -> str:
    return "its" if len(services) == 1 else "their"
