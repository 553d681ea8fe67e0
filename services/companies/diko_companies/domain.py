"""The rules of the companies service: pure functions, no I/O.

Validation collects every problem of a message before it answers, so that an
integrator fixes all fields in one round. Problem texts are German: staff read them
in replies and dead letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from diko_companies.search import (
    Centre,
    CompanyQuery,
    PositionQuery,
    cursor_after,
    search_words,
)
from diko_shared.contract.common import Occupation, PositionStatus
from diko_shared.contract.companies import (
    Address,
    Company,
    CompanyContact,
    Contact,
    OpenPosition,
    Position,
    PositionSummary,
    RegisterCompany,
    SearchCompanies,
    SearchPositions,
    UpdatePosition,
)
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import MatchAccepted
from diko_shared.geo import UnknownPlaceError, load_gazetteer
from diko_shared.messaging.errors import Conflict, Invalid
from diko_shared.occupations import load_occupations, shared_prefix_length

#: A duplicate-guard claim whose company never appeared is given up after this long: the
#: registration that made it has failed for good (its retries are spent long before).
CLAIM_GRACE = timedelta(minutes=15)

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e"})
_NOT_WORD = re.compile(r"[^a-z0-9]+")
#: Legal-form words at the end of a company name ("GmbH & Co. KG", "e.K."), after folding.
_LEGAL_FORM_WORDS = frozenset(
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
        "se",
        "partg",
    }
)


def fold(text: str) -> str:
    """Lower case, umlauts spelled out, every run of punctuation or space one space."""
    folded = text.casefold().translate(_UMLAUTS).replace(".", "")
    return _NOT_WORD.sub(" ", folded).strip()


def normalise_company_name(name: str) -> str:
    """The name as the duplicate guard compares it: folded, without a trailing legal form."""
    words = fold(name).split()
    while len(words) > 1 and words[-1] in _LEGAL_FORM_WORDS:
        words.pop()
    return " ".join(words)


def duplicate_key(name: str, postcode: str) -> str:
    """Two companies with the same key are taken for the same company."""
    return f"{normalise_company_name(name)}|{postcode}"


def claim_abandoned(claimed_at: datetime, now: datetime) -> bool:
    """Whether a duplicate-guard claim without its company may be taken over."""
    return now - claimed_at > CLAIM_GRACE


# -- validation --------------------------------------------------------------------------------


class Problems:
    """The problems found in one message, raised together as one `Invalid`."""

    def __init__(self) -> None:
        self.details: list[ErrorDetail] = []

    def add(self, field: str, problem: str) -> None:
        self.details.append(ErrorDetail(field=field, problem=problem))

    def raise_any(self) -> None:
        if not self.details:
            return
        listed = "; ".join(f"{d.field}: {d.problem}" for d in self.details)
        raise Invalid(f"{len(self.details)} ungültige(s) Feld(er): {listed}", self.details)


def canonical_town(name: str, field: str, problems: Problems) -> str:
    """The gazetteer's spelling of a German town (the Altmark first); an unknown one is a
    problem with hints."""
    try:
        return load_gazetteer().lookup(name).name
    except UnknownPlaceError as exc:
        hint = "" if exc.suggestions else " – erwartet wird ein Ort in Deutschland"
        problems.add(field, f"{exc}{hint}")
        return name


def canonical_occupation(occupation: Occupation, field: str, problems: Problems) -> Occupation:
    """The occupation with a known KldB 2010 code, its name in the catalogue's spelling.

    A name of our own is kept (companies name specialisations), but a name the catalogue
    files under another code is a contradiction, not a specialisation.
    """
    catalogue = load_occupations()
    names = catalogue.names(occupation.code)
    if not names:
        problems.add(f"{field}.code", _unknown_code(occupation.code))
        return occupation
    given = fold(occupation.name)
    for name in names:
        if fold(name) == given:
            return Occupation(code=occupation.code, name=name)
    for other in catalogue.occupations:
        if fold(other.name) == given:
            problems.add(
                f"{field}.name",
                f"{other.name} hat den KldB-Code {other.code}, nicht {occupation.code} "
                f"({catalogue.label(occupation.code)})",
            )
            break
    return occupation


def _unknown_code(code: str) -> str:
    catalogue = load_occupations()
    related = sorted(
        catalogue.codes(), key=lambda known: (-shared_prefix_length(code, known), known)
    )[:3]
    hints = ", ".join(f"{known} {catalogue.label(known)}" for known in related)
    return f"unbekannter KldB-2010-Code {code!r} (verwandte Codes: {hints})"


# -- companies ---------------------------------------------------------------------------------


def register(data: RegisterCompany, company_id: str, contact_id: str) -> Company:
    """A new company from its registration, its town in the gazetteer's spelling."""
    problems = Problems()
    town = canonical_town(data.address.town, "data.address.town", problems)
    problems.raise_any()
    contacts = [] if data.contact is None else [registered_contact(data.contact, contact_id)]
    return Company(
        company_id=company_id,
        name=data.name,
        address=Address(street=data.address.street, postcode=data.address.postcode, town=town),
        contacts=contacts,
        industry=data.industry,
        website=data.website,
    )


def registered_contact(contact: Contact, contact_id: str) -> CompanyContact:
    """The contact person a registration names, its free-text role kept as the title."""
    return CompanyContact(
        contact_id=contact_id,
        name=contact.name,
        title=contact.role,
        email=contact.email,
        phone=contact.phone,
        preferred_channel=contact.preferred_channel or "email",
    )


def duplicate(name: str, postcode: str, existing_id: str) -> Conflict:
    """The answer to a registration of a company that is registered already."""
    return Conflict(
        f"Die Firma {name!r} (PLZ {postcode}) ist bereits registriert: {existing_id}",
        [ErrorDetail(field="data.name", problem=f"bereits registriert als {existing_id}")],
    )


# -- positions ---------------------------------------------------------------------------------


def open_position(data: OpenPosition, position_id: str, company_name: str) -> Position:
    """A new open position of the company, its town and occupation checked and canonical."""
    problems = Problems()
    occupation = canonical_occupation(data.occupation, "data.occupation", problems)
    town = canonical_town(data.town, "data.town", problems)
    problems.raise_any()
    return Position(
        position_id=position_id,
        company_id=data.company_id,
        company_name=company_name,
        occupation=occupation,
        places=data.places,
        places_taken=0,
        start_date=data.start_date,
        town=town,
        school_certificate=data.school_certificate,
        status="open",
        description=data.description,
    )


def summary(position: Position) -> PositionSummary:
    """The position as listed with its company."""
    return PositionSummary(
        position_id=position.position_id,
        occupation=position.occupation,
        places=position.places,
        places_taken=position.places_taken,
        start_date=position.start_date,
        town=position.town,
        status=position.status,
    )


#: How error texts name a position's status.
STATUS_WORDS = {"open": "offen", "filled": "besetzt", "closed": "geschlossen"}


def updated_position(stored: dict[str, Any], data: UpdatePosition) -> dict[str, Any]:
    """The position after `position.update`: fields sent replace, places not below those taken.

    A position whose places are all taken by the change is filled; one that gains free
    places is open again (a closed position stays closed).
    """
    problems = Problems()
    after = dict(stored)
    for name in ("occupation", "places", "start_date", "town", "school_certificate", "description"):
        value = getattr(data, name)
        if value is None:
            continue
        if name == "occupation":
            value = canonical_occupation(value, "data.occupation", problems).model_dump()
        elif name == "town":
            value = canonical_town(value, "data.town", problems)
        elif name == "start_date":
            value = value.isoformat()
        after[name] = value
    if "description" in data.clear:
        if data.description is not None:
            problems.add("data.description", "zugleich gesetzt und in clear genannt")
        after["description"] = None
    taken = stored.get("places_taken", 0)
    if after["places"] < taken:
        problems.add("data.places", f"{taken} Plätze sind schon vergeben; weniger geht nicht")
    problems.raise_any()
    if after["status"] != "closed":
        after["status"] = "filled" if after["places"] == taken else "open"
    return after


def _centre(
    town: str | None, postcode: str | None, radius_km: float | None, problems: Problems
) -> tuple[str | None, str | None, Centre | None]:
    """(town for an exact match, postcode for an exact match, centre of a radius search)."""
    canonical = None if town is None else canonical_town(town, "data.town", problems)
    if radius_km is None:
        return canonical, postcode, None
    if canonical is not None:
        place = load_gazetteer().get(canonical)
        if place is not None:
            return None, None, Centre(place.latitude, place.longitude, radius_km)
        return None, None, None
    if postcode is not None:
        for place in load_gazetteer().places:
            if place.postcode == postcode:
                return None, None, Centre(place.latitude, place.longitude, radius_km)
        problems.add(
            "data.postcode", f"Postleitzahl {postcode} ist im Ortsverzeichnis nicht bekannt"
        )
        return None, None, None
    problems.add("data.radius_km", "ein Umkreis braucht einen Ort (town) oder eine Postleitzahl")
    return None, None, None


def company_query(data: SearchCompanies) -> CompanyQuery:
    problems = Problems()
    town, postcode, centre = _centre(data.town, data.postcode, data.radius_km, problems)
    if data.order == "distance" and centre is None and data.radius_km is None:
        place = None if town is None else load_gazetteer().get(town)
        if place is not None:
            centre = Centre(place.latitude, place.longitude, None)
        else:
            problems.add(
                "data.order", "nach Entfernung sortieren braucht einen Ort oder eine Postleitzahl"
            )
    after = cursor_after(data.cursor)
    problems.raise_any()
    return CompanyQuery(
        words=search_words(data.text),
        town=town,
        postcode=postcode,
        centre=centre,
        industry=data.industry,
        has_open_positions=data.has_open_positions,
        consents=frozenset(data.consents),
        order=data.order,
        limit=data.limit,
        after=after,
    )


def position_query(data: SearchPositions) -> PositionQuery:
    problems = Problems()
    town, _, centre = _centre(data.town, data.postcode, data.radius_km, problems)
    if data.start_from and data.start_until and data.start_from > data.start_until:
        problems.add("data.start_until", "liegt vor start_from")
    after = cursor_after(data.cursor)
    problems.raise_any()
    return PositionQuery(
        code_prefix=data.occupation_code,
        town=town,
        centre=centre,
        start_from=data.start_from,
        start_until=data.start_until,
        company_id=data.company_id,
        status=data.status,
        limit=data.limit,
        after=after,
    )


# -- places taken by accepted matches ----------------------------------------------------------


@dataclass(frozen=True)
class HeldPlace:
    """A place of a position taken by an accepted match (place numbers start at 1)."""

    number: int
    proposal_id: str
    message_key: str


@dataclass(frozen=True)
class Take:
    """What an accepted match comes to for its position.

    `claim`: the place `number` is free and must be claimed first. `announce`: this message
    took (or is taking) the place, so it emits `position.updated` (and `position.filled`
    for the last place); a redelivery announces again under the same message ids. Another
    message for a match that already holds a place announces nothing.
    """

    number: int
    places: int
    claim: bool
    announce: bool

    @property
    def places_taken(self) -> int:
        """Places are taken in order, so the number of a place is the count taken with it."""
        return self.number

    @property
    def fills(self) -> bool:
        return self.number == self.places

    @property
    def status(self) -> PositionStatus:
        return "filled" if self.fills else "open"


def check_match(position: Position, match: MatchAccepted) -> None:
    """An accepted match must name the company that owns its position."""
    if match.company_id != position.company_id:
        raise Invalid.field(
            "data.company_id",
            f"die Stelle {position.position_id} gehört zu {position.company_id}, "
            f"nicht zu {match.company_id}",
        )


def decide_take(
    position: Position,
    match: MatchAccepted,
    message_key: str,
    held: HeldPlace | None,
    free: int | None,
) -> Take:
    """Given the place this match holds (if any) or the first free place (if any)."""
    if held is not None:
        announce = held.message_key == message_key
        return Take(held.number, position.places, claim=False, announce=announce)
    if position.status == "closed":
        raise Conflict(
            f"Die Stelle {position.position_id} ist geschlossen; "
            f"der Vorschlag {match.proposal_id} kann keinen Platz bekommen",
            [ErrorDetail(field="data.position_id", problem="Stelle geschlossen")],
        )
    if free is None:
        raise Conflict(
            f"Die Stelle {position.position_id} ({position.occupation.name} bei "
            f"{position.company_name}) ist bereits besetzt: alle {position.places} Plätze "
            f"sind vergeben; der Vorschlag {match.proposal_id} bekommt keinen Platz mehr",
            [ErrorDetail(field="data.position_id", problem="alle Plätze vergeben")],
        )
    return Take(free, position.places, claim=True, announce=True)
