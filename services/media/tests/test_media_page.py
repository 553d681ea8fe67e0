"""The podcast page rendered from episodes, without a server: what listeners read."""

from __future__ import annotations

from datetime import UTC, datetime

from diko_media.podcast.page import berlin_date, minutes, render_page
from media_samples import CHANNEL, episode

NBSP = "\u00a0"


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
