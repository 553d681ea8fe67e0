"""The German words of a post: dates, the caption and its hashtags. Pure functions."""

from __future__ import annotations

import re
from datetime import date

from diko_shared.german import long_date

NUMBERS = ("null", "ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
           "zehn", "elf", "zwölf")  # fmt: skip

#: Every "Azubi gesucht" post carries these; the occupation's and the town's follow.
BASE_HASHTAGS = ("#Ausbildung", "#Altmark", "#AzubiGesucht")

_MASCULINE_R = re.compile(r"/r\b")  # Fachangestellte/r -> Fachangestellter
_GENDER_SUFFIX = re.compile(r"/-?[a-zäöüß]+\b|/[A-ZÄÖÜ]\w*")  # /in, /-frau, /Köchin
_PARENTHESES = re.compile(r"\([^)]*\)")
_NOT_WORD = re.compile(r"[\W_]+")


def german_date(day: date) -> str:
    """`1. August 2027`: how a date is written in running German text."""
    return long_date(day)


def start_phrase(day: date) -> str:
    """`ab 1. August 2027`: a training start is the earliest day, not a fixed one."""
    return f"ab {german_date(day)}"


def places_sentence(places: int) -> str:
    if places == 1:
        return "Ein Ausbildungsplatz ist frei."
    count = NUMBERS[places].capitalize() if places < len(NUMBERS) else str(places)
    return f"{count} Ausbildungsplätze sind frei."


def hashtag(words: list[str]) -> str | None:
    """`#` and the words joined in CamelCase, letters and digits only (Instagram's rule)."""
    parts = [_NOT_WORD.sub("", word) for word in words]
    joined = "".join(part[:1].upper() + part[1:] for part in parts if part)
    return f"#{joined}" if joined else None


def occupation_hashtag(occupation: str) -> str | None:
    """The core of an occupation's name, e.g. #KaufmannBüromanagement, #Tischler.

    Up to two capitalised words, without gender endings, connecting words (für, im, und)
    or words cut off at a hyphen (`Sanitär-, Heizungs- und Klimatechnik`).
    """
    name = _GENDER_SUFFIX.sub("", _MASCULINE_R.sub("r", occupation))
    name = _PARENTHESES.sub(" ", name)
    kept: list[str] = []
    for word in name.split():
        if word[-1] in "-,":
            if kept:
                break
            continue
        if word[0].isupper():
            kept.append(word)
            if len(kept) == 2:
                break
    return hashtag(kept)


def town_hashtag(town: str) -> str | None:
    """`Osterburg (Altmark)` → #Osterburg, `Hohenberg-Krusemark` → #HohenbergKrusemark."""
    return hashtag(_NOT_WORD.split(_PARENTHESES.sub(" ", town)))


def azubi_hashtags(occupation: str, town: str) -> list[str]:
    tags = [*BASE_HASHTAGS, occupation_hashtag(occupation), town_hashtag(town)]
    unique: list[str] = []
    for tag in tags:
        if tag and tag.casefold() not in {t.casefold() for t in unique}:
            unique.append(tag)
    return unique


def azubi_caption(
    *, company: str, occupation: str, town: str, start: date, places: int, hashtags: list[str]
) -> str:
    """The text under an "Azubi gesucht" post, ready to copy, hashtags on the last line."""
    return "\n\n".join(
        (
            f"Azubi gesucht in {town}!",
            f"{company} bildet aus: {occupation}, Start {start_phrase(start)}. "
            + places_sentence(places),
            "Du suchst eine Ausbildung mit Zukunft in der Altmark? Dann bewirb dich jetzt – "
            "wir bringen dich mit dem Betrieb zusammen.",
            " ".join(hashtags),
        )
    )
