"""Messages owned by the matching service: applicants, proposals, decisions, runs and fairs.

Partial updates (`applicant.update`): a field left out stays as it is; `email` or
`phone` sent as `null` is cleared. Events never carry an applicant's contact data, and
their name only in `match.proposed`, for the staff who decide (see its docstring).
`fair.planned` names no applicant since its version 2: notifications, which mails each
their timetable, asks `fair.get` (see its docstring).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from diko_shared.contract.base import Payload, examples
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.common import (
    ApplicantId,
    CompanyId,
    Email,
    KldbCode,
    Name,
    Occupation,
    OneLine,
    Phone,
    PositionId,
    Postcode,
    ProposalId,
    SchoolCertificate,
    StaffId,
    Text,
    Town,
)
from diko_shared.contract.senders import INTEGRATOR, OPERATOR
from diko_shared.contract.versions import Earlier

OWNER = "matching"

Score = Annotated[float, Field(ge=0.0, le=1.0)]
#: A calendar day (an alias, for models with a field named `date`).
Day = date
Km = Annotated[float, Field(ge=0, le=300)]
RunId = Annotated[str, StringConstraints(pattern=r"^run_[0-9a-f]{20}$")]
FairId = Annotated[str, StringConstraints(pattern=r"^fair_[0-9a-f]{20}$")]
#: Who made a change: a staff member's e-mail or name.
Actor = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), *OneLine
]
#: A clock time of the day, e.g. `09:00` (`24:00` only as the end of a day).
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
ApplicantStatus = Literal["active", "placed", "withdrawn"]
ProposalStatus = Literal["proposed", "accepted", "declined", "withdrawn"]
#: Why a proposal can no longer be accepted.
WithdrawReason = Literal[
    "applicant_withdrawn",
    "applicant_placed",
    "applicant_changed",
    "position_filled",
    "position_closed",
    "position_changed",
]
#: What made matching propose: a new position or applicant, a decline, a change, a run.
ProposalCause = Literal[
    "position_opened",
    "applicant_registered",
    "declined",
    "applicant_changed",
    "position_changed",
    "places_added",
    "position_reopened",
    "run",
    "held_back",
]

_APPLICANT = "apl_0123456789abcdef0123"
_POSITION = "pos_0123456789abcdef0123"
_COMPANY = "cmp_0123456789abcdef0123"
_PROPOSAL = "prp_0123456789abcdef0123"
_FAIR = "fair_0123456789abcdef0123"


#: The version of the privacy text (Datenschutzhinweise) a consent was given to.
PrivacyVersion = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), *OneLine
]


class ProcessingConsent(Payload):
    """The applicant's consent to the processing of their data, and to which text."""

    given_at: AwareDatetime
    privacy_version: PrivacyVersion


class GuardianConsent(Payload):
    """A parent's or guardian's consent for an applicant under 16 (Art. 8 GDPR): who gave
    it, when, to which privacy text. Without it such an applicant is never proposed to
    companies and gets no e-mail."""

    name: Name = Field(description="The parent or guardian who consented")
    email: Email | None = None
    given_at: AwareDatetime
    privacy_version: PrivacyVersion


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
        },
        {
            "first_name": "Mia",
            "last_name": "Kowalski",
            "email": "mia.kowalski@example.org",
            "home_town": "Tangerhütte",
            "reach_km": 20,
            "school_certificate": "hauptschule",
            "desired_occupations": ["62102"],
            "earliest_start": "2027-08-01",
            "date_of_birth": "2011-05-14",
            "guardian_consent": {
                "name": "Anna Kowalski",
                "email": "anna.kowalski@example.org",
                "given_at": "2026-11-20T17:05:00+01:00",
                "privacy_version": "2026-11",
            },
            "privacy_consent": {
                "given_at": "2026-11-20T17:05:00+01:00",
                "privacy_version": "2026-11",
            },
            "confirm_email": True,
        },
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
    date_of_birth: date | None = Field(
        None, description="Under 16: proposed and written to only with a guardian's consent"
    )
    guardian_consent: GuardianConsent | None = None
    privacy_consent: ProcessingConsent | None = None
    confirm_email: bool = Field(
        False,
        description="true: matching mails a signed link and proposes nobody until the "
        "applicant confirms their address with it (double opt-in, the website's form)",
    )


class ApplicantRef(Payload):
    model_config = examples({"applicant_id": "apl_0123456789abcdef0123"})

    applicant_id: ApplicantId


class ApplicantRegistered(Payload):
    """An applicant was registered (no name or contact data: those stay in matching)."""

    personal_data_purpose: ClassVar[str] = (
        "nur der Wohnort (eine Gemeinde): matching selbst berechnet in jedem seiner "
        "Prozesse die Entfernung zu den Stellen"
    )

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
    status: ApplicantStatus
    date_of_birth: date | None = None
    guardian_consent: GuardianConsent | None = None
    privacy_consent: ProcessingConsent | None = None
    email_confirmed: bool | None = Field(
        None, description="false: waits for the confirmation link; null: none was asked for"
    )
    held: str | None = Field(
        None, description="Why the applicant is not proposed to companies now (German)"
    )


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
    name: Name = Field(description="Shown to the staff who decide (see `match.proposed`)")
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
    """New proposals: a position's shortlist, or the positions found for a new applicant.

    Personal data: each proposed applicant's name and home town, and nothing else of
    theirs. Its one subscriber, notifications, shows both in the staff e-mail and on the
    proposal's action page, where staff decide about a person, not an id. No other event
    notifications receives names an applicant (`applicant.*` carry none, on purpose), so
    it cannot keep a copy of its own; asking matching (`applicant.get`) for every proposal
    would put a request in front of every proposal e-mail and fail them while matching is
    away, for the same two fields.
    """

    personal_data_purpose: ClassVar[str] = (
        "Name und Wohnort der vorgeschlagenen Person: die E-Mail an die zuständigen "
        "Mitarbeiter/innen und die Seite hinter ihrem Link zeigen, über wen sie entscheiden"
    )

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

    trigger: Literal["position", "applicant"] = Field(
        description="Whose proposals these are: a position's shortlist or an applicant's"
    )
    subject_id: str = Field(description="The position or applicant the proposals are for")
    proposals: Annotated[list[Proposal], Field(min_length=1)]
    cause: ProposalCause | None = Field(
        None, description="What made matching propose (absent from older producers)"
    )
    run_id: RunId | None = Field(None, description="The run whose result these are")


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
    status: ProposalStatus
    withdrawn_reason: WithdrawReason | None = None


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
    personal_data_purpose: ClassVar[str] = (
        "nur die Kennung der Mitarbeiterin oder des Mitarbeiters, die entschied (kein "
        "Name): die Seite des Vorschlags sagt anderen Mitarbeiter/innen, wer schon entschieden hat"
    )

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
    personal_data_purpose: ClassVar[str] = (
        "nur die Kennung der Mitarbeiterin oder des Mitarbeiters, die entschied (kein "
        "Name): die Seite des Vorschlags sagt anderen Mitarbeiter/innen, wer schon entschieden hat"
    )

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


class UpdateApplicant(Payload):
    """Change an applicant's record: fields left out stay; `email` or `phone` null is cleared."""

    model_config = examples(
        {
            "applicant_id": _APPLICANT,
            "reach_km": 40,
            "driving_licence": True,
            "changed_by": "birte.albrecht@diko.example",
        },
        {"applicant_id": _APPLICANT, "desired_occupations": ["25212"], "phone": None},
    )

    applicant_id: ApplicantId
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    home_town: Town | None = None
    reach_km: Km | None = None
    driving_licence: bool | None = None
    school_certificate: SchoolCertificate | None = None
    desired_occupations: Annotated[list[KldbCode], Field(min_length=1, max_length=10)] | None = None
    earliest_start: date | None = None
    date_of_birth: date | None = None
    guardian_consent: GuardianConsent | None = None
    email_confirmed: Literal[True] | None = Field(
        None, description="true: the applicant confirmed their address (the mailed link)"
    )
    changed_by: Actor | None = None


class ApplicantChange(Payload):
    """What a change did: the fields that changed (none for a change that changes nothing)."""

    model_config = examples(
        {"applicant_id": _APPLICANT, "status": "active", "changed": ["reach_km", "driving_licence"]}
    )

    applicant_id: ApplicantId
    status: ApplicantStatus
    changed: list[Name]


class ApplicantUpdated(Payload):
    """An applicant's record changed: which fields, and the profile matching scores with.

    Like `applicant.registered` it carries no name or contact data; a change of those
    alone is announced with their field names only.
    """

    personal_data_purpose: ClassVar[str] = (
        "nur der Wohnort (eine Gemeinde), für matching selbst (Entfernungen in jedem "
        "seiner Prozesse); notifications liest aus dem Ereignis nur, ob die Bewerbung "
        "wieder aktiv ist"
    )

    model_config = examples(
        {
            "applicant_id": _APPLICANT,
            "changed": ["reach_km", "driving_licence"],
            "status": "active",
            "home_town": "Osterburg (Altmark)",
            "reach_km": 40.0,
            "driving_licence": True,
            "school_certificate": "realschule",
            "desired_occupations": ["22342", "25212"],
            "earliest_start": "2027-08-01",
        }
    )

    applicant_id: ApplicantId
    changed: list[Name]
    status: ApplicantStatus
    home_town: Town
    reach_km: float
    driving_licence: bool
    school_certificate: SchoolCertificate
    desired_occupations: list[KldbCode]
    earliest_start: date


class WithdrawApplicant(Payload):
    """An applicant leaves the placement work: every open proposal of theirs is withdrawn."""

    model_config = examples(
        {"applicant_id": _APPLICANT, "reason": "found_elsewhere", "note": "Ausbildung in Magdeburg"}
    )

    applicant_id: ApplicantId
    reason: Literal["found_elsewhere", "no_longer_interested", "unreachable", "other"] = "other"
    note: Text | None = None
    changed_by: Actor | None = None


class ApplicantWithdrawal(Payload):
    model_config = examples(
        {"applicant_id": _APPLICANT, "status": "withdrawn", "withdrawn_proposals": [_PROPOSAL]}
    )

    applicant_id: ApplicantId
    status: Literal["withdrawn"]
    withdrawn_proposals: list[ProposalId] = Field(
        description="The open proposals withdrawn with the applicant (each has match.withdrawn)"
    )


class ApplicantWithdrawn(Payload):
    """An applicant withdrew; matching no longer proposes them."""

    model_config = examples(
        {"applicant_id": _APPLICANT, "reason": "found_elsewhere", "withdrawn_proposals": []}
    )

    applicant_id: ApplicantId
    reason: Literal["found_elsewhere", "no_longer_interested", "unreachable", "other"]
    withdrawn_proposals: list[ProposalId]


class MatchWithdrawn(Payload):
    """A proposal can no longer be accepted: whoever offered it (an e-mail's action link)
    must stop offering it. `text` says why, in German, for staff."""

    model_config = examples(
        {
            "proposal_id": _PROPOSAL,
            "position_id": _POSITION,
            "company_id": _COMPANY,
            "applicant_id": _APPLICANT,
            "reason": "position_filled",
            "text": "Die Stelle ist inzwischen besetzt.",
        }
    )

    proposal_id: ProposalId
    position_id: PositionId
    company_id: CompanyId
    applicant_id: ApplicantId
    reason: WithdrawReason
    text: str = Field(description="Why, as a German sentence for staff")


# -- runs ------------------------------------------------------------------------------------


class RunMatching(Payload):
    """A stable assignment over the open positions and the active applicants.

    Its result becomes proposals for staff to decide, never placements. Pairs proposed
    before and declined or withdrawn are left out; a pair already proposed is not
    proposed again.
    """

    model_config = examples({}, {"optimal": "position", "seed": 7, "list_length": 30})

    optimal: Literal["applicant", "position"] = Field(
        "applicant", description="Whose side the stable assignment favours"
    )
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = Field(
        0, description="Seed of the lottery that breaks ties between equal scores"
    )
    list_length: Annotated[int, Field(ge=1, le=200)] = Field(
        50, description="How many positions each applicant ranks (the best by score)"
    )
    requested_by: Actor | None = None


class BlockingPair(Payload):
    """An applicant and a position who would both rather have each other than their match."""

    model_config = examples({"applicant_id": _APPLICANT, "position_id": _POSITION})

    applicant_id: ApplicantId
    position_id: PositionId


class _RunReport(Payload):
    run_id: RunId
    optimal: Literal["applicant", "position"]
    seed: int
    applicants: Annotated[int, Field(ge=0)] = Field(description="Active applicants considered")
    positions: Annotated[int, Field(ge=0)] = Field(description="Open positions with a free place")
    places: Annotated[int, Field(ge=0)] = Field(description="Free places of those positions")
    assigned: Annotated[int, Field(ge=0)] = Field(description="Applicants the assignment places")
    proposed: Annotated[int, Field(ge=0)] = Field(description="New proposals announced")
    already_proposed: Annotated[int, Field(ge=0)] = Field(
        description="Assigned pairs that were proposed before and are still open"
    )
    held_back: Annotated[int, Field(ge=0)] = Field(
        description="Assigned pairs held back by the daily cap per position (proposed later)"
    )
    unassigned: Annotated[int, Field(ge=0)]
    unassigned_applicants: list[ApplicantId]
    stable: bool
    blocking_pairs: list[BlockingPair]
    seconds: Annotated[float, Field(ge=0)]


_RUN_EXAMPLE = {
    "run_id": "run_0123456789abcdef0123",
    "optimal": "applicant",
    "seed": 0,
    "applicants": 5000,
    "positions": 1000,
    "places": 2480,
    "assigned": 2310,
    "proposed": 2105,
    "already_proposed": 180,
    "held_back": 25,
    "unassigned": 2690,
    "unassigned_applicants": [_APPLICANT],
    "stable": True,
    "blocking_pairs": [],
    "seconds": 2.4,
}


class RunResult(_RunReport):
    """The run's result; `unassigned_applicants` lists every applicant left without a place."""

    model_config = examples(_RUN_EXAMPLE)


class MatchRunCompleted(_RunReport):
    """A run finished; `unassigned_applicants` holds the first 1,000 (`unassigned` counts all)."""

    model_config = examples(_RUN_EXAMPLE)


# -- explanations --------------------------------------------------------------------------


class ExplainMatch(Payload):
    """Why a pair scores as it does, and which better positions the applicant did not get.

    Give `proposal_id`, or `applicant_id` and `position_id`.
    """

    model_config = examples(
        {"proposal_id": _PROPOSAL},
        {"applicant_id": _APPLICANT, "position_id": _POSITION, "limit": 5},
    )

    proposal_id: ProposalId | None = None
    applicant_id: ApplicantId | None = None
    position_id: PositionId | None = None
    limit: Annotated[int, Field(ge=0, le=50)] = Field(
        10, description="Most better-ranked positions listed"
    )


class ExplainedCriterion(Payload):
    criterion: str = Field(description="occupation, distance, school, start or preference")
    key: str
    points: Annotated[float, Field(ge=0)]
    max_points: Annotated[float, Field(ge=0)]
    text: str = Field(description="The German sentence")


#: Why the applicant does not have a position they would rank higher.
WhyNot = Literal[
    "full",
    "closed",
    "not_acceptable",
    "ranked_lower",
    "declined",
    "withdrawn",
    "proposed",
    "accepted",
    "not_proposed",
]


class BetterPosition(Payload):
    """A position the applicant would rank above the explained one, and why they do not have it."""

    position_id: PositionId
    company_id: CompanyId
    company_name: Name
    occupation: Occupation
    town: Town
    acceptable: bool
    score: Score = Field(description="The pair's score; 0 when not acceptable")
    why: WhyNot
    text: str = Field(description="Why, as a German sentence")


class Explanation(Payload):
    model_config = examples(
        {
            "proposal_id": _PROPOSAL,
            "applicant_id": _APPLICANT,
            "position_id": _POSITION,
            "status": "proposed",
            "acceptable": True,
            "score": 0.82,
            "points": 82.0,
            "max_points": 100.0,
            "criteria": [
                {
                    "criterion": "distance",
                    "key": "distance.within_reach",
                    "points": 17.0,
                    "max_points": 25.0,
                    "text": "Wohnort Osterburg (Altmark) liegt 21 km vom Ausbildungsort Stendal "
                    "entfernt (Reichweite 30 km).",
                }
            ],
            "better_positions": [
                {
                    "position_id": "pos_00000000000000000001",
                    "company_id": "cmp_00000000000000000001",
                    "company_name": "Holzbau Krüger GmbH",
                    "occupation": {"code": "22342", "name": "Tischler/in"},
                    "town": "Osterburg (Altmark)",
                    "acceptable": True,
                    "score": 0.93,
                    "why": "full",
                    "text": "Alle 2 Plätze der Stelle sind vergeben.",
                }
            ],
        }
    )

    proposal_id: ProposalId = Field(description="The pair's proposal id (also if not proposed)")
    applicant_id: ApplicantId
    position_id: PositionId
    status: Literal["proposed", "accepted", "declined", "withdrawn", "not_proposed"]
    acceptable: bool
    score: Score
    points: Annotated[float, Field(ge=0)]
    max_points: Annotated[float, Field(ge=0)]
    criteria: list[ExplainedCriterion]
    better_positions: list[BetterPosition]
    held: str | None = Field(
        None, description="Why the applicant is not proposed to anyone now (German)"
    )


# -- applicant fairs (Bewerberbörsen) ------------------------------------------------------


class Venue(Payload):
    name: Name
    street: Name | None = None
    postcode: Postcode | None = None
    town: Town


class FairCompanyEntry(Payload):
    """A company of matching's records at the fair (its name comes from its positions)."""

    company_id: CompanyId
    tables: Annotated[int, Field(ge=1, le=50)] = 1
    slots: Annotated[list[int], Field(max_length=96)] | None = Field(
        None, description="The slots (0-based) it is there; null: all day"
    )


class FairApplicantEntry(Payload):
    """A registered applicant at the fair, with the companies they want to talk to."""

    applicant_id: ApplicantId
    wishes: Annotated[list[CompanyId], Field(max_length=20)] | None = Field(
        None,
        description="Companies of the fair, most wanted first; null: the companies whose "
        "open positions suit the applicant best (at most max_wishes)",
    )
    slots: Annotated[list[int], Field(max_length=96)] | None = Field(
        None, description="The slots (0-based) the applicant can come; null: all day"
    )


class FileCompany(Payload):
    name: Name | None = None
    tables: Annotated[int, Field(ge=1, le=50)] = 1
    slots: Annotated[list[int], Field(max_length=96)] | None = None


class FileApplicant(Payload):
    name: Name | None = None
    wishes: Annotated[list[Name], Field(max_length=20)] = Field(default_factory=list)
    slots: Annotated[list[int], Field(max_length=96)] | None = None


FileId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,40}$")]


class FairFile(Payload):
    """A fair as `diko match fair` reads it from a file: ids and names of its own."""

    title: Name = "Bewerberbörse"
    date: Day | None = None
    start: ClockTime = "09:00"
    slot_minutes: Annotated[int, Field(ge=1, le=240)] = 15
    n_slots: Annotated[int, Field(ge=1, le=96)]
    min_interviews: Annotated[int, Field(ge=0, le=20)] = 2
    companies: Annotated[dict[FileId, FileCompany], Field(max_length=100)]
    applicants: Annotated[dict[FileId, FileApplicant], Field(max_length=500)]


class PlanFair(Payload):
    """Plan an applicant fair (Bewerberbörse): who talks to whom, when, at which table.

    Companies and applicants come from matching's records (`companies`, `applicants`),
    or the whole fair is given as `diko match fair` reads it (`file`); then `date`,
    `companies` and `applicants` here stay empty.
    """

    model_config = examples(
        {
            "title": "Bewerberbörse Stendal",
            "date": "2027-03-13",
            "venue": {
                "name": "Berufsbildende Schulen Stendal",
                "street": "Scharnhorststraße 40",
                "postcode": "39576",
                "town": "Stendal",
            },
            "start": "09:00",
            "slot_minutes": 15,
            "n_slots": 16,
            "min_interviews": 2,
            "companies": [{"company_id": _COMPANY, "tables": 2}],
            "applicants": [
                {"applicant_id": _APPLICANT, "wishes": [_COMPANY], "slots": [0, 1, 2, 3]}
            ],
        },
        {
            "venue": {"name": "Rathaus Gardelegen", "town": "Gardelegen"},
            "file": {
                "title": "Bewerberbörse Gardelegen",
                "date": "2027-04-10",
                "start": "10:00",
                "n_slots": 8,
                "companies": {"c01": {"name": "Tischlerei Müller", "tables": 2}},
                "applicants": {"a001": {"name": "Lena Schröder", "wishes": ["c01"]}},
            },
        },
    )

    title: Name = "Bewerberbörse"
    date: Day | None = Field(None, description="Required unless `file` gives it")
    venue: Venue | None = None
    start: ClockTime = "09:00"
    slot_minutes: Annotated[int, Field(ge=1, le=240)] = 15
    n_slots: Annotated[int, Field(ge=1, le=96)] = 16
    min_interviews: Annotated[int, Field(ge=0, le=20)] = Field(
        2, description="Interviews each applicant gets where possible (at most their wishes)"
    )
    max_wishes: Annotated[int, Field(ge=1, le=20)] = Field(
        5, description="Most companies matching picks for an applicant without wishes"
    )
    time_limit_s: Annotated[float, Field(ge=1, le=600)] = Field(
        60.0, description="Seconds the optimisation may take"
    )
    companies: Annotated[list[FairCompanyEntry], Field(max_length=100)] = Field(
        default_factory=list
    )
    applicants: Annotated[list[FairApplicantEntry], Field(max_length=500)] = Field(
        default_factory=list
    )
    file: FairFile | None = None
    requested_by: Actor | None = None


class FairStage(Payload):
    """How one stage of the optimisation ended; unknown numbers are null."""

    name: str
    status: Literal["optimal", "time_limit", "time_limit_no_solution", "not_run", "failed"]
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    seconds: Annotated[float, Field(ge=0)]


class FairLevel(Payload):
    """A level of the leximin: this many applicants get exactly this share of their wishes."""

    share: Score
    applicants: Annotated[int, Field(ge=0)]


class FairNumbers(Payload):
    """What the plan achieved, as the README defines it."""

    applicants: int
    companies: int
    slots: int
    interviews: int
    wishes: int
    granted_weight: float
    possible_weight: float
    worst_share: Score | None = Field(description="The smallest share of wish weight granted")
    below_minimum: int = Field(description="Applicants below min(min_interviews, wishes)")
    shortfall: int = Field(description="Interviews missing to everyone's minimum")
    proven_optimal: bool
    levels: list[FairLevel]


class FairMissing(Payload):
    model_config = examples({"company": _COMPANY, "reason": "no_common_slot"})

    company: str = Field(description="The company's `ref`")
    reason: Literal["no_common_slot", "company_full", "busy", "not_scheduled"]


class FairShortfall(Payload):
    """Why an applicant got fewer interviews than their minimum: each wish without one."""

    model_config = examples(
        {"needed": 2, "interviews": 1, "missing": [{"company": _COMPANY, "reason": "busy"}]}
    )

    needed: int
    interviews: int
    missing: list[FairMissing]


class FairCompanyPlan(Payload):
    ref: str = Field(description="The company's id in this fair: its company id from records")
    company_id: CompanyId | None = Field(None, description="Set when it comes from records")
    name: Name
    tables: int
    slots: list[int] | None = None
    occupations: list[Name] = Field(
        default_factory=list, description="What it trains for (its open positions)"
    )


class FairApplicantPlan(Payload):
    ref: str
    applicant_id: ApplicantId | None = None
    name: Name
    email: Email | None = Field(None, description="Where their own timetable goes")
    wishes: list[str] = Field(description="Company refs, most wanted first")
    slots: list[int] | None = None
    below_minimum: FairShortfall | None = None


class FairApplicantSeat(Payload):
    """An applicant's part of a planned fair without who they are (`fair.planned`)."""

    ref: str
    applicant_id: ApplicantId | None = None
    wishes: list[str] = Field(description="Company refs, most wanted first")
    slots: list[int] | None = None
    below_minimum: FairShortfall | None = None


class FairInterview(Payload):
    applicant: str = Field(description="The applicant's `ref`")
    company: str = Field(description="The company's `ref`")
    slot: int
    table: int
    starts: ClockTime
    ends: ClockTime
    wish_rank: int = Field(description="1 for the applicant's first wish")


class FairTimetable(Payload):
    """What every form of a planned fair has: the day, the place, the numbers, the companies."""

    fair_id: FairId
    title: Name
    date: Day | None
    venue: Venue | None = None
    start: ClockTime
    slot_minutes: int
    n_slots: int
    min_interviews: int
    timezone: Literal["Europe/Berlin"] = "Europe/Berlin"
    summary: FairNumbers
    stages: list[FairStage]
    companies: list[FairCompanyPlan]


class Fair(FairTimetable):
    """A planned fair: the day, every company's and applicant's part, the interviews."""

    model_config = examples(
        {
            "fair_id": _FAIR,
            "title": "Bewerberbörse Stendal",
            "date": "2027-03-13",
            "venue": {"name": "Berufsbildende Schulen Stendal", "town": "Stendal"},
            "start": "09:00",
            "slot_minutes": 15,
            "n_slots": 16,
            "min_interviews": 2,
            "timezone": "Europe/Berlin",
            "summary": {
                "applicants": 1,
                "companies": 1,
                "slots": 16,
                "interviews": 1,
                "wishes": 1,
                "granted_weight": 1.0,
                "possible_weight": 1.0,
                "worst_share": 1.0,
                "below_minimum": 0,
                "shortfall": 0,
                "proven_optimal": True,
                "levels": [{"share": 1.0, "applicants": 1}],
            },
            "stages": [
                {
                    "name": "minimum",
                    "status": "optimal",
                    "objective": 0.0,
                    "bound": 0.0,
                    "gap": 0.0,
                    "seconds": 0.01,
                }
            ],
            "companies": [
                {
                    "ref": _COMPANY,
                    "company_id": _COMPANY,
                    "name": "Tischlerei Müller GmbH",
                    "tables": 2,
                    "occupations": ["Tischler/in"],
                }
            ],
            "applicants": [
                {
                    "ref": _APPLICANT,
                    "applicant_id": _APPLICANT,
                    "name": "Lena Schröder",
                    "email": "lena.schroeder@example.org",
                    "wishes": [_COMPANY],
                    "slots": [0, 1, 2, 3],
                }
            ],
            "interviews": [
                {
                    "applicant": _APPLICANT,
                    "company": _COMPANY,
                    "slot": 0,
                    "table": 1,
                    "starts": "09:00",
                    "ends": "09:15",
                    "wish_rank": 1,
                }
            ],
        }
    )

    applicants: list[FairApplicantPlan]
    interviews: list[FairInterview]


_FAIR_EXAMPLE = Fair.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


class FairPlannedV1(Fair):
    """Version 1 of `fair.planned` (release 1.2), with each applicant's name and e-mail
    address. Readers still accept it for a release and read it as version 2
    (`FairPlanned.of`), which leaves both out."""

    model_config = examples(_FAIR_EXAMPLE)


class FairPlanned(FairTimetable):
    """A fair was planned: the day, the place, the companies and the interviews, for media's
    posts and website and for notifications' mail to staff.

    It names no applicant (version 2): media has no use for applicants, and notifications,
    which mails each company contact and each applicant their own timetable, asks matching
    for the names and addresses with `fair.get` when it writes. Version 1 carried each
    applicant's name and e-mail address to every subscriber.
    """

    model_config = examples(
        {
            **_FAIR_EXAMPLE,
            "applicants": [
                {k: v for k, v in a.items() if k not in ("name", "email")}
                for a in _FAIR_EXAMPLE["applicants"]
            ],
            "without_address": 0,
        }
    )

    applicants: list[FairApplicantSeat]
    interviews: list[FairInterview]
    without_address: Annotated[int, Field(ge=0)] = Field(
        0, description="Applicants without an address for their own timetable (staff are told)"
    )

    @classmethod
    def of(cls, fair: Fair) -> FairPlanned:
        """The event for a planned fair (or a version 1 event read as version 2)."""
        data = fair.model_dump(mode="json", exclude={"applicants"})
        seats = [a.model_dump(mode="json", exclude={"name", "email"}) for a in fair.applicants]
        missing = sum(1 for a in fair.applicants if not a.email)
        document = {**data, "applicants": seats, "without_address": missing}
        return cls.model_validate(document, strict=False)


class FairRef(Payload):
    """The planned fair's id and what it achieved (`fair.get` has the schedule)."""

    model_config = examples(
        {
            "fair_id": _FAIR,
            "summary": Fair.model_config["json_schema_extra"]["examples"][0]["summary"],  # type: ignore[index]
            "stages": [],
        }
    )

    fair_id: FairId
    summary: FairNumbers
    stages: list[FairStage]


class GetFair(Payload):
    model_config = examples({"fair_id": _FAIR})

    fair_id: FairId


CATALOGUE.command(
    "applicant.register",
    OWNER,
    RegisterApplicant,
    ApplicantRef,
    "Register an applicant with desired occupations, home town, reach and earliest start.",
    # matching itself sends what its registration form receives.
    senders=(OWNER, OPERATOR, INTEGRATOR),
)
CATALOGUE.query(
    "applicant.get",
    OWNER,
    GetApplicant,
    Applicant,
    "An applicant's record.",
    # notifications asks for an applicant's address when it writes to them.
    senders=("notifications", OPERATOR, INTEGRATOR),
)
CATALOGUE.event("applicant.registered", OWNER, ApplicantRegistered, "An applicant was registered.")
CATALOGUE.query(
    "match.shortlist", OWNER, GetShortlist, Shortlist, "A position's ranked candidates."
)
# Staff decide: through notifications' action pages (the link in the e-mail) or the diko
# command line. Nobody else, not even another system, accepts a proposal for them.
CATALOGUE.command(
    "match.decide",
    OWNER,
    DecideMatch,
    Decision,
    "Accept or decline a proposal.",
    senders=("notifications", OPERATOR),
)
CATALOGUE.event("match.proposed", OWNER, MatchProposed, "New proposals with scores and reasons.")
CATALOGUE.event("match.accepted", OWNER, MatchAccepted, "Staff accepted a proposal.")
CATALOGUE.event("match.declined", OWNER, MatchDeclined, "Staff declined a proposal.")
CATALOGUE.command(
    "applicant.update",
    OWNER,
    UpdateApplicant,
    ApplicantChange,
    "Change an applicant's record.",
    # matching itself sends the confirmation of an address (its link's page).
    senders=(OWNER, OPERATOR, INTEGRATOR),
)
CATALOGUE.event("applicant.updated", OWNER, ApplicantUpdated, "An applicant's record changed.")
CATALOGUE.command(
    "applicant.withdraw",
    OWNER,
    WithdrawApplicant,
    ApplicantWithdrawal,
    "An applicant leaves; their open proposals are withdrawn.",
)
CATALOGUE.event("applicant.withdrawn", OWNER, ApplicantWithdrawn, "An applicant withdrew.")
CATALOGUE.event("match.withdrawn", OWNER, MatchWithdrawn, "A proposal can no longer be accepted.")
CATALOGUE.command(
    "match.run",
    OWNER,
    RunMatching,
    RunResult,
    "A stable assignment run whose result becomes proposals for staff.",
)
CATALOGUE.event("match.run_completed", OWNER, MatchRunCompleted, "A stable assignment run ended.")
CATALOGUE.query(
    "match.explain",
    OWNER,
    ExplainMatch,
    Explanation,
    "A pair's criteria with German reasons, and the better positions the applicant lacks.",
)
CATALOGUE.command("fair.plan", OWNER, PlanFair, FairRef, "Plan an applicant fair.")
CATALOGUE.query(
    "fair.get",
    OWNER,
    GetFair,
    Fair,
    "A planned fair with its schedule.",
    # notifications asks for the applicants' names and addresses when it mails timetables.
    senders=("notifications", OPERATOR, INTEGRATOR),
)
CATALOGUE.event(
    "fair.planned",
    OWNER,
    FairPlanned,
    "A fair was planned, with every timetable (no applicant named: `fair.get` names them).",
    version=2,
    earlier=(Earlier(1, FairPlannedV1, FairPlanned.of),),
)

CATALOGUE.reacts(
    OWNER,
    "position.opened",
    "position.updated",
    "position.closed",
    "position.reopened",
    "position.filled",
    "company.updated",
    "company.merged",
    "applicant.registered",
    "applicant.updated",
    "match.declined",
)
