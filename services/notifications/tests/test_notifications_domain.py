"""The notifications service's pure rules and templates, without any server."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from html import unescape
from pathlib import Path

import pytest

from diko_notifications import delivery, domain, proposals
from diko_notifications.delivery import Fate, SendResult
from diko_notifications.domain import Action, ActionLinks, LinkExpired, LinkInvalid
from diko_notifications.mail import UNBUILDABLE, compose, unbuildable
from diko_notifications.recipients import Recipient
from diko_notifications.render import render_letter, render_page
from diko_notifications.settings import load_settings
from diko_shared.brand import COLOURS, FONT_STACK, LOGO_MAIL_PNG
from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import PositionFilled
from diko_shared.contract.envelope import Envelope, new_envelope
from diko_shared.contract.matching import (
    MatchProposed,
    Proposal,
    ProposedApplicant,
    ProposedPosition,
    Reason,
)
from diko_shared.contract.media import EpisodePublished
from diko_shared.contract.notifications import RegisterStaff
from diko_shared.messaging.errors import Conflict, DomainError
from diko_shared.settings import SettingsError

SECRET = "a-test-secret-that-is-long-enough-for-the-settings"
BASE_URL = "http://127.0.0.1:18003"
STAFF = Recipient("stf_" + "a" * 20, "staff", "Birte Albrecht", "birte.albrecht@diko.example")
TISCHLER = Occupation(code="22342", name="Tischler/in")


def position(company: str = "Tischlerei Müller GmbH", number: int = 1) -> ProposedPosition:
    return ProposedPosition(
        position_id=f"pos_{number:020x}",
        company_id=f"cmp_{number:020x}",
        company_name=company,
        occupation=TISCHLER,
        town="Stendal",
        start_date=date(2027, 8, 1),
    )


def proposal(
    number: int, name: str, town: str, score: float, where: ProposedPosition | None = None
) -> Proposal:
    return Proposal(
        proposal_id=f"prp_{number:020x}",
        position=where or position(),
        applicant=ProposedApplicant(applicant_id=f"apl_{number:020x}", name=name, home_town=town),
        score=score,
        rank=number,
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
                score=0.8,
                weight=0.3,
                text=f"Stendal liegt 24 km von {town} entfernt, in erreichbarer Nähe.",
            ),
        ],
    )


def position_filled(places: int) -> PositionFilled:
    """The Tischler/in position at Tischlerei Müller in Stendal, all `places` taken."""
    return PositionFilled(
        position_id="pos_" + "1" * 20,
        company_id="cmp_" + "1" * 20,
        company_name="Tischlerei Müller GmbH",
        occupation=TISCHLER,
        places=places,
        town="Stendal",
        start_date=date(2027, 8, 1),
    )


def shortlist(company: str = "Tischlerei Müller GmbH") -> MatchProposed:
    where = position(company)
    return MatchProposed(
        trigger="position",
        subject_id=where.position_id,
        proposals=[
            proposal(2, "Jörg Weiß", "Tangerhütte", 0.642, where),
            proposal(1, "Lena Schröder", "Osterburg", 0.87, where),
        ],
    )


def links(clock: float = 1_800_000_000.0, days: int = 14) -> ActionLinks:
    return ActionLinks(SECRET, BASE_URL, timedelta(days=days), clock=lambda: clock)


# -- staff and subscriptions -----------------------------------------------------------------


def test_an_address_is_unique_whatever_its_case_and_spaces() -> None:
    assert domain.email_key("  Birte.Albrecht@DIKO.example ") == "birte.albrecht@diko.example"


def test_a_second_registration_of_an_address_names_the_first() -> None:
    data = RegisterStaff(name="Birte Albrecht", email="birte@diko.example")
    staff = domain.register(data, "stf_" + "b" * 20)
    assert (staff.name, staff.email, staff.role) == ("Birte Albrecht", "birte@diko.example", None)

    conflict = domain.duplicate_email("birte@diko.example", "stf_" + "c" * 20)
    assert isinstance(conflict, Conflict)
    assert "stf_" + "c" * 20 in conflict.message
    assert conflict.details[0].field == "data.email"


def test_dates_and_scores_are_written_the_german_way() -> None:
    assert domain.german_date(date(2027, 3, 1)) == "1.\u00a0März 2027"
    late_in_winter = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # 00:30 in Berlin (CET)
    assert domain.berlin_date(late_in_winter) == "27.\u00a0November 2026"
    assert domain.berlin_date(late_in_winter.replace(tzinfo=None)) == "27.\u00a0November 2026"
    assert domain.berlin_date(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == "1.\u00a0Juli 2026"
    assert domain.berlin_date(datetime(2026, 6, 30, 21, 59, tzinfo=UTC)) == "30.\u00a0Juni 2026"
    assert domain.percent(0.87) == "87\u00a0%"
    assert domain.percent(0.642) == "64\u00a0%"
    assert domain.percent(1.0) == "100\u00a0%"


def test_the_subject_of_a_shortlist_names_the_position() -> None:
    assert (
        domain.proposal_subject(shortlist())
        == "Neue Vorschläge für Tischler/in bei Tischlerei Müller GmbH (Stendal)"
    )
    single = MatchProposed(
        trigger="position",
        subject_id=position().position_id,
        proposals=[proposal(1, "Lena Schröder", "Osterburg", 0.9)],
    )
    assert domain.proposal_subject(single).startswith("Neuer Vorschlag für Tischler/in")


def test_the_subject_for_an_applicant_names_the_town_but_not_the_person() -> None:
    event = MatchProposed(
        trigger="applicant",
        subject_id="apl_" + "1" * 20,
        proposals=[
            proposal(1, "Lena Schröder", "Osterburg", 0.9, position("Bäckerei Kruse", 3)),
            proposal(1, "Lena Schröder", "Osterburg", 0.7, position("Autohaus Schulz", 4)),
        ],
    )
    subject = domain.proposal_subject(event)
    assert subject == "Neue Vorschläge: 2 Ausbildungsstellen für eine Bewerbung aus Osterburg"
    assert "Lena" not in subject


def test_filled_and_episode_subjects() -> None:
    filled = position_filled(places=2)
    assert (
        domain.filled_subject(filled)
        == "Ausbildungsstelle besetzt: Tischler/in bei Tischlerei Müller GmbH (Stendal)"
    )
    episode = EpisodePublished(
        episode_id="epi_" + "1" * 20,
        title="Holz, Hobel, Handwerk",
        feed_url="https://diko.example/podcast/feed.xml",
        published_at=datetime(2026, 11, 26, 10, tzinfo=UTC),
    )
    assert domain.episode_subject(episode) == "Neue Podcastfolge: „Holz, Hobel, Handwerk“"


# -- rendering -------------------------------------------------------------------------------


def test_a_proposal_mail_says_who_which_position_why_with_two_links_each() -> None:
    signer = links()
    mail = render_letter(domain.letter(shortlist(), STAFF, signer), STAFF)

    for body in (mail.text, unescape(mail.html)):
        assert "Hallo Birte Albrecht," in body
        for text in ("Lena Schröder", "Osterburg", "Jörg Weiß", "Tangerhütte"):
            assert text in body
        assert "Tischlerei Müller GmbH" in body
        assert "1.\u00a0August 2027" in body
        assert "87\u00a0%" in body
        assert "64\u00a0%" in body
        assert "Tischler/in ist der erste Berufswunsch." in body
        assert "Stendal liegt 24 km von Osterburg entfernt, in erreichbarer Nähe." in body
        for number in (1, 2):
            for decision in ("accept", "decline"):
                action = Action(f"prp_{number:020x}", decision, STAFF.staff_id)
                assert signer.url(action) in body
    assert mail.text.index("Lena Schröder") < mail.text.index("Jörg Weiß"), "best first"
    assert (
        "für die Ausbildungsstelle als Tischler/in bei Tischlerei Müller GmbH in Stendal "
        "gibt es zwei neue Vermittlungsvorschläge." in mail.text
    )
    assert "Die Links gelten 14\u00a0Tage." in mail.text
    assert "weil Sie für diese Ausbildungsstelle zuständig sind" in mail.text
    one_day = render_letter(domain.letter(shortlist(), STAFF, links(days=1)), STAFF)
    assert "Die Links gelten einen Tag." in one_day.html
    assert "Vorschlag annehmen" in mail.html
    assert "Vorschlag ablehnen" in mail.html


def test_names_are_escaped_in_html_and_left_alone_in_plain_text() -> None:
    company = "<script>alert('x')</script> Müller & Söhne"
    mail = render_letter(domain.letter(shortlist(company), STAFF, links()), STAFF)

    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert('x')&lt;/script&gt; Müller &amp; Söhne" in mail.html
    assert company in mail.text
    assert company in mail.subject


def test_a_filled_position_is_told_in_one_sentence_and_more_places_in_a_second() -> None:
    one = render_letter(domain.letter(position_filled(places=1), STAFF, links()), STAFF)
    two = render_letter(domain.letter(position_filled(places=2), STAFF, links()), STAFF)
    three = render_letter(domain.letter(position_filled(places=3), STAFF, links()), STAFF)
    said = (
        "die Ausbildungsstelle als Tischler/in bei Tischlerei Müller GmbH in Stendal ist besetzt."
    )
    for mail in (one, two, three):
        for body in (mail.text, " ".join(re.sub("<[^>]+>", "", mail.html).split())):
            assert said in body
    assert f"{said}\n\n   Betrieb:" in one.text, "nothing after it for one place"
    assert f"{said} Beide Ausbildungsplätze sind vergeben." in two.text
    assert f"{said} Alle drei Ausbildungsplätze sind vergeben." in three.text
    assert "Platz ist vergeben" not in one.text + one.html


FEED = "https://media.diko.example/podcast/feed.xml"
AUDIO = "https://media.diko.example/podcast/folge-22.mp3"
PAGE = "https://media.diko.example/podcast"
PUBLISHED = EpisodePublished(
    episode_id="epi_" + "1" * 20,
    title="Holz, Hobel, Handwerk",
    feed_url=FEED,
    published_at=datetime(2026, 11, 26, 23, 30, tzinfo=UTC),
    description="Jana Müller erzählt, wie ihr Betrieb ausbildet – und was Azubis erwartet.",
    audio_url=AUDIO,
    duration_s=1769,
    page_url=PAGE,
)
#: `episode.published` as a media from before the event carried the episode sent it.
OLDER_MEDIA = {
    "episode_id": "epi_" + "2" * 20,
    "title": "Holz, Hobel, Handwerk",
    "company_id": None,
    "feed_url": FEED,
    "published_at": "2026-11-26T23:30:00Z",
}
HREF = re.compile(r'href="([^"]+)"')


def test_the_episode_mail_links_the_audio_and_the_page_and_names_the_feed() -> None:
    mail = render_letter(domain.letter(PUBLISHED, STAFF, links()), STAFF)
    for body in (mail.text, unescape(mail.html)):
        assert "„Holz, Hobel, Handwerk“" in body
        assert "am 27.\u00a0November 2026" in body, "the day in Berlin, not in UTC"
        assert "Jana Müller erzählt, wie ihr Betrieb ausbildet" in body
        assert "29\u00a0Minuten" in body
        assert AUDIO in body
        assert f"mit dieser Feed-Adresse abonnieren: {FEED}" in " ".join(body.split())
    assert HREF.findall(mail.html) == [AUDIO, PAGE], "people open the audio and the page, not XML"
    assert f"Folge anhören (29\u00a0Minuten):\n{AUDIO}\n\nAlle Folgen: {PAGE}\n" in mail.text


def test_an_episode_published_by_an_older_media_still_validates() -> None:
    """The contract only grows: events queued or sent before the new fields still read."""
    body = json.dumps(new_envelope("episode.published", OLDER_MEDIA, source="media"))
    envelope = Envelope[EpisodePublished].model_validate_json(body)
    event = envelope.data
    assert (event.description, event.audio_url, event.duration_s, event.page_url) == (None,) * 4


def test_an_episode_without_its_audio_is_mailed_with_the_feed_only() -> None:
    event = EpisodePublished.model_validate_json(json.dumps(OLDER_MEDIA))
    mail = render_letter(domain.letter(event, STAFF, links()), STAFF)
    for body in (mail.text, unescape(mail.html)):
        assert "„Holz, Hobel, Handwerk“" in body
        assert "am 27.\u00a0November 2026" in body
        assert "Folge anhören" not in body
        assert "Alle Folgen" not in body
        assert FEED in body
    assert HREF.findall(mail.html) == []


def test_how_long_a_link_lasts_is_told_in_whole_days_or_hours() -> None:
    assert domain.lifetime(14 * 86_400) == "14\u00a0Tage"
    assert domain.lifetime(86_400) == "einen Tag"
    assert domain.lifetime(43_200) == "12\u00a0Stunden"
    assert domain.lifetime(3_600) == "eine Stunde"


def test_durations_are_told_in_minutes() -> None:
    assert domain.minutes(1769) == "29\u00a0Minuten"
    assert domain.minutes(20) == "1\u00a0Minute"
    assert domain.minutes(90) == "2\u00a0Minuten"


#: The brand written any other way than „DIKO“: `diko` as a word, not in an address or id.
OFF_BRAND = re.compile(r"(?<![@./\w])diko(?![.\w-])", re.IGNORECASE)
HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}\b")
SUMMARY = proposals.ProposalSummary(
    proposal_id="prp_" + "1" * 20,
    applicant="Lena Schröder",
    home_town="Osterburg (Altmark)",
    occupation="Tischler/in",
    company="Müller <b>& Söhne",
    town="Stendal",
    position_id="pos_" + "1" * 20,
)
OTHER = "stf_" + "b" * 20
DECIDED_AT = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)  # 14:05 in Berlin


def viewer(decision: domain.Decision = "accept", **names: str) -> domain.Viewer:
    return domain.Viewer(Action(SUMMARY.proposal_id, decision, STAFF.staff_id), names)


def record(
    status: proposals.Status | None = None, by: str | None = OTHER, **changes: object
) -> proposals.ProposalRecord:
    decision = proposals.DecisionRecord(status, by, DECIDED_AT) if status else None
    fields: dict[str, object] = {"summary": SUMMARY, "decision": decision, **changes}
    return proposals.ProposalRecord(SUMMARY.proposal_id, **fields)  # type: ignore[arg-type]


def page_html(page: domain.Page) -> str:
    return render_page("action.html", {"page": page, "brand_root": "../brand"})


def every_page() -> list[domain.Page]:
    open_ = record()
    return [
        domain.LINK_INVALID,
        domain.UNCONFIRMED,
        domain.NOT_SENT,
        domain.confirm_page(open_, viewer()),
        domain.confirm_page(None, viewer("decline")),
        domain.confirm_page(record("accepted"), viewer("decline", **{OTHER: "Birte Albrecht"})),
        domain.confirm_page(record(position_filled=True), viewer()),
        domain.expired_page(record("declined"), viewer(), "14\u00a0Tage"),
        domain.expired_page(None, None, "14\u00a0Tage"),
        domain.answer_page({"ok": False, "error": {"code": "not_found"}}, None, viewer()),
        domain.answer_page({"ok": False, "error": {"code": "conflict"}}, open_, viewer()),
    ]


def test_every_mail_and_page_says_diko_altmark_as_the_brand_is_written() -> None:
    filled = position_filled(places=1)
    mails = [
        render_letter(domain.letter(event, STAFF, links()), STAFF)
        for event in (shortlist(), filled)
    ]
    bodies = [body for mail in mails for body in (mail.text, unescape(mail.html))]
    pages = [page_html(page) for page in every_page()]
    for text in (*bodies, *pages):
        assert "DIKO Altmark" in text
        assert [m.group() for m in OFF_BRAND.finditer(text) if m.group() != "DIKO"] == []


def test_mails_and_pages_use_the_brands_colours_only() -> None:
    """Colours in an e-mail are inline (mail clients ignore style sheets); pages take theirs
    from the brand's style sheet, as custom properties, and name no colour of their own."""
    brand = {value.upper() for value in COLOURS.values()}
    events = (shortlist(), position_filled(places=1), PUBLISHED)
    for event in events:
        html = render_letter(domain.letter(event, STAFF, links()), STAFF).html
        used = {c.upper() for c in HEX_COLOUR.findall(html)}
        assert used, html
        assert used <= brand, used - brand
        assert f"background: {COLOURS['nachtblau']}" in html
        assert f"font-family: {FONT_STACK}" in unescape(html)
        assert 'src="cid:logo@diko-altmark.brand" alt="DIKO Altmark"' in html
    for page in every_page():
        html = page_html(page)
        assert HEX_COLOUR.findall(html) == []
        assert '<link rel="stylesheet" href="../brand/brand.css">' in html
        assert '<img src="../brand/logo.svg" alt="DIKO Altmark"' in html


def test_an_open_proposal_asks_first_and_names_who_and_which_position() -> None:
    page = domain.confirm_page(record(), viewer())
    assert (page.status, page.title, page.form) == (200, "Vorschlag annehmen?", "accept")
    html = page_html(page)
    assert "Sie sind dabei, diesen Vorschlag anzunehmen:" in html
    assert "<strong>Lena Schröder</strong> aus Osterburg (Altmark)" in html
    assert "<th>Betrieb</th><td>Müller &lt;b&gt;&amp; Söhne</td>" in html
    assert '<form method="post">' in html
    assert '<button type="submit">Vorschlag annehmen</button>' in html
    assert html.count(SUMMARY.proposal_id) == 1
    assert f'<p class="small">Referenz: {SUMMARY.proposal_id}</p>' in html
    assert "das Öffnen des Links allein ändert nichts" in html

    declining = page_html(domain.confirm_page(record(), viewer("decline")))
    assert '<button type="submit" class="decline">Vorschlag ablehnen</button>' in declining

    unknown = domain.confirm_page(None, viewer())
    assert unknown.form == "accept"
    assert unknown.proposal is None
    assert unknown.message == (
        f"Sie sind dabei, den Vorschlag mit der Referenz {SUMMARY.proposal_id} anzunehmen. "
        "Um wen und um welche Stelle es geht, steht in der E-Mail, aus der Sie diesen Link "
        "geöffnet haben."
    )


def test_a_decided_proposal_says_who_decided_and_when_and_offers_nothing_else() -> None:
    by_other = domain.confirm_page(
        record("accepted"), viewer("decline", **{OTHER: "Birte Albrecht"})
    )
    assert (by_other.status, by_other.title, by_other.form) == (200, "Vorschlag angenommen", None)
    assert by_other.message == (
        "Birte Albrecht hat diesen Vorschlag am 3.\u00a0Dezember 2026 um 14:05\u00a0Uhr angenommen."
    )
    assert by_other.detail == "Ablehnen ist nicht mehr möglich: Es gilt die erste Entscheidung."
    assert "<form" not in page_html(by_other)

    mine = domain.confirm_page(record("declined", by=STAFF.staff_id), viewer("decline"))
    assert mine.title == "Vorschlag abgelehnt"
    assert mine.message.startswith("Sie haben diesen Vorschlag am 3.\u00a0Dezember 2026 um ")
    assert mine.detail == ""
    nobody = domain.confirm_page(record("declined", by=None), viewer())
    assert nobody.message.startswith("Dieser Vorschlag wurde am 3.\u00a0Dezember 2026 um ")
    assert nobody.message.endswith("Uhr abgelehnt.")


def test_a_full_position_is_not_offered_for_accepting_but_still_for_declining() -> None:
    full = record(position_filled=True)
    accepting = domain.confirm_page(full, viewer())
    assert (accepting.title, accepting.form) == ("Stelle schon besetzt", None)
    declining = domain.confirm_page(full, viewer("decline"))
    assert declining.form == "decline"
    assert "Die Ausbildungsstelle ist inzwischen besetzt." in declining.notes
    assert domain.settled_page(full, viewer()) == domain.filled_page(full, status=409)
    assert domain.settled_page(full, viewer("decline")) is None


def test_a_post_on_a_decided_proposal_sends_nothing_and_says_so() -> None:
    assert domain.settled_page(record(), viewer()) is None
    assert domain.settled_page(None, viewer()) is None
    again = domain.settled_page(record("accepted", by=STAFF.staff_id), viewer())
    assert again is not None
    assert (again.status, again.title) == (200, "Vorschlag angenommen")
    assert again.notes == (
        "Über den Vorschlag war bereits entschieden; dieser Klick hat nichts geändert.",
    )
    other = domain.settled_page(record("accepted"), viewer("decline"))
    assert other is not None
    assert (other.status, other.title) == (409, "Vorschlag angenommen")


def test_the_page_for_each_answer_of_matching() -> None:
    ok = {"ok": True, "data": {"proposal_id": SUMMARY.proposal_id, "status": "accepted"}}
    mine = domain.answer_page(ok, record("accepted", by=STAFF.staff_id), viewer())
    assert (mine.status, mine.title, mine.notes) == (200, "Vorschlag angenommen", ())
    assert mine.message.startswith("Sie haben diesen Vorschlag am ")
    earlier = domain.answer_page(ok, record("accepted"), viewer(**{OTHER: "Birte Albrecht"}))
    assert earlier.message.startswith("Birte Albrecht hat diesen Vorschlag am ")
    assert earlier.notes == (domain.NOTHING_CHANGED,)
    unheard = domain.answer_page(ok, record(), viewer())
    assert (unheard.status, unheard.message) == (200, "Der Vorschlag ist angenommen.")

    conflict = {"ok": False, "error": {"code": "conflict", "message": "Vorschlag … wurde bereits"}}
    raced = domain.answer_page(conflict, record("declined"), viewer(**{OTHER: "Birte Albrecht"}))
    assert (raced.status, raced.title) == (409, "Vorschlag abgelehnt")
    assert raced.detail == "Annehmen ist nicht mehr möglich: Es gilt die erste Entscheidung."
    blind = domain.answer_page(conflict, record(), viewer())
    assert (blind.status, blind.title) == (409, "Nicht mehr möglich")
    assert blind.message.endswith("oder seine Ausbildungsstelle ist besetzt.")
    assert "wurde bereits" not in page_html(blind), "matching's own text is not shown"
    full = domain.answer_page(conflict, record(position_filled=True), viewer())
    assert (full.status, full.title) == (409, "Stelle schon besetzt")

    unknown = domain.answer_page({"ok": False, "error": {"code": "not_found"}}, None, viewer())
    assert (unknown.status, unknown.title) == (404, "Vorschlag nicht gefunden")
    broken = domain.answer_page({"ok": False, "error": {"code": "internal"}}, None, viewer())
    assert (broken.status, broken.notes) == (502, ("Fehlercode: internal",))
    for page in every_page():
        for sentence in (page.message, page.detail, *page.notes):
            assert not sentence or sentence[-1] in ".:!?", sentence


def test_an_expired_link_decides_nothing_but_says_where_the_proposal_stands() -> None:
    decided = domain.expired_page(
        record("accepted"), viewer(**{OTHER: "Birte Albrecht"}), "14 Tage"
    )
    assert (decided.status, decided.title, decided.form) == (410, "Link abgelaufen", None)
    assert decided.message == "Dieser Link ist abgelaufen: Links aus den E-Mails gelten 14 Tage."
    assert decided.detail.startswith("Birte Albrecht hat diesen Vorschlag am ")
    open_ = domain.expired_page(record(), viewer(), "14 Tage")
    assert open_.detail.startswith("Über den Vorschlag ist noch nicht entschieden.")
    assert domain.expired_page(None, None, "14 Tage").proposal is None


def test_an_expired_link_still_names_its_action() -> None:
    issued = 1_800_000_000.0
    action = Action("prp_" + "1" * 20, "accept", STAFF.staff_id)
    token = links(issued).token(action)
    with pytest.raises(LinkExpired) as expired:
        links(issued + 15 * 86_400).read(token)
    assert expired.value.action == action


def test_summaries_carry_the_position_whose_filling_ends_them() -> None:
    jorg, lena = proposals.summaries(shortlist("Müller <b>& Söhne"))
    assert (lena.applicant, lena.home_town) == ("Lena Schröder", "Osterburg")
    assert (lena.occupation, lena.town) == ("Tischler/in", "Stendal")
    assert lena.company == "Müller <b>& Söhne"
    assert jorg.proposal_id == "prp_" + "2".zfill(20)
    assert lena.position_id == jorg.position_id == position().position_id


def test_a_summary_is_kept_as_long_as_its_links_and_a_day() -> None:
    assert proposals.retention(links(days=14).ttl) == timedelta(days=15)


def test_the_mime_message_carries_both_bodies_and_a_message_id_from_the_delivery() -> None:
    mail = render_letter(domain.letter(shortlist(), STAFF, links()), STAFF)
    message_id = delivery.message_id("dlv_" + "d" * 20, "noreply@diko.example")
    assert message_id == f"<dlv_{'d' * 20}@diko.example>"
    message = compose(
        mail,
        sender="DIKO Altmark <noreply@diko.example>",
        to_name="Jörg Weiß",
        to_address="joerg@diko.example",
        message_id=message_id,
        date=datetime(2026, 11, 26, 10, tzinfo=UTC),
        headers={"X-Diko-Delivery": "dlv_" + "d" * 20},
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)

    assert parsed["Message-ID"] == message_id
    assert parsed["Subject"] == mail.subject
    assert parsed["To"].addresses[0].display_name == "Jörg Weiß"
    assert parsed["Auto-Submitted"] == "auto-generated"
    # Both bodies in canonical form (RFC 2046): every line ends in CRLF.
    assert parsed.get_body(("plain",)).get_content() == mail.text.replace("\n", "\r\n")
    html = parsed.get_body(("html",)).get_content()
    assert html.rstrip("\r\n") == mail.html.replace("\n", "\r\n").rstrip("\r\n")
    [logo] = [part for part in parsed.walk() if part.get_content_type() == "image/png"]
    assert logo["Content-ID"] == "<logo@diko-altmark.brand>"
    assert logo.get_content_disposition() == "inline"
    assert logo.get_content() == LOGO_MAIL_PNG.read_bytes()


def test_a_name_with_a_line_break_cannot_become_a_header_and_that_is_permanent() -> None:
    mail = render_letter(domain.letter(shortlist(), STAFF, links()), STAFF)
    with pytest.raises(UNBUILDABLE) as refused:
        compose(
            mail,
            sender="DIKO Altmark <noreply@diko.example>",
            to_name="Birte\r\nBcc: mallory@evil.example",
            to_address="birte@diko.example",
            message_id="<dlv_1@diko.example>",
            date=datetime(2026, 11, 26, 10, tzinfo=UTC),
            headers={},
        )
    result = unbuildable(refused.value)
    assert result.outcome == "permanent"
    assert result.detail.startswith("the e-mail could not be built: ValueError: ")
    fate = delivery.after_attempt(result, Fate("pending", 0, None), 3)
    assert (fate.status, fate.permanent, fate.attempts) == ("failed", True, 1)


# -- action links ----------------------------------------------------------------------------


def test_a_link_carries_its_action_back() -> None:
    signer = links()
    action = Action("prp_" + "1" * 20, "decline", STAFF.staff_id)
    url = signer.url(action)

    assert url.startswith(f"{BASE_URL}/actions/")
    assert signer.read(url.rsplit("/", 1)[1]) == action


def test_a_link_expires_after_its_lifetime() -> None:
    issued = 1_800_000_000.0
    token = links(issued).token(Action("prp_" + "1" * 20, "accept", STAFF.staff_id))
    lifetime = 14 * 86_400

    assert links(issued + lifetime).read(token).decision == "accept"
    with pytest.raises(LinkExpired):
        links(issued + lifetime + 1).read(token)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.replace(".", ".x", 1),
        lambda _: "not-a-token",
        lambda _: "",
    ],
)
def test_an_altered_link_is_invalid(tamper: object) -> None:
    signer = links()
    token = signer.token(Action("prp_" + "1" * 20, "accept", STAFF.staff_id))
    with pytest.raises(LinkInvalid):
        signer.read(tamper(token))  # type: ignore[operator]


def test_a_link_signed_with_another_secret_is_invalid() -> None:
    other = ActionLinks("another-secret-that-is-long-enough-too!!", BASE_URL, timedelta(days=14))
    token = other.token(Action("prp_" + "1" * 20, "accept", STAFF.staff_id))
    with pytest.raises(LinkInvalid):
        links().read(token)


# -- deliveries ------------------------------------------------------------------------------


def test_what_becomes_of_a_delivery_after_an_attempt() -> None:
    new = Fate("pending", 0, None)
    sent = delivery.after_attempt(SendResult("sent"), new, 3)
    assert (sent.status, sent.attempts, sent.final, sent.retry) == ("sent", 1, True, False)

    refused = delivery.after_attempt(SendResult("permanent", "550 mailbox unavailable"), new, 3)
    assert (refused.status, refused.permanent, refused.error) == (
        "failed",
        True,
        "550 mailbox unavailable",
    )

    once = Fate("pending", 1, "451 try later")
    later = delivery.after_attempt(SendResult("temporary", "451 try later"), once, 3)
    assert (later.status, later.attempts, later.retry, later.final) == ("pending", 2, True, False)

    given_up = delivery.after_attempt(SendResult("temporary", "451 try later"), later, 3)
    assert (given_up.status, given_up.permanent, given_up.exhausted) == ("failed", False, True)


def test_only_a_delivery_that_failed_temporarily_is_tried_again_in_a_new_round() -> None:
    assert Fate("pending", 2, "451").to_send
    assert not Fate("sent", 1, None).to_send, "never twice"
    assert not Fate("failed", 1, "550", permanent=True).to_send
    exhausted = Fate("failed", 3, "ConnectionRefusedError", round_from=0)
    assert exhausted.to_send

    replayed = delivery.after_attempt(SendResult("temporary", "451"), exhausted, 3)
    assert (replayed.status, replayed.attempts, replayed.round_from) == ("pending", 4, 3)
    again = delivery.after_attempt(SendResult("temporary", "451"), replayed, 3)
    assert (again.status, again.attempts) == ("pending", 5)
    third = delivery.after_attempt(SendResult("temporary", "451"), again, 3)
    assert (third.status, third.attempts, third.exhausted) == ("failed", 6, True)
    sent = delivery.after_attempt(SendResult("sent"), exhausted, 3)
    assert (sent.status, sent.attempts, sent.error, sent.to_send) == ("sent", 4, None, False)


def test_an_event_whose_mail_still_fails_goes_to_the_dead_letters_with_what_to_do() -> None:
    error = delivery.undelivered({"stf_1": "ConnectionRefusedError: [Errno 111]"}, ["stf_2: 451"])
    assert isinstance(error, DomainError)
    assert error.code == "internal"
    assert "stf_1: ConnectionRefusedError" in error.message
    assert "1 more not delivered yet" in error.message
    assert error.message.endswith("diko dlq replay notifications")


# -- settings --------------------------------------------------------------------------------


def test_without_a_link_secret_the_service_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .local/stack.env to fall back on
    monkeypatch.setenv("DIKO_AMQP_URL", "amqp://diko:amqp-password@127.0.0.1:5672/diko")
    monkeypatch.setenv("DIKO_MONGO_URL", "mongodb://127.0.0.1:27017/")
    monkeypatch.setenv("DIKO_SMTP_HOST", "127.0.0.1")
    for name in ("DIKO_LINK_SECRET", "DIKO_HTTP_PORT", "DIKO_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError) as missing:
        load_settings()
    assert "DIKO_LINK_SECRET" in str(missing.value)
    assert "amqp-password" not in str(missing.value)

    monkeypatch.setenv("DIKO_LINK_SECRET", "too-short-secret")
    with pytest.raises(SettingsError) as short:
        load_settings()
    assert "DIKO_LINK_SECRET" in str(short.value)
    assert "too-short-secret" not in str(short.value)

    monkeypatch.setenv("DIKO_LINK_SECRET", SECRET)
    settings = load_settings()
    assert SECRET not in repr(settings)
    assert settings.http_port == 8003
    assert settings.sender_address == "noreply@diko.example"
    assert settings.mail_from == "DIKO Altmark <noreply@diko.example>"
