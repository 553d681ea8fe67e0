"""Who receives what: recipients of every kind, staff responsibilities, the contact person
of a company. Pure rules, no I/O.

A staff member is responsible for a place when it lies in one of their districts
(Landkreise) or municipalities (Gemeinden), as the gazetteer places it, and for an
occupation when its KldB 2010 code starts with one of their occupation fields. Without
districts and municipalities they cover every place; without fields, every occupation.
Everyone who is responsible receives the mail; when nobody responsible would receive
it (nobody covers it, or everyone who does switched that kind of mail off or has an
undeliverable address), it goes to the team address instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.notifications import Responsibilities
from diko_shared.geo import load_gazetteer
from diko_shared.messaging.errors import Invalid

RecipientKind = Literal["staff", "contact", "applicant", "address"]
_DISTRICT_PREFIX = re.compile(r"^(landkreis|kreis|lk)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Recipient:
    """Someone an e-mail goes to. `key` names them in the delivery log and in links:
    a staff, contact or applicant id, or `adr_…` for an address diko keeps no record of."""

    key: str
    kind: RecipientKind
    name: str
    email: str
    #: Applicants are mostly young: their mail says „du“.
    young: bool = False
    team: bool = False

    @property
    def staff_id(self) -> str | None:
        return self.key if self.kind == "staff" else None


def address_key(email: str) -> str:
    """The key of a bare address: stable, and no address in links or ids."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:20]
    return f"adr_{digest}"


def email_key(email: str) -> str:
    """The form under which an address is one: `Anna@X.de` and `anna@x.de` are the same."""
    return email.strip().lower()


# -- responsibilities -------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """Where a staff member works and in which occupation fields."""

    districts: frozenset[str] = frozenset()
    municipalities: frozenset[str] = frozenset()
    fields: tuple[str, ...] = ()

    def covers_place(self, district: str | None, municipality: str | None) -> bool:
        if not self.districts and not self.municipalities:
            return True
        return (district is not None and place_key(district) in self.districts) or (
            municipality is not None and place_key(municipality) in self.municipalities
        )

    def covers_occupation(self, code: str | None) -> bool:
        if not self.fields:
            return True
        return code is not None and any(code.startswith(prefix) for prefix in self.fields)


@dataclass(frozen=True)
class StaffMember:
    """A staff member as routing sees them."""

    staff_id: str
    name: str
    email: str
    area: Area = field(default_factory=Area)
    active: bool = True
    team: bool = False

    def as_recipient(self) -> Recipient:
        return Recipient(self.staff_id, "staff", self.name, self.email, team=self.team)


def place_key(name: str) -> str:
    """Districts and municipalities compared without case and without „Landkreis“."""
    return _DISTRICT_PREFIX.sub("", name.strip()).casefold()


@dataclass(frozen=True)
class Where:
    """The place and occupation a mail is about (any may be unknown)."""

    town: str | None = None
    occupation_code: str | None = None

    def district_and_municipality(self) -> tuple[str | None, str | None]:
        if not self.town:
            return None, None
        place = load_gazetteer().get(self.town)
        return (place.district, place.municipality) if place is not None else (None, None)


def responsible(staff: Iterable[StaffMember], where: Where) -> list[StaffMember]:
    """Every active staff member (not the team) whose area and fields cover `where`."""
    district, municipality = where.district_and_municipality()
    return [
        member
        for member in staff
        if member.active
        and not member.team
        and member.area.covers_place(district, municipality)
        and member.area.covers_occupation(where.occupation_code)
    ]


def area_of(doc: Mapping[str, object] | None) -> Area:
    """The stored responsibilities of a staff member."""
    doc = doc or {}
    return Area(
        districts=frozenset(place_key(d) for d in doc.get("districts", []) or []),  # type: ignore[union-attr]
        municipalities=frozenset(place_key(m) for m in doc.get("municipalities", []) or []),  # type: ignore[union-attr]
        fields=tuple(doc.get("occupation_fields", []) or []),  # type: ignore[arg-type]
    )


@lru_cache(maxsize=1)
def _known_areas() -> tuple[dict[str, str], dict[str, str]]:
    """The gazetteer's districts and municipalities, by comparison key."""
    districts: dict[str, str] = {}
    municipalities: dict[str, str] = {}
    for place in load_gazetteer().places:
        districts.setdefault(place_key(place.district), place.district)
        municipalities.setdefault(place_key(place.municipality), place.municipality)
    return districts, municipalities


def checked(responsibilities: Responsibilities | None) -> dict[str, list[str]]:
    """Responsibilities as stored, each name as the gazetteer spells it; unknown names are
    refused with the field they are in, so that a typo cannot silently cover nothing."""
    if responsibilities is None:
        return {"districts": [], "municipalities": [], "occupation_fields": []}
    districts, municipalities = _known_areas()
    problems: list[ErrorDetail] = []

    def spelled(names: Sequence[str], known: Mapping[str, str], where: str, what: str) -> list[str]:
        out: list[str] = []
        for index, name in enumerate(names):
            found = known.get(place_key(name))
            if found is None:
                problems.append(
                    ErrorDetail(
                        field=f"data.responsibilities.{where}[{index}]",
                        problem=f"{what} „{name}“ ist im Ortsverzeichnis nicht bekannt",
                    )
                )
            elif found not in out:
                out.append(found)
        return out

    stored = {
        "districts": spelled(responsibilities.districts, districts, "districts", "Den Landkreis"),
        "municipalities": spelled(
            responsibilities.municipalities, municipalities, "municipalities", "Die Gemeinde"
        ),
        "occupation_fields": sorted(set(responsibilities.occupation_fields)),
    }
    if problems:
        raise Invalid("Die Zuständigkeiten nennen unbekannte Orte.", problems)
    return stored


# -- company contact persons ------------------------------------------------------------------

#: Whom a company's placement mail goes to first: who trains, then personnel, the owner.
ROLE_ORDER = ("Ausbilder/in", "Personal", "Inhaber/in", "Marketing", None)


@dataclass(frozen=True)
class ContactCopy:
    """A company's contact person, as companies announced them."""

    contact_id: str
    company_id: str
    name: str
    email: str | None
    role: str | None
    preferred_channel: str
    consents: Mapping[str, str] = field(default_factory=dict)

    @property
    def writable(self) -> bool:
        """Has an address and wants e-mail rather than a call or a letter."""
        return bool(self.email) and self.preferred_channel == "email"

    def as_recipient(self) -> Recipient:
        assert self.email is not None
        return Recipient(self.contact_id, "contact", self.name, self.email)

    def allows(self, transactional: bool) -> bool:
        """Optional mail needs their newsletter consent; mail about their business does not."""
        return transactional or self.consents.get("newsletter") == "given"


def company_contact(contacts: Sequence[ContactCopy]) -> ContactCopy | None:
    """The contact person a company's placement mail goes to, or None if nobody wants e-mail."""
    writable = [c for c in contacts if c.writable]
    if not writable:
        return None

    def rank(contact: ContactCopy) -> tuple[int, str]:
        role = contact.role if contact.role in ROLE_ORDER else None
        return ROLE_ORDER.index(role), contact.contact_id

    return min(writable, key=rank)


# -- who receives which items of an event ------------------------------------------------------


def assign(
    items: Sequence[Where],
    staff: Sequence[StaffMember],
    wants: Callable[[StaffMember], bool],
    team: StaffMember | None,
) -> dict[str, list[int]]:
    """For each receiving staff member, the items (by index) they get.

    An item goes to everyone responsible who `wants` it (has not switched its kind off
    and has a deliverable address); an item nobody responsible receives goes to the team.
    """
    receivers: dict[str, list[int]] = {}
    for index, where in enumerate(items):
        chosen = [m for m in responsible(staff, where) if wants(m)]
        if not chosen and team is not None:
            chosen = [team]
        for member in chosen:
            receivers.setdefault(member.staff_id, []).append(index)
    return receivers
