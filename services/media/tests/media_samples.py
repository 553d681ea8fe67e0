"""A podcast channel and its episodes as the feed and page tests build them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from diko_media.podcast.feed import Channel
from diko_media.settings import PODCAST_DESCRIPTION
from diko_shared.contract.media import Episode

BASE = "https://media.diko.example"
CHANNEL = Channel(
    title="DIKO trifft…",
    description=PODCAST_DESCRIPTION,
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
    """Published episode `number` (1–28: its day in November 2026); `changes` override."""
    data: dict[str, Any] = {
        "episode_id": f"epi_{number:020x}",
        "title": f"DIKO trifft… Folge {number}",
        "description": f"Folge {number}: ein Betrieb aus der Altmark erzählt, wie er ausbildet.",
        "audio_url": f"{BASE}/audio/folge-{number}.mp3",
        "audio_bytes": 28_311_552 + number,
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
