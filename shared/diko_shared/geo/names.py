"""Lookup keys of place names: how a name as people type it is compared.

Staff and applicants write "Osterburg", "osterburg (altmark)", "Tangermuende",
"Hansestadt Stendal", "Wittenberg" for "Lutherstadt Wittenberg". Two keys come of a
name: the *full* key keeps a parenthesised suffix ("osterburg (altmark)") and finds a
place by its canonical name; the *base* key drops it ("osterburg") and finds every
place of that name, of which the gazetteer's ranking picks one.
"""

from __future__ import annotations

import re
import unicodedata

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_PREFIX = re.compile(r"^(hansestadt|lutherstadt|stadt|gemeinde|flecken)\s+")
_SUFFIX = re.compile(r"\s*\(([^()]*)\)\s*$")
_SPACES = re.compile(r"[\s\-_/]+")
_ABBREVIATIONS = (
    (re.compile(r"\.(?=\S)"), ". "),
    (re.compile(r"\bst\. "), "sankt "),
    (re.compile(r"\ba\. d\. "), "an der "),
    (re.compile(r"\bi\. d\. "), "in der "),
    (re.compile(r"\bv\. d\. "), "vor der "),
    (re.compile(r"\bo\. d\. "), "ob der "),
    (re.compile(r"\ba\. "), "am "),
    (re.compile(r"\bb\. "), "bei "),
    (re.compile(r"\bi\. "), "in "),
)
"""Official short forms, spelled out: 'Buch a. Buchrain' is 'Buch am Buchrain'."""
_QUALIFIER = re.compile(r"\s+(bei|am|an der|an den|im|in|in der|ob der|vor der|auf der)\s.*$")


def fold(text: str) -> str:
    """Lower case, umlauts and ß spelled out, other accents dropped, one space between words."""
    text = text.strip().lower().translate(_UMLAUTS)
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    if "." in text:
        for pattern, replacement in _ABBREVIATIONS:
            text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()


def split_suffix(name: str) -> tuple[str, str | None]:
    """'Osterburg (Altmark)' -> ('Osterburg', 'Altmark'); a name without one -> (name, None)."""
    match = _SUFFIX.search(name)
    if match is None:
        return name.strip(), None
    return name[: match.start()].strip(), match.group(1).strip()


def _strip_prefix(key: str) -> str:
    stripped = _PREFIX.sub("", key)
    return stripped or key


def normalise_place_name(name: str) -> str:
    """The base key of a place name: folded, no 'Hansestadt'/'Stadt' prefix, no suffix."""
    base, _ = split_suffix(fold(name))
    return _strip_prefix(base).strip()


def full_key(name: str) -> str:
    """The key of a canonical name: like the base key, but the suffix is kept."""
    base, suffix = split_suffix(fold(name))
    base = _strip_prefix(base).strip()
    return base if suffix is None else f"{base} ({suffix})"


def short_key(name: str) -> str:
    """The base key without a qualifier: 'Oelsnitz/Erzgeb.', 'Sohland a.d. Spree',
    'Frankfurt am Main', 'Neuendorf b. Elmshorn' -> 'oelsnitz', 'sohland', 'frankfurt',
    'neuendorf'. People write the short form; it finds the place among others of that name.
    """
    return name_keys(name)[2]


def lookup_keys(name: str) -> tuple[str, ...]:
    """The base key, and the short key where it differs."""
    _, base, short = name_keys(name)
    return (base,) if short == base else (base, short)


def name_keys(name: str) -> tuple[str, str, str]:
    """(full key, base key, short key) of a name, folding it once."""
    base, suffix = split_suffix(fold(name))
    base = _strip_prefix(base).strip()
    full = base if suffix is None else f"{base} ({suffix})"
    short = normalise_place_name(name.split("/", 1)[0]) if "/" in name else base
    return full, base, _QUALIFIER.sub("", short) or short
