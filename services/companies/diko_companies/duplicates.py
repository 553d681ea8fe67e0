"""Near-duplicate companies: normalised names, blocking keys and a score with reasons (no I/O).

Two records are compared only when they share a blocking key (postcode, a significant
name token, web domain, phone number, company e-mail domain), so neither a registration
nor a scan of all companies compares every pair. String similarity is RapidFuzz's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
from rapidfuzz import fuzz, process

#: The score from which a registration or change announces `company.duplicate_suspected`.
SUSPECT_FROM = 0.8
#: Most candidates one announcement lists.
MOST_CANDIDATES = 10
#: A name token shared by more companies than this is too generic to block on by itself
#: ("tischlerei", "service"); within one postcode it still is a block.
MOST_IN_TOKEN_BLOCK = 500

_UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "à": "a", "á": "a"}
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")
#: Legal-form words, after folding ("GmbH & Co. KG" → gmbh co kg; "e.K." → ek).
LEGAL_FORM_WORDS = frozenset(
    {
        "gmbh",
        "mbh",
        "ug",
        "haftungsbeschraenkt",
        "ag",
        "kg",
        "kgaa",
        "ohg",
        "gbr",
        "co",
        "ek",
        "ekfm",
        "ekfr",
        "eg",
        "ev",
        "se",
        "partg",
        "inh",
        "inhaber",
        "inhaberin",
    }
)
#: Words too common to block on.
_STOP_WORDS = frozenset({"und", "der", "die", "das", "des", "den", "dem", "fuer", "von", "zum"})
#: Mail providers whose domain says nothing about the company.
FREEMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "web.de",
        "gmx.de",
        "gmx.net",
        "t-online.de",
        "outlook.com",
        "outlook.de",
        "hotmail.com",
        "hotmail.de",
        "yahoo.de",
        "yahoo.com",
        "freenet.de",
        "icloud.com",
        "posteo.de",
        "mail.de",
        "aol.com",
        "arcor.de",
        "online.de",
        "live.de",
        "email.de",
    }
)


def fold(text: str) -> str:
    """Lower case, umlauts spelled out, every run of punctuation or space one space."""
    folded = text.casefold().translate(_UMLAUTS).replace(".", "")
    return _NOT_WORD.sub(" ", folded).strip()


def normalise_name(name: str) -> str:
    """The name as duplicates are compared: folded, legal-form words removed.

    Legal forms are dropped wherever they stand ("Müller GmbH & Co. KG Tischlerei"); a
    name that is nothing but legal-form words keeps them.
    """
    words = fold(name).split()
    kept = [w for w in words if w not in LEGAL_FORM_WORDS]
    return " ".join(kept or words)


def name_tokens(normalised: str) -> list[str]:
    """Words of a normalised name worth blocking on."""
    return sorted({w for w in normalised.split() if len(w) >= 3 and w not in _STOP_WORDS})


def phone_digits(phone: str | None) -> str | None:
    """A telephone number as digits in national form (+49 3931 … → 03931…); None if too short."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+49") or digits.startswith("0049"):
        digits = "0" + digits.removeprefix("00").removeprefix("49")
    return digits if len(digits) >= 6 else None


def web_domain(url: str | None) -> str | None:
    """The host of a web address without `www.`."""
    if not url:
        return None
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
    return host.removeprefix("www.") or None


def mail_domain(email: str | None) -> str | None:
    """The domain of a company e-mail address; None for a freemail provider."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower()
    return None if domain in FREEMAIL else domain


#: Blocking keys of evidence strong on its own: a shared phone number, web or mail domain.
STRONG_KEYS = ("tel:", "web:", "mail:")
#: Without strong evidence, a company in another postcode and town scores at most 0.7 for
#: the name and 0.05 for the street (`compare`): below SUSPECT_FROM, so a registration's
#: duplicate check looks for name-alikes in its postcode and town only.
NAME_NEEDS_PLACE = SUSPECT_FROM > 0.7 + 0.05


@dataclass(frozen=True, slots=True)
class Profile:
    """What duplicate detection knows of a company."""

    company_id: str
    name: str
    key: str  # the normalised name
    town: str
    postcode: str
    street: str  # folded
    phones: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    mail_domains: tuple[str, ...] = ()

    def block_keys(self) -> list[str]:
        """Two companies are compared when they share one of these keys: a name token in
        the same postcode, a name token anywhere (unless too common), a phone number, a
        web domain, a company mail domain."""
        tokens = name_tokens(self.key)
        keys = [f"pt:{self.postcode}|{t}" for t in tokens]
        keys += [f"tok:{t}" for t in tokens]
        keys += [f"tel:{p}" for p in self.phones]
        keys += [f"web:{d}" for d in self.domains]
        keys += [f"mail:{d}" for d in self.mail_domains]
        return keys


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Match:
    """How alike two companies are, and why."""

    score: float
    reasons: tuple[Reason, ...]


def name_similarity(a: str, b: str) -> float:
    """0–1: the better of plain and word-order-free similarity of two normalised names."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0


def compare(a: Profile, b: Profile, name: float | None = None) -> Match:
    """The duplicate score of two companies (0–1) with the reasons that make it up.

    Name similarity weighs 0.7; the same postcode adds 0.2 (else the same town 0.15),
    the same street 0.05. The same web domain, phone number or company mail domain is
    strong evidence on its own: the score is then at least 0.8 + 0.15 × name similarity.
    """
    similarity = name_similarity(a.key, b.key) if name is None else name
    reasons = [Reason("similar_name", _name_text(similarity))] if similarity >= 0.6 else []
    score = 0.7 * similarity
    if a.postcode == b.postcode:
        score += 0.2
        reasons.append(Reason("same_postcode", f"gleiche Postleitzahl {a.postcode}"))
    elif a.town == b.town:
        score += 0.15
        reasons.append(Reason("same_town", f"gleicher Ort {a.town}"))
    if a.street and a.street == b.street:
        score += 0.05
        reasons.append(Reason("same_street", f"gleiche Straße ({a.street})"))
    strong = [
        Reason("same_web_domain", f"gleiche Website-Domain {d}")
        for d in sorted(set(a.domains) & set(b.domains))
    ]
    strong += [
        Reason("same_phone", f"gleiche Telefonnummer {p}")
        for p in sorted(set(a.phones) & set(b.phones))
    ]
    strong += [
        Reason("same_email_domain", f"gleiche E-Mail-Domain {d}")
        for d in sorted(set(a.mail_domains) & set(b.mail_domains))
    ]
    if strong:
        score = max(score, 0.8 + 0.15 * similarity)
        reasons += strong
    return Match(round(min(score, 1.0), 3), tuple(reasons))


def _name_text(similarity: float) -> str:
    percent = int(similarity * 100)
    if percent >= 100:
        return "gleicher Name (ohne Rechtsform, Umlaute, Satzzeichen und Wortfolge)"
    return f"Name zu {percent} % gleich (ohne Rechtsform, Umlaute und Wortfolge)"


def candidates(
    profile: Profile,
    named: Sequence[Profile],
    strong: Sequence[Profile] = (),
    *,
    min_score: float = SUSPECT_FROM,
) -> list[tuple[Profile, Match]]:
    """The others that look like `profile`, best first (at most MOST_CANDIDATES).

    `strong` share a phone number, web or mail domain with it and are compared in full;
    `named` share only a name block and are first filtered by name with RapidFuzz (in
    C++, all at once). The directory sorts its neighbours into the two from its blocks,
    so no Python loop runs over the hundreds in a common name block.
    """
    close = process.extract(
        profile.key,
        [other.key for other in named],
        scorer=fuzz.token_sort_ratio,
        score_cutoff=name_cutoff(min_score),
        limit=None,
    )
    found = []
    for other in [*strong, *(named[index] for _, _, index in close)]:
        if other.company_id == profile.company_id:
            continue
        match = compare(profile, other)
        if match.score >= min_score:
            found.append((other, match))
    found.sort(key=lambda pair: (-pair[1].score, pair[0].company_id))
    return found[:MOST_CANDIDATES]


def name_cutoff(min_score: float) -> float:
    """The least name similarity (0–100) with which a pair can reach `min_score` by place."""
    return max(0.0, (min_score - 0.25) / 0.7 * 100.0)


@dataclass
class ScanResult:
    pairs: list[tuple[Profile, Profile, Match]]
    comparisons: int


def scan(profiles: Sequence[Profile], *, min_score: float) -> ScanResult:
    """Every pair of `profiles` scoring at least `min_score`, best first.

    Pairs are compared within blocks only: a block of a name token (in one postcode, or
    anywhere while it is not too common) is pre-filtered with RapidFuzz's `cdist` on
    names (vectorised), a block of a shared web domain, phone number or mail domain is
    compared in full (that evidence alone can make a duplicate).
    """
    blocks: dict[str, list[int]] = {}
    for index, profile in enumerate(profiles):
        for key in profile.block_keys():
            blocks.setdefault(key, []).append(index)
    seen: dict[tuple[int, int], Match] = {}
    comparisons = 0
    cutoff = name_cutoff(min_score)
    for key, members in blocks.items():
        if len(members) < 2:
            continue
        strong = not key.startswith(("pt:", "tok:"))
        if key.startswith("tok:") and len(members) > MOST_IN_TOKEN_BLOCK:
            continue
        comparisons += len(members) * (len(members) - 1) // 2
        for i, j, name in _close_pairs(profiles, members, 0.0 if strong else cutoff):
            pair = (min(i, j), max(i, j))
            if pair in seen:
                continue
            match = compare(profiles[pair[0]], profiles[pair[1]], name)
            if match.score >= min_score:
                seen[pair] = match
    pairs = [(profiles[i], profiles[j], m) for (i, j), m in seen.items()]
    pairs.sort(key=lambda p: (-p[2].score, p[0].company_id, p[1].company_id))
    return ScanResult(pairs, comparisons)


def _close_pairs(
    profiles: Sequence[Profile], members: list[int], cutoff: float
) -> Iterable[tuple[int, int, None]]:
    """Pairs (i, j, _) of a block whose names are at least `cutoff` alike (word order aside)."""
    names = [profiles[m].key for m in members]
    best = process.cdist(names, names, scorer=fuzz.token_sort_ratio, score_cutoff=cutoff)
    rows, cols = best.nonzero() if cutoff > 0 else np.triu_indices(len(members), k=1)
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        if a < b:
            yield members[a], members[b], None
