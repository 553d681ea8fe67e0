"""Posts through the running media service: drafted from companies', matching's and its own
events and by staff, approved or rejected through the signed link media asks notifications
to e-mail (the page GET and POST over HTTP), scheduled on the test clock, withheld when
consent is withdrawn, and published through the Graph API double (a real HTTP server on
loopback): carousels with alt texts, the publishing limit, an expired token, a rate limit,
and a process killed between creating the container and publishing it."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from media_harness import CLOCK, SECRET, GraphDouble, as_event, media_env
from PIL import Image
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store
from diko_media.signing import Signer
from diko_shared import due
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import ConsentChanged, PositionFilled, PositionOpened
from diko_shared.contract.matching import FairPlanned
from diko_shared.contract.media import (
    ApprovePost,
    CompanyLook,
    CreateEpisode,
    DraftPost,
    GetPost,
    GetPostKit,
    PresentationContent,
    PublishEpisode,
    RejectPost,
    SchedulePost,
)
from diko_shared.messaging import topology
from diko_shared.silence import silent_mp3
from harness.bus import Bus, Seen, Tap
from harness.processes import ServiceProcess, free_port
from harness.stack import SessionStack
from harness.waiting import eventually

PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
#: Rendering costs a second or more of CPU; a loaded two-core machine stretches that.
DRAFTING_S = 90.0
PUBLISHING_S = 90.0


@pytest.fixture(scope="module")
def graph() -> Iterator[GraphDouble]:
    double = GraphDouble()
    double.start()
    yield double
    double.stop()


@pytest.fixture(scope="module")
def media(stack: SessionStack, graph: GraphDouble) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "media-posts", "diko_media", PORT, media_env(stack, BASE, graph=graph.url)
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def double(graph: GraphDouble) -> GraphDouble:
    await graph.control("reset")
    return graph


@pytest.fixture
def db(mongo: AsyncMongoClient, stack: SessionStack) -> AsyncDatabase:
    return mongo[stack.database("media")]


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60.0) as client:
        yield client


@pytest.fixture
async def events(bus: Bus) -> Tap:
    return await bus.tap(pattern="post.*")


@pytest.fixture
async def mails(bus: Bus) -> Tap:
    return await bus.tap(exchange=topology.COMMANDS.name, pattern="notification.send")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def of(type_: str, post_id: str) -> Any:
    def matches(seen: Seen) -> bool:
        return seen.routing_key == type_ and seen.data["post_id"] == post_id

    return matches


async def consent(bus: Bus, company_id: str, status: str, *, purpose: str = "social_media") -> None:
    event = ConsentChanged(
        company_id=company_id, purpose=purpose, status=status, declared_at=datetime.now(UTC)
    )
    await bus.publisher.publish(as_event(event, subject=company_id))


async def consented(bus: Bus, db: AsyncDatabase, company_id: str, status: str = "given") -> None:
    """Companies says so, and media has taken its copy."""
    await consent(bus, company_id, status)

    async def copied() -> bool:
        record = await db["companies"].find_one({"_id": company_id}) or {}
        return record.get("consents", {}).get("social_media", {}).get("status") == status

    await eventually(copied, what=f"media's copy of the consent ({status})")


async def opened(bus: Bus, events: Tap, company: str | None = None) -> tuple[dict, str]:
    """A position opened (as companies publishes it) and the post media drafts from it."""
    position = PositionOpened(
        position_id=unique("pos"),
        company_id=company or unique("cmp"),
        company_name="Tischlerei Müller & Söhne GmbH",
        occupation=Occupation(code="22342", name="Tischler/in"),
        places=2,
        start_date=date(2027, 8, 1),
        town="Tangermünde",
    )
    await bus.publisher.publish(as_event(position, subject=position.position_id))

    def drafted(seen: Seen) -> bool:
        return seen.routing_key == "post.drafted" and seen.data["position_id"] == (
            position.position_id
        )

    (seen,) = await events.wait_for(drafted, timeout=DRAFTING_S)
    return position.model_dump(mode="json"), seen.data["post_id"]


async def approval_link(mails: Tap, post_id: str) -> str:
    (mail,) = await mails.wait_for(
        lambda s: s.data["idempotency_key"] == f"post-approval/{post_id}", timeout=30
    )
    return mail.data["action"]["url"]


async def published(events: Tap, post_id: str) -> Seen:
    (seen,) = await events.wait_for(of("post.published", post_id), timeout=PUBLISHING_S)
    return seen


async def approved_and_scheduled(bus: Bus, post_id: str, at: datetime | None = None) -> None:
    await bus.ok(ApprovePost(post_id=post_id, approved_by="birte.albrecht@diko.example"))
    await bus.ok(SchedulePost(post_id=post_id, publish_at=at or datetime.now(UTC)))


# -- drafting and approval ----------------------------------------------------------------------


async def test_an_opened_position_drafts_a_post_and_asks_the_company_for_approval(
    bus: Bus,
    media: ServiceProcess,
    web: httpx.AsyncClient,
    events: Tap,
    mails: Tap,
    db: AsyncDatabase,
) -> None:
    position, post_id = await opened(bus, events)
    post = await bus.ok(GetPost(post_id=post_id))
    assert (post["kind"], post["status"], post["format"]) == ("azubi_gesucht", "draft", "portrait")
    assert post["consent"] == "unknown"
    (slide,) = post["slides"]
    assert (slide["width"], slide["height"]) == (1080, 1350)
    assert slide["alt_text"].startswith("Grafik von DIKO Altmark: Azubi gesucht! Ausbildung als")
    assert "Tischlerei Müller & Söhne GmbH in Tangermünde" in slide["alt_text"]
    # The draft holds no pixels: its slide's record waits for the first request.
    assert await db["post_images"].find_one({"_id": f"{post_id}/1"}) == {"_id": f"{post_id}/1"}
    png = await web.get(slide["image_url"])  # drawn now, and the JPEG of the same pixels kept
    kept = await db["post_images"].find_one({"_id": f"{post_id}/1"})
    assert kept is not None
    assert {"png", "jpeg"} <= kept.keys()
    jpeg = await web.get(slide["jpeg_url"])
    assert jpeg.content == kept["jpeg"]
    assert Image.open(io.BytesIO(png.content)).size == (1080, 1350)
    assert Image.open(io.BytesIO(jpeg.content)).format == "JPEG"
    assert jpeg.headers["content-type"] == "image/jpeg"
    again = await web.get(post["image_url"])  # kept from the first request
    assert again.content == png.content
    assert again.headers["etag"] == png.headers["etag"]
    assert (
        await web.get(slide["image_url"], headers={"If-None-Match": png.headers["etag"]})
    ).status_code == 304

    (mail,) = await mails.wait_for(
        lambda s: s.data["idempotency_key"] == f"post-approval/{post_id}", timeout=30
    )
    assert mail.envelope["source"] == "media"
    assert {k: v for k, v in mail.data["to"].items() if v} == {"company_id": position["company_id"]}
    assert mail.data["subject"] == "Ihr Instagram-Beitrag „Azubi gesucht“ wartet auf Ihre Freigabe"
    assert mail.data["action"]["label"] == "Beitrag ansehen und freigeben"
    assert mail.data["action"]["url"].startswith(f"{BASE}/posts/freigabe/")
    assert mail.data["transactional"] is True
    text = " ".join(mail.data["paragraphs"])
    assert f"{BASE}/posts/paket/" in text
    assert "liegt uns nicht vor" in text  # no consent known: published only once it is given


async def test_the_contact_approves_through_the_link_once(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, events: Tap, mails: Tap
) -> None:
    _, post_id = await opened(bus, events)
    link = await approval_link(mails, post_id)
    page = await web.get(link)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Ihr Beitrag wartet auf Ihre Freigabe" in page.text
    assert "Beitrag freigeben" in page.text
    assert f"../{post_id}/1.png" in page.text
    assert (await bus.ok(GetPost(post_id=post_id)))["status"] == "draft"  # GET decides nothing

    done = await web.post(link, data={"action": "approve"})
    assert done.status_code == 200
    assert "Danke! Sie haben den Beitrag freigegeben." in done.text
    assert "Beitrag freigeben</button>" not in done.text
    (event,) = await events.wait_for(of("post.approved", post_id))
    assert event.data["via"] == "link"
    assert "approved_by" not in event.data, "no subscriber needs who approved (version 2)"
    approved = await bus.ok(GetPost(post_id=post_id))
    assert approved["approved_by"] == "Ansprechperson des Betriebs (Link in der E-Mail)"

    again = await web.post(link, data={"action": "approve"})
    assert "Ihr Beitrag ist freigegeben" in again.text
    assert "von Ihnen freigegeben" in again.text
    await events.fence()
    assert len(events.matching(of("post.approved", post_id))) == 1


async def test_the_contact_rejects_with_a_reason_and_nothing_else_goes_then(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, events: Tap, mails: Tap
) -> None:
    _, post_id = await opened(bus, events)
    link = await approval_link(mails, post_id)
    empty = await web.post(link, data={"action": "reject", "reason": " "})
    assert empty.status_code == 400
    assert "Bitte schreiben Sie uns kurz, was wir ändern sollen." in empty.text
    done = await web.post(
        link, data={"action": "reject", "reason": "Bitte mit unserem neuen Logo."}
    )
    assert "Danke! Wir haben Ihren Grund erhalten" in done.text
    (event,) = await events.wait_for(of("post.rejected", post_id))
    assert event.data["reason"] == "Bitte mit unserem neuen Logo."
    assert "rejected_by" not in event.data, "no subscriber needs who rejected (version 2)"
    late = await bus.request(ApprovePost(post_id=post_id, approved_by="birte@diko.example"))
    assert late["error"]["code"] == "conflict"
    assert late["error"]["message"] == (
        f"Der Post {post_id} wurde abgelehnt und kann nicht mehr freigegeben werden."
    )
    page = await web.get(link)
    assert "Dieser Beitrag wurde abgelehnt. Grund: Bitte mit unserem neuen Logo." in page.text


async def test_links_that_are_expired_or_forged_say_so(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, events: Tap
) -> None:
    _, post_id = await opened(bus, events)
    old = Signer(SECRET, "approval", timedelta(days=14), clock=lambda: 1_000_000.0)
    expired = await web.get(f"{BASE}/posts/freigabe/{old.token(post_id)}")
    assert expired.status_code == 410
    assert "Der Link in Ihrer E-Mail ist nicht mehr gültig." in expired.text
    assert "Der Beitrag wartet noch auf eine Freigabe." in expired.text
    forged = await web.get(f"{BASE}/posts/freigabe/{old.token(post_id)[:-4]}abcd")
    assert forged.status_code == 404
    assert "Dieser Link ist unvollständig" in forged.text
    kit = Signer(SECRET, "kit", timedelta(days=14))
    wrong = await web.get(f"{BASE}/posts/freigabe/{kit.token(post_id)}")  # a kit link
    assert wrong.status_code == 404


async def test_a_slide_drawn_while_its_post_was_erased_is_not_kept(db: AsyncDatabase) -> None:
    """A request that read the post just before its erasure draws the slide, but keeping it
    writes into the slide's record only: the erased post's image does not come back."""
    post_id = f"pst_{uuid.uuid4().hex[:20]}"
    await store.keep_slide_files(db, post_id, 1, {"jpeg": b"pixels", "jpeg_sha256": "0" * 64})
    assert await db["post_images"].find_one({"_id": f"{post_id}/1"}) is None


async def test_the_kit_downloads_through_its_link(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, events: Tap, db: AsyncDatabase
) -> None:
    _, post_id = await opened(bus, events)
    kit = await bus.ok(GetPostKit(post_id=post_id))  # nobody has looked at the slide yet
    assert kit["files"] == [
        "bild-1.jpg", "bildtext.txt", "hashtags.txt", "alternativtext.txt", "anleitung.html",
    ]  # fmt: skip
    response = await web.get(kit["download_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="diko-beitrag-{post_id}.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == kit["files"]
    assert archive.read("bildtext.txt").decode().strip() == kit["caption"]
    assert Image.open(io.BytesIO(archive.read("bild-1.jpg"))).size == (1080, 1350)
    kept = await db["post_images"].find_one({"_id": f"{post_id}/1"})
    assert kept is not None
    assert "png" not in kept
    assert archive.read("bild-1.jpg") == kept["jpeg"]
    slide = (await bus.ok(GetPost(post_id=post_id)))["slides"][0]
    assert (await web.get(slide["jpeg_url"])).content == kept["jpeg"]


async def test_staff_drafts_in_the_companys_colour_and_a_colour_without_contrast_is_refused(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, events: Tap
) -> None:
    company = unique("cmp")
    content = PresentationContent(
        town="Stendal", about="Wir bauen Möbel nach Maß.", facts=["seit 1952"],
        occupations=["Tischler/in"],
    )  # fmt: skip
    refused = await bus.request(
        DraftPost(content=content, company_id=company, company_name="Tischlerei Grau",
                  look=CompanyLook(colour="#7E7E7E"))
    )  # fmt: skip
    assert refused["error"]["code"] == "validation_error"
    assert "WCAG AA" in refused["error"]["message"]
    assert refused["error"]["details"][0]["field"] == "data.look.colour"
    ref = await bus.ok(
        DraftPost(content=content, company_id=company, company_name="Tischlerei Rot",
                  format="square", look=CompanyLook(colour="#7A2E1F"))
    )  # fmt: skip
    post = await bus.ok(GetPost(post_id=ref["post_id"]))
    assert [(s["width"], s["height"]) for s in post["slides"]] == [(1080, 1080)] * 3
    image = Image.open(io.BytesIO((await web.get(post["slides"][0]["image_url"])).content))
    assert image.getpixel((20, 300)) == (0x7A, 0x2E, 0x1F)  # the company's ground
    nobody = await bus.request(DraftPost(content=content))
    assert nobody["error"]["message"] == (
        "Ein Beitrag „Wir stellen vor“ braucht den Betrieb, um den es geht."
    )


# -- publishing --------------------------------------------------------------------------------


async def test_nothing_is_published_without_approval_and_consent_then_it_is(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    _, post_id = await opened(bus, events, company)
    early = await bus.request(SchedulePost(post_id=post_id, publish_at=datetime.now(UTC)))
    assert early["error"]["code"] == "conflict"
    assert "noch nicht freigegeben" in early["error"]["message"]
    await bus.ok(ApprovePost(post_id=post_id, approved_by="birte.albrecht@diko.example"))
    without = await bus.request(SchedulePost(post_id=post_id, publish_at=datetime.now(UTC)))
    assert without["error"]["code"] == "conflict"
    assert "keine Einwilligung" in without["error"]["message"]

    await consented(bus, db, company)
    await bus.ok(SchedulePost(post_id=post_id, publish_at=datetime.now(UTC)))
    event = await published(events, post_id)
    assert event.data["permalink"].startswith("https://www.instagram.com/p/")
    post = await bus.ok(GetPost(post_id=post_id))
    assert post["status"] == "published"
    assert post["instagram_media_id"] == event.data["instagram_media_id"]
    media_item = (await double.state())["media"][event.data["instagram_media_id"]]
    assert media_item["caption"] == post["caption"]
    assert media_item["alt_texts"] == [post["alt_text"]]
    assert media_item["images"] == [post["slides"][0]["jpeg_url"]]


async def test_a_withdrawn_consent_takes_a_scheduled_post_out_of_the_queue(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    await consented(bus, db, company)
    _, post_id = await opened(bus, events, company)
    now = await due.Clock(db, CLOCK).now()
    await approved_and_scheduled(bus, post_id, now + timedelta(hours=3))
    await consent(bus, company, "withdrawn")
    (held,) = await events.wait_for(of("post.withheld", post_id))
    assert held.data["previous_status"] == "scheduled"
    assert held.data["reason"] == (
        "Der Betrieb hat seine Einwilligung in Beiträge in sozialen Medien widerrufen."
    )
    await due.set_test_clock(db, CLOCK, now + timedelta(hours=4))
    post = await bus.ok(GetPost(post_id=post_id))
    assert post["status"] == "withheld"
    assert await db["due"].find_one({"_id": f"post.publish|{post_id}"}) is None
    await events.fence()
    assert not events.matching(of("post.published", post_id))
    again = await bus.request(SchedulePost(post_id=post_id, publish_at=now))
    assert again["error"]["code"] == "conflict"
    await consented(bus, db, company)
    await bus.ok(SchedulePost(post_id=post_id, publish_at=now))
    await published(events, post_id)


async def test_a_post_scheduled_for_later_goes_out_at_its_time_and_once(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    await consented(bus, db, company)
    _, later = await opened(bus, events, company)
    _, sooner = await opened(bus, events, company)
    now = await due.Clock(db, CLOCK).now()
    await approved_and_scheduled(bus, later, now + timedelta(hours=2))
    await approved_and_scheduled(bus, sooner, now + timedelta(hours=1))
    (note,) = await events.wait_for(of("post.scheduled", later))
    assert datetime.fromisoformat(note.data["publish_at"]) == now + timedelta(hours=2)

    # The clock passes the sooner post's time only: it goes out, which shows that the due
    # items were looked at after that moment; the later one still waits.
    await due.set_test_clock(db, CLOCK, now + timedelta(hours=1, minutes=30))
    await published(events, sooner)
    assert (await bus.ok(GetPost(post_id=later)))["status"] == "scheduled"
    assert not events.matching(of("post.published", later))
    images = [item["images"] for item in (await double.state())["media"].values()]
    later_jpeg = (await bus.ok(GetPost(post_id=later)))["slides"][0]["jpeg_url"]
    assert [later_jpeg] not in images

    await due.set_test_clock(db, CLOCK, now + timedelta(hours=2, seconds=1))
    await published(events, later)
    await due.set_test_clock(db, CLOCK, now + timedelta(hours=3))
    await events.fence()
    assert len(events.matching(of("post.published", later))) == 1
    images = [item["images"] for item in (await double.state())["media"].values()]
    assert images.count([later_jpeg]) == 1
    assert (await bus.ok(GetPost(post_id=later)))["status"] == "published"


async def test_a_carousel_is_published_with_its_children_and_their_alt_texts(
    bus: Bus, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    ref = await bus.ok(
        DraftPost(
            content=PresentationContent(
                town="Stendal", about="Wir bauen Möbel nach Maß.", facts=["seit 1952"],
                occupations=["Tischler/in"],
            ),
            company_id=company,
            company_name="Tischlerei Müller GmbH",
        )
    )  # fmt: skip
    post_id = ref["post_id"]
    await consent(bus, company, "given")
    await bus.ok(ApprovePost(post_id=post_id, approved_by="birte.albrecht@diko.example"))

    async def scheduled() -> bool:
        reply = await bus.request(SchedulePost(post_id=post_id, publish_at=datetime.now(UTC)))
        return reply["ok"]

    await eventually(scheduled, what="scheduling once the consent was copied")
    event = await published(events, post_id)
    state = await double.state()
    media_item = state["media"][event.data["instagram_media_id"]]
    post = await bus.ok(GetPost(post_id=post_id))
    assert media_item["media_type"] == "CAROUSEL_ALBUM"
    assert media_item["alt_texts"] == [s["alt_text"] for s in post["slides"]]
    assert media_item["images"] == [s["jpeg_url"] for s in post["slides"]]
    parent = state["containers"][media_item["container"]]
    assert len(parent["children"]) == 3
    assert parent["caption"] == post["caption"]


async def test_a_post_over_the_publishing_limit_waits_for_room(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    await consented(bus, db, company)
    _, post_id = await opened(bus, events, company)
    await double.control("usage", {"usage": 50})
    await approved_and_scheduled(bus, post_id)

    async def held() -> dict | None:
        post = await bus.ok(GetPost(post_id=post_id))
        return post if post["failure"] else None

    post = await eventually(held, timeout=PUBLISHING_S, what="the post held for the limit")
    assert post["status"] in ("scheduled", "publishing")
    assert "50 von 50 erlaubten Beiträgen" in post["failure"]
    assert (await double.state())["calls"].get("media", 0) == 0
    await double.control("usage", {"usage": 10})
    await published(events, post_id)
    assert (await bus.ok(GetPost(post_id=post_id)))["failure"] is None


async def test_an_expired_token_fails_the_post_with_a_reason_staff_can_act_on(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    await consented(bus, db, company)
    _, post_id = await opened(bus, events, company)
    await double.control("expire_token", {"expired": True})
    await approved_and_scheduled(bus, post_id)
    (failed,) = await events.wait_for(of("post.failed", post_id), timeout=PUBLISHING_S)
    assert failed.data["code"] == "token_expired"
    assert failed.data["retrying"] is False
    assert "DIKO_INSTAGRAM_TOKEN" in failed.data["reason"]
    assert failed.data["graph_error"]["code"] == 190
    assert failed.data["graph_error"]["error_subcode"] == 463
    assert (await bus.ok(GetPost(post_id=post_id)))["status"] == "failed"
    await double.control("expire_token", {"expired": False})
    await bus.ok(SchedulePost(post_id=post_id, publish_at=datetime.now(UTC)))
    await published(events, post_id)


async def test_a_rate_limit_is_retried_and_then_the_post_goes_out(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    await consented(bus, db, company)
    _, post_id = await opened(bus, events, company)
    await double.control("fail", {"endpoint": "media", "error": "rate_limit", "times": 1})
    await approved_and_scheduled(bus, post_id)
    (failed,) = await events.wait_for(of("post.failed", post_id), timeout=PUBLISHING_S)
    assert failed.data["code"] == "rate_limited"
    assert failed.data["retrying"] is True
    assert failed.data["next_attempt_at"] is not None
    await published(events, post_id)


async def test_a_kill_between_container_and_publish_resumes_with_the_same_container(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    await consented(bus, db, company)
    _, post_id = await opened(bus, events, company)
    await double.control("processing", {"polls": 100_000})
    await approved_and_scheduled(bus, post_id)

    async def container_kept() -> dict | None:
        post = await db["posts"].find_one({"_id": post_id})
        return post if (post.get("instagram") or {}).get("container") else None

    post = await eventually(container_kept, timeout=PUBLISHING_S, what="the container id kept")
    container = post["instagram"]["container"]
    media.kill()
    await double.control("processing", {"polls": 0, "now": True})
    media.start()
    event = await published(events, post_id)
    state = await double.state()
    mine = [c for c in state["containers"].values() if post_id in (c["image_url"] or "")]
    assert len(mine) == 1, "one container, reused after the restart"
    assert state["media"][event.data["instagram_media_id"]]["container"] == container
    assert sum(1 for m in state["media"].values() if m["container"] == container) == 1


async def test_a_kill_after_publishing_before_it_was_recorded_never_publishes_twice(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, double: GraphDouble, events: Tap
) -> None:
    company = unique("cmp")
    await consented(bus, db, company)
    _, post_id = await opened(bus, events, company)
    await double.control("hold")
    await approved_and_scheduled(bus, post_id)

    async def publishing() -> bool:
        return (await double.state())["held"] >= 1

    await eventually(publishing, timeout=PUBLISHING_S, what="media_publish called and held")
    media.kill()
    await double.control("release")
    media.start()
    event = await published(events, post_id)
    state = await double.state()
    containers = [c["media_id"] for c in state["containers"].values()
                  if post_id in (c["image_url"] or "")]  # fmt: skip
    assert len(containers) == 1
    assert len(state["media"]) == 1
    assert state["calls"]["media_publish"] == 1
    assert event.data["instagram_media_id"] is None  # published, but its id was lost in the kill
    assert (await bus.ok(GetPost(post_id=post_id)))["status"] == "published"
    await events.fence()
    assert len(events.matching(of("post.published", post_id))) == 1


# -- drafts from other events ------------------------------------------------------------------


async def test_a_filled_position_drafts_a_success_post_only_with_consent(
    bus: Bus, db: AsyncDatabase, media: ServiceProcess, events: Tap
) -> None:
    def filled(company: str) -> PositionFilled:
        return PositionFilled(
            position_id=unique("pos"),
            company_id=company,
            company_name="Bäckerei Nöthe",
            occupation=Occupation(code="29302", name="Bäcker/in"),
            places=1,
            town="Osterburg (Altmark)",
            start_date=date(2027, 8, 1),
        )

    without, consenting = unique("cmp"), unique("cmp")
    await consented(bus, db, consenting)
    quiet, loud = filled(without), filled(consenting)
    await bus.publisher.publish(as_event(quiet))
    await bus.publisher.publish(as_event(loud))
    (seen,) = await events.wait_for(
        lambda s: s.routing_key == "post.drafted" and s.data["position_id"] == loud.position_id,
        timeout=DRAFTING_S,
    )
    assert seen.data["kind"] == "success"
    assert "Platz besetzt in Osterburg (Altmark)!" in seen.data["caption"]
    await events.fence()
    assert not [s for s in events.seen if s.data.get("position_id") == quiet.position_id]


async def test_a_planned_fair_drafts_a_post_for_each_company_of_the_records(
    bus: Bus, media: ServiceProcess, events: Tap
) -> None:
    example = FairPlanned.model_config["json_schema_extra"]["examples"][0]
    first, second = unique("cmp"), unique("cmp")
    companies = [
        {**example["companies"][0], "ref": first, "company_id": first, "name": "Tischlerei Müller"},
        {**example["companies"][0], "ref": second, "company_id": second, "name": "Bäckerei Nöthe"},
        {**example["companies"][0], "ref": "Gast", "company_id": None, "name": "Gastbetrieb"},
    ]
    fair = FairPlanned.model_validate_json(json.dumps({**example, "companies": companies}))
    await bus.publisher.publish(as_event(fair, subject=fair.fair_id))

    def fair_post(company: str) -> Any:
        return lambda s: s.routing_key == "post.drafted" and s.data["company_id"] == company

    (one,) = await events.wait_for(fair_post(first), timeout=DRAFTING_S)
    (two,) = await events.wait_for(fair_post(second), timeout=DRAFTING_S)
    assert one.data["kind"] == two.data["kind"] == "fair"
    assert "Tischlerei Müller ist dabei!" in one.data["caption"]
    assert "am Samstag, 13. März 2027, 9:00 bis 13:00 Uhr" in two.data["caption"]
    post = await bus.ok(GetPost(post_id=one.data["post_id"]))
    assert len(post["slides"]) == 2


async def test_a_published_episode_drafts_a_new_episode_post(
    bus: Bus, media: ServiceProcess, web: httpx.AsyncClient, events: Tap
) -> None:
    created = await bus.ok(
        CreateEpisode(title="Wie Azubis in der Altmark ankommen", description="Eine Folge.",
                      episode_number=7)
    )  # fmt: skip
    await web.post(created["upload_url"], files={"audio": ("f.mp3", silent_mp3(30), "audio/mpeg")})
    await bus.ok(PublishEpisode(episode_id=created["episode_id"]))
    (seen,) = await events.wait_for(
        lambda s: s.routing_key == "post.drafted" and s.data["kind"] == "episode"
        and "Wie Azubis in der Altmark ankommen" in s.data["caption"],
        timeout=DRAFTING_S,
    )  # fmt: skip
    post = await bus.ok(GetPost(post_id=seen.data["post_id"]))
    assert post["episode_id"] == created["episode_id"]
    assert post["company_id"] is None
    assert "Neue Podcastfolge: Wie Azubis in der Altmark ankommen (Folge 7)" in post["caption"]


async def test_staff_reject_and_an_unknown_post_answer_in_german(
    bus: Bus, media: ServiceProcess, events: Tap
) -> None:
    _, post_id = await opened(bus, events)
    short = await bus.request(
        RejectPost(post_id=post_id, reason="nein", rejected_by="b@diko.example")
    )
    assert short["ok"] is True
    unknown = await bus.request(GetPost(post_id="pst_" + "0" * 20))
    assert unknown["error"] == {
        "code": "not_found",
        "message": f"Einen Post pst_{'0' * 20} gibt es nicht.",
        "details": [{"field": "data.post_id", "problem": "unbekannter Post", "type": "not_found"}],
    }
