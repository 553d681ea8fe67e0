"""What a post says, per kind: the layout's fields, the caption with its hashtags, and the
German alt text of every slide. Pure functions of the post's content.

The alt text describes the image for someone who cannot see it: that it is a graphic of
DIKO Altmark, and every word on it in reading order, without the decoration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from diko_media.posts import caption
from diko_shared.contract.media import (
    AzubiContent,
    FairContent,
    PostKind,
    PresentationContent,
    SuccessContent,
)
from diko_shared.german import long_date

WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
#: Instagram counts at most 30 hashtags in a caption and takes 2,200 characters.
MAX_HASHTAGS = 30
MAX_CAPTION = 2200


@dataclass(frozen=True)
class EpisodeFacts:
    """What an episode post shows of an episode media keeps."""

    title: str
    number: int | None
    guests: tuple[str, ...]
    company: str | None


@dataclass(frozen=True)
class Written:
    """A post's words: one dict of fields per slide, the caption, hashtags, alt texts."""

    kind: PostKind
    slides: tuple[dict[str, str], ...]
    caption: str
    hashtags: tuple[str, ...]
    alt_texts: tuple[str, ...]


def _unique(tags: list[str | None]) -> tuple[str, ...]:
    kept: list[str] = []
    for tag in tags:
        if tag and tag.casefold() not in {t.casefold() for t in kept}:
            kept.append(tag)
    return tuple(kept[:MAX_HASHTAGS])


def _caption(paragraphs: list[str], hashtags: tuple[str, ...], handle: str | None) -> str:
    body = [p for p in paragraphs if p]
    if handle:
        body.append(f"Mehr von dem Betrieb: @{handle}")
    text = "\n\n".join([*body, " ".join(hashtags)])
    return text[:MAX_CAPTION]


def _alt(*parts: str) -> str:
    words = [p.strip() for p in parts if p and p.strip()]
    return "Grafik von DIKO Altmark: " + " ".join(w if w[-1] in ".!?…" else f"{w}." for w in words)


def weekday_date(day: date) -> str:
    """`Samstag, 13. März 2027`."""
    return f"{WEEKDAYS[day.weekday()]}, {long_date(day)}"


def clock(value: str) -> str:
    """`9:00` for `09:00`: how German writes a time of day."""
    hours, minutes = value.split(":")
    return f"{int(hours)}:{minutes}"


def fair_end(start: str, slots: int, slot_minutes: int) -> str:
    """When a fair of `slots` slots of `slot_minutes` ends, `HH:MM`."""
    begin = datetime.combine(date(2000, 1, 1), time.fromisoformat(start))
    return (begin + timedelta(minutes=slots * slot_minutes)).strftime("%H:%M")


# -- the kinds ---------------------------------------------------------------------------------


def azubi(content: AzubiContent, company: str, handle: str | None = None) -> Written:
    hashtags = _unique(list(caption.azubi_hashtags(content.occupation, content.town)))
    text = caption.azubi_caption(
        company=company,
        occupation=content.occupation,
        town=content.town,
        start=content.start_date,
        places=content.places,
        hashtags=list(hashtags),
    )
    if handle:
        head, _, tags = text.rpartition("\n\n")
        text = f"{head}\n\nMehr von dem Betrieb: @{handle}\n\n{tags}"
    start = caption.start_phrase(content.start_date)
    fields = {
        "company": company,
        "occupation": content.occupation,
        "town": content.town,
        "start": start,
    }
    alt = _alt(
        "Azubi gesucht!",
        f"Ausbildung als {content.occupation} bei {company} in {content.town}",
        f"Start {start}",
        "Jetzt bewerben und in der Altmark durchstarten!",
    )
    return Written("azubi_gesucht", (fields,), text, hashtags, (alt,))


def success(content: SuccessContent, company: str, handle: str | None = None) -> Written:
    hashtags = _unique(
        [
            "#Ausbildung",
            "#Altmark",
            "#Erfolgsgeschichte",
            caption.occupation_hashtag(content.occupation),
            caption.town_hashtag(content.town),
        ]
    )
    if content.quote and content.apprentice:
        message = f"„{content.quote}“ – {content.apprentice}"
    elif content.apprentice:
        message = f"Willkommen im Team, {content.apprentice}!"
    else:
        message = "Wir freuen uns mit dem Betrieb über das neue Teammitglied."
    start_line = (
        f"Ausbildungsstart {caption.start_phrase(content.start_date)}"
        if content.start_date
        else "Willkommen im Team!"
    )
    fields = {
        "company": company,
        "occupation": content.occupation,
        "town": content.town,
        "message": message,
        "start_line": start_line,
    }
    text = _caption(
        [
            f"Platz besetzt in {content.town}!",
            f"{company} hat einen Azubi als {content.occupation} gefunden – "
            "vermittelt über DIKO Altmark.",
            message if content.quote else "",
            "Du suchst auch noch eine Ausbildung in der Altmark? Sprich uns an!",
        ],
        hashtags,
        handle,
    )
    alt = _alt(
        "Platz besetzt!",
        f"Neu im Team: Azubi als {content.occupation} bei {company} in {content.town}",
        message,
        start_line,
    )
    return Written("success", (fields,), text, hashtags, (alt,))


def episode(facts: EpisodeFacts, handle: str | None = None) -> Written:
    number = f"Folge {facts.number}" if facts.number else ""
    guests = ", ".join(facts.guests)
    if guests and facts.company:
        guest = f"{guests}, {facts.company}"
    else:
        guest = guests or facts.company or "Betriebe aus der Altmark"
    hashtags = _unique(["#Podcast", "#DIKOtrifft", "#Ausbildung", "#Altmark"])
    fields = {"title": facts.title, "number": number, "guest": guest}
    text = _caption(
        [
            f"Neue Podcastfolge: {facts.title}" + (f" ({number})" if number else ""),
            f"Zu Gast: {guest}.",
            "Jetzt reinhören – überall, wo es Podcasts gibt. Den Link findest du in der Bio.",
        ],
        hashtags,
        handle,
    )
    alt = _alt(
        "Neue Podcastfolge",
        f"DIKO trifft… {number}".strip(),
        facts.title,
        f"Zu Gast: {guest}",
        "Jetzt reinhören! Überall, wo es Podcasts gibt – Link in der Bio",
    )
    return Written("episode", (fields,), text, hashtags, (alt,))


def presentation(content: PresentationContent, company: str, handle: str | None = None) -> Written:
    place = " · ".join(p for p in (content.industry, content.town) if p)
    facts = [*content.facts, "", "", ""][:3]
    occupations = " · ".join(content.occupations) or "Sprich uns an!"
    contact = _website(content.website) if content.website else "über DIKO Altmark"
    short = company if len(company) <= 40 else company[:39].rstrip() + "…"
    slides = (
        {"company": company, "place": place, "about": content.about},
        {"fact_1": facts[0], "fact_2": facts[1], "fact_3": facts[2], "company_short": short},
        {"occupations": occupations, "contact": contact},
    )
    hashtags = _unique(
        [
            "#Ausbildung",
            "#Altmark",
            "#WirStellenVor",
            *(caption.occupation_hashtag(o) for o in content.occupations),
            caption.town_hashtag(content.town),
        ]
    )
    text = _caption(
        [
            f"Wir stellen vor: {company} aus {content.town}.",
            content.about,
            "Das sind wir: " + ", ".join(f for f in content.facts) + "." if content.facts else "",
            f"Ausbildung bei uns: {', '.join(content.occupations)}." if content.occupations else "",
            f"Kontakt: {contact}",
        ],
        hashtags,
        handle,
    )
    alts = (
        _alt("Wir stellen vor", "Unternehmen aus der Altmark", company, place, content.about),
        _alt("Das sind wir", *content.facts, short, "Ausbildung in der Altmark"),
        _alt(
            "Bewirb dich!",
            f"Wir bilden aus: {occupations}",
            f"Kontakt: {contact}",
            "Wir freuen uns auf dich!",
        ),
    )
    return Written("presentation", slides, text, hashtags, alts)


def fair(content: FairContent, company: str | None, handle: str | None = None) -> Written:
    day = weekday_date(content.date)
    hours = (
        f"{clock(content.start)} bis {clock(content.end)} Uhr"
        if content.end
        else (f"ab {clock(content.start)} Uhr")
    )
    if company:
        band = f"{company} ist dabei!"
    elif content.companies:
        band = f"{content.companies} Betriebe stellen sich vor"
    else:
        band = "Betriebe aus der Region stellen sich vor"
    slides = (
        {
            "title": content.title,
            "day": day,
            "time": hours,
            "venue": content.venue,
            "town": content.town,
            "band": band,
        },
        {},
    )
    hashtags = _unique(
        ["#Bewerberbörse", "#Ausbildung", "#Altmark", caption.town_hashtag(content.town)]
    )
    text = _caption(
        [
            f"{content.title}: am {day}, {hours}, {content.venue} in {content.town}.",
            band,
            "Melde dich bei DIKO Altmark an, nenne deine Wunschbetriebe und komm mit deinem "
            "Lebenslauf zu den Gesprächen. Die Teilnahme ist kostenlos.",
        ],
        hashtags,
        handle,
    )
    alts = (
        _alt("Bewerberbörse", content.title, day, hours, f"Ort: {content.venue}, {content.town}",
             band),
        _alt(
            "So machst du mit",
            "1. Bei DIKO Altmark anmelden",
            "2. Wunschbetriebe nennen",
            "3. Mit Lebenslauf zu den Gesprächen kommen",
            "Anmeldung: Link in der Bio",
        ),
    )  # fmt: skip
    return Written("fair", slides, text, hashtags, alts)


def _website(url: str) -> str:
    """`tischlerei-mueller.example` for `https://www.tischlerei-mueller.example/`."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return host.removeprefix("www.")


def with_overrides(
    written: Written, *, caption_text: str | None, hashtags: list[str] | None
) -> Written:
    """Staff's own caption or hashtags instead of media's."""
    tags = tuple(hashtags) if hashtags is not None else written.hashtags
    if caption_text is not None:
        text = caption_text
    elif hashtags is not None:
        head = written.caption.rpartition("\n\n")[0]
        text = f"{head}\n\n{' '.join(tags)}" if tags else head
    else:
        text = written.caption
    return Written(written.kind, written.slides, text[:MAX_CAPTION], tags, written.alt_texts)
