"""A podcast channel, episode documents and companies as the feed and page tests build them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from diko_media.links import Links
from diko_media.podcast.episodes import Listed, listed
from diko_media.podcast.feed import Channel
from diko_media.settings import PODCAST_DESCRIPTION

BASE = "https://media.diko.example"
SITE = "https://www.diko.example"
LINKS = Links(BASE, site=SITE)
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
    region="Altmark",
)
COMPANY = "cmp_0000000000000000000a"
CONTACT = "cnt_0000000000000000000b"
VTT = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n<v Birte Albrecht>Willkommen bei DIKO trifft!\n\n"
    "00:00:04.000 --> 00:00:09.500\n<v Jana Müller>Danke für die Einladung.\n"
)


def document(number: int, **changes: Any) -> dict[str, Any]:
    """Published episode `number` (1–28: its day in November 2026) as media stores it."""
    data: dict[str, Any] = {
        "_id": f"epi_{number:020x}",
        "title": f"DIKO trifft… Folge {number}",
        "description": f"Folge {number}: ein Betrieb aus der Altmark erzählt, wie er ausbildet.",
        "show_notes": None,
        "audio": {
            "id": f"aud_{number:020x}",
            "type": "audio/mpeg",
            "extension": "mp3",
            "size": 28_311_552 + number,
            "duration_s": 1769,
            "sha256": "0" * 64,
        },
        "image": None,
        "company_id": None,
        "episode_number": number,
        "season": None,
        "explicit": False,
        "persons": [],
        "chapters": [],
        "transcript": None,
        "status": "published",
        "published_at": datetime(2026, 11, number, 8, 30, tzinfo=UTC),
    }
    return {**data, **changes}


def company(*, podcast: str | None = None, website: str | None = None, **more: Any) -> dict:
    """The copy media keeps of the company of episode guests."""
    record: dict[str, Any] = {"_id": COMPANY, "name": "Tischlerei Müller GmbH", "town": "Stendal"}
    if website:
        record["consents"] = {"website": {"status": website}}
    if podcast:
        record["contacts"] = {CONTACT: {"consents": {"podcast": {"status": podcast}}}}
    return {**record, **more}


def listing(documents: list[dict[str, Any]], companies: list[dict] | None = None) -> list[Listed]:
    by_id = {c["_id"]: c for c in companies or []}
    return [item for item in (listed(d, by_id, LINKS) for d in documents) if item]
