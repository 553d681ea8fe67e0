"""Messages owned by the companies service: companies, contacts, consents, consultations,
training positions, duplicates and the history of every change.

Partial updates (`company.update`, `position.update`, `contact.update`): a field left
out (or `null`) stays as it is; `clear` names the optional fields to empty. Every command that
changes something accepts `changed_by` (who did it, e.g. a staff member's e-mail), which
the history keeps beside the message's type, id and source.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue, StringConstraints

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import (
    ONE_LINE,
    CompanyId,
    Email,
    Name,
    Occupation,
    OneLine,
    Phone,
    Places,
    PositionId,
    PositionStatus,
    Postcode,
    ProposalId,
    SchoolCertificate,
    StaffId,
    Text,
    Town,
    Url,
)

OWNER = "companies"

ContactId = Annotated[str, StringConstraints(pattern=r"^cnt_[0-9a-f]{20}$")]
ConsultationId = Annotated[str, StringConstraints(pattern=r"^cns_[0-9a-f]{20}$")]
#: An Instagram handle without the @ (letters, digits, dot, underscore; at most 30).
InstagramHandle = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._]{1,30}$")]
#: A calendar month, e.g. `2027-08`.
YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
#: An opaque paging cursor: send back the `next_cursor` of the previous page.
Cursor = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,512}$")]
#: Who made a change: a staff member's e-mail or name (kept in the history).
Actor = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), *OneLine
]
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), *OneLine
]
Km = Annotated[float, Field(ge=0, le=300)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Percent = Annotated[int, Field(ge=0, le=100)]

#: What a contact person does at the company.
ContactRole = Literal["Inhaber/in", "Ausbilder/in", "Personal", "Marketing"]
#: How a contact person prefers to be reached.
Channel = Literal["email", "phone", "letter"]
#: What a company or a contact person may consent to.
ConsentPurpose = Literal["website", "podcast", "social_media", "newsletter"]
ConsentStatus = Literal["given", "withdrawn"]
#: How a consent was declared.
ConsentVia = Literal["written", "email", "in_person"]
#: The fixed topics of a consultation.
Topic = Literal[
    "Website",
    "Instagram",
    "Google-Unternehmensprofil",
    "Arbeitgebermarke",
    "Ausbildungsmarketing",
    "Stellenanzeige",
    "Sonstiges",
]
CloseReason = Literal["filled_elsewhere", "withdrawn", "expired"]
DuplicateReasonCode = Literal[
    "similar_name",
    "same_postcode",
    "same_town",
    "same_street",
    "same_web_domain",
    "same_phone",
    "same_email_domain",
]

_COMPANY = "cmp_0123456789abcdef0123"
_OTHER = "cmp_fedcba9876543210fedc"
_POSITION = "pos_0123456789abcdef0123"
_CONTACT = "cnt_0123456789abcdef0123"
_CONSULTATION = "cns_0123456789abcdef0123"
_STAFF = "stf_0123456789abcdef0123"


# -- companies: registration and the record ---------------------------------------------------


class Address(Payload):
    street: Name
    postcode: Postcode
    town: Town = Field(
        description="A German town or village (the Altmark first; see the gazetteer)"
    )


class Contact(Payload):
    """A contact person as a registration names one (free-text role, e.g. Ausbildungsleiterin)."""

    name: Name
    email: Email | None = Field(None, description="E-mail or phone: at least one of them")
    phone: Phone | None = None
    role: Name | None = Field(None, description="e.g. Ausbildungsleiterin, Inhaber")
    preferred_channel: Channel | None = None


class RegisterCompany(Payload):
    """Register a company with its address and, usually, a contact person."""

    model_config = examples(
        {
            "name": "Tischlerei Müller GmbH",
            "address": {"street": "Breite Straße 12", "postcode": "39576", "town": "Stendal"},
            "contact": {
                "name": "Jana Müller",
                "email": "jana.mueller@tischlerei-mueller.example",
                "phone": "03931 123456",
                "role": "Ausbildungsleiterin",
            },
            "industry": "Handwerk",
            "website": "https://tischlerei-mueller.example",
        },
        {
            "name": "Bäckerei Schulze",
            "address": {"street": "Markt 3", "postcode": "39606", "town": "Osterburg"},
            "phone": "03937 22334",
            "instagram": "baeckerei.schulze",
            "if_exists": "update",
        },
    )

    name: Name
    address: Address
    contact: Contact | None = None
    industry: Name | None = None
    website: Url | None = None
    phone: Phone | None = Field(None, description="The company's own telephone number")
    instagram: InstagramHandle | None = None
    google_business_profile: Url | None = None
    if_exists: Literal["conflict", "update"] = Field(
        "conflict",
        description="What a registration of a company that exists (same normalised name and "
        "postcode) does: `conflict` answers conflict; `update` applies its fields to the "
        "existing company (and adds its contact if new), as the spreadsheet import does",
    )
    changed_by: Actor | None = None


class DuplicateReason(Payload):
    """Why two companies look like one: a code, and the German sentence staff read."""

    code: DuplicateReasonCode
    text: Name


class DuplicateCandidate(Payload):
    """A company that looks like the same company as another one."""

    company_id: CompanyId
    name: Name
    town: Town
    postcode: Postcode
    score: Score = Field(description="How alike the two are, 0 to 1")
    reasons: list[DuplicateReason]


_CANDIDATE = {
    "company_id": _OTHER,
    "name": "Tischlerei Mueller",
    "town": "Stendal",
    "postcode": "39576",
    "score": 0.93,
    "reasons": [
        {"code": "similar_name", "text": "Name zu 100 % gleich ohne Rechtsform und Umlaute"},
        {"code": "same_town", "text": "gleicher Ort: Stendal"},
        {"code": "same_phone", "text": "gleiche Telefonnummer: 03931 123456"},
    ],
}


class CompanyRef(Payload):
    """The reply to `company.register` (and `company.merge`'s survivor)."""

    model_config = examples(
        {"company_id": _COMPANY},
        {
            "company_id": _COMPANY,
            "outcome": "created",
            "suspected_duplicates": [_CANDIDATE],
        },
    )

    company_id: CompanyId
    outcome: Literal["created", "updated", "unchanged"] | None = Field(
        None,
        description="created; or, with if_exists=update, whether the existing company changed",
    )
    suspected_duplicates: list[DuplicateCandidate] = Field(
        default_factory=list,
        description="Near duplicates found (also announced with company.duplicate_suspected)",
    )


class CompanyRegistered(Payload):
    """A company was registered; `town` is the canonical gazetteer name."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "name": "Tischlerei Müller GmbH",
            "town": "Stendal",
            "postcode": "39576",
            "industry": "Handwerk",
        }
    )

    company_id: CompanyId
    name: Name
    town: Town
    postcode: Postcode
    industry: Name | None = None


class GetCompany(Payload):
    model_config = examples({"company_id": _COMPANY})

    company_id: CompanyId


class PositionSummary(Payload):
    position_id: PositionId
    occupation: Occupation
    places: Places
    places_taken: Annotated[int, Field(ge=0)]
    start_date: date
    town: Town
    status: PositionStatus
    close_reason: CloseReason | None = None


class ConsentState(Payload):
    """The consent in force for one purpose: the latest declaration."""

    purpose: ConsentPurpose
    status: ConsentStatus
    declared_at: AwareDatetime = Field(description="When it was given or withdrawn")
    declared_by: Name = Field(description="Who gave or withdrew it")
    via: ConsentVia
    text_version: Name | None = Field(None, description="The consent text agreed to")
    recorded_by: Actor | None = None


class CompanyContact(Payload):
    """A contact person of a company as the record keeps it."""

    contact_id: ContactId
    name: Name
    role: ContactRole | None = None
    title: Name | None = Field(None, description="Job title in the company's words")
    email: Email | None = None
    phone: Phone | None = None
    preferred_channel: Channel = "email"
    consents: list[ConsentState] = Field(default_factory=list)


class Checklist(Payload):
    """The digital-presence checklist; `null` = not assessed (counts as not met)."""

    website: bool | None = Field(None, description="Eigene Website vorhanden")
    mobile_friendly: bool | None = Field(None, description="Website auf dem Smartphone gut nutzbar")
    careers_page: bool | None = Field(
        None, description="Ausbildungs- oder Karriereseite mit Ansprechperson"
    )
    google_profile: bool | None = Field(
        None, description="Google-Unternehmensprofil vollständig und aktuell"
    )
    social_media_active: bool | None = Field(
        None, description="Instagram o. Ä. mindestens monatlich bespielt"
    )
    job_ads_online: bool | None = Field(
        None, description="Ausbildungsstellen online ausgeschrieben (Jobbörse, Portale)"
    )
    reviews_answered: bool | None = Field(None, description="Bewertungen werden beantwortet")
    employer_brand: bool | None = Field(
        None, description="Team und Arbeitsalltag in Bildern oder Videos gezeigt"
    )


class Presence(Payload):
    """The company's digital presence as the consultations assessed it."""

    checklist: Checklist
    score: Percent = Field(description="Share of the checklist met, 0 to 100")
    assessed_on: date | None = None
    consultation_id: ConsultationId | None = None


class ConsultationSummary(Payload):
    consultation_id: ConsultationId
    held_on: date
    staff_id: StaffId
    topics: list[Topic]
    follow_up_on: date | None = None


class Company(Payload):
    """A company as the companies service knows it.

    A company merged into another still answers `company.get`: with `merged_into`
    pointing to the survivor, and without contacts, positions or consultations (they moved).
    """

    model_config = examples(
        {
            "company_id": _COMPANY,
            "name": "Tischlerei Müller GmbH",
            "address": {"street": "Breite Straße 12", "postcode": "39576", "town": "Stendal"},
            "contacts": [
                {
                    "contact_id": _CONTACT,
                    "name": "Jana Müller",
                    "role": "Ausbilder/in",
                    "title": "Ausbildungsleiterin",
                    "email": "jana.mueller@tischlerei-mueller.example",
                    "preferred_channel": "email",
                }
            ],
            "industry": "Handwerk",
            "positions": [
                {
                    "position_id": _POSITION,
                    "occupation": {"code": "22342", "name": "Tischler/in"},
                    "places": 2,
                    "places_taken": 0,
                    "start_date": "2027-08-01",
                    "town": "Stendal",
                    "status": "open",
                }
            ],
            "consents": [
                {
                    "purpose": "website",
                    "status": "given",
                    "declared_at": "2026-11-20T09:00:00Z",
                    "declared_by": "Jana Müller",
                    "via": "written",
                    "text_version": "Website-Einwilligung 2026-1",
                }
            ],
            "presence": {
                "checklist": {"website": True, "google_profile": False},
                "score": 13,
                "assessed_on": "2026-11-20",
                "consultation_id": _CONSULTATION,
            },
            "consultations": [
                {
                    "consultation_id": _CONSULTATION,
                    "held_on": "2026-11-20",
                    "staff_id": _STAFF,
                    "topics": ["Website", "Instagram"],
                    "follow_up_on": "2027-01-15",
                }
            ],
        },
        {
            "company_id": _OTHER,
            "name": "Tischlerei Mueller",
            "address": {"street": "Breite Str. 12", "postcode": "39576", "town": "Stendal"},
            "contacts": [],
            "merged_into": _COMPANY,
        },
    )

    company_id: CompanyId
    name: Name
    address: Address
    contacts: list[CompanyContact]
    industry: Name | None = None
    website: Url | None = None
    positions: list[PositionSummary] = Field(default_factory=list)
    phone: Phone | None = None
    instagram: InstagramHandle | None = None
    google_business_profile: Url | None = None
    consents: list[ConsentState] = Field(
        default_factory=list, description="The company's own consents, one per purpose declared"
    )
    presence: Presence | None = None
    consultations: list[ConsultationSummary] = Field(
        default_factory=list, description="Newest first, at most 50"
    )
    merged_into: CompanyId | None = Field(
        None, description="Set when this company was merged into another: read that one"
    )


ClearableCompanyField = Literal[
    "industry", "website", "phone", "instagram", "google_business_profile"
]
ClearableContactField = Literal["role", "title", "email", "phone"]


class UpdateCompany(Payload):
    """Change fields of a company: those left out (or null) stay; `clear` empties optional ones."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "name": "Tischlerei Müller & Söhne GmbH",
            "website": "https://mueller-tischlerei.example",
            "changed_by": "birte.albrecht@diko.example",
        },
        {
            "company_id": _COMPANY,
            "address": {"street": "Hallstraße 4", "postcode": "39576", "town": "Stendal"},
            "clear": ["instagram"],
        },
    )

    company_id: CompanyId
    name: Name | None = None
    address: Address | None = Field(None, description="The whole address; its town is checked")
    industry: Name | None = None
    website: Url | None = None
    phone: Phone | None = None
    instagram: InstagramHandle | None = None
    google_business_profile: Url | None = None
    clear: list[ClearableCompanyField] = Field(
        default_factory=list, description="Optional fields to empty"
    )
    changed_by: Actor | None = None


class CompanyChange(Payload):
    """What a change did: the fields that changed (none for a change that changes nothing)."""

    model_config = examples(
        {"company_id": _COMPANY, "changed": ["name", "website"], "suspected_duplicates": []}
    )

    company_id: CompanyId
    changed: list[Name]
    suspected_duplicates: list[DuplicateCandidate] = Field(default_factory=list)


class CompanyUpdated(Payload):
    """A company's record changed: which fields, and the current values readers keep copies of."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "changed": ["address.street", "address.postcode", "website"],
            "name": "Tischlerei Müller GmbH",
            "town": "Stendal",
            "postcode": "39576",
            "industry": "Handwerk",
            "website": "https://mueller-tischlerei.example",
        }
    )

    company_id: CompanyId
    changed: list[Name]
    name: Name
    town: Town
    postcode: Postcode
    industry: Name | None = None
    website: Url | None = None
    instagram: InstagramHandle | None = None
    google_business_profile: Url | None = None


# -- search ------------------------------------------------------------------------------------


class SearchCompanies(Payload):
    """Find companies; every given criterion must hold. Sorted by name (or distance), then id."""

    model_config = examples(
        {"text": "tischlerei", "town": "Stendal", "radius_km": 25, "has_open_positions": True},
        {"industry": "Handwerk", "consents": ["podcast"], "limit": 50},
    )

    text: SearchText | None = Field(
        None, description="Words that must all start a word of the name or the town"
    )
    town: Town | None = Field(None, description="The company's town; with radius_km: the centre")
    postcode: Postcode | None = Field(None, description="With radius_km: the centre")
    radius_km: Km | None = Field(None, description="Within this distance of town or postcode")
    industry: Name | None = None
    has_open_positions: bool | None = None
    consents: list[ConsentPurpose] = Field(
        default_factory=list, description="Companies that consented to every purpose listed"
    )
    order: Literal["name", "distance"] = Field(
        "name", description="distance needs a town or postcode"
    )
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Cursor | None = None


class CompanyHit(Payload):
    company_id: CompanyId
    name: Name
    town: Town
    postcode: Postcode
    industry: Name | None = None
    open_positions: Annotated[int, Field(ge=0)]
    consents: list[ConsentPurpose] = Field(description="Purposes the company consented to")
    maturity_score: Percent | None = None
    distance_km: float | None = None


class CompanyPage(Payload):
    model_config = examples(
        {
            "companies": [
                {
                    "company_id": _COMPANY,
                    "name": "Tischlerei Müller GmbH",
                    "town": "Stendal",
                    "postcode": "39576",
                    "industry": "Handwerk",
                    "open_positions": 1,
                    "consents": ["website"],
                    "maturity_score": 38,
                    "distance_km": 0.0,
                }
            ],
            "next_cursor": "eyJrIjpbInRpc2NobGVyZWkiXX0",
        }
    )

    companies: list[CompanyHit]
    next_cursor: Cursor | None = Field(None, description="null on the last page")


# -- duplicates and merge ------------------------------------------------------------------------


class DuplicateSuspected(Payload):
    """A company registered or changed looks like companies that exist already."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "name": "Tischlerei Müller GmbH",
            "town": "Stendal",
            "postcode": "39576",
            "trigger": "register",
            "candidates": [_CANDIDATE],
        }
    )

    company_id: CompanyId
    name: Name
    town: Town
    postcode: Postcode
    trigger: Literal["register", "update"]
    candidates: Annotated[list[DuplicateCandidate], Field(min_length=1, max_length=10)]


class ScanDuplicates(Payload):
    """Look for near duplicates among all companies and report the pairs found."""

    model_config = examples({"min_score": 0.85, "limit": 200}, {"postcode_prefix": "395"})

    min_score: Annotated[float, Field(ge=0.5, le=1.0)] = 0.8
    postcode_prefix: Annotated[str, Field(pattern=r"^\d{1,5}$")] | None = Field(
        None, description="Only companies whose postcode starts so"
    )
    limit: Annotated[int, Field(ge=1, le=5000)] = 500


class CompanyBrief(Payload):
    company_id: CompanyId
    name: Name
    town: Town
    postcode: Postcode


class DuplicatePair(Payload):
    first: CompanyBrief
    second: CompanyBrief
    score: Score
    reasons: list[DuplicateReason]


class DuplicateReport(Payload):
    model_config = examples(
        {
            "pairs": [
                {
                    "first": {
                        "company_id": _COMPANY,
                        "name": "Tischlerei Müller GmbH",
                        "town": "Stendal",
                        "postcode": "39576",
                    },
                    "second": {
                        "company_id": _OTHER,
                        "name": "Tischlerei Mueller",
                        "town": "Stendal",
                        "postcode": "39576",
                    },
                    "score": 0.93,
                    "reasons": _CANDIDATE["reasons"],
                }
            ],
            "companies_scanned": 1250,
            "comparisons": 4310,
            "truncated": False,
        }
    )

    pairs: list[DuplicatePair] = Field(description="Best score first")
    companies_scanned: Annotated[int, Field(ge=0)]
    comparisons: Annotated[int, Field(ge=0)] = Field(description="Pairs compared after blocking")
    truncated: bool = Field(description="More pairs than `limit` were found")


class MergeCompanies(Payload):
    """Merge `merged_id` into `survivor_id`: positions, contacts, consents, consultations move."""

    model_config = examples(
        {
            "survivor_id": _COMPANY,
            "merged_id": _OTHER,
            "changed_by": "birte.albrecht@diko.example",
        }
    )

    survivor_id: CompanyId
    merged_id: CompanyId
    changed_by: Actor | None = None


class MergeResult(Payload):
    model_config = examples(
        {
            "survivor_id": _COMPANY,
            "merged_id": _OTHER,
            "positions": 1,
            "contacts": 2,
            "consents": 1,
            "consultations": 3,
        }
    )

    survivor_id: CompanyId
    merged_id: CompanyId
    positions: Annotated[int, Field(ge=0)] = Field(description="How many moved")
    contacts: Annotated[int, Field(ge=0)]
    consents: Annotated[int, Field(ge=0)]
    consultations: Annotated[int, Field(ge=0)]


class CompanyMerged(Payload):
    """Re-point your copies: everything of `merged_id` belongs to `survivor_id` now."""

    model_config = examples(
        {
            "survivor_id": _COMPANY,
            "merged_id": _OTHER,
            "survivor_name": "Tischlerei Müller GmbH",
            "position_ids": [_POSITION],
            "contact_ids": [_CONTACT],
        }
    )

    survivor_id: CompanyId
    merged_id: CompanyId
    survivor_name: Name = Field(description="The name the moved positions carry now")
    position_ids: list[PositionId]
    contact_ids: list[ContactId]


# -- history ------------------------------------------------------------------------------------


class GetHistory(Payload):
    """Every change of a company, newest first."""

    model_config = examples({"company_id": _COMPANY, "limit": 20})

    company_id: CompanyId
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class FieldChange(Payload):
    field: Annotated[str, StringConstraints(max_length=300, pattern=ONE_LINE)] = Field(
        description="e.g. name, address.town, contacts.cnt_….email, positions.pos_….status"
    )
    before: JsonValue = None
    after: JsonValue = None


class HistoryEntry(Payload):
    at: AwareDatetime
    message_type: Name
    message_id: Name
    source: Name = Field(description="The sender of the message")
    changed_by: Actor | None = None
    changes: list[FieldChange]


class CompanyHistory(Payload):
    model_config = examples(
        {
            "company_id": _COMPANY,
            "entries": [
                {
                    "at": "2026-11-26T10:00:00Z",
                    "message_type": "company.update",
                    "message_id": "3f6c1d3e-0c1e-4a53-9d43-2f1c0c7e9b11",
                    "source": "crm-web",
                    "changed_by": "birte.albrecht@diko.example",
                    "changes": [
                        {
                            "field": "name",
                            "before": "Tischlerei Müller",
                            "after": "Tischlerei Müller GmbH",
                        }
                    ],
                }
            ],
            "next_cursor": None,
        }
    )

    company_id: CompanyId
    entries: list[HistoryEntry]
    next_cursor: Cursor | None = None


class GetPresenceHistory(Payload):
    """How a company's digital-presence score developed, consultation by consultation."""

    model_config = examples({"company_id": _COMPANY})

    company_id: CompanyId


class PresencePoint(Payload):
    assessed_on: date
    score: Percent
    consultation_id: ConsultationId
    checklist: Checklist


class PresenceHistory(Payload):
    model_config = examples(
        {
            "company_id": _COMPANY,
            "points": [
                {
                    "assessed_on": "2026-03-02",
                    "score": 13,
                    "consultation_id": "cns_00000000000000000001",
                    "checklist": {"website": True},
                },
                {
                    "assessed_on": "2026-11-20",
                    "score": 50,
                    "consultation_id": _CONSULTATION,
                    "checklist": {
                        "website": True,
                        "mobile_friendly": True,
                        "google_profile": True,
                        "careers_page": True,
                    },
                },
            ],
        }
    )

    company_id: CompanyId
    points: list[PresencePoint] = Field(description="Oldest first")


# -- consents ----------------------------------------------------------------------------------


class SetConsent(Payload):
    """Record a consent given or withdrawn, by the company or one of its contact persons."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "purpose": "podcast",
            "status": "given",
            "declared_at": "2026-11-20T09:00:00Z",
            "declared_by": "Jana Müller",
            "via": "written",
            "text_version": "Podcast-Einwilligung 2026-1",
            "contact_id": _CONTACT,
            "recorded_by": "birte.albrecht@diko.example",
        },
        {
            "company_id": _COMPANY,
            "purpose": "website",
            "status": "withdrawn",
            "declared_at": "2026-12-01T14:30:00Z",
            "declared_by": "Jana Müller",
            "via": "email",
        },
    )

    company_id: CompanyId
    contact_id: ContactId | None = Field(None, description="A contact person's own consent")
    purpose: ConsentPurpose
    status: ConsentStatus
    declared_at: AwareDatetime = Field(
        description="When it was declared; an older declaration than the one in force is kept "
        "in the history but changes nothing"
    )
    declared_by: Name
    via: ConsentVia
    text_version: Name | None = Field(None, description="Required when consent is given")
    recorded_by: Actor | None = None


class ConsentRecorded(Payload):
    model_config = examples(
        {
            "company_id": _COMPANY,
            "contact_id": None,
            "purpose": "website",
            "status": "given",
            "changed": True,
        }
    )

    company_id: CompanyId
    contact_id: ContactId | None = None
    purpose: ConsentPurpose
    status: ConsentStatus = Field(description="The consent in force now")
    changed: bool = Field(description="False when it was in force already, or older")


class ConsentChanged(Payload):
    """A consent came into force or was withdrawn: act on a withdrawal at once."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "contact_id": _CONTACT,
            "purpose": "podcast",
            "status": "withdrawn",
            "declared_at": "2026-12-01T14:30:00Z",
        }
    )

    company_id: CompanyId
    contact_id: ContactId | None = Field(None, description="Set for a contact person's consent")
    purpose: ConsentPurpose
    status: ConsentStatus
    declared_at: AwareDatetime


# -- consultations -----------------------------------------------------------------------------


class RecordConsultation(Payload):
    """A consultation held with a company about its digital presence."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "held_on": "2026-11-20",
            "staff_id": _STAFF,
            "contact_id": _CONTACT,
            "topics": ["Website", "Google-Unternehmensprofil"],
            "notes": "Website ist nicht für Smartphones gebaut.",
            "outcome": "Google-Profil gemeinsam angelegt.",
            "next_steps": "Angebot für eine mobile Website einholen.",
            "follow_up_on": "2027-01-15",
            "checklist": {"website": True, "mobile_friendly": False, "google_profile": True},
        }
    )

    company_id: CompanyId
    held_on: date
    staff_id: StaffId = Field(description="The staff member who advised (notifications' id)")
    contact_id: ContactId | None = Field(None, description="Whom the staff member spoke with")
    topics: Annotated[list[Topic], Field(min_length=1, max_length=7)]
    notes: Text | None = None
    outcome: Text | None = None
    next_steps: Text | None = None
    follow_up_on: date | None = Field(
        None, description="consultation.follow_up_due is emitted once on this day"
    )
    checklist: Checklist | None = Field(
        None, description="Items assessed in this consultation; the others keep their value"
    )


class ConsultationRef(Payload):
    model_config = examples({"consultation_id": _CONSULTATION, "maturity_score": 25})

    consultation_id: ConsultationId
    maturity_score: Percent | None = None


class ConsultationRecorded(Payload):
    """A consultation was recorded (without its notes: those stay in companies)."""

    model_config = examples(
        {
            "consultation_id": _CONSULTATION,
            "company_id": _COMPANY,
            "held_on": "2026-11-20",
            "staff_id": _STAFF,
            "topics": ["Website", "Google-Unternehmensprofil"],
            "follow_up_on": "2027-01-15",
            "maturity_score": 25,
        }
    )

    consultation_id: ConsultationId
    company_id: CompanyId
    held_on: date
    staff_id: StaffId
    topics: list[Topic]
    follow_up_on: date | None = None
    maturity_score: Percent | None = None


class FollowUpContact(Payload):
    contact_id: ContactId
    name: Name
    email: Email | None = None
    phone: Phone | None = None


class FollowUpDue(Payload):
    """The follow-up date of a consultation has come: remind the staff member (emitted once)."""

    personal_data_purpose: ClassVar[str] = (
        "Name, E-Mail-Adresse und Telefon der Ansprechperson der Beratung: die Erinnerung "
        "an die Mitarbeiterin oder den Mitarbeiter nennt, wen sie anrufen oder anschreiben"
    )

    model_config = examples(
        {
            "consultation_id": _CONSULTATION,
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "staff_id": _STAFF,
            "held_on": "2026-11-20",
            "follow_up_on": "2027-01-15",
            "topics": ["Website", "Google-Unternehmensprofil"],
            "next_steps": "Angebot für eine mobile Website einholen.",
            "contact": {
                "contact_id": _CONTACT,
                "name": "Jana Müller",
                "email": "jana.mueller@tischlerei-mueller.example",
                "phone": "03931 123456",
            },
        }
    )

    consultation_id: ConsultationId
    company_id: CompanyId
    company_name: Name
    staff_id: StaffId
    held_on: date
    follow_up_on: date
    topics: list[Topic]
    next_steps: Text | None = None
    contact: FollowUpContact | None = None


# -- contacts ----------------------------------------------------------------------------------


class AddContact(Payload):
    """Add a contact person to a company."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "name": "Tom Becker",
            "role": "Marketing",
            "title": "Social-Media-Verantwortlicher",
            "email": "tom.becker@tischlerei-mueller.example",
            "preferred_channel": "email",
        }
    )

    company_id: CompanyId
    name: Name
    role: ContactRole | None = None
    title: Name | None = None
    email: Email | None = Field(None, description="E-mail or phone: at least one of them")
    phone: Phone | None = None
    preferred_channel: Channel = "email"
    changed_by: Actor | None = None


class ContactRef(Payload):
    model_config = examples({"contact_id": _CONTACT, "company_id": _COMPANY})

    contact_id: ContactId
    company_id: CompanyId


class UpdateContact(Payload):
    """Change a contact person: fields left out (or null) stay; `clear` empties optional ones."""

    model_config = examples(
        {"contact_id": _CONTACT, "phone": "03931 654321", "role": "Personal", "clear": ["title"]}
    )

    contact_id: ContactId
    name: Name | None = None
    role: ContactRole | None = None
    title: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    preferred_channel: Channel | None = None
    clear: list[ClearableContactField] = Field(
        default_factory=list, description="Optional fields to empty"
    )
    changed_by: Actor | None = None


class ContactChange(Payload):
    model_config = examples({"contact_id": _CONTACT, "company_id": _COMPANY, "changed": ["phone"]})

    contact_id: ContactId
    company_id: CompanyId
    changed: list[Name]


class RemoveContact(Payload):
    """Remove a contact person; their own consents end with them."""

    model_config = examples({"contact_id": _CONTACT})

    contact_id: ContactId
    changed_by: Actor | None = None


class ContactAdded(Payload):
    """A contact person was added; with what notifications needs to write to them."""

    personal_data_purpose: ClassVar[str] = (
        "Name und E-Mail-Adresse der Ansprechperson: notifications schreibt ihr "
        "(Zeitpläne, Vermittlungen) und hält dafür eine Kopie"
    )

    model_config = examples(
        {
            "contact_id": _CONTACT,
            "company_id": _COMPANY,
            "name": "Tom Becker",
            "role": "Marketing",
            "email": "tom.becker@tischlerei-mueller.example",
            "preferred_channel": "email",
        }
    )

    contact_id: ContactId
    company_id: CompanyId
    name: Name
    role: ContactRole | None = None
    email: Email | None = None
    preferred_channel: Channel = "email"


class ContactUpdated(Payload):
    """A contact person changed: which fields, and the current values of those readers copy."""

    personal_data_purpose: ClassVar[str] = (
        "Name und E-Mail-Adresse der Ansprechperson: notifications hält seine Kopie aktuell"
    )

    model_config = examples(
        {
            "contact_id": _CONTACT,
            "company_id": _COMPANY,
            "changed": ["email"],
            "name": "Tom Becker",
            "role": "Marketing",
            "email": "t.becker@tischlerei-mueller.example",
            "preferred_channel": "email",
        }
    )

    contact_id: ContactId
    company_id: CompanyId
    changed: list[Name]
    name: Name
    role: ContactRole | None = None
    email: Email | None = None
    preferred_channel: Channel = "email"


class ContactRemoved(Payload):
    """A contact person was removed: forget your copy."""

    model_config = examples({"contact_id": _CONTACT, "company_id": _COMPANY})

    contact_id: ContactId
    company_id: CompanyId


# -- positions ---------------------------------------------------------------------------------


class OpenPosition(Payload):
    """Open a training position (Ausbildungsstelle) at a registered company."""

    model_config = examples(
        {
            "company_id": _COMPANY,
            "occupation": {"code": "22342", "name": "Tischler/in"},
            "places": 2,
            "start_date": "2027-08-01",
            "town": "Stendal",
            "school_certificate": "hauptschule",
            "description": "Wir bilden seit 30 Jahren aus.",
        }
    )

    company_id: CompanyId
    occupation: Occupation
    places: Places
    start_date: date
    town: Town = Field(
        description="Where the apprentice works (a German town or village, the Altmark first)"
    )
    school_certificate: SchoolCertificate = Field(
        "none", description="The least school-leaving certificate the company asks for"
    )
    description: Text | None = None


class PositionRef(Payload):
    model_config = examples({"position_id": _POSITION})

    position_id: PositionId


class PositionOpened(Payload):
    """A training position was opened; it carries what matching and media need."""

    model_config = examples(
        {
            "position_id": _POSITION,
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "occupation": {"code": "22342", "name": "Tischler/in"},
            "places": 2,
            "start_date": "2027-08-01",
            "town": "Stendal",
            "school_certificate": "hauptschule",
        }
    )

    position_id: PositionId
    company_id: CompanyId
    company_name: Name
    occupation: Occupation
    places: Places
    start_date: date
    town: Town
    school_certificate: SchoolCertificate = "none"
    description: Text | None = None


class PositionUpdated(Payload):
    """A position changed: places taken by a match, or an edit (`changed` says which fields).

    An edit carries the position's current occupation, start, town and certificate; a
    place taken carries only the counts. `status` open with more `places` than before
    means places were added: matching may propose again.
    """

    model_config = examples(
        {
            "position_id": _POSITION,
            "company_id": _COMPANY,
            "places": 2,
            "places_taken": 1,
            "status": "open",
            "proposal_id": "prp_0123456789abcdef0123",
            "changed": ["places_taken"],
        },
        {
            "position_id": _POSITION,
            "company_id": _COMPANY,
            "places": 3,
            "places_taken": 1,
            "status": "open",
            "changed": ["places", "start_date"],
            "occupation": {"code": "22342", "name": "Tischler/in"},
            "start_date": "2027-09-01",
            "town": "Stendal",
            "school_certificate": "hauptschule",
        },
    )

    position_id: PositionId
    company_id: CompanyId
    places: Places
    places_taken: Annotated[int, Field(ge=0)]
    status: PositionStatus | None = Field(
        None, description="The status with this change: filled when the last place was taken"
    )
    proposal_id: ProposalId | None = Field(
        None, description="The accepted match that took a place, when one did"
    )
    changed: list[Name] = Field(default_factory=list, description="The fields that changed")
    occupation: Occupation | None = None
    start_date: date | None = None
    town: Town | None = None
    school_certificate: SchoolCertificate | None = None


class PositionFilled(Payload):
    """The last place of a position was taken."""

    model_config = examples(
        {
            "position_id": _POSITION,
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "occupation": {"code": "22342", "name": "Tischler/in"},
            "places": 2,
            "town": "Stendal",
            "start_date": "2027-08-01",
        }
    )

    position_id: PositionId
    company_id: CompanyId
    company_name: Name
    occupation: Occupation
    places: Places
    town: Town
    start_date: date


class UpdatePosition(Payload):
    """Change a position: fields left out (or null) stay; `clear: ["description"]` empties it."""

    model_config = examples(
        {"position_id": _POSITION, "places": 3, "start_date": "2027-09-01"},
    )

    position_id: PositionId
    occupation: Occupation | None = None
    places: Places | None = Field(None, description="Not fewer than the places taken")
    start_date: date | None = None
    town: Town | None = None
    school_certificate: SchoolCertificate | None = None
    description: Text | None = None
    clear: list[Literal["description"]] = Field(default_factory=list)
    changed_by: Actor | None = None


class PositionChange(Payload):
    model_config = examples(
        {"position_id": _POSITION, "status": "open", "changed": ["places", "start_date"]}
    )

    position_id: PositionId
    status: PositionStatus
    changed: list[Name]


class ClosePosition(Payload):
    """Close a position: no more proposals for it."""

    model_config = examples({"position_id": _POSITION, "reason": "filled_elsewhere"})

    position_id: PositionId
    reason: CloseReason
    changed_by: Actor | None = None


class PositionClosed(Payload):
    model_config = examples(
        {"position_id": _POSITION, "company_id": _COMPANY, "reason": "filled_elsewhere"}
    )

    position_id: PositionId
    company_id: CompanyId
    reason: CloseReason


class ReopenPosition(Payload):
    """Open a closed position again (optionally with another number of places)."""

    model_config = examples({"position_id": _POSITION}, {"position_id": _POSITION, "places": 3})

    position_id: PositionId
    places: Places | None = None
    changed_by: Actor | None = None


class PositionReopened(Payload):
    """A closed position is open again; it carries what position.opened carries."""

    model_config = examples(
        {
            "position_id": _POSITION,
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "occupation": {"code": "22342", "name": "Tischler/in"},
            "places": 2,
            "places_taken": 0,
            "start_date": "2027-08-01",
            "town": "Stendal",
            "school_certificate": "hauptschule",
        }
    )

    position_id: PositionId
    company_id: CompanyId
    company_name: Name
    occupation: Occupation
    places: Places
    places_taken: Annotated[int, Field(ge=0)]
    start_date: date
    town: Town
    school_certificate: SchoolCertificate = "none"
    description: Text | None = None


class GetPosition(Payload):
    model_config = examples({"position_id": _POSITION})

    position_id: PositionId


class SearchPositions(Payload):
    """Find positions; every given criterion must hold. By start date, then id."""

    model_config = examples(
        {"occupation_code": "22342", "town": "Stendal", "status": "open"},
        {"occupation_code": "62", "postcode": "39576", "radius_km": 30, "start_from": "2027-08"},
    )

    occupation_code: Annotated[str, Field(pattern=r"^\d{1,5}$")] | None = Field(
        None, description="A KldB code or a prefix of one"
    )
    town: Town | None = Field(None, description="Exactly this town; with radius_km: the centre")
    postcode: Postcode | None = Field(None, description="With radius_km: the centre")
    radius_km: Km | None = Field(None, description="Within this distance of town or postcode")
    start_from: YearMonth | None = Field(None, description="Starting in this month or later")
    start_until: YearMonth | None = Field(None, description="Starting in this month or earlier")
    company_id: CompanyId | None = None
    status: PositionStatus | None = Field("open", description="null for any status")
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Cursor | None = None


class Position(Payload):
    model_config = examples(
        {
            "position_id": _POSITION,
            "company_id": _COMPANY,
            "company_name": "Tischlerei Müller GmbH",
            "occupation": {"code": "22342", "name": "Tischler/in"},
            "places": 2,
            "places_taken": 0,
            "start_date": "2027-08-01",
            "town": "Stendal",
            "school_certificate": "hauptschule",
            "status": "open",
        }
    )

    position_id: PositionId
    company_id: CompanyId
    company_name: Name
    occupation: Occupation
    places: Places
    places_taken: Annotated[int, Field(ge=0)]
    start_date: date
    town: Town
    school_certificate: SchoolCertificate
    status: PositionStatus
    description: Text | None = None
    close_reason: CloseReason | None = None
    distance_km: float | None = Field(None, description="From the centre of a radius search")


class PositionList(Payload):
    model_config = examples(
        {
            "positions": [
                {
                    "position_id": _POSITION,
                    "company_id": _COMPANY,
                    "company_name": "Tischlerei Müller GmbH",
                    "occupation": {"code": "22342", "name": "Tischler/in"},
                    "places": 2,
                    "places_taken": 0,
                    "start_date": "2027-08-01",
                    "town": "Stendal",
                    "school_certificate": "hauptschule",
                    "status": "open",
                }
            ],
            "next_cursor": None,
        }
    )

    positions: list[Position]
    next_cursor: Cursor | None = Field(None, description="null on the last page")


# -- the catalogue -------------------------------------------------------------------------------

CATALOGUE.command(
    "company.register",
    OWNER,
    RegisterCompany,
    CompanyRef,
    "Register a company with its address and a contact person; near duplicates are announced.",
)
CATALOGUE.command(
    "company.update",
    OWNER,
    UpdateCompany,
    CompanyChange,
    "Change fields of a company (partial); near duplicates are announced.",
)
CATALOGUE.command(
    "company.merge",
    OWNER,
    MergeCompanies,
    MergeResult,
    "Merge a duplicate into the company that survives.",
)
CATALOGUE.command(
    "company.scan_duplicates",
    OWNER,
    ScanDuplicates,
    DuplicateReport,
    "Report near-duplicate pairs among all companies.",
)
CATALOGUE.command(
    "company.set_consent",
    OWNER,
    SetConsent,
    ConsentRecorded,
    "Record a consent given or withdrawn (company or contact person).",
)
CATALOGUE.command(
    "company.record_consultation",
    OWNER,
    RecordConsultation,
    ConsultationRef,
    "Record a consultation; its checklist updates the digital-presence score.",
)
CATALOGUE.query(
    "company.get", OWNER, GetCompany, Company, "A company with its contacts and positions."
)
CATALOGUE.query(
    "company.search",
    OWNER,
    SearchCompanies,
    CompanyPage,
    "Find companies by text, place and radius, industry, open positions and consents.",
)
CATALOGUE.query("company.history", OWNER, GetHistory, CompanyHistory, "Every change of a company.")
CATALOGUE.query(
    "company.presence_history",
    OWNER,
    GetPresenceHistory,
    PresenceHistory,
    "The digital-presence score of a company over time.",
)
CATALOGUE.event("company.registered", OWNER, CompanyRegistered, "A company was registered.")
CATALOGUE.event("company.updated", OWNER, CompanyUpdated, "A company's record changed.")
CATALOGUE.event("company.merged", OWNER, CompanyMerged, "A duplicate was merged into a survivor.")
CATALOGUE.event(
    "company.duplicate_suspected",
    OWNER,
    DuplicateSuspected,
    "A company registered or changed looks like existing ones.",
)
CATALOGUE.event(
    "company.consent_changed",
    OWNER,
    ConsentChanged,
    "A consent came into force or was withdrawn.",
)
CATALOGUE.event(
    "company.consultation_recorded", OWNER, ConsultationRecorded, "A consultation was recorded."
)
CATALOGUE.event(
    "consultation.follow_up_due",
    OWNER,
    FollowUpDue,
    "The follow-up date of a consultation has come.",
)
CATALOGUE.command("contact.add", OWNER, AddContact, ContactRef, "Add a contact person.")
CATALOGUE.command(
    "contact.update", OWNER, UpdateContact, ContactChange, "Change a contact person (partial)."
)
CATALOGUE.command("contact.remove", OWNER, RemoveContact, ContactRef, "Remove a contact person.")
CATALOGUE.event("contact.added", OWNER, ContactAdded, "A contact person was added.")
CATALOGUE.event("contact.updated", OWNER, ContactUpdated, "A contact person changed.")
CATALOGUE.event("contact.removed", OWNER, ContactRemoved, "A contact person was removed.")
CATALOGUE.command(
    "position.open",
    OWNER,
    OpenPosition,
    PositionRef,
    "Open a training position for a KldB 2010 occupation at a registered company.",
)
CATALOGUE.command(
    "position.update", OWNER, UpdatePosition, PositionChange, "Change a position (partial)."
)
CATALOGUE.command(
    "position.close", OWNER, ClosePosition, PositionChange, "Close a position, with the reason."
)
CATALOGUE.command(
    "position.reopen", OWNER, ReopenPosition, PositionChange, "Open a closed position again."
)
CATALOGUE.query("position.get", OWNER, GetPosition, Position, "A position.")
CATALOGUE.query(
    "position.search",
    OWNER,
    SearchPositions,
    PositionList,
    "Find positions by occupation, place and radius, start month, company and status.",
)
CATALOGUE.event("position.opened", OWNER, PositionOpened, "A training position was opened.")
CATALOGUE.event(
    "position.updated", OWNER, PositionUpdated, "Places were taken, or the position was edited."
)
CATALOGUE.event("position.closed", OWNER, PositionClosed, "A position was closed.")
CATALOGUE.event("position.reopened", OWNER, PositionReopened, "A closed position is open again.")
CATALOGUE.event("position.filled", OWNER, PositionFilled, "The last place was taken.")

CATALOGUE.reacts(OWNER, "match.accepted")
