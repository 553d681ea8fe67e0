"""Issue 3's story end to end: four services, one real path, checked where people look."""

from __future__ import annotations

import asyncio
import html
import io
import re
import secrets
import xml.etree.ElementTree as ET

import feedparser
import httpx
from PIL import Image

from diko_shared.contract.companies import GetCompany, SearchPositions
from diko_shared.contract.matching import GetApplicant, GetShortlist
from diko_shared.contract.media import GetPost
from diko_shared.contract.notifications import ListDeliveries
from diko_shared.silence import silent_mp3
from diko_shared.story import Decide, Hook, Story, StoryResult
from diko_shared.story_cast import COMPANY
from harness.bus import Bus
from harness.mailpit import Mailpit
from harness.stack import SessionStack
from harness.waiting import eventually

from .accept import accept_by_link
from .conftest import PODCAST, System

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
APPROVAL_LINK = re.compile(r"https?://\S+/posts/freigabe/[^\s\"<>]+")


async def play(stack: SessionStack, decide: Decide | None = None, **hooks: Hook) -> StoryResult:
    """The story with a staff member of its own, so that its e-mails can be told apart."""
    async with Story(
        stack.amqp_url,
        timeout=90,
        say=lambda _: None,
        staff_email=f"birte.albrecht+{secrets.token_hex(3)}@diko.example",
        decide=decide,
    ) as story:
        return await story.play(hooks)


async def test_the_story_happens_and_leaves_its_traces(
    stack: SessionStack, system: System, bus: Bus, mailpit: Mailpit
) -> None:
    story = await play(stack, decide=accept_by_link(mailpit, bus))
    assert story.run == 1, "the module's first story registers the company"

    # stored state, through the queries of the contract
    company = await bus.ok(GetCompany(company_id=story.company_id))
    assert company["name"] == "Tischlerei Müller & Söhne GmbH"
    assert company["address"]["town"] == "Stendal"
    [position] = company["positions"]
    assert (position["status"], position["places_taken"]) == ("filled", 1)
    filled = await bus.ok(SearchPositions(company_id=story.company_id, status="filled"))
    assert [p["position_id"] for p in filled["positions"]] == [story.position_id]
    applicant = await bus.ok(GetApplicant(applicant_id=story.applicant_id))
    assert applicant["home_town"] == "Osterburg (Altmark)"
    shortlist = await bus.ok(GetShortlist(position_id=story.position_id))
    accepted = [c for c in shortlist["candidates"] if c["status"] == "accepted"]
    assert [c["applicant"]["applicant_id"] for c in accepted] == [story.applicant_id]

    # the e-mails, read back through Mailpit
    mails = await mailpit.wait_for(f"to:{story.staff_email}", count=3)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == [
        "Ausbildungsstelle besetzt: Tischler/in bei Tischlerei Müller & Söhne GmbH (Stendal)",
        "Neue Podcastfolge: „DIKO trifft… die Tischlerei Müller in Stendal“",
        "Neuer Vorschlag für Tischler/in bei Tischlerei Müller & Söhne GmbH (Stendal)",
    ]
    proposal_mail = next(m for m in mails if "Vorschlag" in m["Subject"])
    message = await mailpit.message(proposal_mail["ID"])
    assert [to["Address"] for to in message["To"]] == [story.staff_email]
    text = message["Text"]
    assert "Hallo Birte Albrecht" in text
    assert "Lena Schröder aus Osterburg (Altmark)" in text
    assert "bis zum Ausbildungsort Stendal sind es 21\u00a0km" in text
    assert "Als Wunschberuf ist nur Tischler/in angegeben." in text
    assert text.count("/actions/") == 2  # accept and decline
    assert "Lena Schröder" in message["HTML"]

    # the post image, served over HTTP
    async with httpx.AsyncClient(timeout=10) as http:
        image = await http.get(story.post_image_url)
        feed_xml = (await http.get(story.feed_url)).text
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (1080, 1350)

    # the podcast feed
    feed = feedparser.parse(feed_xml)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == PODCAST["DIKO_PODCAST_TITLE"]
    [entry] = [e for e in feed.entries if e.id == story.episode_id]
    assert entry.title == "DIKO trifft… die Tischlerei Müller in Stendal"
    assert entry.enclosures[0]["type"] == "audio/mpeg"
    audio_bytes = len(silent_mp3(1769))  # what the story uploads: the episode's length
    assert entry.enclosures[0]["length"] == str(audio_bytes)
    channel = ET.fromstring(feed_xml).find("channel")
    assert channel is not None
    assert channel.findtext("title") == PODCAST["DIKO_PODCAST_TITLE"]
    assert channel.findtext("description") == PODCAST["DIKO_PODCAST_DESCRIPTION"]
    assert channel.findtext("language") == "de"
    for tag in ("image", "category", "explicit", "owner", "author"):
        assert channel.find(f"{ITUNES}{tag}") is not None, tag
    owner_email = channel.findtext(f"{ITUNES}owner/{ITUNES}email")
    assert owner_email == PODCAST["DIKO_PODCAST_OWNER_EMAIL"]
    item = next(i for i in channel.findall("item") if i.findtext("guid") == story.episode_id)
    for tag in ("guid", "pubDate", "description"):
        assert item.find(tag) is not None, tag
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert enclosure.attrib["type"] == "audio/mpeg"
    assert enclosure.attrib["length"] == str(audio_bytes)
    async with httpx.AsyncClient(timeout=10) as http:
        served = await http.get(enclosure.attrib["url"])
    assert served.status_code == 200
    assert len(served.content) == audio_bytes  # the feed's length is the file media serves
    assert item.findtext(f"{ITUNES}duration") == "1769"
    assert item.findtext(f"{ITUNES}episode") == "1"

    # the episode e-mail links the episode the feed carries, and the podcast page
    episode_mail = next(m for m in mails if "Podcastfolge" in m["Subject"])
    episode_text = (await mailpit.message(episode_mail["ID"]))["Text"]
    assert enclosure.attrib["url"] in episode_text
    assert f"Alle Folgen: {system['media'].base_url}/podcast\r\n" in episode_text

    # every service counted the messages it processed
    for name, queue in (
        ("companies", "companies.company.register"),
        ("matching", "matching.on.position.opened"),
        ("notifications", "notifications.on.match.proposed"),
        ("media", "media.on.position.opened"),
    ):
        assert system[name].metric("diko_messages_total", queue=queue, outcome="processed") >= 1


async def test_the_story_survives_a_duplicate_event_and_a_killed_matching_service(
    stack: SessionStack, system: System, bus: Bus, mailpit: Mailpit
) -> None:
    tap = await bus.tap(pattern="match.proposed")
    matching = system["matching"]
    notifications = system["notifications"]
    duplicates_before = notifications.metric(
        "diko_messages_total", queue="notifications.on.match.proposed", outcome="duplicate"
    )

    async def kill_matching() -> None:
        # SIGKILL right after the broker confirmed applicant.register: matching is handling
        # it (or about to), and has not answered, emitted applicant.registered or proposed.
        matching.kill()
        await asyncio.to_thread(matching.start, timeout=180)

    async def deliver_the_proposal_again() -> None:
        [proposed] = await tap.wait_type("match.proposed")
        await bus.publish_raw("match.proposed", proposed.body, exchange="diko.events")

    starts = matching.starts
    story = await play(
        stack, applicant_sent=kill_matching, proposal_mail=deliver_the_proposal_again
    )
    assert matching.starts == starts + 1
    # The kill came before matching had acknowledged the registration: the restarted
    # process is the one that handled it (or found it done and answered again).
    handled = sum(
        matching.metric("diko_messages_total", queue="matching.applicant.register", outcome=o)
        for o in ("processed", "duplicate")
    )
    assert handled == 1

    async def duplicate_handled() -> bool:
        count = notifications.metric(
            "diko_messages_total", queue="notifications.on.match.proposed", outcome="duplicate"
        )
        return count > duplicates_before

    await eventually(duplicate_handled, what="the repeated match.proposed handled")
    mails = await mailpit.wait_for(f"to:{story.staff_email}", count=3)
    proposal_mails = [m for m in mails if "Vorschlag" in m["Subject"]]
    assert len(proposal_mails) == 1
    assert len(mails) == 3
    deliveries = await bus.ok(ListDeliveries(staff_id=story.staff_id))
    per_event = [(d["event_id"], d["status"]) for d in deliveries["deliveries"]]
    assert len(per_event) == len(set(per_event)) == 3
    assert {status for _, status in per_event} == {"sent"}


async def test_the_company_approves_its_post_through_the_link_in_the_mail(
    stack: SessionStack, system: System, bus: Bus, mailpit: Mailpit
) -> None:
    """The approval e-mail to the company's contact, as Mailpit caught it from
    notifications: its signed link opened over HTTP (nothing decided by the GET), the
    form posted, and the post is approved in media."""
    tap = await bus.tap(pattern="post.*")
    contact = f"to:{COMPANY.contact.email}"
    story = await play(stack)

    async def our_mail() -> tuple[str, httpx.Response] | None:
        """The link among the contact's approval mails whose page shows the story's post
        (every story run drafts posts for the same company, and Mailpit keeps the mails
        of the other modules' media processes, gone by now)."""
        mails = await mailpit.search(contact)
        ours = f"{system['media'].base_url}/posts/freigabe/"
        async with httpx.AsyncClient(timeout=10) as http:
            for summary in mails:
                if "Azubi gesucht" not in summary["Subject"]:
                    continue
                text = (await mailpit.message(summary["ID"]))["Text"]
                for link in APPROVAL_LINK.findall(text):
                    if not link.startswith(ours):
                        continue
                    page = await http.get(link)
                    if f"../{story.post_id}/1.png" in page.text:  # the slide it shows
                        return link, page
        return None

    link, page = await eventually(our_mail, timeout=60, what="the post's approval e-mail")
    assert link.startswith(f"{system['media'].base_url}/posts/freigabe/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    shown = html.unescape(page.text)
    assert "Beitrag freigeben" in shown
    assert story.occupation in shown
    assert (await bus.ok(GetPost(post_id=story.post_id)))["status"] == "draft"

    async with httpx.AsyncClient(timeout=10) as http:
        done = await http.post(link, data={"action": "approve"})
    assert done.status_code == 200, done.text
    assert "freigegeben" in html.unescape(done.text)
    [approved] = await tap.wait_for(
        lambda m: m.routing_key == "post.approved" and m.data["post_id"] == story.post_id
    )
    assert approved.data["via"] == "link"
    assert "approved_by" not in approved.data  # version 2: the post's record keeps who
    post = await bus.ok(GetPost(post_id=story.post_id))
    assert post["status"] == "approved"
    assert post["approved_by"] == "Ansprechperson des Betriebs (Link in der E-Mail)"


async def test_the_story_leaves_the_company_with_its_episode_on_the_website(
    stack: SessionStack, system: System
) -> None:
    """`diko demo`'s story consents to the website and publishes the presentation: the
    company's page shows the company, its own words and the episode; the position, open
    during the story (step 4 waited for it on the page), is filled and gone."""
    story = await play(stack)
    assert story.site_url == f"{system['media'].base_url}/site/betriebe/{story.company_id}"
    async with httpx.AsyncClient(timeout=10) as http:
        page = await http.get(story.site_url)
        position = await http.get(f"{system['media'].base_url}/site/stellen/{story.position_id}")
    assert page.status_code == 200
    shown = html.unescape(page.text)
    assert f"<h1>{story.company_name}</h1>" in shown
    assert "Wir sind eine Tischlerei mit zwölf Leuten in Stendal." in shown
    assert story.episode_title in shown
    assert story.position_id not in shown
    assert position.status_code == 404
