"""The notifications service as a real process on the real stack.

Driven through the bus; e-mails read back through Mailpit's API; the action links
opened over HTTP. SMTP failures come from a private Mailpit started by the tests: one
that refuses every recipient outside `@ok.example` with 550, started only after the
service has found its port closed.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from notifications_helpers import PrivateMailpit
from pymongo import AsyncMongoClient

from diko_notifications.domain import Action, ActionLinks
from diko_shared.contract.base import Payload
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import CompanyRegistered, ContactAdded, PositionFilled
from diko_shared.contract.envelope import new_envelope
from diko_shared.contract.matching import (
    MatchProposed,
    Proposal,
    ProposedApplicant,
    ProposedPosition,
    Reason,
)
from diko_shared.contract.media import EpisodePublished
from diko_shared.contract.notifications import (
    GetStaff,
    ListDeliveries,
    NoticeRecipient,
    RegisterStaff,
    SendNotification,
    Subscribe,
)
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing
from harness.bus import Bus, Seen, Tap
from harness.cli import diko
from harness.mailpit import Mailpit
from harness.processes import ServiceProcess
from harness.stack import REPO, SessionStack
from harness.waiting import eventually

PORT = 18003
BASE = f"http://127.0.0.1:{PORT}"
PRIVATE_PORT = 18013
REPLICA_PORT = 18023
OUTAGE_PORT = 18033
DLQ = "notifications.dlq"
SECRET = secrets.token_urlsafe(32)
DECIDE_QUEUE = "matching.match.decide"
REACTION_QUEUE = "notifications.on.match.proposed"
MAILPIT = REPO / ".local" / "bin" / "mailpit"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/actions/[A-Za-z0-9._-]+")
TISCHLER = Occupation(code="22342", name="Tischler/in")
HREF = re.compile(r'href="([^"]+)"')
#: What `episode.published` carries since notifications stopped asking media (`episode.get`).
NEWER_EPISODE_FIELDS = {"description", "audio_url", "duration_s", "page_url"}


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def notifications(stack: SessionStack) -> Iterator[ServiceProcess]:
    env = stack.service_env("notifications", DIKO_LINK_SECRET=SECRET, DIKO_PUBLIC_BASE_URL=BASE)
    process = ServiceProcess("notifications", "diko_notifications", PORT, env)
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def events(bus: Bus, notifications: ServiceProcess) -> Tap:
    return await bus.tap(topology.EVENTS.name, "notification.*")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


# -- helpers ---------------------------------------------------------------------------------


def content_hrefs(html: str) -> list[str]:
    """The links of a mail's content, without the footer's preferences and unsubscribe links."""
    return [h for h in HREF.findall(html) if "/preferences/" not in h and "/unsubscribe/" not in h]


def address(name: str, domain: str = "diko.example") -> str:
    """A fresh address per test: Mailpit is shared by every test session."""
    return f"{name}-{uuid.uuid4().hex[:10]}@{domain}"


def fresh(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


async def staff_member(bus: Bus, name: str, email: str, topics: list[str] | None = None) -> str:
    staff_id = (await bus.ok(RegisterStaff(name=name, email=email)))["staff_id"]
    if topics:
        await bus.ok(Subscribe(staff_id=staff_id, topics=topics))
    return staff_id


async def publish(
    bus: Bus, type_: str, payload: Payload | dict[str, Any], source: str, id_: str | None = None
) -> str:
    envelope = new_envelope(type_, payload, source=source, id_=id_)
    await bus.publisher.publish(Outgoing.from_envelope(topology.EVENTS.name, envelope))
    return envelope["id"]


def shortlist(company: str) -> MatchProposed:
    position = ProposedPosition(
        position_id=fresh("pos"),
        company_id=fresh("cmp"),
        company_name=company,
        occupation=TISCHLER,
        town="Stendal",
        start_date=date(2027, 8, 1),
    )

    def proposal(rank: int, name: str, town: str, score: float, distance: str) -> Proposal:
        return Proposal(
            proposal_id=fresh("prp"),
            position=position,
            applicant=ProposedApplicant(applicant_id=fresh("apl"), name=name, home_town=town),
            score=score,
            rank=rank,
            reasons=[
                Reason(
                    criterion="occupation",
                    key="occupation.exact",
                    score=1.0,
                    weight=0.5,
                    text="Tischler/in ist der erste Berufswunsch.",
                ),
                Reason(
                    criterion="distance",
                    key="distance.within",
                    score=0.7,
                    weight=0.3,
                    text=distance,
                ),
            ],
        )

    return MatchProposed(
        trigger="position",
        subject_id=position.position_id,
        proposals=[
            proposal(1, "Lena Schröder", "Osterburg", 0.87, "Osterburg liegt 24 km entfernt."),
            proposal(2, "Jörg Weiß", "Tangerhütte", 0.64, "Tangerhütte liegt 21 km entfernt."),
        ],
    )


def filled_position(company: str, town: str = "Gardelegen") -> PositionFilled:
    return PositionFilled(
        position_id=fresh("pos"),
        company_id=fresh("cmp"),
        company_name=company,
        occupation=Occupation(code="29302", name="Bäcker/in"),
        places=1,
        town=town,
        start_date=date(2027, 9, 1),
    )


async def mail_to(mailpit: Mailpit, email: str, count: int = 1) -> list[dict[str, Any]]:
    found = await mailpit.wait_for(f"to:{email}", count=count)
    return [await mailpit.message(summary["ID"]) for summary in found]


async def deliveries(bus: Bus, **query: Any) -> list[dict[str, Any]]:
    return (await bus.ok(ListDeliveries(**query)))["deliveries"]


def outcome(kind: str, event_id: str, *staff_ids: str) -> Callable[[Seen], bool]:
    """Matches `notification.<kind>` for the event (and one of the staff members, if given)."""

    def matches(message: Seen) -> bool:
        return (
            message.routing_key == f"notification.{kind}"
            and message.data["event_id"] == event_id
            and (not staff_ids or message.data["staff_id"] in staff_ids)
        )

    return matches


def settled(process: ServiceProcess, queue: str) -> float:
    """Messages of `queue` that are done with: processed, or dropped as duplicates."""
    return sum(
        process.metric("diko_messages_total", queue=queue, outcome=outcome)
        for outcome in ("processed", "duplicate")
    )


# -- staff and subscriptions -----------------------------------------------------------------


async def test_staff_register_and_subscribe_and_their_errors(
    bus: Bus, notifications: ServiceProcess
) -> None:
    email = address("birte")
    staff_id = await staff_member(bus, "Birte Albrecht", email)
    assert re.fullmatch(r"stf_[0-9a-f]{20}", staff_id)

    again = await bus.request(RegisterStaff(name="Birte A.", email=email.upper()))
    assert again["ok"] is False
    assert again["error"]["code"] == "conflict"
    assert staff_id in again["error"]["message"]

    subscribed = await bus.ok(
        Subscribe(staff_id=staff_id, topics=["position.filled", "match.proposed"])
    )
    assert subscribed == {
        "staff_id": staff_id,
        "topics": ["match.proposed", "position.filled"],
        "mode": "immediate",
    }

    unknown = await bus.request(Subscribe(staff_id=fresh("stf"), topics=["match.proposed"]))
    assert unknown["ok"] is False
    assert unknown["error"]["code"] == "not_found"

    digest = await bus.ok(Subscribe(staff_id=staff_id, topics=["match.proposed"], mode="digest"))
    assert digest == {"staff_id": staff_id, "topics": ["match.proposed"], "mode": "digest"}
    record = await bus.ok(GetStaff(staff_id=staff_id))
    assert record["preferences"]["kinds"][0]["mode"] == "digest"
    assert record["preferences"]["kinds"][1]["mode"] == "off"
    await bus.ok(Subscribe(staff_id=staff_id, topics=["position.filled", "match.proposed"]))

    bad_mode = await bus.request_raw(
        "staff.subscribe",
        json.dumps(
            new_envelope(
                "staff.subscribe",
                {"staff_id": staff_id, "topics": ["match.proposed"], "mode": "weekly"},
                source="tests",
            )
        ).encode(),
    )
    assert bad_mode["ok"] is False
    assert bad_mode["error"]["code"] == "validation_error"


# -- e-mails ---------------------------------------------------------------------------------


async def test_a_proposal_is_mailed_to_each_subscriber_and_to_no_one_else(
    bus: Bus, notifications: ServiceProcess, mailpit: Mailpit, events: Tap
) -> None:
    anna, ben, carla = address("anna"), address("ben"), address("carla")
    anna_id = await staff_member(bus, "Anna Krüger", anna, ["match.proposed"])
    ben_id = await staff_member(bus, "Ben Schäfer", ben, ["match.proposed", "position.filled"])
    carla_id = await staff_member(bus, "Carla Voß", carla, ["position.filled"])
    company = f"Tischlerei Müller GmbH {uuid.uuid4().hex[:6]}"
    event = shortlist(company)

    event_id = await publish(bus, "match.proposed", event, "matching")

    ours = {anna_id, ben_id}
    sent = await events.wait_for(outcome("sent", event_id, *ours), count=2)
    subject = f"Neue Vorschläge für Tischler/in bei {company} (Stendal)"
    assert {m.data["subject"] for m in sent} == {subject}

    for email, name in ((anna, "Anna Krüger"), (ben, "Ben Schäfer")):
        (mail,) = await mail_to(mailpit, email)
        assert mail["Subject"] == subject
        assert mail["To"] == [{"Name": name, "Address": email}]
        assert mail["From"] == {"Name": "DIKO Altmark", "Address": "noreply@diko.example"}
        for body in (mail["Text"], unescape(mail["HTML"])):
            assert f"Hallo {name}," in body
            assert "Lena Schröder aus Osterburg" in re.sub(r"<[^>]+>", "", body)
            assert "Jörg Weiß aus Tangerhütte" in re.sub(r"<[^>]+>", "", body)
            assert "Beginn am 1.\u00a0August 2027" in body
            assert "87\u00a0%" in body
            assert "Tischler/in ist der erste Berufswunsch." in body
            assert "Osterburg liegt 24 km entfernt." in body
        links = LINK.findall(mail["Text"])
        assert len(links) == 4, "accept and decline for each of the two proposals"
        assert all(link.startswith(f"{BASE}/actions/") for link in links)
        assert set(LINK.findall(mail["HTML"])) == set(links)

    await events.fence()
    assert await mailpit.search(f"to:{carla}") == []
    logged = await deliveries(bus, event_id=event_id)
    assert carla_id not in {d["staff_id"] for d in logged}
    ours_logged = [d for d in logged if d["staff_id"] in ours]
    assert len(ours_logged) == 2
    assert all(d["status"] == "sent" for d in ours_logged)
    assert all(d["attempts"] == 1 for d in ours_logged)
    (anna_log,) = await deliveries(bus, staff_id=anna_id)
    (anna_mail,) = await mail_to(mailpit, anna)
    assert anna_mail["MessageID"] == f"{anna_log['delivery_id']}@diko.example"


async def test_a_filled_position_is_mailed_with_company_occupation_and_town(
    bus: Bus, notifications: ServiceProcess, mailpit: Mailpit, events: Tap
) -> None:
    dora = address("dora")
    await staff_member(bus, "Dora Lüdtke", dora, ["position.filled"])
    company = f"Bäckerei Kruse {uuid.uuid4().hex[:6]}"
    await publish(bus, "position.filled", filled_position(company), "companies")

    (mail,) = await mail_to(mailpit, dora)
    assert mail["Subject"] == f"Ausbildungsstelle besetzt: Bäcker/in bei {company} (Gardelegen)"
    assert (
        f"die Ausbildungsstelle als Bäcker/in bei {company} in Gardelegen ist besetzt.\r\n"
        in mail["Text"]
    )


async def test_a_mail_that_cannot_be_built_is_a_permanent_failure_the_others_still_go(
    bus: Bus,
    notifications: ServiceProcess,
    mailpit: Mailpit,
    events: Tap,
    mongo: AsyncMongoClient,
    stack: SessionStack,
) -> None:
    olga, paul = address("olga"), address("paul")
    olga_id = await staff_member(bus, "Olga Brandt", olga, ["position.filled"])
    paul_id = await staff_member(bus, "Paul Grote", paul, ["position.filled"])
    # A name stored before names refused line breaks: it would end the To header early.
    mallory = address("mallory", "evil.example")
    staff = mongo[stack.database("notifications")]["staff"]
    await staff.update_one({"_id": olga_id}, {"$set": {"name": f"Olga\nBcc: {mallory}"}})

    event_id = await publish(
        bus,
        "position.filled",
        filled_position(f"Bäckerei Kruse {uuid.uuid4().hex[:6]}"),
        "companies",
    )

    (failed,) = await events.wait_for(outcome("failed", event_id, olga_id))
    assert failed.data["permanent"] is True
    assert failed.data["error"].startswith("the e-mail could not be built: ValueError: ")
    await events.wait_for(outcome("sent", event_id, paul_id))
    assert len(await mail_to(mailpit, paul)) == 1
    logged = {d["staff_id"]: d for d in await deliveries(bus, event_id=event_id)}
    assert logged[olga_id]["status"] == "failed"
    assert logged[olga_id]["attempts"] == 1, "a message that cannot be built is not retried"
    assert logged[olga_id]["error"] == failed.data["error"]
    assert logged[paul_id]["status"] == "sent"
    await events.fence()
    assert await mailpit.search(f"to:{olga}") == []
    assert await mailpit.search(mallory) == []


def episode_published(title: str, **fields: Any) -> EpisodePublished:
    """`episode.published` as media sends it; `fields` add what a newer media carries."""
    media = "https://media.diko.example"
    return EpisodePublished(
        episode_id=fresh("epi"),
        title=f"{title} {uuid.uuid4().hex[:4]}",
        feed_url=f"{media}/podcast/feed.xml",
        published_at=datetime(2026, 11, 26, 23, 30, tzinfo=UTC),  # 00:30 on the 27th in Berlin
        **fields,
    )


async def test_a_new_episode_is_mailed_from_the_event_alone_without_asking_media(
    bus: Bus, notifications: ServiceProcess, mailpit: Mailpit
) -> None:
    """No media runs here, and media never heard of the episode: the event says it all."""
    commands = await bus.tap(topology.COMMANDS.name, "episode.#")
    emma = address("emma")
    await staff_member(bus, "Emma Dörge", emma, ["episode.published"])
    audio = f"https://media.diko.example/podcast/{uuid.uuid4().hex[:8]}.mp3"
    page = "https://media.diko.example/podcast"
    episode = episode_published(
        "Holz, Hobel, Handwerk – Folge",
        description="Jana Müller erzählt, wie ihr Betrieb ausbildet.",
        audio_url=audio,
        duration_s=1769,
        page_url=page,
    )

    await publish(bus, "episode.published", episode, "media")

    (mail,) = await mail_to(mailpit, emma)
    assert mail["Subject"] == f"Neue Podcastfolge: „{episode.title}“"
    for body in (mail["Text"], unescape(mail["HTML"])):
        assert "am 27.\u00a0November 2026" in body, "the day in Berlin, not in UTC"
        assert "Jana Müller erzählt, wie ihr Betrieb ausbildet." in body
        assert "29\u00a0Minuten" in body
        assert episode.feed_url in body, "named as the address for podcast apps"
    assert content_hrefs(mail["HTML"]) == [audio, page], "the audio and the page, not the XML"
    text = mail["Text"].replace("\r\n", "\n")
    assert f"Folge anhören (29\u00a0Minuten):\n{audio}\n\nAlle Folgen: {page}\n" in text
    await commands.fence()
    asked = commands.matching(lambda m: episode.episode_id.encode() in m.body)
    assert asked == [], "notifications asked media nothing about the episode"


async def test_an_episode_from_an_older_media_is_mailed_with_its_feed_only(
    bus: Bus, notifications: ServiceProcess, mailpit: Mailpit
) -> None:
    fiete = address("fiete")
    await staff_member(bus, "Fiete Lüders", fiete, ["episode.published"])
    episode = episode_published("Eine Folge ohne Audio im Ereignis")
    # The body an older media sends: the fields that came later are not there at all.
    older = episode.model_dump(mode="json", exclude=NEWER_EPISODE_FIELDS)

    await publish(bus, "episode.published", older, "media")

    (mail,) = await mail_to(mailpit, fiete)
    assert "am 27.\u00a0November 2026" in mail["Text"]
    assert episode.feed_url in mail["Text"]
    assert "Folge anhören" not in mail["Text"]
    assert "Alle Folgen" not in mail["Text"]
    assert content_hrefs(mail["HTML"]) == []


async def test_the_same_event_twice_gives_one_mail_per_recipient(
    bus: Bus, notifications: ServiceProcess, mailpit: Mailpit, events: Tap
) -> None:
    emil, frida = address("emil"), address("frida")
    ours = {
        await staff_member(bus, "Emil Bär", emil, ["match.proposed"]),
        await staff_member(bus, "Frida Görke", frida, ["match.proposed"]),
    }
    event = shortlist(f"Zimmerei Hönicke {uuid.uuid4().hex[:6]}")
    event_id = str(uuid.uuid4())
    before = settled(notifications, REACTION_QUEUE)

    await publish(bus, "match.proposed", event, "matching", id_=event_id)
    await publish(bus, "match.proposed", event, "matching", id_=event_id)

    async def both_copies_done() -> bool:
        return settled(notifications, REACTION_QUEUE) >= before + 2

    await eventually(both_copies_done, what="both copies of the event handled")
    await events.fence()
    for email in (emil, frida):
        assert len(await mail_to(mailpit, email)) == 1
        assert len(await mailpit.search(f"to:{email}")) == 1
    logged = await deliveries(bus, event_id=event_id)
    ours_logged = [d for d in logged if d["staff_id"] in ours]
    assert len(ours_logged) == 2
    assert all(d["status"] == "sent" for d in ours_logged)
    assert all(d["attempts"] == 1 for d in ours_logged)
    announced = {m.data["delivery_id"] for m in events.matching(outcome("sent", event_id))}
    assert announced == {d["delivery_id"] for d in logged}


# -- action links ----------------------------------------------------------------------------


@dataclass
class Replier:
    """Stands in for matching on the bus: the first decision on a proposal holds, and is
    announced as matching announces it (`match.accepted` / `match.declined`)."""

    bus: Bus
    event: MatchProposed
    commands: list[dict[str, Any]]
    first: dict[str, str]

    async def answer(self, data: dict[str, Any]) -> dict[str, Any]:
        self.commands.append(data)
        first = self.first.setdefault(data["proposal_id"], data["decision"])
        if first != data["decision"]:
            error = {"code": "conflict", "message": "bereits entschieden", "details": []}
            return {"ok": False, "error": error}
        status = {"accept": "accepted", "decline": "declined"}[first]
        if len(self.commands) == 1 or data not in self.commands[:-1]:
            await self.announce(data, status)
        return {"ok": True, "data": {"proposal_id": data["proposal_id"], "status": status}}

    async def announce(self, data: dict[str, Any], status: str) -> None:
        [proposal] = [p for p in self.event.proposals if p.proposal_id == data["proposal_id"]]
        announced = {
            "proposal_id": proposal.proposal_id,
            "position_id": proposal.position.position_id,
            "company_id": proposal.position.company_id,
            "applicant_id": proposal.applicant.applicant_id,
            "decided_by": data.get("decided_by"),
        }
        await publish(self.bus, f"match.{status}", announced, "matching")


@asynccontextmanager
async def matching_replier(bus: Bus, event: MatchProposed) -> AsyncIterator[Replier]:
    assert bus.connection is not None
    channel = await bus.connection.channel()
    queue = await channel.declare_queue(DECIDE_QUEUE, passive=True)
    replier = Replier(bus, event, [], {})

    async def reply(message: AbstractIncomingMessage) -> None:
        async with message.process():
            body = await replier.answer(json.loads(message.body)["data"])
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
        yield replier
    finally:
        await queue.cancel(tag)
        await channel.close()


async def test_an_action_link_asks_first_and_decides_on_post(
    bus: Bus,
    notifications: ServiceProcess,
    mailpit: Mailpit,
    events: Tap,
    http: httpx.AsyncClient,
) -> None:
    gerd = address("gerd")
    gerd_id = await staff_member(bus, "Gerd Möller", gerd, ["match.proposed"])
    event = shortlist(f"Metallbau Seehausen {uuid.uuid4().hex[:6]}")
    await publish(bus, "match.proposed", event, "matching")
    (mail,) = await mail_to(mailpit, gerd)
    accept, decline, *_ = LINK.findall(mail["Text"])
    best = event.proposals[0].proposal_id
    await bus.drain(DECIDE_QUEUE)

    shown = await http.get(accept)
    assert shown.status_code == 200
    assert '<form method="post">' in shown.text
    assert "Vorschlag annehmen" in shown.text
    assert best in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert await bus.depth(DECIDE_QUEUE) == 0, "opening a link decides nothing"

    async with matching_replier(bus, event) as matching:
        accepted = await http.post(accept)
        assert accepted.status_code == 200
        assert "<h1>Vorschlag angenommen</h1>" in accepted.text
        assert "Sie haben diesen Vorschlag am " in accepted.text
        assert "<form" not in accepted.text
        assert matching.commands == [
            {"proposal_id": best, "decision": "accept", "decided_by": gerd_id, "note": None}
        ]

        # The service heard of the decision: the other link no longer offers declining,
        # and posting it sends nothing.
        offered = await http.get(decline)
        assert offered.status_code == 200
        assert "<h1>Vorschlag angenommen</h1>" in offered.text
        assert "Ablehnen ist nicht mehr möglich: Es gilt die erste Entscheidung." in offered.text
        assert "<form" not in offered.text
        too_late = await http.post(decline)
        assert too_late.status_code == 409
        assert "dieser Klick hat nichts geändert" in too_late.text
        assert len(matching.commands) == 1


async def test_a_filled_position_is_no_longer_accepted_whether_its_fill_came_first_or_last(
    bus: Bus,
    notifications: ServiceProcess,
    mailpit: Mailpit,
    http: httpx.AsyncClient,
) -> None:
    """The fill is kept by position, so it reaches proposals mailed before and after it."""
    ida = address("ida")
    await staff_member(bus, "Ida Brandt", ida, ["match.proposed"])

    def filled(event: MatchProposed) -> PositionFilled:
        position = event.proposals[0].position
        return filled_position(position.company_name).model_copy(
            update={"position_id": position.position_id, "company_id": position.company_id}
        )

    async def refused(link: str) -> bool:
        page = (await http.get(link)).text
        return "Stelle schon besetzt" in page and "<form" not in page

    before = shortlist(f"Gärtnerei Kalbe {uuid.uuid4().hex[:6]}")
    await publish(bus, "match.proposed", before, "matching")
    (mail,) = await mail_to(mailpit, ida)
    accept_before = LINK.findall(mail["Text"])[0]
    assert not await refused(accept_before)
    await publish(bus, "position.filled", filled(before), "companies")
    await eventually(lambda: refused(accept_before), what="the page after the fill")

    after = shortlist(f"Gärtnerei Zichtau {uuid.uuid4().hex[:6]}")
    await publish(bus, "position.filled", filled(after), "companies")
    await publish(bus, "match.proposed", after, "matching")
    mails = await mail_to(mailpit, ida, count=2)
    (late,) = [m for m in mails if after.proposals[0].position.company_name in m["Text"]]
    assert await refused(LINK.findall(late["Text"])[0])


async def test_the_confirmation_page_names_applicant_occupation_company_and_town(
    bus: Bus,
    stack: SessionStack,
    mongo: AsyncMongoClient,
    notifications: ServiceProcess,
    mailpit: Mailpit,
    http: httpx.AsyncClient,
) -> None:
    proposals = mongo[stack.database("notifications")]["proposals"]
    forgotten = fresh("prp")
    stale = dict.fromkeys(("applicant", "home_town", "occupation", "company", "town"), "Alt")
    month_ago = datetime.now(UTC) - timedelta(days=30)
    await proposals.insert_one({"_id": forgotten, **stale, "linked_at": month_ago})
    notifications.stop()
    notifications.start()  # housekeeping runs at start-up, then hourly

    async def forgotten_gone() -> bool:
        return await proposals.find_one({"_id": forgotten}) is None

    await eventually(forgotten_gone, what="the expired summary forgotten")
    hilde = address("hilde")
    hilde_id = await staff_member(bus, "Hilde Krüger", hilde, ["match.proposed"])
    company = f"Müller <b>& Söhne {uuid.uuid4().hex[:6]}"
    event = shortlist(company)
    await publish(bus, "match.proposed", event, "matching")
    (mail,) = await mail_to(mailpit, hilde)
    _, _, _, decline_second = LINK.findall(mail["Text"])
    second = event.proposals[1].proposal_id
    await bus.drain(DECIDE_QUEUE)

    shown = await http.get(decline_second)
    assert shown.status_code == 200
    page = shown.text
    assert "Vorschlag ablehnen" in page
    assert "<strong>Jörg Weiß</strong> aus Tangerhütte" in page
    assert "<th>Ausbildungsberuf</th><td>Tischler/in</td>" in page
    assert f"<th>Betrieb</th><td>Müller &lt;b&gt;&amp; Söhne {company[-6:]}</td>" in page
    assert "<b>&" not in page
    assert "<th>Ort</th><td>Stendal</td>" in page
    assert "Lena Schröder" not in page
    assert page.count(second) == 1
    assert f'<p class="small">Referenz: {second}</p>' in page
    assert await bus.depth(DECIDE_QUEUE) == 0, "opening a link decides nothing"

    # A link to a proposal the service keeps nothing about still asks, by its reference.
    assert await proposals.find_one({"_id": second}) is not None
    unknown = ActionLinks(SECRET, BASE, timedelta(days=14)).url(
        Action(forgotten, "accept", hilde_id)
    )
    shown = await http.get(unknown)
    assert shown.status_code == 200
    assert "Um wen und um welche Stelle es geht, steht in der E-Mail" in shown.text
    assert "<table" not in shown.text
    assert f'<p class="small">Referenz: {forgotten}</p>' in shown.text


#: Characters the contract refuses in text, as data stored before the rule may hold them.
POISON = "\x01\x0b\x1b\x7f\x85\ufffe\uffff"


async def test_names_stored_with_control_characters_reach_mail_and_page_without_them(
    bus: Bus,
    stack: SessionStack,
    mongo: AsyncMongoClient,
    notifications: ServiceProcess,
    mailpit: Mailpit,
    http: httpx.AsyncClient,
) -> None:
    db = mongo[stack.database("notifications")]
    rita = address("rita")
    rita_id = await staff_member(bus, "Rita Voigt", rita, ["match.proposed"])
    await db["staff"].update_one({"_id": rita_id}, {"$set": {"name": f"Rita{POISON} Voigt"}})
    event = shortlist(f"Tischlerei Krüger {uuid.uuid4().hex[:6]}")
    await publish(bus, "match.proposed", event, "matching")

    (mail,) = await mail_to(mailpit, rita)
    assert mail["To"][0]["Name"] == "Rita Voigt"
    assert "Hallo Rita Voigt," in mail["Text"]
    for part in (mail["Subject"], mail["Text"], mail["HTML"]):
        assert not any(char in part for char in POISON)

    first = event.proposals[0].proposal_id
    await db["proposals"].update_one(
        {"_id": first},
        {"$set": {"applicant": f"Lena{POISON} Schröder", "town": f"Stendal{POISON}"}},
    )
    accept_first = LINK.findall(mail["Text"])[0]
    shown = await http.get(accept_first)
    assert shown.status_code == 200
    assert "<strong>Lena Schröder</strong>" in shown.text
    assert "<th>Ort</th><td>Stendal</td>" in shown.text
    assert not any(char in shown.text for char in POISON)


async def test_forged_and_expired_links_are_refused(
    bus: Bus, notifications: ServiceProcess, http: httpx.AsyncClient
) -> None:
    action = Action(fresh("prp"), "accept", fresh("stf"))
    thirty_days_ago = time.time() - 30 * 86_400
    expired = ActionLinks(SECRET, BASE, timedelta(days=14), clock=lambda: thirty_days_ago)
    forged = ActionLinks(secrets.token_urlsafe(32), BASE, timedelta(days=14))
    await bus.drain(DECIDE_QUEUE)

    for method in ("GET", "POST"):
        old = await http.request(method, expired.url(action))
        assert old.status_code == 410
        assert "Link abgelaufen" in old.text
        for url in (forged.url(action), f"{BASE}/actions/not-a-token"):
            bad = await http.request(method, url)
            assert bad.status_code == 400
            assert "Link ungültig" in bad.text
    assert await bus.depth(DECIDE_QUEUE) == 0


# -- SMTP failures, with a Mailpit of our own ------------------------------------------------


@dataclass
class Isolated:
    """A second notifications process on its own virtual host, sending to a private Mailpit."""

    bus: Bus
    process: ServiceProcess
    mailpit: PrivateMailpit
    env: dict[str, str]
    stack: SessionStack


@asynccontextmanager
async def isolated_instance(
    directory: Path, mongo: AsyncMongoClient, name: str, port: int, delays_ms: str
) -> AsyncIterator[Isolated]:
    """A notifications process with its own stack slice and Mailpit (not started yet)."""
    if not MAILPIT.exists():
        pytest.skip(f"{MAILPIT} is missing: run `make stack`")
    private = SessionStack.create()
    mailpit = PrivateMailpit(directory, allowed=r"@ok\.example$")
    env = private.service_env(
        "notifications",
        DIKO_LINK_SECRET=SECRET,
        DIKO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DIKO_SMTP_HOST="127.0.0.1",
        DIKO_SMTP_PORT=str(mailpit.smtp_port),
        DIKO_SMTP_TIMEOUT_S="5",
        DIKO_RETRY_DELAYS_MS=delays_ms,
    )
    process = ServiceProcess(name, "diko_notifications", port, env)
    bus = Bus(private.amqp_url)
    try:
        await asyncio.to_thread(process.start)
        await bus.start()
        yield Isolated(bus, process, mailpit, env, private)
    finally:
        await bus.close()
        process.stop()
        await mailpit.close()
        await mongo.drop_database(private.database("notifications"))
        private.destroy()


@pytest.fixture(scope="module")
async def isolated(
    tmp_path_factory: pytest.TempPathFactory, mongo: AsyncMongoClient
) -> AsyncIterator[Isolated]:
    """Retries long enough (about 30 s) for a test to start the Mailpit in between."""
    directory = tmp_path_factory.mktemp("mailpit")
    delays = "300,1000,2000,4000,8000,15000"
    async with isolated_instance(
        directory, mongo, "notifications-private", PRIVATE_PORT, delays
    ) as instance:
        yield instance


@pytest.fixture(scope="module")
async def outage(
    tmp_path_factory: pytest.TempPathFactory, mongo: AsyncMongoClient
) -> AsyncIterator[Isolated]:
    """Three quick attempts (the first and two retries), so that a mail outage outlasts them."""
    directory = tmp_path_factory.mktemp("mailpit-outage")
    async with isolated_instance(
        directory, mongo, "notifications-outage", OUTAGE_PORT, "100,200"
    ) as instance:
        yield instance


async def test_a_closed_smtp_port_is_retried_until_the_server_is_there(
    isolated: Isolated,
) -> None:
    await isolated.mailpit.stop()
    hanna = address("hanna", "ok.example")
    hanna_id = await staff_member(isolated.bus, "Hanna Jäger", hanna, ["match.proposed"])
    tap = await isolated.bus.tap(topology.EVENTS.name, "notification.*")

    event_id = await publish(
        isolated.bus, "match.proposed", shortlist("Tischlerei Nöthe"), "matching"
    )

    async def failed_once() -> list[dict[str, Any]]:
        logged = await deliveries(isolated.bus, staff_id=hanna_id)
        return [d for d in logged if d["attempts"] >= 1]

    (waiting,) = await eventually(failed_once, what="a first, failed SMTP attempt")
    assert waiting["status"] == "pending"
    assert "Connect" in waiting["error"] or "refused" in waiting["error"].lower()
    assert isolated.process.metric("diko_retried_total", queue=REACTION_QUEUE) >= 1

    await isolated.mailpit.start()

    await tap.wait_for(outcome("sent", event_id, hanna_id), timeout=60)
    (mail,) = await mail_to(isolated.mailpit.client, hanna)
    assert "Tischlerei Nöthe" in mail["Subject"]
    (logged,) = await deliveries(isolated.bus, staff_id=hanna_id)
    assert logged["status"] == "sent"
    assert logged["attempts"] >= 2
    assert logged["error"] is None


async def test_a_refused_recipient_is_recorded_as_failed_and_the_others_still_get_mail(
    isolated: Isolated,
) -> None:
    if not isolated.mailpit.running:
        await isolated.mailpit.start()
    ida, jan = address("ida", "ok.example"), address("jan", "refused.example")
    ida_id = await staff_member(isolated.bus, "Ida Brandt", ida, ["match.proposed"])
    jan_id = await staff_member(isolated.bus, "Jan Köhler", jan, ["match.proposed"])
    tap = await isolated.bus.tap(topology.EVENTS.name, "notification.*")

    event_id = await publish(
        isolated.bus, "match.proposed", shortlist("Autohaus Lüders"), "matching"
    )

    (failed,) = await tap.wait_for(outcome("failed", event_id))
    assert failed.data["staff_id"] == jan_id, "only the refused address fails"
    assert failed.data["permanent"] is True
    assert failed.data["error"].startswith("550")
    await tap.wait_for(outcome("sent", event_id, ida_id))
    assert len(await mail_to(isolated.mailpit.client, ida)) == 1

    logged = {d["staff_id"]: d for d in await deliveries(isolated.bus, event_id=event_id)}
    assert logged[jan_id]["status"] == "failed"
    assert logged[jan_id]["attempts"] == 1, "a permanent failure is not retried"
    assert logged[ida_id]["status"] == "sent"


async def test_two_replicas_given_the_same_event_twice_send_each_mail_once(
    isolated: Isolated,
) -> None:
    if not isolated.mailpit.running:
        await isolated.mailpit.start()
    emails = [address(name, "ok.example") for name in ("kai", "lea", "mia", "nils")]
    for email in emails:
        await staff_member(isolated.bus, "Kai Lüttich", email, ["match.proposed"])
    replica = ServiceProcess(
        "notifications-replica", "diko_notifications", REPLICA_PORT, isolated.env
    )
    await asyncio.to_thread(replica.start)
    try:
        replicas = (isolated.process, replica)
        before = sum(settled(p, REACTION_QUEUE) for p in replicas)
        event = shortlist("Dachdeckerei Öhlmann")
        event_id = str(uuid.uuid4())

        await publish(isolated.bus, "match.proposed", event, "matching", id_=event_id)
        await publish(isolated.bus, "match.proposed", event, "matching", id_=event_id)

        async def both_copies_done() -> bool:
            return sum(settled(p, REACTION_QUEUE) for p in replicas) >= before + 2

        await eventually(both_copies_done, what="both copies handled by the replicas")
    finally:
        await asyncio.to_thread(replica.stop)
    for email in emails:
        assert len(await mail_to(isolated.mailpit.client, email)) == 1
        assert len(await isolated.mailpit.client.search(f"to:{email}")) == 1
    logged = {d["email"]: d for d in await deliveries(isolated.bus, event_id=event_id)}
    assert all(logged[email]["attempts"] == 1 for email in emails)


async def test_mail_that_outlasts_the_retries_waits_in_the_dead_letters_for_a_replay(
    outage: Isolated,
) -> None:
    bus, mailpit = outage.bus, outage.mailpit
    assert not mailpit.running, "the mail server is down"
    quinn, rosa = address("quinn", "ok.example"), address("rosa", "ok.example")
    ours = {
        await staff_member(bus, "Quinn Ahrens", quinn, ["position.filled"]),
        await staff_member(bus, "Rosa Bähr", rosa, ["position.filled"]),
    }
    tap = await bus.tap(topology.EVENTS.name, "notification.*")

    event_id = await publish(bus, "position.filled", filled_position("Bäckerei Kruse"), "companies")

    # Every attempt of the round fails: recorded, announced, and dead-lettered with why.
    failed = await tap.wait_for(outcome("failed", event_id), count=2)
    assert {m.data["staff_id"] for m in failed} == ours
    assert all(m.data["permanent"] is False for m in failed)
    assert all("refused" in m.data["error"].lower() for m in failed)

    async def dead_lettered() -> bool:
        return await bus.depth(DLQ) == 1

    await eventually(dead_lettered, what="the event in the dead-letter queue")
    shown = await asyncio.to_thread(diko, outage.stack, "dlq", "show", "notifications")
    assert shown.returncode == 0, shown.stderr
    assert "reason: internal" in shown.stdout
    assert "from: notifications.on.position.filled" in shown.stdout
    assert "diko dlq replay notifications" in shown.stdout
    logged = await deliveries(bus, event_id=event_id)
    assert [(d["status"], d["attempts"]) for d in logged] == [("failed", 3)] * 2

    # Replayed while the server is still down: a new round of three attempts, and back.
    replayed = await asyncio.to_thread(diko, outage.stack, "dlq", "replay", "notifications")
    assert "replayed 1 dead letter(s)" in replayed.stdout, replayed.stderr
    await tap.wait_for(outcome("failed", event_id), count=4)
    await eventually(dead_lettered, what="the event back in the dead-letter queue")
    logged = await deliveries(bus, event_id=event_id)
    assert [(d["status"], d["attempts"]) for d in logged] == [("failed", 6)] * 2

    # The server is back: the operator replays, and each recipient gets the mail once.
    await mailpit.start()
    replayed = await asyncio.to_thread(diko, outage.stack, "dlq", "replay", "notifications")
    assert "replayed 1 dead letter(s)" in replayed.stdout, replayed.stderr
    sent = await tap.wait_for(outcome("sent", event_id), count=2)
    assert {m.data["staff_id"] for m in sent} == ours
    for email in (quinn, rosa):
        (mail,) = await mail_to(mailpit.client, email)
        assert mail["Subject"].startswith("Ausbildungsstelle besetzt: Bäcker/in bei Bäckerei")
    logged = await deliveries(bus, event_id=event_id)
    assert [(d["status"], d["attempts"], d["error"]) for d in logged] == [("sent", 7, None)] * 2
    assert await bus.depth(DLQ) == 0

    # A further replay finds nothing to send, and the delivered mail stays delivered once.
    again = await asyncio.to_thread(diko, outage.stack, "dlq", "replay", "notifications")
    assert "replayed 0 dead letter(s)" in again.stdout, again.stderr
    await tap.fence()
    for email in (quinn, rosa):
        assert len(await mailpit.client.search(f"to:{email}")) == 1
    assert len(tap.matching(outcome("failed", event_id))) == 4


NOTICE_QUEUE = "notifications.notification.send"


def notice_to_contact(contact_id: str) -> SendNotification:
    """media's notice asking a contact person to approve a post (no reply wanted)."""
    return SendNotification(
        idempotency_key=f"post-approval/{uuid.uuid4().hex}",
        to=NoticeRecipient(contact_id=contact_id),
        subject="Ihr Beitrag wartet auf Ihre Freigabe",
        paragraphs=["wir haben einen Instagram-Beitrag für Ihren Betrieb vorbereitet."],
    )


async def test_a_notice_for_a_contact_person_not_known_yet_goes_out_once_companies_tell(
    isolated: Isolated,
) -> None:
    """A broker restart can hand media's notice over before companies' `contact.added`:
    the notice waits in the retries instead of in the dead letters."""
    if not isolated.mailpit.running:
        await isolated.mailpit.start()
    bus, process = isolated.bus, isolated.process
    company_id, contact_id = fresh("cmp"), fresh("cnt")
    rita = address("rita", "ok.example")
    retried = process.metric("diko_retried_total", queue=NOTICE_QUEUE)

    await bus.send(notice_to_contact(contact_id))

    async def refused_once() -> bool:
        return process.metric("diko_retried_total", queue=NOTICE_QUEUE) > retried

    await eventually(refused_once, what="the notice retried: its contact person is unknown")
    await publish(
        bus,
        "company.registered",
        CompanyRegistered(
            company_id=company_id, name="Tischlerei Rahmen", town="Osterburg", postcode="39606"
        ),
        "companies",
    )
    await publish(
        bus,
        "contact.added",
        ContactAdded(contact_id=contact_id, company_id=company_id, name="Rita Rahmen", email=rita),
        "companies",
    )

    (mail,) = await mail_to(isolated.mailpit.client, rita)
    assert mail["Subject"] == "Ihr Beitrag wartet auf Ihre Freigabe"
    assert await bus.depth(DLQ) == 0
    assert process.metric("diko_messages_total", queue=NOTICE_QUEUE, outcome="dead_lettered") == 0


async def test_a_notice_for_a_contact_person_nobody_tells_of_ends_as_not_found(
    outage: Isolated,
) -> None:
    """Once the retries are used up, the notice is dead-lettered as `not_found`; a request
    for the same (someone waits for the answer) is answered `not_found` at once."""
    bus, process = outage.bus, outage.process
    unknown = fresh("cnt")
    retried = process.metric("diko_retried_total", queue=NOTICE_QUEUE)

    await bus.send(notice_to_contact(unknown))

    (letter,) = await bus.wait_dead_letters(DLQ, 1)
    assert letter.headers["x-diko-reason"] == "not_found"
    assert "Diese Ansprechperson ist nicht bekannt." in letter.headers["x-diko-error"]
    assert process.metric("diko_retried_total", queue=NOTICE_QUEUE) == retried + 2

    started = time.monotonic()
    answer = await bus.request(notice_to_contact(unknown))
    assert answer["ok"] is False
    assert answer["error"]["code"] == "not_found"
    assert time.monotonic() - started < 5, "answered at once, not after the retries"
    assert process.metric("diko_retried_total", queue=NOTICE_QUEUE) == retried + 2
