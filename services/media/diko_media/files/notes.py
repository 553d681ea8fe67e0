"""Show notes, transcripts and chapters: checked and made safe before they are kept.

Show notes are HTML written by staff and shown on the episode page and in the feed's
`content:encoded`: nh3 (the Rust sanitiser ammonia) keeps paragraphs, emphasis, lists
and links and drops everything else (scripts, styles, event handlers, other schemes).
Transcripts must parse as WebVTT or SubRip (webvtt-py); chapters are served in the
Podcasting 2.0 JSON chapters format.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import nh3
import webvtt
from webvtt.errors import MalformedFileError

from diko_shared.contract.media import Chapter, Transcript

TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a", "h3", "h4", "blockquote"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto"}
CHAPTERS_VERSION = "1.2.0"
CHAPTERS_TYPE = "application/json+chapters"
EXTENSIONS = {"text/vtt": "vtt", "application/x-subrip": "srt"}


class NotesRefused(Exception):
    """Transcript or chapters that cannot be used; the message is German."""


def clean_html(html: str) -> str:
    """The show notes with only the tags a page and a podcast app should show."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    speaker: str | None
    text: str


def cues(transcript: Transcript) -> list[Cue]:
    """The transcript's cues; `NotesRefused` if it is not valid WebVTT or SubRip."""
    text = transcript.text.replace("\r\n", "\n").lstrip("\ufeff")
    fmt = "vtt" if transcript.format == "text/vtt" else "srt"
    try:
        parsed = webvtt.from_buffer(io.StringIO(text), format=fmt)
    except MalformedFileError as exc:
        name = "WebVTT" if fmt == "vtt" else "SubRip (SRT)"
        raise NotesRefused(f"Das Transkript ist kein gültiges {name}: {exc}.") from None
    found = [
        Cue(c.start_in_seconds, c.end_in_seconds, getattr(c, "voice", None), c.text.strip())
        for c in parsed.captions
    ]
    if not found:
        raise NotesRefused("Das Transkript enthält keinen einzigen Abschnitt mit Zeitangabe.")
    return found


def check_chapters(chapters: list[Chapter], duration_s: int | None) -> list[Chapter]:
    """Chapters in order; refuse two at the same time or one after the end of the audio."""
    ordered = sorted(chapters, key=lambda c: c.start_s)
    starts = [c.start_s for c in ordered]
    if len(set(starts)) != len(starts):
        raise NotesRefused("Zwei Kapitel beginnen zur selben Zeit.")
    if duration_s is not None and ordered and ordered[-1].start_s >= duration_s:
        raise NotesRefused(
            f"Das Kapitel „{ordered[-1].title}“ beginnt nach dem Ende der Folge "
            f"({duration_s} Sekunden)."
        )
    return ordered


def chapters_json(chapters: list[Chapter]) -> bytes:
    """The Podcasting 2.0 JSON chapters document."""
    items = []
    for chapter in sorted(chapters, key=lambda c: c.start_s):
        item: dict[str, object] = {"startTime": round(chapter.start_s, 3), "title": chapter.title}
        if chapter.url:
            item["url"] = chapter.url
        if chapter.img:
            item["img"] = chapter.img
        items.append(item)
    document = {"version": CHAPTERS_VERSION, "chapters": items}
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def timestamp(seconds: float) -> str:
    """`1:35` or `1:02:05`: where a chapter or cue starts, as a player shows it."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
