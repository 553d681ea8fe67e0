"""Messages owned by the companies service: companies, contacts and training positions."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import (
    CompanyId,
    Email,
    Name,
    Occupation,
    Phone,
    Places,
    PositionId,
    PositionStatus,
    Postcode,
    ProposalId,
    SchoolCertificate,
    Text,
    Town,
    Url,
)

OWNER = "companies"


class Address(Payload):
    street: Name
    postcode: Postcode
    town: Town = Field(
        description="A German town or village (the Altmark first; see the gazetteer)"
    )


class Contact(Payload):
    name: Name
    email: Email
    phone: Phone | None = None
    role: Name | None = Field(None, description="e.g. Ausbildungsleiterin, Inhaber")


class RegisterCompany(Payload):
    """Register a company with its address and a contact person."""

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
        }
    )

    name: Name
    address: Address
    contact: Contact
    industry: Name | None = None
    website: Url | None = None


class CompanyRef(Payload):
    model_config = examples({"company_id": "cmp_0123456789abcdef0123"})

    company_id: CompanyId


class CompanyRegistered(Payload):
    """A company was registered; `town` is the canonical gazetteer name."""

    model_config = examples(
        {
            "company_id": "cmp_0123456789abcdef0123",
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
    model_config = examples({"company_id": "cmp_0123456789abcdef0123"})

    company_id: CompanyId


class PositionSummary(Payload):
    position_id: PositionId
    occupation: Occupation
    places: Places
    places_taken: Annotated[int, Field(ge=0)]
    start_date: date
    town: Town
    status: PositionStatus


class Company(Payload):
    """A company as the companies service knows it."""

    model_config = examples(
        {
            "company_id": "cmp_0123456789abcdef0123",
            "name": "Tischlerei Müller GmbH",
            "address": {"street": "Breite Straße 12", "postcode": "39576", "town": "Stendal"},
            "contacts": [
                {
                    "name": "Jana Müller",
                    "email": "jana.mueller@tischlerei-mueller.example",
                    "role": "Ausbildungsleiterin",
                }
            ],
            "industry": "Handwerk",
            "positions": [
                {
                    "position_id": "pos_0123456789abcdef0123",
                    "occupation": {"code": "22342", "name": "Tischler/in"},
                    "places": 2,
                    "places_taken": 0,
                    "start_date": "2027-08-01",
                    "town": "Stendal",
                    "status": "open",
                }
            ],
        }
    )

    company_id: CompanyId
    name: Name
    address: Address
    contacts: list[Contact]
    industry: Name | None = None
    website: Url | None = None
    positions: list[PositionSummary] = Field(default_factory=list)


class OpenPosition(Payload):
    """Open a training position (Ausbildungsstelle) at a registered company."""

    model_config = examples(
        {
            "company_id": "cmp_0123456789abcdef0123",
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
    model_config = examples({"position_id": "pos_0123456789abcdef0123"})

    position_id: PositionId


class PositionOpened(Payload):
    """A training position was opened; it carries what matching and media need."""

    model_config = examples(
        {
            "position_id": "pos_0123456789abcdef0123",
            "company_id": "cmp_0123456789abcdef0123",
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
    """How many places of a position are taken now."""

    model_config = examples(
        {
            "position_id": "pos_0123456789abcdef0123",
            "company_id": "cmp_0123456789abcdef0123",
            "places": 2,
            "places_taken": 1,
            "status": "open",
            "proposal_id": "prp_0123456789abcdef0123",
        }
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


class PositionFilled(Payload):
    """The last place of a position was taken."""

    model_config = examples(
        {
            "position_id": "pos_0123456789abcdef0123",
            "company_id": "cmp_0123456789abcdef0123",
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


class SearchPositions(Payload):
    """Find positions; every given criterion must hold."""

    model_config = examples({"occupation_code": "22342", "town": "Stendal", "status": "open"})

    occupation_code: Annotated[str, Field(pattern=r"^\d{1,5}$")] | None = Field(
        None, description="A KldB code or a prefix of one"
    )
    town: Town | None = None
    company_id: CompanyId | None = None
    status: PositionStatus | None = Field("open", description="null for any status")
    limit: Annotated[int, Field(ge=1, le=500)] = 50


class Position(Payload):
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


class PositionList(Payload):
    model_config = examples(
        {
            "positions": [
                {
                    "position_id": "pos_0123456789abcdef0123",
                    "company_id": "cmp_0123456789abcdef0123",
                    "company_name": "Tischlerei Müller GmbH",
                    "occupation": {"code": "22342", "name": "Tischler/in"},
                    "places": 2,
                    "places_taken": 0,
                    "start_date": "2027-08-01",
                    "town": "Stendal",
                    "school_certificate": "hauptschule",
                    "status": "open",
                }
            ]
        }
    )

    positions: list[Position]


CATALOGUE.command(
    "company.register",
    OWNER,
    RegisterCompany,
    CompanyRef,
    "Register a company with its address and a contact person.",
)
CATALOGUE.query("company.get", OWNER, GetCompany, Company, "A company with its positions.")
CATALOGUE.event("company.registered", OWNER, CompanyRegistered, "A company was registered.")
CATALOGUE.command(
    "position.open",
    OWNER,
    OpenPosition,
    PositionRef,
    "Open a training position for a KldB 2010 occupation at a registered company.",
)
CATALOGUE.query("position.search", OWNER, SearchPositions, PositionList, "Find positions.")
CATALOGUE.event("position.opened", OWNER, PositionOpened, "A training position was opened.")
CATALOGUE.event("position.updated", OWNER, PositionUpdated, "The number of places taken changed.")
CATALOGUE.event("position.filled", OWNER, PositionFilled, "The last place was taken.")

CATALOGUE.reacts(OWNER, "match.accepted")
