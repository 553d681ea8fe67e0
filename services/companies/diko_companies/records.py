"""Rules of the company record (no I/O): changes, contacts, consents, presence, history.

The stored company document holds the fields of `Company` plus the ids of its contacts,
positions and consultations; these functions decide what a message changes in it and
describe each change as (field, before, after) for the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from diko_companies import duplicates
from diko_companies.directory import CompanyRow, PositionRow
from diko_companies.domain import Problems, canonical_town
from diko_shared.contract.base import Payload
from diko_shared.contract.companies import (
    AddContact,
    Checklist,
    Contact,
    SetConsent,
    UpdateCompany,
    UpdateContact,
)
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.geo import Place, load_gazetteer
from diko_shared.messaging.errors import Conflict, Invalid

BERLIN = ZoneInfo("Europe/Berlin")
#: A follow-up reminder goes out at this local time of its day.
FOLLOW_UP_AT = time(7, 0)

#: Company fields a registration or `company.update` sets, in the order the history lists them.
COMPANY_FIELDS = (
    "name",
    "address",
    "industry",
    "website",
    "phone",
    "instagram",
    "google_business_profile",
)
CONTACT_FIELDS = ("name", "role", "title", "email", "phone", "preferred_channel")

_ROLE_WORDS = {
    "Inhaber/in": ("inhaber", "geschaeftsfuehr", "chef", "eigentuemer"),
    "Ausbilder/in": ("ausbild", "ausbildungsleit", "meister"),
    "Personal": ("personal", "hr", "human"),
    "Marketing": ("marketing", "social", "presse", "kommunikation"),
}


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any

    def as_doc(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


def diff(
    before: dict[str, Any], after: dict[str, Any], fields: tuple[str, ...], prefix: str = ""
) -> list[Change]:
    """The changes between two versions of a document, nested fields spelled out."""
    changes: list[Change] = []
    for name in fields:
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            keys = tuple(sorted(set(old) | set(new)))
            changes += diff(old, new, keys, f"{prefix}{name}.")
        else:
            changes.append(Change(f"{prefix}{name}", old, new))
    return changes


# -- companies ---------------------------------------------------------------------------------


def place(town: str) -> Place:
    return load_gazetteer().lookup(town)


def place_of_postcode(postcode: str) -> Place | None:
    """A gazetteer place with this postcode (the first, if several share it)."""
    for candidate in load_gazetteer().places:
        if candidate.postcode == postcode:
            return candidate
    return None


def updated_company(stored: dict[str, Any], data: UpdateCompany) -> dict[str, Any]:
    """The company's fields after `company.update`: given fields replace, `clear` empties."""
    problems = Problems()
    fields = {name: stored.get(name) for name in COMPANY_FIELDS}
    for name in COMPANY_FIELDS:
        value = getattr(data, name)
        if value is None:
            continue
        if name in data.clear:
            problems.add(f"data.{name}", "zugleich gesetzt und in clear genannt")
        if name == "address":
            town = canonical_town(value.town, "data.address.town", problems)
            value = {"street": value.street, "postcode": value.postcode, "town": town}
        fields[name] = value
    for name in data.clear:
        fields[name] = None
    problems.raise_any()
    return fields


def registration_fields(data: Any, town: str) -> dict[str, Any]:
    """The company fields of a registration, its town canonical."""
    return {
        "name": data.name,
        "address": {"street": data.address.street, "postcode": data.address.postcode, "town": town},
        "industry": data.industry,
        "website": data.website,
        "phone": data.phone,
        "instagram": data.instagram,
        "google_business_profile": data.google_business_profile,
    }


def profile(
    company_id: str, fields: dict[str, Any], contacts: list[dict[str, Any]]
) -> duplicates.Profile:
    """What duplicate detection compares of a company and its contacts."""
    address = fields["address"]
    phones = {duplicates.phone_digits(fields.get("phone"))}
    phones |= {duplicates.phone_digits(c.get("phone")) for c in contacts}
    mails = {duplicates.mail_domain(c.get("email")) for c in contacts}
    return duplicates.Profile(
        company_id=company_id,
        name=fields["name"],
        key=duplicates.normalise_name(fields["name"]),
        town=address["town"],
        postcode=address["postcode"],
        street=duplicates.fold(address["street"]),
        phones=tuple(sorted(p for p in phones if p)),
        domains=tuple(d for d in [duplicates.web_domain(fields.get("website"))] if d),
        mail_domains=tuple(sorted(m for m in mails if m)),
    )


def company_row(
    company_id: str, stored: dict[str, Any], contacts: list[dict[str, Any]]
) -> CompanyRow:
    """The directory row of a stored company document."""
    town = place(stored["address"]["town"])
    consents = frozenset(
        purpose
        for purpose, state in (stored.get("consents") or {}).items()
        if state.get("status") == "given"
    )
    presence = stored.get("presence") or {}
    return CompanyRow(
        profile=profile(company_id, stored, contacts),
        industry=stored.get("industry"),
        lat=town.latitude,
        lon=town.longitude,
        consents=consents,
        score=presence.get("score"),
        merged=bool(stored.get("merged_into")),
    )


def position_row(position: dict[str, Any], position_id: str) -> PositionRow:
    town = place(position["town"])
    start = position["start_date"]
    return PositionRow(
        position_id=position_id,
        company_id=position["company_id"],
        code=position["occupation"]["code"],
        start=start if isinstance(start, str) else start.isoformat(),
        town=position["town"],
        lat=town.latitude,
        lon=town.longitude,
        status=position["status"],
    )


def merged_away(company_id: str, survivor: str) -> Conflict:
    return Conflict(
        f"Die Firma {company_id} wurde mit {survivor} zusammengeführt; bitte {survivor} ändern",
        [ErrorDetail(field="data.company_id", problem=f"zusammengeführt in {survivor}")],
    )


# -- contacts ----------------------------------------------------------------------------------


def classify_role(text: str | None) -> str | None:
    """One of the four roles for a free-text job title, if it says which."""
    if not text:
        return None
    folded = duplicates.fold(text)
    for role, words in _ROLE_WORDS.items():
        if any(word in folded for word in words):
            return role
    return None


def new_contact(data: AddContact | Contact, contact_id: str, company_id: str) -> dict[str, Any]:
    """A contact document from `contact.add` or a registration's contact person."""
    if isinstance(data, Contact):
        fields = {
            "name": data.name,
            "role": classify_role(data.role),
            "title": data.role,
            "email": data.email,
            "phone": data.phone,
            "preferred_channel": data.preferred_channel or "email",
        }
    else:
        fields = {name: getattr(data, name) for name in CONTACT_FIELDS}
    _reachable(fields, "data")
    return {"_id": contact_id, "company_id": company_id, **fields, "consents": {}}


def updated_contact(stored: dict[str, Any], data: UpdateContact) -> dict[str, Any]:
    fields = {name: stored.get(name) for name in CONTACT_FIELDS}
    for name in CONTACT_FIELDS:
        value = getattr(data, name)
        if value is not None:
            if name in data.clear:
                raise Invalid.field(f"data.{name}", "zugleich gesetzt und in clear genannt")
            fields[name] = value
    for name in data.clear:
        fields[name] = None
    _reachable(fields, "data")
    return fields


def _reachable(fields: dict[str, Any], prefix: str) -> None:
    if not fields.get("email") and not fields.get("phone"):
        raise Invalid(
            "Eine Ansprechperson braucht eine E-Mail-Adresse oder eine Telefonnummer",
            [
                ErrorDetail(field=f"{prefix}.email", problem="E-Mail oder Telefon angeben"),
                ErrorDetail(field=f"{prefix}.phone", problem="E-Mail oder Telefon angeben"),
            ],
        )
    if fields.get("preferred_channel") == "email" and not fields.get("email"):
        fields["preferred_channel"] = "phone"


# -- consents ----------------------------------------------------------------------------------


def consent_state(data: SetConsent) -> dict[str, Any]:
    if data.status == "given" and not data.text_version:
        raise Invalid.field(
            "data.text_version", "bei einer Einwilligung ist die Fassung des Textes anzugeben"
        )
    return {
        "purpose": data.purpose,
        "status": data.status,
        "declared_at": data.declared_at.astimezone(UTC),
        "declared_by": data.declared_by,
        "via": data.via,
        "text_version": data.text_version,
        "recorded_by": data.recorded_by,
    }


def supersedes(new: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Whether a declaration replaces the one in force: it is newer (or there is none)."""
    return current is None or _aware(new["declared_at"]) > _aware(current["declared_at"])


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- presence ----------------------------------------------------------------------------------

CHECKLIST_ITEMS = tuple(Checklist.model_fields)


def assess(previous: dict[str, Any] | None, update: Checklist | None) -> dict[str, Any]:
    """The checklist after a consultation: assessed items replace, the others stay."""
    items = dict((previous or {}).get("checklist") or {})
    if update is not None:
        items.update({k: v for k, v in update.model_dump().items() if v is not None})
    return items


def score(checklist: dict[str, Any]) -> int:
    """Share of the checklist met, 0–100 (an item not assessed counts as not met)."""
    met = sum(1 for item in CHECKLIST_ITEMS if checklist.get(item) is True)
    return round(100 * met / len(CHECKLIST_ITEMS))


def follow_up_due_at(day: date) -> datetime:
    """When the reminder of a follow-up on `day` is due: 07:00 in Berlin."""
    return datetime.combine(day, FOLLOW_UP_AT, tzinfo=BERLIN).astimezone(UTC)


def dump(payload: Payload) -> dict[str, Any]:
    return payload.model_dump(mode="json")
