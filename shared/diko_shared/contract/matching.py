"""Messages owned by the matching service: applicants, proposals and decisions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import (
    ApplicantId,
    CompanyId,
    Email,
    KldbCode,
    Name,
    Occupation,
    Phone,
    PositionId,
    ProposalId,
    SchoolCertificate,
    StaffId,
    Text,
    Town,
)

OWNER = "matching"

Score = Annotated[float, Field(ge=0.0, le=1.0)]


class RegisterApplicant(Payload):
    """Register an applicant (Bewerber/in) with what they want and what they can reach."""

    model_config = examples(
        {
            "first_name": "Lena",
            "last_name": "Schröder",
            "email": "lena.schroeder@example.org",
            "home_town": "Osterburg",
            "reach_km": 30,
            "driving_licence": False,
            "school_certificate": "realschule",
            "desired_occupations": ["22342", "25212"],
            "earliest_start": "2027-08-01",
        }
    )

    first_name: Name
    last_name: Name
    email: Email | None = None
    phone: Phone | None = None
    home_town: Town = Field(
        description="Where the applicant lives (a German town or village, the Altmark first)"
    )
    reach_km: Annotated[float, Field(ge=0, le=300)] = Field(
        description="How far the applicant can travel to work, in km"
    )
    driving_licence: bool = False
    school_certificate: SchoolCertificate = "none"
    desired_occupations: Annotated[list[KldbCode], Field(min_length=1, max_length=10)] = Field(
        description="KldB 2010 codes, most wanted first"
    )
    earliest_start: date


class ApplicantRef(Payload):
    model_config = examples({"applicant_id": "apl_0123456789abcdef0123"})

    applicant_id: ApplicantId


class ApplicantRegistered(Payload):
    """An applicant was registered (no name or contact data: those stay in matching)."""

    model_config = examples(
        {
            "applicant_id": "apl_0123456789abcdef0123",
            "home_town": "Osterburg (Altmark)",
            "reach_km": 30.0,
            "driving_licence": False,
            "school_certificate": "realschule",
            "desired_occupations": ["22342", "25212"],
            "earliest_start": "2027-08-01",
        }
    )

    applicant_id: ApplicantId
    home_town: Town
    reach_km: float
    driving_licence: bool
    school_certificate: SchoolCertificate
    desired_occupations: list[KldbCode]
    earliest_start: date


class GetApplicant(Payload):
    model_config = examples({"applicant_id": "apl_0123456789abcdef0123"})

    applicant_id: ApplicantId


class Applicant(Payload):
    model_config = examples(
        {
            "applicant_id": "apl_0123456789abcdef0123",
            "first_name": "Lena",
            "last_name": "Schröder",
            "email": "lena.schroeder@example.org",
            "home_town": "Osterburg (Altmark)",
            "reach_km": 30.0,
            "driving_licence": False,
            "school_certificate": "realschule",
            "desired_occupations": ["22342"],
            "earliest_start": "2027-08-01",
            "status": "active",
        }
    )

    applicant_id: ApplicantId
    first_name: Name
    last_name: Name
    email: Email | None = None
    phone: Phone | None = None
    home_town: Town
    reach_km: float
    driving_licence: bool
    school_certificate: SchoolCertificate
    desired_occupations: list[KldbCode]
    earliest_start: date
    status: Literal["active", "placed", "withdrawn"]


class Reason(Payload):
    """Why a pair scores as it does on one criterion, for staff to read."""

    criterion: str = Field(description="occupation, distance, school, start or preference")
    key: str = Field(description="A stable reason key, e.g. occupation.exact")
    score: Score
    weight: Annotated[float, Field(ge=0)]
    text: str = Field(description="The reason as a German sentence")


class ProposedPosition(Payload):
    position_id: PositionId
    company_id: CompanyId
    company_name: Name
    occupation: Occupation
    town: Town
    start_date: date


class ProposedApplicant(Payload):
    applicant_id: ApplicantId
    name: Name
    home_town: Town


class Proposal(Payload):
    """One applicant proposed for one position, with the score and its reasons."""

    proposal_id: ProposalId
    position: ProposedPosition
    applicant: ProposedApplicant
    score: Score
    rank: Annotated[int, Field(ge=1)]
    reasons: list[Reason]


class MatchProposed(Payload):
    """New proposals: a position's shortlist, or the positions found for a new applicant."""

    model_config = examples(
        {
            "trigger": "position",
            "subject_id": "pos_0123456789abcdef0123",
            "proposals": [
                {
                    "proposal_id": "prp_0123456789abcdef0123",
                    "position": {
                        "position_id": "pos_0123456789abcdef0123",
                        "company_id": "cmp_0123456789abcdef0123",
                        "company_name": "Tischlerei Müller GmbH",
                        "occupation": {"code": "22342", "name": "Tischler/in"},
                        "town": "Stendal",
                        "start_date": "2027-08-01",
                    },
                    "applicant": {
                        "applicant_id": "apl_0123456789abcdef0123",
                        "name": "Lena Schröder",
                        "home_town": "Osterburg (Altmark)",
                    },
                    "score": 0.9,
                    "rank": 1,
                    "reasons": [
                        {
                            "criterion": "distance",
                            "key": "distance.within_reach",
                            "score": 0.8,
                            "weight": 25.0,
                            "text": "Wohnort Osterburg (Altmark) liegt 21 km von Stendal entfernt.",
                        }
                    ],
                }
            ],
        }
    )

    trigger: Literal["position", "applicant"]
    subject_id: str = Field(description="The position or applicant the proposals are for")
    proposals: Annotated[list[Proposal], Field(min_length=1)]


class GetShortlist(Payload):
    model_config = examples({"position_id": "pos_0123456789abcdef0123", "limit": 10})

    position_id: PositionId
    limit: Annotated[int, Field(ge=1, le=100)] = 10


class Candidate(Payload):
    proposal_id: ProposalId
    applicant: ProposedApplicant
    score: Score
    rank: int
    reasons: list[Reason]
    status: Literal["proposed", "accepted", "declined"]


class Shortlist(Payload):
    model_config = examples(
        {
            "position_id": "pos_0123456789abcdef0123",
            "candidates": [
                {
                    "proposal_id": "prp_0123456789abcdef0123",
                    "applicant": {
                        "applicant_id": "apl_0123456789abcdef0123",
                        "name": "Lena Schröder",
                        "home_town": "Osterburg (Altmark)",
                    },
                    "score": 0.9,
                    "rank": 1,
                    "reasons": [
                        {
                            "criterion": "distance",
                            "key": "distance.within_reach",
                            "score": 0.8,
                            "weight": 25.0,
                            "text": "Wohnort Osterburg (Altmark) liegt 21 km von Stendal entfernt.",
                        }
                    ],
                    "status": "proposed",
                }
            ],
        }
    )

    position_id: PositionId
    candidates: list[Candidate]


class DecideMatch(Payload):
    """Staff accept or decline a proposal (usually through a signed link in an e-mail)."""

    model_config = examples(
        {"proposal_id": "prp_0123456789abcdef0123", "decision": "accept", "note": "Passt gut."}
    )

    proposal_id: ProposalId
    decision: Literal["accept", "decline"]
    decided_by: StaffId | None = None
    note: Text | None = None


class Decision(Payload):
    model_config = examples({"proposal_id": "prp_0123456789abcdef0123", "status": "accepted"})

    proposal_id: ProposalId
    status: Literal["accepted", "declined"]


class MatchAccepted(Payload):
    model_config = examples(
        {
            "proposal_id": "prp_0123456789abcdef0123",
            "position_id": "pos_0123456789abcdef0123",
            "company_id": "cmp_0123456789abcdef0123",
            "applicant_id": "apl_0123456789abcdef0123",
            "decided_by": "stf_0123456789abcdef0123",
        }
    )

    proposal_id: ProposalId
    position_id: PositionId
    company_id: CompanyId
    applicant_id: ApplicantId
    decided_by: StaffId | None = None


class MatchDeclined(Payload):
    model_config = examples(
        {
            "proposal_id": "prp_0123456789abcdef0123",
            "position_id": "pos_0123456789abcdef0123",
            "company_id": "cmp_0123456789abcdef0123",
            "applicant_id": "apl_0123456789abcdef0123",
            "decided_by": "stf_0123456789abcdef0123",
        }
    )

    proposal_id: ProposalId
    position_id: PositionId
    company_id: CompanyId
    applicant_id: ApplicantId
    decided_by: StaffId | None = None


CATALOGUE.command(
    "applicant.register",
    OWNER,
    RegisterApplicant,
    ApplicantRef,
    "Register an applicant with desired occupations, home town, reach and earliest start.",
)
CATALOGUE.query("applicant.get", OWNER, GetApplicant, Applicant, "An applicant's record.")
CATALOGUE.event("applicant.registered", OWNER, ApplicantRegistered, "An applicant was registered.")
CATALOGUE.query(
    "match.shortlist", OWNER, GetShortlist, Shortlist, "A position's ranked candidates."
)
CATALOGUE.command("match.decide", OWNER, DecideMatch, Decision, "Accept or decline a proposal.")
CATALOGUE.event("match.proposed", OWNER, MatchProposed, "New proposals with scores and reasons.")
CATALOGUE.event("match.accepted", OWNER, MatchAccepted, "Staff accepted a proposal.")
CATALOGUE.event("match.declined", OWNER, MatchDeclined, "Staff declined a proposal.")

CATALOGUE.reacts(OWNER, "position.opened", "position.filled", "applicant.registered")
