"""Messages owned by the media service: podcast episodes and Instagram posts.

Episodes: created as drafts, given their audio (a URL media fetches, or a file uploaded
through the episode's signed upload link), published at once or scheduled; media reads
the audio's size, type and length from the file itself. Posts: drafted from events or
by staff from a layout, approved or rejected by the company's contact person (through
a signed link in an e-mail) or by staff, scheduled, and published on Instagram only
when approved and while the company's consent to social-media posts stands.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import (
    CompanyId,
    Email,
    EpisodeId,
    Name,
    OneLine,
    Phone,
    PositionId,
    PostId,
    Text,
    Town,
    Url,
)
from diko_shared.contract.rules import combination_error
from diko_shared.contract.senders import DEFAULT_REQUEST_SENDERS
from diko_shared.contract.versions import Earlier

OWNER = "media"

PostKind = Literal["azubi_gesucht", "success", "episode", "presentation", "fair"]
PostStatus = Literal[
    "draft", "approved", "scheduled", "publishing", "published", "rejected", "failed", "withheld"
]
#: Instagram's portrait (1080 × 1350) and square (1080 × 1080) feed formats.
PostFormat = Literal["portrait", "square"]
AudioType = Literal["audio/mpeg", "audio/mp4", "audio/x-m4a"]
EpisodeStatus = Literal["draft", "scheduled", "published"]
ContactId = Annotated[str, StringConstraints(pattern=r"^cnt_[0-9a-f]{20}$")]
#: Who acted, as the history and the e-mails name them: a staff member's e-mail or name.
Actor = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), *OneLine
]
#: Show notes: HTML, sanitised by media (links, emphasis, lists, paragraphs survive).
ShowNotes = Annotated[str, StringConstraints(max_length=50_000)]
#: A colour as `#RRGGBB`.
HexColour = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
UploadId = Annotated[str, StringConstraints(pattern=r"^upl_[0-9a-f]{20}$")]
Caption = Annotated[str, StringConstraints(max_length=2200)]
Hashtag = Annotated[str, StringConstraints(pattern=r"^#\w{1,100}$")]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), *OneLine
]

_POST = "pst_0123456789abcdef0123"
_COMPANY = "cmp_0123456789abcdef0123"
_POSITION = "pos_0123456789abcdef0123"
_EPISODE = "epi_0123456789abcdef0123"
_CONTACT = "cnt_0123456789abcdef0123"
_BASE = "https://media.diko.example"


# -- episodes ----------------------------------------------------------------------------------


class EpisodePerson(Payload):
    """Someone heard in an episode (`podcast:person`).

    A guest who is a company's contact person (`contact_id`) appears in the feed and on
    the episode's page only while that person's consent to the podcast stands.
    """

    name: Name
    role: Literal["host", "guest"]
    contact_id: ContactId | None = Field(
        None, description="A company's contact person: shown only with their podcast consent"
    )
    company_id: CompanyId | None = Field(
        None, description="The guest's company: linked to its presentation when it consented"
    )
    href: Url | None = Field(None, description="A page about the person")
    img: Url | None = Field(None, description="A picture of the person")


class Chapter(Payload):
    """A chapter mark (Podcasting 2.0 JSON chapters)."""

    start_s: Annotated[float, Field(ge=0, le=24 * 3600)] = Field(
        description="Where the chapter starts, seconds from the beginning"
    )
    title: Name
    url: Url | None = None
    img: Url | None = None


class Transcript(Payload):
    """A transcript with timings, served by media as a file of its own."""

    format: Literal["text/vtt", "application/x-subrip"] = Field(
        description="WebVTT or SubRip (SRT)"
    )
    text: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]


_EPISODE_EXAMPLE = {
    "title": "DIKO trifft… die Tischlerei Müller",
    "description": "Jana Müller erzählt, wie ihr Betrieb ausbildet.",
    "show_notes": "<p>Jana Müller erzählt, wie ihr Betrieb <strong>ausbildet</strong>.</p>"
    '<p>Mehr unter <a href="https://tischlerei-mueller.example">tischlerei-mueller.example</a>'
    "</p>",
    "audio_url": "https://cdn.diko.example/podcast/folge-22.mp3",
    "company_id": _COMPANY,
    "episode_number": 22,
    "season": 2,
    "persons": [
        {"name": "Birte Albrecht", "role": "host"},
        {
            "name": "Jana Müller",
            "role": "guest",
            "contact_id": _CONTACT,
            "company_id": _COMPANY,
        },
    ],
    "chapters": [
        {"start_s": 0, "title": "Begrüßung"},
        {"start_s": 95.5, "title": "Wie der Betrieb ausbildet"},
    ],
    "transcript": {
        "format": "text/vtt",
        "text": "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n<v Birte Albrecht>Willkommen!\n",
    },
}


class CreateEpisode(Payload):
    """Create a podcast episode (a draft, not yet in the feed).

    The audio comes from `audio_url` (media fetches the file and keeps a copy) or is
    uploaded later through the `upload_url` of the reply. `audio_bytes`, `audio_type`
    and `duration_s` are no longer trusted: media reads them from the file.
    """

    model_config = examples(
        _EPISODE_EXAMPLE,
        {
            "title": "DIKO trifft… die Bäckerei Schulze",
            "description": "Wie man in Osterburg Bäcker wird.",
            "episode_number": 23,
        },
    )

    title: Name
    description: Text = Field(description="A plain-text summary (directories show it)")
    show_notes: ShowNotes | None = Field(
        None, description="HTML show notes; media keeps links, emphasis, lists and paragraphs"
    )
    audio_url: Url | None = Field(
        None, description="Where media fetches the audio (MP3 or M4A); else upload it"
    )
    audio_bytes: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Ignored: media reads the size from the file"
    )
    audio_type: AudioType | None = Field(
        None, description="Ignored: media reads the type from the file"
    )
    duration_s: Annotated[int, Field(ge=1, le=24 * 3600)] | None = Field(
        None, description="Ignored: media reads the length from the file"
    )
    company_id: CompanyId | None = Field(
        None, description="The company the episode is about: its town is the episode's location"
    )
    episode_number: Annotated[int, Field(ge=1)] | None = None
    season: Annotated[int, Field(ge=1)] | None = None
    explicit: bool = False
    image_url: Url | None = Field(
        None,
        description="The episode's cover (JPEG or PNG, square, 1400–3000 px, RGB); media "
        "fetches and checks it",
    )
    persons: Annotated[list[EpisodePerson], Field(max_length=20)] = Field(default_factory=list)
    chapters: Annotated[list[Chapter], Field(max_length=200)] = Field(default_factory=list)
    transcript: Transcript | None = None


class EpisodeRef(Payload):
    """The new episode, and where its audio or cover may be uploaded."""

    model_config = examples(
        {
            "episode_id": _EPISODE,
            "upload_url": f"{_BASE}/podcast/uploads/IjEyMyI.abc",
            "upload_expires_at": "2026-11-27T10:00:00Z",
        }
    )

    episode_id: EpisodeId
    upload_url: str | None = Field(
        None,
        description="POST multipart/form-data here: field `audio` (MP3/M4A) and/or `cover` "
        "(JPEG/PNG); signed, expires",
    )
    upload_expires_at: datetime | None = None


EpisodeField = Literal[
    "show_notes",
    "company_id",
    "episode_number",
    "season",
    "image_url",
    "persons",
    "chapters",
    "transcript",
]


class UpdateEpisode(Payload):
    """Change an episode: fields left out stay; `clear` empties optional ones.

    A published episode changes in the feed at once (its guid stays). `audio_upload`
    and `cover_upload` name files uploaded through the episode's upload link; the upload
    page sends them itself.
    """

    model_config = examples(
        {"episode_id": _EPISODE, "title": "DIKO trifft… die Tischlerei Müller & Söhne"},
        {"episode_id": _EPISODE, "audio_url": "https://cdn.diko.example/podcast/folge-22-neu.mp3"},
        {"episode_id": _EPISODE, "clear": ["transcript"]},
    )

    episode_id: EpisodeId
    title: Name | None = None
    description: Text | None = None
    show_notes: ShowNotes | None = None
    audio_url: Url | None = None
    audio_upload: UploadId | None = None
    image_url: Url | None = None
    cover_upload: UploadId | None = None
    company_id: CompanyId | None = None
    episode_number: Annotated[int, Field(ge=1)] | None = None
    season: Annotated[int, Field(ge=1)] | None = None
    explicit: bool | None = None
    persons: Annotated[list[EpisodePerson], Field(max_length=20)] | None = None
    chapters: Annotated[list[Chapter], Field(max_length=200)] | None = None
    transcript: Transcript | None = None
    clear: list[EpisodeField] = Field(default_factory=list, description="Fields to empty")


class EpisodeChange(Payload):
    model_config = examples(
        {
            "episode_id": _EPISODE,
            "status": "published",
            "changed": ["title"],
            "upload_url": f"{_BASE}/podcast/uploads/IjEyMyI.abc",
        }
    )

    episode_id: EpisodeId
    status: EpisodeStatus
    changed: list[Name]
    upload_url: str | None = None


class ScheduleEpisode(Payload):
    """Publish an episode when `publish_at` comes; until then no feed, page or e-mail shows it.

    Scheduling again moves the time. A time that has passed publishes at once.
    """

    model_config = examples({"episode_id": _EPISODE, "publish_at": "2026-12-04T06:00:00Z"})

    episode_id: EpisodeId
    publish_at: AwareDatetime


class PublishEpisode(Payload):
    """Publish an episode now, or, with a future `published_at`, when that time comes."""

    model_config = examples({"episode_id": _EPISODE})

    episode_id: EpisodeId
    published_at: AwareDatetime | None = Field(
        None, description="Defaults to now; a future time schedules the episode"
    )


class GetEpisode(Payload):
    model_config = examples({"episode_id": _EPISODE})

    episode_id: EpisodeId


class Episode(Payload):
    """An episode as media keeps it. Audio fields are null until the audio has arrived."""

    model_config = examples(
        {
            "episode_id": _EPISODE,
            "title": "DIKO trifft… die Tischlerei Müller",
            "description": "Jana Müller erzählt, wie ihr Betrieb ausbildet.",
            "audio_url": f"{_BASE}/podcast/audio/{_EPISODE}.mp3",
            "audio_bytes": 28311552,
            "audio_type": "audio/mpeg",
            "duration_s": 1769,
            "company_id": _COMPANY,
            "episode_number": 22,
            "explicit": False,
            "status": "published",
            "published_at": "2026-11-26T10:00:00Z",
            "page_url": f"{_BASE}/podcast/folgen/{_EPISODE}",
        }
    )

    episode_id: EpisodeId
    title: Name
    description: Text
    audio_url: Url | None = None
    audio_bytes: int | None = None
    audio_type: AudioType | None = None
    duration_s: int | None = None
    company_id: CompanyId | None = None
    episode_number: int | None = None
    season: int | None = None
    explicit: bool
    image_url: Url | None = None
    status: EpisodeStatus
    published_at: datetime | None = None
    publish_at: datetime | None = Field(None, description="When a scheduled episode appears")
    show_notes: str | None = Field(None, description="The sanitised HTML")
    persons: list[EpisodePerson] = Field(default_factory=list)
    chapters: list[Chapter] = Field(default_factory=list)
    transcript_url: str | None = None
    chapters_url: str | None = None
    page_url: str | None = Field(None, description="The episode's page for listeners")


class EpisodePublished(Payload):
    """An episode appeared in the feed, with what a reader needs to tell people about it.

    The description, audio, length and podcast page travel with the event, so a consumer
    need not ask media (`episode.get`) and keeps working while media is down. They came
    later and are optional: an event from an older media, or one queued before, lacks them.
    """

    model_config = examples(
        {
            "episode_id": _EPISODE,
            "title": "DIKO trifft… die Tischlerei Müller",
            "company_id": _COMPANY,
            "feed_url": f"{_BASE}/podcast/feed.xml",
            "published_at": "2026-11-26T10:00:00Z",
            "description": "Jana Müller erzählt, wie ihr Betrieb ausbildet.",
            "audio_url": f"{_BASE}/podcast/audio/{_EPISODE}.mp3",
            "duration_s": 1769,
            "page_url": f"{_BASE}/podcast",
        }
    )

    episode_id: EpisodeId
    title: Name
    company_id: CompanyId | None = None
    feed_url: str
    published_at: datetime
    description: Text | None = Field(None, description="What the episode is about")
    audio_url: Url | None = Field(None, description="The audio file, the feed's enclosure")
    duration_s: Annotated[int, Field(ge=1, le=24 * 3600)] | None = Field(
        None, description="How long the episode runs, in seconds"
    )
    page_url: Url | None = Field(
        None, description="The podcast's web page for listeners (the feed's channel link)"
    )


class EpisodeUpdated(Payload):
    model_config = examples(
        {"episode_id": _EPISODE, "status": "published", "changed": ["title", "chapters"]}
    )

    episode_id: EpisodeId
    status: EpisodeStatus
    changed: list[Name]


class EpisodeScheduled(Payload):
    model_config = examples(
        {
            "episode_id": _EPISODE,
            "title": "DIKO trifft… die Tischlerei Müller",
            "publish_at": "2026-12-04T06:00:00Z",
        }
    )

    episode_id: EpisodeId
    title: Name
    publish_at: datetime


# -- posts: what a layout says -----------------------------------------------------------------


class AzubiContent(Payload):
    """ "Azubi gesucht": an open training position."""

    kind: Literal["azubi_gesucht"] = "azubi_gesucht"
    occupation: Name
    town: Town
    start_date: date
    places: Annotated[int, Field(ge=1, le=100)] = 1


class SuccessContent(Payload):
    """ "Platz besetzt": a position was filled, optionally with a few words from the new Azubi."""

    kind: Literal["success"] = "success"
    occupation: Name
    town: Town
    start_date: date | None = None
    apprentice: Short | None = Field(None, description="First name, with their consent")
    quote: Annotated[str, StringConstraints(max_length=200), *OneLine] | None = None


class EpisodeContent(Payload):
    """ "Neue Podcastfolge": an episode media knows."""

    kind: Literal["episode"] = "episode"
    episode_id: EpisodeId


class PresentationContent(Payload):
    """ "Unternehmen stellt sich vor": a carousel of three slides."""

    kind: Literal["presentation"] = "presentation"
    town: Town
    industry: Short | None = None
    about: Annotated[str, StringConstraints(min_length=1, max_length=300), *OneLine] = Field(
        description="What the company does, in a sentence or two"
    )
    facts: Annotated[list[Short], Field(max_length=3)] = Field(
        default_factory=list, description="Up to three short facts, e.g. „seit 1990“"
    )
    occupations: Annotated[list[Name], Field(max_length=3)] = Field(
        default_factory=list, description="What it trains for"
    )
    website: Url | None = None


class FairContent(Payload):
    """ "Bewerberbörse / Termin": an applicant fair, as a carousel of two slides."""

    kind: Literal["fair"] = "fair"
    title: Name
    date: date
    start: ClockTime
    end: ClockTime | None = None
    venue: Name
    town: Town
    companies: Annotated[int, Field(ge=1, le=500)] | None = Field(
        None, description="How many companies take part"
    )


PostContent = Annotated[
    AzubiContent | SuccessContent | EpisodeContent | PresentationContent | FairContent,
    Field(discriminator="kind"),
]


class CompanyLook(Payload):
    """A company's own colour and logo for its posts.

    Text on the colour must reach WCAG AA contrast (4.5:1) in white or in the network's
    dark ink, else the draft is refused with the ratio it reached.
    """

    colour: HexColour
    logo_url: Url | None = Field(None, description="PNG or JPEG; media fetches and checks it")


class DraftPost(Payload):
    """Draft a post from a layout (staff); media renders it and asks for approval."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "format": "portrait",
            "content": {
                "kind": "presentation",
                "town": "Stendal",
                "industry": "Handwerk",
                "about": "Wir bauen Möbel und Treppen nach Maß – seit drei Generationen.",
                "facts": ["seit 1952", "14 Mitarbeitende", "2 Azubis"],
                "occupations": ["Tischler/in"],
                "website": "https://tischlerei-mueller.example",
            },
            "look": {"colour": "#7A2E1F"},
            "drafted_by": "birte.albrecht@diko.example",
        },
        {
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "format": "square",
            "content": {
                "kind": "azubi_gesucht",
                "occupation": "Tischler/in",
                "town": "Stendal",
                "start_date": "2027-08-01",
                "places": 2,
            },
        },
        {
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "position_id": _POSITION,
            "content": {
                "kind": "success",
                "occupation": "Tischler/in",
                "town": "Stendal",
                "start_date": "2027-08-01",
                "apprentice": "Lena",
                "quote": "Ich freue mich auf die Werkstatt!",
            },
        },
        {"content": {"kind": "episode", "episode_id": _EPISODE}},
        {
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "content": {
                "kind": "fair",
                "title": "Bewerberbörse Stendal",
                "date": "2027-03-13",
                "start": "09:00",
                "end": "13:00",
                "venue": "Berufsbildende Schulen Stendal",
                "town": "Stendal",
                "companies": 12,
            },
        },
    )

    content: PostContent
    format: PostFormat = "portrait"
    company_id: CompanyId | None = Field(
        None, description="The company the post is about; null: a post of the network itself"
    )
    company_name: Name | None = Field(None, description="Required with company_id")
    position_id: PositionId | None = None
    look: CompanyLook | None = None
    caption: Caption | None = Field(None, description="Replaces the caption media writes")
    hashtags: Annotated[list[Hashtag], Field(max_length=30)] | None = Field(
        None, description="Replace the hashtags media chooses"
    )
    drafted_by: Actor | None = None


class PostRef(Payload):
    model_config = examples({"post_id": _POST, "status": "draft"})

    post_id: PostId
    status: PostStatus


class GetPost(Payload):
    model_config = examples({"post_id": _POST})

    post_id: PostId


class Slide(Payload):
    """One image of a post (a carousel has several)."""

    image_url: str = Field(description="PNG, as rendered")
    jpeg_url: str = Field(description="JPEG, as Instagram takes it")
    alt_text: str = Field(description="German alt text")
    width: int
    height: int


class Post(Payload):
    model_config = examples(
        {
            "post_id": _POST,
            "kind": "azubi_gesucht",
            "status": "draft",
            "format": "portrait",
            "company_id": _COMPANY,
            "position_id": _POSITION,
            "caption": "Azubi gesucht in Stendal! #Ausbildung #Altmark #AzubiGesucht",
            "hashtags": ["#Ausbildung", "#Altmark", "#AzubiGesucht", "#Tischler", "#Stendal"],
            "image_url": f"{_BASE}/posts/{_POST}/image.png",
            "image_width": 1080,
            "image_height": 1350,
            "alt_text": "Grafik von DIKO Altmark: Azubi gesucht! Ausbildung als Tischler/in …",
            "slides": [
                {
                    "image_url": f"{_BASE}/posts/{_POST}/image.png",
                    "jpeg_url": f"{_BASE}/posts/{_POST}/1.jpg",
                    "alt_text": "Grafik von DIKO Altmark: Azubi gesucht! …",
                    "width": 1080,
                    "height": 1350,
                }
            ],
            "consent": "given",
            "created_at": "2026-11-26T10:00:00Z",
        }
    )

    post_id: PostId
    kind: PostKind
    status: PostStatus
    format: PostFormat = "portrait"
    company_id: CompanyId | None = None
    position_id: PositionId | None = None
    episode_id: EpisodeId | None = None
    caption: str
    hashtags: list[str]
    image_url: str = Field(description="The first slide's PNG")
    image_width: int
    image_height: int
    alt_text: str | None = Field(None, description="The first slide's alt text")
    slides: list[Slide] = Field(default_factory=list)
    consent: Literal["given", "withdrawn", "unknown", "not_needed"] = Field(
        "unknown", description="The company's consent to social-media posts, as media knows it"
    )
    approved_by: str | None = None
    approved_at: datetime | None = None
    rejected_reason: str | None = None
    publish_at: datetime | None = None
    published_at: datetime | None = None
    instagram_media_id: str | None = None
    permalink: str | None = None
    failure: str | None = Field(None, description="Why publishing failed or is held, in German")
    created_at: datetime


class PostDrafted(Payload):
    model_config = examples(
        {
            "post_id": _POST,
            "kind": "azubi_gesucht",
            "company_id": _COMPANY,
            "position_id": _POSITION,
            "image_url": f"{_BASE}/posts/{_POST}/image.png",
            "caption": "Azubi gesucht! … #Ausbildung #Altmark #AzubiGesucht",
        }
    )

    post_id: PostId
    kind: PostKind
    company_id: CompanyId | None = None
    position_id: PositionId | None = None
    image_url: str
    caption: str


ApprovalVia = Literal["staff", "link"]


class ApprovePost(Payload):
    """Approve a draft: by staff, or by the company's contact person through the e-mail's
    link (media's approval page sends this itself, with `via: link`)."""

    model_config = examples(
        {"post_id": _POST, "approved_by": "birte.albrecht@diko.example", "via": "staff"}
    )

    post_id: PostId
    approved_by: Actor
    via: ApprovalVia = "staff"


class RejectPost(Payload):
    """Reject a draft, saying why (the reason is kept and told to staff)."""

    model_config = examples(
        {
            "post_id": _POST,
            "reason": "Bitte mit unserem neuen Logo.",
            "rejected_by": "Ansprechperson des Betriebs",
            "via": "link",
        }
    )

    post_id: PostId
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]
    rejected_by: Actor
    via: ApprovalVia = "staff"


class SchedulePost(Payload):
    """Publish an approved post on Instagram when `publish_at` comes (a past time: now)."""

    model_config = examples({"post_id": _POST, "publish_at": "2026-12-04T08:00:00Z"})

    post_id: PostId
    publish_at: AwareDatetime


class GetPostKit(Payload):
    """The kit for a company that posts itself: a ZIP to download."""

    model_config = examples({"post_id": _POST})

    post_id: PostId


class PostKit(Payload):
    model_config = examples(
        {
            "post_id": _POST,
            "download_url": f"{_BASE}/posts/kits/IjEyMyI.abc",
            "expires_at": "2026-12-10T10:00:00Z",
            "files": ["bild-1.jpg", "bildtext.txt", "hashtags.txt", "alternativtext.txt",
                      "anleitung.html"],
            "caption": "Azubi gesucht in Stendal! …",
            "hashtags": ["#Ausbildung", "#Altmark"],
            "alt_texts": ["Grafik von DIKO Altmark: Azubi gesucht! …"],
        }
    )  # fmt: skip

    post_id: PostId
    download_url: str = Field(description="Signed and expiring; anyone with it may download")
    expires_at: datetime
    files: list[str]
    caption: str
    hashtags: list[str]
    alt_texts: list[str]


class PostApprovedV1(Payload):
    """Version 1 of `post.approved` (release 1.2), which named who approved. Still read for
    a release, as version 2 (`PostApproved.of`)."""

    model_config = examples(
        {
            "post_id": _POST,
            "company_id": _COMPANY,
            "approved_by": "Ansprechperson des Betriebs",
            "via": "link",
            "approved_at": "2026-11-26T11:00:00Z",
        }
    )

    post_id: PostId
    company_id: CompanyId | None = None
    approved_by: str
    via: ApprovalVia
    approved_at: datetime


class PostApproved(Payload):
    """A post was approved: which, how and when. Who approved (a contact person or a staff
    member's address) is not in it since version 2: no service subscribes to it, and the
    post's record (`post.get`) keeps it."""

    model_config = examples(
        {
            "post_id": _POST,
            "company_id": _COMPANY,
            "via": "link",
            "approved_at": "2026-11-26T11:00:00Z",
        }
    )

    post_id: PostId
    company_id: CompanyId | None = None
    via: ApprovalVia
    approved_at: datetime

    @classmethod
    def of(cls, old: PostApprovedV1) -> PostApproved:
        """A version 1 event read as version 2: without who approved."""
        return cls.model_validate(old.model_dump(exclude={"approved_by"}))


class PostRejectedV1(Payload):
    """Version 1 of `post.rejected` (release 1.2), which named who rejected. Still read for
    a release, as version 2 (`PostRejected.of`)."""

    model_config = examples(
        {
            "post_id": _POST,
            "company_id": _COMPANY,
            "reason": "Bitte mit unserem neuen Logo.",
            "rejected_by": "Ansprechperson des Betriebs",
            "via": "link",
        }
    )

    post_id: PostId
    company_id: CompanyId | None = None
    reason: str
    rejected_by: str
    via: ApprovalVia


class PostRejected(Payload):
    """A post was rejected, with the reason. Who rejected is not in it since version 2: no
    service subscribes to it, and media keeps it with the post."""

    model_config = examples(
        {
            "post_id": _POST,
            "company_id": _COMPANY,
            "reason": "Bitte mit unserem neuen Logo.",
            "via": "link",
        }
    )

    post_id: PostId
    company_id: CompanyId | None = None
    reason: str
    via: ApprovalVia

    @classmethod
    def of(cls, old: PostRejectedV1) -> PostRejected:
        """A version 1 event read as version 2: without who rejected."""
        return cls.model_validate(old.model_dump(exclude={"rejected_by"}))


class PostScheduled(Payload):
    model_config = examples(
        {"post_id": _POST, "company_id": _COMPANY, "publish_at": "2026-12-04T08:00:00Z"}
    )

    post_id: PostId
    company_id: CompanyId | None = None
    publish_at: datetime


class PostPublished(Payload):
    model_config = examples(
        {
            "post_id": _POST,
            "company_id": _COMPANY,
            "instagram_media_id": "17918920912345678",
            "permalink": "https://www.instagram.com/p/C1a2b3c4d5e/",
            "published_at": "2026-12-04T08:00:07Z",
        }
    )

    post_id: PostId
    company_id: CompanyId | None = None
    instagram_media_id: str | None = Field(
        None, description="null when Instagram did not say (the post is published all the same)"
    )
    permalink: str | None = None
    published_at: datetime


FailureCode = Literal[
    "token_expired",
    "permission_denied",
    "rate_limited",
    "publishing_limit",
    "media_rejected",
    "container_error",
    "graph_error",
    "not_configured",
]


class PostFailed(Payload):
    """Publishing failed. `retrying`: media tries again by itself at `next_attempt_at`;
    otherwise staff schedule the post again once the cause is fixed."""

    model_config = examples(
        {
            "post_id": _POST,
            "company_id": _COMPANY,
            "code": "token_expired",
            "reason": "Der Zugangsschlüssel für Instagram ist abgelaufen. Bitte erneuern Sie "
            "ihn (DIKO_INSTAGRAM_TOKEN) und planen Sie den Beitrag neu ein.",
            "retrying": False,
        }
    )

    post_id: PostId
    company_id: CompanyId | None = None
    code: FailureCode
    reason: str = Field(description="German, for staff")
    retrying: bool
    next_attempt_at: datetime | None = None
    graph_error: dict[str, str | int | bool | None] | None = Field(
        None, description="The Graph API's error object (message, type, code, error_subcode, …)"
    )


class PostWithheld(Payload):
    """A post left the queue: the company withdrew its consent to social-media posts."""

    model_config = examples(
        {
            "post_id": _POST,
            "company_id": _COMPANY,
            "previous_status": "scheduled",
            "reason": "Der Betrieb hat seine Einwilligung in Beiträge in sozialen Medien "
            "widerrufen.",
        }
    )

    post_id: PostId
    company_id: CompanyId
    previous_status: PostStatus
    reason: str


CATALOGUE.command("episode.create", OWNER, CreateEpisode, EpisodeRef, "Create a podcast episode.")
CATALOGUE.command(
    "episode.update",
    OWNER,
    UpdateEpisode,
    EpisodeChange,
    "Change an episode (partial).",
    # media itself: its signed upload link turns the upload into this command
    senders=(*DEFAULT_REQUEST_SENDERS, OWNER),
)
CATALOGUE.command(
    "episode.schedule",
    OWNER,
    ScheduleEpisode,
    Episode,
    "Publish an episode when its time comes; hidden until then.",
)
CATALOGUE.command(
    "episode.publish",
    OWNER,
    PublishEpisode,
    Episode,
    "Put an episode into the podcast feed (a future time schedules it).",
)
CATALOGUE.query("episode.get", OWNER, GetEpisode, Episode, "An episode.")
CATALOGUE.event(
    "episode.published", OWNER, EpisodePublished, "An episode appeared in the podcast feed."
)
CATALOGUE.event("episode.updated", OWNER, EpisodeUpdated, "An episode changed.")
CATALOGUE.event("episode.scheduled", OWNER, EpisodeScheduled, "An episode was scheduled.")

CATALOGUE.command("post.draft", OWNER, DraftPost, PostRef, "Draft a post from a layout.")
# media itself sends these too: its approval page turns the contact's answer into them
CATALOGUE.command(
    "post.approve",
    OWNER,
    ApprovePost,
    Post,
    "Approve a drafted post.",
    senders=(*DEFAULT_REQUEST_SENDERS, OWNER),
)
CATALOGUE.command(
    "post.reject",
    OWNER,
    RejectPost,
    Post,
    "Reject a drafted post, with a reason.",
    senders=(*DEFAULT_REQUEST_SENDERS, OWNER),
)
CATALOGUE.command(
    "post.schedule", OWNER, SchedulePost, Post, "Publish an approved post on Instagram at a time."
)
CATALOGUE.query("post.get", OWNER, GetPost, Post, "A post with its caption, images and status.")
CATALOGUE.query(
    "post.kit", OWNER, GetPostKit, PostKit, "A signed download link to a post's kit (ZIP)."
)
CATALOGUE.event("post.drafted", OWNER, PostDrafted, "A post was drafted and awaits approval.")
CATALOGUE.event(
    "post.approved",
    OWNER,
    PostApproved,
    "A post was approved.",
    version=2,
    earlier=(Earlier(1, PostApprovedV1, PostApproved.of),),
)
CATALOGUE.event(
    "post.rejected",
    OWNER,
    PostRejected,
    "A post was rejected.",
    version=2,
    earlier=(Earlier(1, PostRejectedV1, PostRejected.of),),
)
CATALOGUE.event("post.scheduled", OWNER, PostScheduled, "A post was scheduled.")
CATALOGUE.event("post.published", OWNER, PostPublished, "A post was published on Instagram.")
CATALOGUE.event("post.failed", OWNER, PostFailed, "A post could not be published.")
CATALOGUE.event(
    "post.withheld", OWNER, PostWithheld, "A post left the queue: consent was withdrawn."
)

CATALOGUE.reacts(
    OWNER,
    "position.opened",
    "position.filled",
    "episode.published",
    "fair.planned",
    "company.registered",
    "company.updated",
    "company.merged",
    "company.consent_changed",
)


# -- the project website (diko_media.site) --------------------------------------------------

_SITE_COMPANY = "cmp_0123456789abcdef0123"


class PresentationContact(Payload):
    """The person a company chose to be reached through on its presentation page."""

    name: Name
    role: Name | None = Field(None, description="e.g. Ausbilderin, Inhaber")
    email: Email | None = Field(None, description="E-mail or phone: at least one of them")
    phone: Phone | None = None
    contact_id: ContactId | None = Field(
        None,
        description="The company's contact person this is: their erasure takes them off the page",
    )

    @model_validator(mode="after")
    def _reachable(self) -> PresentationContact:
        if self.email is None and self.phone is None:
            raise combination_error("eine E-Mail-Adresse oder eine Telefonnummer")
        return self


class PublishPresentation(Payload):
    """Publish a company's presentation: its own words and the person to contact.

    The page appears only while the company's consent to the website stands; without it
    the presentation is kept and shown as soon as the consent is given.
    """

    model_config = examples(
        {
            "company_id": _SITE_COMPANY,
            "about": "Wir sind eine Tischlerei mit zwölf Leuten in Stendal und bauen Möbel, "
            "Treppen und Fenster für Kunden in der ganzen Altmark.",
            "training": "Bei uns lernst du vom ersten Tag an an echten Aufträgen mit.",
            "contact": {
                "name": "Jana Müller",
                "role": "Ausbilderin",
                "email": "ausbildung@tischlerei-mueller.example",
            },
        }
    )

    company_id: CompanyId
    about: Text = Field(description="Who the company is, in its own words")
    training: Text | None = Field(None, description="What and how it trains")
    contact: PresentationContact | None = Field(
        None, description="Whom applicants reach; none: the network's contact"
    )


class UnpublishPresentation(Payload):
    """Take a company's presentation off the website (its page goes at the next rebuild)."""

    model_config = examples({"company_id": _SITE_COMPANY})

    company_id: CompanyId


class Presentation(Payload):
    """A company's presentation and whether the website shows it."""

    model_config = examples(
        {
            "company_id": _SITE_COMPANY,
            "status": "published",
            "shown": True,
            "url": "https://www.diko-altmark.example/betriebe/cmp_0123456789abcdef0123",
        }
    )

    company_id: CompanyId
    status: Literal["published", "unpublished"]
    shown: bool = Field(description="Published and the company consented to the website")
    reason: Name | None = Field(None, description="Why it is not shown, in German")
    url: Url
    photo_upload_url: Url | None = Field(
        None,
        description="Signed, expiring link for the company's photos on its page (multipart "
        "`foto` and `alt`; GET lists them, DELETE <link>/<photo id> removes one); answered "
        "to `presentation.publish`",
    )


class PresentationPublished(Payload):
    model_config = examples(
        {
            "company_id": _SITE_COMPANY,
            "shown": True,
            "url": "https://www.diko-altmark.example/betriebe/cmp_0123456789abcdef0123",
        }
    )

    company_id: CompanyId
    shown: bool = Field(description="False while the company's consent to the website is missing")
    url: Url


class PresentationUnpublished(Payload):
    model_config = examples({"company_id": _SITE_COMPANY})

    company_id: CompanyId


class SiteRebuilt(Payload):
    """The website was rebuilt: a new directory is in place."""

    model_config = examples(
        {
            "build_id": "sit_0123456789abcdef0123",
            "url": "https://www.diko-altmark.example/",
            "full": False,
            "pages": 2618,
            "written": 7,
            "removed": 1,
            "seconds": 0.21,
        }
    )

    build_id: Annotated[str, StringConstraints(pattern=r"^sit_[0-9a-f]{20}$")]
    url: Url
    full: bool = Field(description="Every page was rendered (else only the changed ones)")
    pages: Annotated[int, Field(ge=0)] = Field(description="Files the site holds now")
    written: Annotated[int, Field(ge=0)] = Field(description="Files new or changed")
    removed: Annotated[int, Field(ge=0)] = Field(description="Files gone since the last build")
    seconds: Annotated[float, Field(ge=0)]


CATALOGUE.command(
    "presentation.publish",
    OWNER,
    PublishPresentation,
    Presentation,
    "Publish a company's presentation on the website (shown while it consents).",
)
CATALOGUE.command(
    "presentation.unpublish",
    OWNER,
    UnpublishPresentation,
    Presentation,
    "Take a company's presentation off the website.",
)
CATALOGUE.event(
    "presentation.published", OWNER, PresentationPublished, "A presentation was published."
)
CATALOGUE.event(
    "presentation.unpublished", OWNER, PresentationUnpublished, "A presentation was taken off."
)
CATALOGUE.event("site.rebuilt", OWNER, SiteRebuilt, "The website was rebuilt.")
CATALOGUE.reacts(OWNER, "position.updated", "position.closed", "position.reopened")
