"""The podcast's pages rendered from episodes, without a server: what listeners read."""

from __future__ import annotations

from datetime import UTC, datetime

from diko_media.podcast.page import berlin_date, minutes, render_episode_page, render_page
from media_samples import CHANNEL, COMPANY, CONTACT, SITE, VTT, company, document, listing

NBSP = "\u00a0"


def test_days_are_told_in_berlin() -> None:
    assert berlin_date(datetime(2026, 11, 26, 23, 30, tzinfo=UTC)) == f"27.{NBSP}November 2026"
    assert berlin_date(datetime(2026, 7, 1, 21, 59, tzinfo=UTC)) == f"1.{NBSP}Juli 2026"
    assert berlin_date(datetime(2026, 7, 1, 22, 0)) == f"2.{NBSP}Juli 2026"  # naive: UTC


def test_lengths_are_whole_minutes() -> None:
    assert minutes(1769) == f"29{NBSP}Minuten"
    assert minutes(20) == f"1{NBSP}Minute"


def test_only_published_episodes_newest_first_every_value_escaped() -> None:
    documents = [
        document(1, description='<script>alert("x")</script>'),
        document(2, title="Müller <b>& Söhne"),
        document(3, status="draft", published_at=None),
    ]
    html = render_page(CHANNEL, listing(documents)).decode()
    assert html.index(documents[1]["_id"]) < html.index(documents[0]["_id"])
    assert documents[2]["_id"] not in html
    assert "Müller &lt;b&gt;&amp; Söhne" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "Noch ist keine Folge erschienen." in render_page(CHANNEL, []).decode()


def test_the_overview_links_every_episode_to_its_page() -> None:
    html = render_page(CHANNEL, listing([document(1)])).decode()
    assert f'href="https://media.diko.example/podcast/folgen/epi_{1:020x}"' in html


def test_the_episode_page_shows_notes_chapters_transcript_and_the_guests_company() -> None:
    episode = document(
        4,
        show_notes="<p>Ein <strong>Betrieb</strong> mit Zukunft.</p><script>alert(1)</script>"
        '<p onclick="x()">Klick</p>',
        company_id=COMPANY,
        persons=[
            {"name": "Birte Albrecht", "role": "host"},
            {"name": "Jana Müller", "role": "guest", "contact_id": CONTACT, "company_id": COMPANY},
        ],
        chapters=[{"start_s": 0, "title": "Begrüßung"}, {"start_s": 95.5, "title": "Ausbildung"}],
        transcript={"format": "text/vtt", "text": VTT},
    )
    (listed,) = listing([episode], [company(podcast="given", website="given")])
    html = render_episode_page(CHANNEL, listed).decode()
    assert "<p>Ein <strong>Betrieb</strong> mit Zukunft.</p>" in html
    assert "alert(1)" not in html
    assert "onclick" not in html
    assert "Jana Müller</strong> – zu Gast" in html
    assert f'<a href="{SITE}/betriebe/{COMPANY}">Tischlerei Müller GmbH</a>' in html
    assert "1:35</span>Ausbildung" in html
    assert '<span class="speaker">Jana Müller:</span> Danke für die Einladung.' in html
    assert "Stendal" in html
    assert '<audio id="player" controls' in html


def test_without_consent_the_guest_is_not_named_and_the_company_not_linked() -> None:
    episode = document(
        4,
        company_id=COMPANY,
        persons=[{"name": "Jana Müller", "role": "guest", "contact_id": CONTACT,
                  "company_id": COMPANY}],
    )  # fmt: skip
    (listed,) = listing([episode], [company(podcast="withdrawn", website="withdrawn")])
    html = render_episode_page(CHANNEL, listed).decode()
    assert "Jana Müller" not in html
    assert "/betriebe/" not in html
    assert "Tischlerei Müller GmbH" in html  # the episode's company, not a person


def test_the_same_episodes_give_the_same_bytes() -> None:
    assert render_page(CHANNEL, listing([document(1), document(2)])) == render_page(
        CHANNEL, listing([document(2), document(1)])
    )
