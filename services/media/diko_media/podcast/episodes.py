"""Episodes as media keeps them, and as listeners see them: pure rules, no I/O.

An episode document holds what staff sent (title, notes, persons, chapters, transcript)
and what media read from the files (audio, cover). `listed` turns a published episode
and the copies of its companies into what the feed and the pages show: a guest who is a
company's contact person only with that person's podcast consent, a guest's company
linked to its presentation only with the company's consent to the website, the
episode's place from its company's town.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from diko_media.files import notes
from diko_media.links import Links
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.media import (
    Chapter,
    CreateEpisode,
    Episode,
    EpisodePerson,
    EpisodePublished,
    Transcript,
    UpdateEpisode,
)
from diko_shared.geo.gazetteer import load_gazetteer
from diko_shared.messaging.errors import Invalid, NotFound

#: The fields `episode.update` may change directly (audio and cover come from files).
PLAIN_FIELDS = ("title", "description", "company_id", "episode_number", "season", "explicit")


def unknown_episode(episode_id: str) -> NotFound:
    return NotFound(
        f"Eine Podcastfolge {episode_id} gibt es nicht.",
        [ErrorDetail(field="data.episode_id", problem="unbekannte Podcastfolge")],
    )


def invalid(field: str, message: str) -> Invalid:
    return Invalid(message, [ErrorDetail(field=field, problem=message)])


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- from commands -----------------------------------------------------------------------------


def check_persons(persons: list[EpisodePerson], field: str) -> list[dict[str, Any]]:
    for index, person in enumerate(persons):
        if person.contact_id and not person.company_id:
            raise invalid(
                f"{field}[{index}].company_id",
                f"Für {person.name} fehlt der Betrieb (company_id): ohne ihn lässt sich die "
                "Einwilligung der Ansprechperson nicht prüfen.",
            )
    return [p.model_dump(exclude_none=True) for p in persons]


def check_transcript(transcript: Transcript, field: str) -> dict[str, Any]:
    try:
        notes.cues(transcript)
    except notes.NotesRefused as refused:
        raise invalid(f"{field}.text", str(refused)) from None
    return {"format": transcript.format, "text": transcript.text.replace("\r\n", "\n")}


def check_chapters(
    chapters: list[Chapter], duration_s: int | None, field: str
) -> list[dict[str, Any]]:
    try:
        ordered = notes.check_chapters(chapters, duration_s)
    except notes.NotesRefused as refused:
        raise invalid(field, str(refused)) from None
    return [c.model_dump(exclude_none=True) for c in ordered]


def new_document(data: CreateEpisode, *, episode_id: str, now: datetime) -> dict[str, Any]:
    """The draft's document, without the audio and the cover (the handler fetches them)."""
    return {
        "_id": episode_id,
        "title": data.title,
        "description": data.description,
        "show_notes": notes.clean_html(data.show_notes) if data.show_notes else None,
        "company_id": data.company_id,
        "episode_number": data.episode_number,
        "season": data.season,
        "explicit": data.explicit,
        "persons": check_persons(data.persons, "data.persons"),
        "chapters": check_chapters(data.chapters, None, "data.chapters"),
        "transcript": (
            check_transcript(data.transcript, "data.transcript") if data.transcript else None
        ),
        "audio": None,
        "image": None,
        "status": "draft",
        "created_at": now,
    }


def changes_of(
    document: Mapping[str, Any], data: UpdateEpisode
) -> tuple[dict[str, Any], list[str], list[str]]:
    """What `episode.update` changes: the `$set`, the fields to unset, the names changed."""
    changes: dict[str, Any] = {}
    for name in PLAIN_FIELDS:
        value = getattr(data, name)
        if value is not None and value != document.get(name):
            changes[name] = value
    if data.show_notes is not None:
        cleaned = notes.clean_html(data.show_notes)
        if cleaned != document.get("show_notes"):
            changes["show_notes"] = cleaned
    duration = (document.get("audio") or {}).get("duration_s")
    if data.persons is not None:
        changes["persons"] = check_persons(data.persons, "data.persons")
    if data.chapters is not None:
        changes["chapters"] = check_chapters(data.chapters, duration, "data.chapters")
    if data.transcript is not None:
        changes["transcript"] = check_transcript(data.transcript, "data.transcript")
    unset = []
    for name in data.clear:
        if name in changes:
            raise invalid(f"data.{name}", f"{name} kann nicht zugleich gesetzt und geleert werden.")
        stored = "image" if name == "image_url" else name
        if document.get(stored) not in (None, [], ""):
            unset.append(stored)
    changes = {k: v for k, v in changes.items() if document.get(k) != v}
    return changes, unset, sorted({*changes, *unset})


# -- to the contract ---------------------------------------------------------------------------


def audio_url(document: Mapping[str, Any], links: Links) -> str | None:
    audio = document.get("audio")
    if audio:
        return links.audio(audio["id"], audio["extension"])
    return document.get("audio_url")  # an episode from before media kept the audio


def cover_url(document: Mapping[str, Any], links: Links) -> str | None:
    image = document.get("image")
    if image:
        return links.episode_cover(document["_id"], image["extension"])
    return document.get("image_url")


def transcript_url(document: Mapping[str, Any], links: Links) -> str | None:
    transcript = document.get("transcript")
    if not transcript:
        return None
    return links.transcript(document["_id"], notes.EXTENSIONS[transcript["format"]])


def reply(document: Mapping[str, Any], links: Links) -> Episode:
    """The episode as `episode.get` answers it."""
    audio = document.get("audio") or {}
    status = document.get("status", "draft")
    return Episode.from_stored(
        {
            "episode_id": document["_id"],
            "title": document["title"],
            "description": document["description"],
            "audio_url": audio_url(document, links),
            "audio_bytes": audio.get("size", document.get("audio_bytes")),
            "audio_type": audio.get("type", document.get("audio_type")),
            "duration_s": audio.get("duration_s", document.get("duration_s")),
            "company_id": document.get("company_id"),
            "episode_number": document.get("episode_number"),
            "season": document.get("season"),
            "explicit": bool(document.get("explicit")),
            "image_url": cover_url(document, links),
            "status": status,
            "published_at": document.get("published_at"),
            "publish_at": document.get("publish_at"),
            "show_notes": document.get("show_notes"),
            "persons": document.get("persons") or [],
            "chapters": document.get("chapters") or [],
            "transcript_url": transcript_url(document, links),
            "chapters_url": links.chapters(document["_id"]) if document.get("chapters") else None,
            "page_url": links.episode_page(document["_id"]) if status == "published" else None,
        }
    )


def announcement(document: Mapping[str, Any], links: Links, *, page_url: str) -> EpisodePublished:
    """The event that tells the other services an episode is in the feed."""
    audio = document.get("audio") or {}
    return EpisodePublished(
        episode_id=document["_id"],
        title=document["title"],
        company_id=document.get("company_id"),
        feed_url=links.feed,
        published_at=utc(document["published_at"]),
        description=document["description"],
        audio_url=audio_url(document, links),
        duration_s=audio.get("duration_s", document.get("duration_s")),
        page_url=page_url,
    )


def publishable(document: Mapping[str, Any]) -> str | None:
    """Why an episode cannot go into the feed yet (German), or None."""
    if not document.get("audio") and not document.get("audio_url"):
        return "Die Folge hat noch keine Audiodatei: laden Sie sie hoch oder nennen Sie eine URL."
    return None


# -- to listeners ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedPerson:
    name: str
    role: str
    href: str | None
    img: str | None
    company: str | None
    company_url: str | None


@dataclass(frozen=True)
class Location:
    name: str
    latitude: float | None
    longitude: float | None

    @property
    def geo(self) -> str | None:
        """`geo:52.6,11.86` (RFC 5870), as podcast:location wants it."""
        if self.latitude is None or self.longitude is None:
            return None
        return f"geo:{self.latitude:.5f},{self.longitude:.5f}"


@dataclass(frozen=True)
class Listed:
    """A published episode as the feed and the pages show it."""

    episode_id: str
    title: str
    description: str
    show_notes: str | None
    number: int | None
    season: int | None
    explicit: bool
    audio_url: str
    audio_type: str
    audio_bytes: int
    duration_s: int
    published_at: datetime
    image_url: str | None
    page_url: str
    chapters: tuple[Chapter, ...]
    chapters_url: str | None
    transcript_url: str | None
    transcript_type: str | None
    transcript: tuple[notes.Cue, ...]
    persons: tuple[ListedPerson, ...]
    company: str | None
    company_url: str | None
    location: Location | None


def consented(
    company: Mapping[str, Any] | None, purpose: str, contact_id: str | None = None
) -> bool:
    """Whether the copy of `company` holds a consent in force for `purpose`."""
    if company is None:
        return False
    holder = company.get("contacts", {}).get(contact_id, {}) if contact_id else company
    return (holder.get("consents", {}).get(purpose) or {}).get("status") == "given"


def _person(
    person: Mapping[str, Any], companies: Mapping[str, Mapping[str, Any]], links: Links
) -> ListedPerson | None:
    company = companies.get(person.get("company_id") or "")
    if person.get("contact_id") and not consented(company, "podcast", person["contact_id"]):
        return None
    company_url = None
    if company is not None and consented(company, "website"):
        company_url = links.presentation(company["_id"])
    return ListedPerson(
        name=person["name"],
        role=person["role"],
        href=person.get("href"),
        img=person.get("img"),
        company=company.get("name") if company else None,
        company_url=company_url,
    )


def location_of(company: Mapping[str, Any] | None) -> Location | None:
    if not company or not company.get("town"):
        return None
    place = load_gazetteer().get(company["town"])
    if place is None:
        return Location(company["town"], None, None)
    return Location(company["town"], place.latitude, place.longitude)


def listed(
    document: Mapping[str, Any], companies: Mapping[str, Mapping[str, Any]], links: Links
) -> Listed | None:
    """What listeners see of a published episode; None if it cannot be listed (no audio)."""
    audio = document.get("audio") or {}
    url = audio_url(document, links)
    if document.get("status") != "published" or not url or not document.get("published_at"):
        return None
    company = companies.get(document.get("company_id") or "")
    transcript = document.get("transcript")
    cues: tuple[notes.Cue, ...] = ()
    if transcript:
        cues = tuple(notes.cues(Transcript.from_stored(transcript)))
    chapters = tuple(Chapter.from_stored(c) for c in document.get("chapters") or [])
    persons = tuple(
        p for p in (_person(p, companies, links) for p in document.get("persons") or []) if p
    )
    return Listed(
        episode_id=document["_id"],
        title=document["title"],
        description=document["description"],
        show_notes=notes.clean_html(document["show_notes"]) if document.get("show_notes") else None,
        number=document.get("episode_number"),
        season=document.get("season"),
        explicit=bool(document.get("explicit")),
        audio_url=url,
        audio_type=audio.get("type", document.get("audio_type", "audio/mpeg")),
        audio_bytes=int(audio.get("size", document.get("audio_bytes", 0))),
        duration_s=int(audio.get("duration_s", document.get("duration_s", 0))),
        published_at=utc(document["published_at"]),
        image_url=cover_url(document, links),
        page_url=links.episode_page(document["_id"]),
        chapters=chapters,
        chapters_url=links.chapters(document["_id"]) if chapters else None,
        transcript_url=transcript_url(document, links),
        transcript_type=transcript["format"] if transcript else None,
        transcript=cues,
        persons=persons,
        company=company.get("name") if company else None,
        company_url=links.presentation(company["_id"])
        if company is not None and consented(company, "website")
        else None,
        location=location_of(company),
    )


def newest_first(episodes: list[Listed]) -> list[Listed]:
    """Newest first (by id when two share a time, for stable output)."""
    ordered = sorted(episodes, key=lambda e: e.episode_id, reverse=True)
    ordered.sort(key=lambda e: e.published_at, reverse=True)
    return ordered
