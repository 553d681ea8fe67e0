"""Many stories at once through the four services: the load of the chaos run and bench/stories.

One story: a company registers, an applicant registers, the company opens a training
position, media drafts its post, matching proposes the applicant, staff are e-mailed,
staff accept, the position is filled and staff are e-mailed again. Every story has a
company, applicant and position of its own; stories that run at the same time use
different occupations (a slot each), so that matching proposes each story's applicant to
its own position and to nobody else's: the outcome of every story is known in advance,
which is what lets the checks afterwards say "exactly once".

Requests are answered on a reply queue of the load's own; one that gets no answer in
time is sent again with the same message id (a service killed before it answered): the
services recognise it and answer with their first reply, so resending never doubles an
effect. Events are recorded by a queue bound to every event before the first story
starts; the recorder counts copies (the same event id twice: at-least-once publishing)
apart from distinct events (two ids for one fact: a duplicated effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from diko_shared.contract.base import Payload
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import Address, Contact, OpenPosition, RegisterCompany
from diko_shared.contract.matching import DecideMatch, RegisterApplicant
from diko_shared.contract.notifications import RegisterStaff, Subscribe
from diko_shared.messaging import topology
from diko_shared.occupations import load_occupations
from diko_shared.story import Replies
from harness.bus import FENCE_PREFIX, Bus, fence

#: Events every story causes exactly once, and the field of their data that names the story's
#: part they are about (notification.sent: the event the e-mail tells of).
STORY_EVENTS: dict[str, str] = {
    "company.registered": "company_id",
    "applicant.registered": "applicant_id",
    "position.opened": "position_id",
    "post.drafted": "position_id",
    "match.accepted": "proposal_id",
    "position.filled": "position_id",
    "notification.sent": "event_id",
}
#: Events a story may cause, indexed the same way: an e-mail refused for good.
MAYBE_EVENTS: dict[str, str] = {"notification.failed": "event_id"}
STAFF_TOPICS = ["match.proposed", "position.filled"]
#: Step latencies measured per story (seconds from the story's `position.open` request).
STEPS = ("opened", "proposed", "proposal_mail", "filled", "filled_mail")
TOWNS = ("Osterburg", "Tangermünde", "Tangerhütte", "Bismark", "Arneburg", "Seehausen")
FIRST = ("Lena", "Jonas", "Mia", "Paul", "Emma", "Finn", "Hannah", "Luca", "Sophie", "Ben")
LAST = ("Schröder", "Becker", "Krüger", "Wagner", "Hoffmann", "Schulz", "Lehmann", "Richter")
TRADES = ("Tischlerei", "Bäckerei", "Autohaus", "Gärtnerei", "Elektro", "Dachdeckerei")


def slot_occupations(count: int) -> list[Occupation]:
    """`count` occupations whose codes differ in their first three digits (no near matches)."""
    catalogue = load_occupations()
    chosen: dict[str, Occupation] = {}
    for code in sorted(catalogue.codes()):
        if code[:3] not in chosen:
            chosen[code[:3]] = Occupation(code=code, name=catalogue.label(code)[:80])
    occupations = list(chosen.values())
    if len(occupations) < count:
        raise ValueError(f"only {len(occupations)} occupation groups for {count} slots")
    return occupations[:count]


class Recorder:
    """Every event published on `diko.events` while the load runs, indexed for waiting."""

    def __init__(self) -> None:
        self.copies: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self.ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.data: dict[str, dict[str, Any]] = {}
        #: The type of every event seen, by id, and the message that caused it.
        self.types: dict[str, str] = {}
        self.causes: dict[str, str] = {}
        self.proposals: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._waiting: dict[tuple[str, str], list[asyncio.Future[str]]] = defaultdict(list)
        self.queue_name = ""
        self.fences: set[str] = set()

    async def open(self, channel: AbstractChannel, token: str) -> None:
        """A quorum queue, acknowledged after recording: it outlives a restart of the broker
        with every event published meanwhile (an exclusive queue would vanish with it)."""
        queue = await channel.declare_queue(
            f"load.record.{token}", durable=True, arguments={"x-queue-type": "quorum"}
        )
        self.queue_name = queue.name
        await queue.bind(topology.EVENTS.name, "#")
        await queue.consume(self._arrived)

    async def _arrived(self, message: AbstractIncomingMessage) -> None:
        if (message.routing_key or "").startswith(FENCE_PREFIX):
            self.fences.add(message.routing_key or "")
        else:
            self._record(message.body)
        with contextlib.suppress(*CONNECTION_EXCEPTIONS):
            await message.ack()  # not acknowledged: redelivered, and counted as a copy

    def _record(self, raw: bytes) -> None:
        try:
            body = json.loads(raw)
            type_, id_, data = body["type"], body["id"], body.get("data") or {}
        except (ValueError, KeyError, TypeError):
            return
        self.copies[id_] += 1
        if self.copies[id_] > 1:
            return
        self.by_type[type_] += 1
        self.data[id_] = data
        self.types[id_] = type_
        self.causes[id_] = str(body.get("causationid"))
        keys: list[str] = []
        if type_ == "match.proposed":
            for proposal in data.get("proposals", []):
                position_id = proposal["position"]["position_id"]
                self.proposals[position_id].append(proposal)
                keys.append(position_id)
        elif type_ in STORY_EVENTS or type_ in MAYBE_EVENTS:
            keys.append(str(data.get({**STORY_EVENTS, **MAYBE_EVENTS}[type_])))
        for key in keys:
            self.ids[(type_, key)].add(id_)
            for future in self._waiting.pop((type_, key), []):
                if not future.done():
                    future.set_result(id_)

    async def fence(self, bus: Bus, timeout: float = 60.0) -> None:
        """Wait until every event the broker accepted before now is recorded.

        A marker goes through the recorder's queue behind them (`Tap.fence`): the services
        may be done and their queues empty while events they published are still on their
        way to this queue.
        """
        await fence(bus, topology.EVENTS.name, self.fences, timeout)

    async def wait(self, type_: str, key: str, timeout: float) -> str:
        """The id of the first event of `type_` about `key`, seen already or arriving."""
        seen = self.ids.get((type_, key))
        if seen:
            return next(iter(seen))
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[(type_, key)].append(future)
        async with asyncio.timeout(timeout):
            return await future

    @property
    def repeated_copies(self) -> int:
        """Copies of an event delivered more than once (at-least-once publishing)."""
        return sum(n - 1 for n in self.copies.values() if n > 1)


@dataclass
class StoryRun:
    """One story's ids and the moments of its steps."""

    index: int
    company_id: str = ""
    applicant_id: str = ""
    position_id: str = ""
    proposal_id: str = ""
    resent: int = 0
    times: dict[str, float] = field(default_factory=dict)
    error: str = ""


class NamedReplies(Replies):
    """Replies on a queue named by us: the robust channel declares it again after the broker
    restarted (a server-named `amq.gen-…` queue may not be declared by a client)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    async def open(self, channel: AbstractChannel) -> None:
        queue = await channel.declare_queue(self.name, exclusive=True, auto_delete=True)
        self.queue = queue.name
        await queue.consume(self._arrived, no_ack=True)


class StoryLoad:
    """Drives stories through the system behind `bus` (see the module's docstring).

    A step waits `step_timeout` (three times `timeout` unless given) for its event.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        timeout: float = 60.0,
        attempts: int = 5,
        token: str | None = None,
        step_timeout: float | None = None,
    ) -> None:
        self.bus = bus
        self.timeout = timeout
        self.step_timeout = step_timeout or timeout * 3
        self.attempts = attempts
        self.token = token or secrets.token_hex(3)
        self.staff_email = f"last-{self.token}@diko.example"
        self.staff_id = ""
        self.replies = NamedReplies(f"load.replies.{self.token}")
        self.recorder = Recorder()
        self.runs: list[StoryRun] = []
        self.resent = 0
        self.start = date(date.today().year + 1, 8, 1)

    def contact_email(self, index: int) -> str:
        """The address of story `index`'s company contact person, at the company's own
        domain, as a real company's is: a domain shared by every company of the run is
        what duplicate detection takes as strong evidence, and each registration then
        compared itself in full with every company registered before it."""
        return f"chefin@betrieb-{index}.{self.token}.example"

    def applicant_email(self, index: int) -> str:
        return f"bewerbung-{index}@{self.token}.example"

    async def open(self) -> None:
        """The reply queue and the recorder, then the staff member who gets the e-mails."""
        assert self.bus.connection is not None
        channel = await self.bus.connection.channel()
        await self.replies.open(channel)
        await self.recorder.open(channel, self.token)
        staff = await self.ask(RegisterStaff(name="Birte Albrecht", email=self.staff_email))
        self.staff_id = staff["staff_id"]
        await self.ask(Subscribe(staff_id=self.staff_id, topics=STAFF_TOPICS))

    async def request(self, payload: Payload) -> tuple[dict[str, Any], int]:
        """The answer, and how often the request was sent again for want of one."""
        message = self.bus.publisher.command(payload, reply_to=self.replies.queue)
        key = message.correlation_id or message.message_id
        for attempt in range(self.attempts):
            answer = self.replies.expect(key)
            try:
                await self.bus.publisher.publish(message, timeout=self.timeout)
                async with asyncio.timeout(self.timeout):
                    return await answer, attempt
            except TimeoutError:
                continue
            except CONNECTION_EXCEPTIONS:  # the broker restarts: the connection comes back
                await asyncio.sleep(min(self.timeout, 5.0))
                continue
            finally:
                self.replies.forget(key)
        raise TimeoutError(f"no answer to {message.type} after {self.attempts} attempts")

    async def ask(self, payload: Payload, run: StoryRun | None = None) -> dict[str, Any]:
        answer, resent = await self.request(payload)
        if run is not None:
            run.resent += resent
        self.resent += resent
        if not answer.get("ok"):
            raise RuntimeError(f"{type(payload).__name__} refused: {answer.get('error')}")
        return answer["data"]

    async def story(self, index: int, occupation: Occupation) -> StoryRun:
        run = StoryRun(index)
        self.runs.append(run)
        person = (FIRST[index % len(FIRST)], LAST[(index // len(FIRST)) % len(LAST)])
        trade = TRADES[index % len(TRADES)]
        company = await self.ask(
            RegisterCompany(
                name=f"{trade} {person[1]} Nr. {index} ({self.token})",
                address=Address(
                    street=f"Hallstraße {index % 90 + 1}", postcode="39576", town="Stendal"
                ),
                contact=Contact(name=f"Chefin {person[1]}", email=self.contact_email(index)),
            ),
            run,
        )
        run.company_id = company["company_id"]
        applicant = await self.ask(
            RegisterApplicant(
                first_name=person[0],
                last_name=person[1],
                email=self.applicant_email(index),
                home_town=TOWNS[index % len(TOWNS)],
                reach_km=60,
                school_certificate="realschule",
                desired_occupations=[occupation.code],
                earliest_start=date(self.start.year, 7, 1),
            ),
            run,
        )
        run.applicant_id = applicant["applicant_id"]
        await self.recorder.wait("applicant.registered", run.applicant_id, self.step_timeout)
        started = time.monotonic()
        position = await self.ask(
            OpenPosition(
                company_id=run.company_id,
                occupation=occupation,
                places=1,
                start_date=self.start,
                town="Stendal",
                school_certificate="hauptschule",
                description="Eine Ausbildung mit Zukunft in der Altmark.",
            ),
            run,
        )
        run.position_id = position["position_id"]
        await self._step(run, "opened", "position.opened", run.position_id, started)
        proposed = await self._step(run, "proposed", "match.proposed", run.position_id, started)
        await self._step(run, "proposal_mail", "notification.sent", proposed, started)
        ours = [
            p
            for p in self.recorder.proposals[run.position_id]
            if p["applicant"]["applicant_id"] == run.applicant_id
        ]
        if not ours:
            raise RuntimeError(f"story {index}: its applicant was not proposed to its position")
        run.proposal_id = ours[0]["proposal_id"]
        await self.ask(
            DecideMatch(proposal_id=run.proposal_id, decision="accept", decided_by=self.staff_id),
            run,
        )
        filled = await self._step(run, "filled", "position.filled", run.position_id, started)
        await self._step(run, "filled_mail", "notification.sent", filled, started)
        await self.recorder.wait("post.drafted", run.position_id, self.step_timeout)
        return run

    async def _step(self, run: StoryRun, step: str, type_: str, key: str, started: float) -> str:
        event_id = await self.recorder.wait(type_, key, self.step_timeout)
        run.times[step] = time.monotonic() - started
        return event_id

    async def run(
        self,
        count: int,
        concurrency: int,
        *,
        on_done: Callable[[StoryRun], None] | None = None,
        first: int = 0,
    ) -> list[StoryRun]:
        """`count` stories, `concurrency` at a time, each in a slot of its own occupation."""
        free: asyncio.Queue[Occupation] = asyncio.Queue()
        for occupation in slot_occupations(concurrency):
            free.put_nowait(occupation)
        done: list[StoryRun] = []

        async def one(index: int) -> None:
            occupation = await free.get()
            try:
                story = await self.story(index, occupation)
            except Exception as exc:  # noqa: BLE001 - a failed story is counted, not fatal
                story = next(r for r in self.runs if r.index == index)
                story.error = f"{type(exc).__name__}: {exc}"
            finally:
                free.put_nowait(occupation)
            done.append(story)
            if on_done is not None:
                on_done(story)

        await asyncio.gather(*(one(first + i) for i in range(count)))
        return done


async def mails_to(mailpit_url: str, address: str) -> list[dict[str, Any]]:
    """Every message Mailpit holds for `address`, page by page."""
    found: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=mailpit_url, timeout=30.0) as client:
        while True:
            response = await client.get(
                "/api/v1/search",
                params={"query": f"to:{address}", "limit": 500, "start": len(found)},
            )
            response.raise_for_status()
            page = response.json()["messages"]
            found.extend(page)
            if len(page) < 500:
                return found
