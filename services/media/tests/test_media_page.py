"""The podcast page rendered from episodes, without a server: what listeners read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from diko_media.podcast.feed import Channel
from diko_media.podcast.page import berlin_date, minutes, render_page
from diko_shared.contract.media import Episode

NBSP = "\u00a0"
BASE = "https://media.diko.example"
CHANNEL = Channel(
    title="DIKO trifft…",
    description="Betriebe aus der Altmark erzählen, wie sie ausbilden.",
    link=f"{BASE}/podcast",
    feed_url=f"{BASE}/podcast/feed.xml",
    image_url=f"{BASE}/podcast/cover.png",
    author="DIKO Altmark",
    owner_name="DIKO Altmark",
    owner_email="podcast@diko.example",
    category="Business",
    subcategory="Careers",
    explicit=False,
    copyright="© DIKO Altmark",
)


def episode(number: int, **changes: Any) -> Episode:
    data: dict[str, Any] = {
        "episode_id": f"epi_{number:020x}",
        "title": f"DIKO trifft… Folge {number}",
        "description": f"Folge {number}: ein Betrieb aus der Altmark erzählt, wie er ausbildet.",
        "audio_url": f"{BASE}/audio/folge-{number}.mp3",
        "audio_bytes": 28_311_552,
        "audio_type": "audio/mpeg",
        "duration_s": 1769,
        "company_id": None,
        "episode_number": number,
        "season": None,
        "explicit": False,
        "image_url": None,
        "status": "published",
        "published_at": datetime(2026, 11, number, 8, 30, tzinfo=UTC),
    }
    return Episode(**{**data, **changes})


def test_days_are_told_in_berlin() -> None:
    assert berlin_date(datetime(2026, 11, 26, 23, 30, tzinfo=UTC)) == f"27.{NBSP}November 2026"
    assert berlin_date(datetime(2026, 7, 1, 21, 59, tzinfo=UTC)) == f"1.{NBSP}Juli 2026"
    assert berlin_date(datetime(2026, 7, 1, 22, 0)) == f"2.{NBSP}Juli 2026"  # naive: UTC


def test_lengths_are_whole_minutes() -> None:
    assert minutes(1769) == f"29{NBSP}Minuten"
    assert minutes(20) == f"1{NBSP}Minute"


def test_only_published_episodes_newest_first_every_value_escaped() -> None:
    episodes = [
        episode(1, description='<script>alert("x")</script>'),
        episode(2, title="Müller <b>& Söhne"),
        episode(3, status="draft", published_at=None),
    ]
    html = render_page(CHANNEL, episodes).decode()
    assert html.index(episodes[1].episode_id) < html.index(episodes[0].episode_id)
    assert episodes[2].episode_id not in html
    assert "Müller &lt;b&gt;&amp; Söhne" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "Noch ist keine Folge erschienen" not in html
    assert "Noch ist keine Folge erschienen." in render_page(CHANNEL, episodes[2:]).decode()


def test_the_same_episodes_give_the_same_bytes() -> None:
    assert render_page(CHANNEL, [episode(1), episode(2)]) == render_page(
        CHANNEL, [episode(2), episode(1)]
    )
