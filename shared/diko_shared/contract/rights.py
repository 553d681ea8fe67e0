"""Data-subject rights (GDPR Art. 15, 17, 20): export and erasure of a person's data.

A person is an applicant (owned by matching), a company's contact person (companies) or a
staff member (notifications). The **owner** takes `<kind>.export` and `<kind>.erase`, does
its own part at once, and asks the other services by event:

- export: the owner emits `<kind>.export_requested`; every other service answers with its
  own `<service>.person_exported`, carrying the records it holds, by collection; the owner
  assembles the export document (JSON and a German HTML summary) behind a signed link
  that expires.
- erasure: the owner emits the contract's `<kind>.erased`; every other service erases or
  anonymises its copies and confirms with `<service>.person_erased`, saying what kinds of
  records it removed and what a statute makes it keep; the owner keeps the proof, which
  says which services confirmed, when, and which are still outstanding. `<kind>.erase`
  sent again answers with the proof as it stands.

A service that is down meanwhile finds the request in its queue when it comes back. The
models are shared by the three kinds; each message has its own subclass (the catalogue
gives every message its own payload type). These messages are registered here, not in the
owners' modules, so that the rights stay one piece of the contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import ApplicantId, StaffId, Text
from diko_shared.contract.companies import ContactId

PersonKind = Literal["applicant", "contact", "staff"]
#: Who owns each kind of person: takes its export and erasure, assembles, keeps the proof.
OWNERS: dict[str, str] = {"applicant": "matching", "contact": "companies", "staff": "notifications"}
#: Every service that may hold data about a person, and so takes part in each request.
SERVICES = ("companies", "matching", "media", "notifications")
#: The prefix of each kind's identifiers.
PREFIXES: dict[str, str] = {"applicant": "apl_", "contact": "cnt_", "staff": "stf_"}

PersonId = Annotated[str, StringConstraints(pattern=r"^(apl|cnt|stf)_[0-9a-f]{20}$")]
ExportId = Annotated[str, StringConstraints(pattern=r"^exp_[0-9a-f]{20}$")]
ErasureId = Annotated[str, StringConstraints(pattern=r"^ers_[0-9a-f]{20}$")]
ServiceName = Literal["companies", "matching", "media", "notifications"]
#: Other identifiers that lead to the person's records without naming them (an
#: applicant's proposals), so that no service needs the name to find what it holds.
RelatedId = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}_[0-9a-f]{20}$")]

_APPLICANT = {"kind": "applicant", "person_id": "apl_0123456789abcdef0123"}
_AT = "2026-11-26T10:00:00Z"


class Person(Payload):
    """Whom a request is about: the kind of person and their identifier."""

    model_config = examples(_APPLICANT)

    kind: PersonKind
    person_id: PersonId


# -- requests ------------------------------------------------------------------------------


class ExportApplicant(Payload):
    model_config = examples({"applicant_id": "apl_0123456789abcdef0123"})

    applicant_id: ApplicantId


class ExportContact(Payload):
    model_config = examples({"contact_id": "cnt_0123456789abcdef0123"})

    contact_id: ContactId


class ExportStaff(Payload):
    model_config = examples({"staff_id": "stf_0123456789abcdef0123"})

    staff_id: StaffId


class EraseApplicant(Payload):
    model_config = examples(
        {"applicant_id": "apl_0123456789abcdef0123", "reason": "Antrag vom 25.11.2026"}
    )

    applicant_id: ApplicantId
    reason: Text | None = Field(None, description="Why, for the proof (no personal data)")


class EraseContact(Payload):
    model_config = examples({"contact_id": "cnt_0123456789abcdef0123"})

    contact_id: ContactId
    reason: Text | None = Field(None, description="Why, for the proof (no personal data)")


class EraseStaff(Payload):
    model_config = examples({"staff_id": "stf_0123456789abcdef0123"})

    staff_id: StaffId
    reason: Text | None = Field(None, description="Why, for the proof (no personal data)")


# -- replies -------------------------------------------------------------------------------


class ExportReceipt(Payload):
    """The answer to `<kind>.export`: where the document is, until when, what is missing."""

    model_config = examples(
        {
            "export_id": "exp_0123456789abcdef0123",
            "person": _APPLICANT,
            "requested_at": _AT,
            "expires_at": "2026-12-03T10:00:00Z",
            "html_url": "http://matching:8002/rights/exports/exp_0123456789abcdef0123?token=…",
            "json_url": "http://matching:8002/rights/exports/exp_0123456789abcdef0123.json?token=…",
            "contributed": ["matching"],
            "outstanding": ["companies", "media", "notifications"],
        }
    )

    export_id: ExportId
    person: Person
    requested_at: datetime
    expires_at: datetime = Field(description="The links work until then; then it is deleted")
    html_url: str = Field(description="The German summary, signed; open it before expires_at")
    json_url: str = Field(description="The machine-readable document (Art. 20), signed")
    contributed: list[ServiceName]
    outstanding: list[ServiceName] = Field(description="Services whose part has not arrived")


class Confirmation(Payload):
    """One service's confirmed erasure."""

    model_config = examples(
        {
            "service": "companies",
            "erased_at": _AT,
            "removed": {"places": 1},
            "kept": ["places: dass der Platz besetzt ist, ohne die Person"],
        }
    )

    service: ServiceName
    erased_at: datetime
    removed: dict[str, int] = Field(description="Records erased or anonymised, by collection")
    kept: list[str] = Field(default_factory=list, description="What a statute makes it keep")


class ErasureProof(Payload):
    """The answer to `<kind>.erase`: which services confirmed, when, and which are outstanding."""

    model_config = examples(
        {
            "erasure_id": "ers_0123456789abcdef0123",
            "person": _APPLICANT,
            "requested_at": _AT,
            "reason": "Antrag vom 25.11.2026",
            "confirmations": [
                {"service": "matching", "erased_at": _AT, "removed": {"applicants": 1}, "kept": []}
            ],
            "outstanding": ["companies", "media", "notifications"],
            "complete": False,
        }
    )

    erasure_id: ErasureId
    person: Person
    requested_at: datetime
    reason: Text | None = None
    confirmations: list[Confirmation]
    outstanding: list[ServiceName]
    complete: bool


# -- events --------------------------------------------------------------------------------


class ExportRequested(Payload):
    """The owner asks every other service for what it holds about the person."""

    model_config = examples(
        {
            "export_id": "exp_0123456789abcdef0123",
            "person": _APPLICANT,
            "related_ids": ["prp_0123456789abcdef0123"],
        }
    )

    export_id: ExportId
    person: Person
    related_ids: list[RelatedId] = Field(default_factory=list)


class ApplicantExportRequested(ExportRequested):
    pass


class ContactExportRequested(ExportRequested):
    pass


class StaffExportRequested(ExportRequested):
    pass


class PersonErased(Payload):
    """The owner erased the person; every service that holds a copy erases it too."""

    model_config = examples(
        {
            "erasure_id": "ers_0123456789abcdef0123",
            "person": _APPLICANT,
            "related_ids": ["prp_0123456789abcdef0123"],
            "erased_at": _AT,
        }
    )

    erasure_id: ErasureId
    person: Person
    related_ids: list[RelatedId] = Field(default_factory=list)
    erased_at: datetime


class ApplicantErased(PersonErased):
    pass


class ContactErased(PersonErased):
    pass


class StaffErased(PersonErased):
    pass


class CollectionPart(Payload):
    """The records of one collection that mention the person, as stored (JSON)."""

    model_config = examples(
        {"collection": "places", "records": [{"_id": "pos_…|1", "applicant_id": "apl_…"}]}
    )

    collection: str
    purpose: str = Field("", description="Why the service keeps it (German)")
    records: list[dict[str, Any]]


class PersonExported(Payload):
    """One service's part of an export: what it holds, by collection."""

    model_config = examples(
        {
            "export_id": "exp_0123456789abcdef0123",
            "person": _APPLICANT,
            "service": "companies",
            "collections": [
                {"collection": "places", "records": [{"_id": "pos_…|1", "applicant_id": "apl_…"}]}
            ],
            "elsewhere": ["outbox: 0 Nachrichten", "processed: 1 Antwort"],
        }
    )

    export_id: ExportId
    person: Person
    service: ServiceName
    collections: list[CollectionPart]
    elsewhere: list[str] = Field(
        default_factory=list,
        description="Copies outside the collections (outbox, processed records), counted",
    )


class PersonErasedBy(Payload):
    """One service's confirmation that it erased what it held about the person."""

    model_config = examples(
        {
            "erasure_id": "ers_0123456789abcdef0123",
            "person": _APPLICANT,
            "service": "companies",
            "erased_at": _AT,
            "removed": {"places": 1},
            "kept": ["places: dass der Platz besetzt ist, ohne die Person"],
        }
    )

    erasure_id: ErasureId
    person: Person
    service: ServiceName
    erased_at: datetime
    removed: dict[str, int]
    kept: list[str] = Field(default_factory=list)


def _contribution_models(service: str) -> tuple[type[PersonExported], type[PersonErasedBy]]:
    title = service.capitalize()
    exported = type(f"{title}PersonExported", (PersonExported,), {"__module__": __name__})
    erased = type(f"{title}PersonErased", (PersonErasedBy,), {"__module__": __name__})
    return exported, erased


#: Each service's own contribution and confirmation models.
CONTRIBUTIONS: dict[str, tuple[type[PersonExported], type[PersonErasedBy]]] = {
    service: _contribution_models(service) for service in SERVICES
}

#: The requests, events and payloads of each kind of person.
REQUESTS: dict[str, tuple[type[Payload], type[Payload], type[ExportRequested], type[PersonErased]]]
REQUESTS = {
    "applicant": (ExportApplicant, EraseApplicant, ApplicantExportRequested, ApplicantErased),
    "contact": (ExportContact, EraseContact, ContactExportRequested, ContactErased),
    "staff": (ExportStaff, EraseStaff, StaffExportRequested, StaffErased),
}

_WHO = {"applicant": "an applicant", "contact": "a contact person", "staff": "a staff member"}

for _kind, (_export, _erase, _requested, _erased) in REQUESTS.items():
    _owner = OWNERS[_kind]
    _who = _WHO[_kind]
    CATALOGUE.query(
        f"{_kind}.export",
        _owner,
        _export,
        ExportReceipt,
        f"Everything kept about {_who} (Art. 15, 20): a signed link to the export document.",
        recorded=True,
    )
    CATALOGUE.command(
        f"{_kind}.erase",
        _owner,
        _erase,
        ErasureProof,
        f"Erase {_who}'s personal data in every service; answers with the proof so far.",
    )
    CATALOGUE.event(
        f"{_kind}.export_requested",
        _owner,
        _requested,
        f"Every service is asked for what it holds about {_who}.",
    )
    CATALOGUE.event(
        f"{_kind}.erased",
        _owner,
        _erased,
        f"{_who.capitalize()}'s personal data was erased by its owner; every copy goes too.",
    )

for _service, (_exported, _erased_by) in CONTRIBUTIONS.items():
    CATALOGUE.event(
        f"{_service}.person_exported",
        _service,
        _exported,
        f"The {_service} service's part of an export: what it holds, by collection.",
    )
    CATALOGUE.event(
        f"{_service}.person_erased",
        _service,
        _erased_by,
        f"The {_service} service erased what it held about the person (for the proof).",
    )
    _requests = [f"{k}.export_requested" for k, o in OWNERS.items() if o != _service]
    _erasures = [f"{k}.erased" for k, o in OWNERS.items() if o != _service]
    CATALOGUE.reacts(_service, *_requests, *_erasures)
    if _service in OWNERS.values():
        _others = [s for s in SERVICES if s != _service]
        CATALOGUE.reacts(
            _service,
            *(f"{s}.person_exported" for s in _others),
            *(f"{s}.person_erased" for s in _others),
        )


def owned_kinds(service: str) -> list[str]:
    """The kinds of person `service` owns."""
    return [kind for kind, owner in OWNERS.items() if owner == service]
