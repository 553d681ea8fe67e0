"""The rules of the matching service: pure functions, no I/O.

Scoring is the engine's (`diko_matching.engine`, the same formula and German sentences
as `diko match`): this module turns the service's records into engine profiles and the
engine's scores into the contract's proposals. Validation collects every problem of a
message before it answers; problem texts are German, as staff read them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from diko_matching.engine import (
    ApplicantProfile,
    Criterion,
    PositionProfile,
    ProfileInstance,
    Score,
    ScoringWeights,
    shortlist_for_applicant,
    shortlist_for_position,
)
from diko_shared.contract.common import Occupation, SchoolCertificate
from diko_shared.contract.companies import PositionFilled, PositionOpened
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import (
    Applicant,
    ApplicantRegistered,
    Candidate,
    Proposal,
    ProposedApplicant,
    ProposedPosition,
    Reason,
    RegisterApplicant,
)
from diko_shared.geo import UnknownPlaceError, load_gazetteer
from diko_shared.messaging.errors import Conflict, Invalid
from diko_shared.occupations import load_occupations

#: Namespace of proposal ids: one id per (position, applicant) pair, whoever proposes it.
PROPOSAL_IDS = uuid.UUID("2b4e5f0a-8c1d-4f7e-9a36-5d0c7e1b9f42")

#: The contract's certificates as the engine names them.
ENGINE_SCHOOL: dict[SchoolCertificate, str] = {
    "none": "ohne",
    "hauptschule": "hauptschule",
    "realschule": "realschule",
    "abitur": "abitur",
}

#: The criterion of a reason, by the first part of the engine's reason key.
CRITERION_OF_KEY = {
    "occupation": "occupation",
    "distance": "distance",
    "school": "school",
    "start": "start",
    "wish": "preference",
}

DecisionWord = Literal["accept", "decline"]
ProposalStatus = Literal["proposed", "accepted", "declined"]
STATUS_OF_DECISION: dict[DecisionWord, ProposalStatus] = {
    "accept": "accepted",
    "decline": "declined",
}
DECIDED_TEXT = {"accept": "angenommen", "decline": "abgelehnt"}


@dataclass(frozen=True, slots=True)
class Policy:
    """How many proposals one trigger makes, and the engine's weights."""

    proposals_per_trigger: int = 10
    weights: ScoringWeights = field(default_factory=ScoringWeights)


@dataclass(frozen=True, slots=True)
class PositionCopy:
    """Matching's own copy of an open training position (from `position.opened`)."""

    position_id: str
    company_id: str
    company_name: str
    occupation: Occupation
    places: int
    start_date: date
    town: str
    school_certificate: SchoolCertificate
    status: Literal["open", "filled"]


@dataclass(frozen=True, slots=True)
class StoredProposal:
    """A proposal as stored: the proposal itself, its status, and the trigger that made it."""

    proposal: Proposal
    status: ProposalStatus
    trigger: str


@dataclass(frozen=True, slots=True)
class DecisionClaim:
    """The one decision taken on a proposal, and the message that took it."""

    proposal_id: str
    decision: DecisionWord
    key: str
    decided_by: str | None


# -- applicants ----------------------------------------------------------------------------


def check_registration(data: RegisterApplicant) -> str:
    """The canonical home town; `Invalid` naming every bad field otherwise."""
    problems: list[ErrorDetail] = []
    home = _canonical_town(data.home_town, "data.home_town", problems)
    catalogue = load_occupations()
    seen: set[str] = set()
    for i, code in enumerate(data.desired_occupations):
        where = f"data.desired_occupations.{i}"
        if not catalogue.names(code):
            problems.append(ErrorDetail(field=where, problem=f"unbekannter KldB-Code {code}"))
        elif code in seen:
            problems.append(ErrorDetail(field=where, problem=f"KldB-Code {code} doppelt genannt"))
        seen.add(code)
    if problems or home is None:
        raise Invalid(f"{len(problems)} ungültige Angabe(n)", problems)
    return home


def _canonical_town(name: str, where: str, problems: list[ErrorDetail]) -> str | None:
    try:
        return load_gazetteer().lookup(name).name
    except UnknownPlaceError as exc:
        problems.append(ErrorDetail(field=where, problem=str(exc)))
        return None


def new_applicant(data: RegisterApplicant, applicant_id: str, home_town: str) -> Applicant:
    return Applicant(
        applicant_id=applicant_id,
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        phone=data.phone,
        home_town=home_town,
        reach_km=data.reach_km,
        driving_licence=data.driving_licence,
        school_certificate=data.school_certificate,
        desired_occupations=data.desired_occupations,
        earliest_start=data.earliest_start,
        status="active",
    )


def registered(applicant: Applicant) -> ApplicantRegistered:
    """The event of a registration: what matching others may know, no name or contact."""
    return ApplicantRegistered(
        applicant_id=applicant.applicant_id,
        home_town=applicant.home_town,
        reach_km=applicant.reach_km,
        driving_licence=applicant.driving_licence,
        school_certificate=applicant.school_certificate,
        desired_occupations=applicant.desired_occupations,
        earliest_start=applicant.earliest_start,
    )


# -- positions -----------------------------------------------------------------------------


def position_copy(event: PositionOpened) -> PositionCopy:
    """The open position as matching keeps it, its town canonical; `Invalid` if unknown."""
    problems: list[ErrorDetail] = []
    town = _canonical_town(event.town, "data.town", problems)
    if town is None:
        raise Invalid(problems[0].problem, problems)
    return PositionCopy(
        position_id=event.position_id,
        company_id=event.company_id,
        company_name=event.company_name,
        occupation=event.occupation,
        places=event.places,
        start_date=event.start_date,
        town=town,
        school_certificate=event.school_certificate,
        status="open",
    )


def filled_copy(event: PositionFilled) -> PositionCopy:
    """A filled position, for when `position.filled` arrives before `position.opened`."""
    place = load_gazetteer().get(event.town)
    return PositionCopy(
        position_id=event.position_id,
        company_id=event.company_id,
        company_name=event.company_name,
        occupation=event.occupation,
        places=event.places,
        start_date=event.start_date,
        town=event.town if place is None else place.name,
        school_certificate="none",
        status="filled",
    )


# -- proposals -----------------------------------------------------------------------------


def proposal_id(position_id: str, applicant_id: str) -> str:
    """The one id of a pair's proposal, so that no pair is ever proposed twice."""
    return f"prp_{uuid.uuid5(PROPOSAL_IDS, f'{position_id}|{applicant_id}').hex[:20]}"


def trigger_id(kind: Literal["position", "applicant"], subject_id: str) -> str:
    """What a trigger is about: only the first message about it may propose."""
    return f"{kind}|{subject_id}"


def proposals_for_position(
    position: PositionCopy, applicants: Sequence[Applicant], policy: Policy, limit: int
) -> list[Proposal]:
    """The position's best `limit` acceptable applicants among `applicants`, best first."""
    active = [a for a in applicants if a.status == "active"]
    if limit <= 0 or position.status != "open" or not active:
        return []
    by_id = {a.applicant_id: a for a in active}
    scores = shortlist_for_position(
        _instance(active, [position], policy), position.position_id, k=limit
    )
    return ranked(_proposal(s, position, by_id[s.applicant_id]) for s in scores)


def proposals_for_applicant(
    applicant: Applicant, positions: Sequence[PositionCopy], policy: Policy, limit: int
) -> list[Proposal]:
    """The applicant's best `limit` acceptable open positions among `positions`, best first."""
    open_ = [p for p in positions if p.status == "open"]
    if limit <= 0 or applicant.status != "active" or not open_:
        return []
    by_id = {p.position_id: p for p in open_}
    scores = shortlist_for_applicant(
        _instance([applicant], open_, policy), applicant.applicant_id, k=limit
    )
    return ranked(_proposal(s, by_id[s.position_id], applicant) for s in scores)


def _instance(
    applicants: Sequence[Applicant], positions: Sequence[PositionCopy], policy: Policy
) -> ProfileInstance:
    return ProfileInstance(
        applicants={a.applicant_id: _applicant_profile(a) for a in applicants},
        positions={p.position_id: _position_profile(p) for p in positions},
        weights=policy.weights,
    )


def _applicant_profile(applicant: Applicant) -> ApplicantProfile:
    return ApplicantProfile(
        home=applicant.home_town,
        occupations=list(applicant.desired_occupations),
        reach_km=applicant.reach_km,
        licence=applicant.driving_licence,
        school=ENGINE_SCHOOL[applicant.school_certificate],
        available_from=applicant.earliest_start,
    )


def _position_profile(position: PositionCopy) -> PositionProfile:
    return PositionProfile(
        company=position.company_id,
        town=position.town,
        occupation=position.occupation.code,
        places=position.places,
        school=ENGINE_SCHOOL[position.school_certificate],
        start=position.start_date,
    )


def _proposal(score: Score, position: PositionCopy, applicant: Applicant) -> Proposal:
    most = sum(c.max_points for c in score.criteria)
    return Proposal(
        proposal_id=proposal_id(position.position_id, applicant.applicant_id),
        position=ProposedPosition(
            position_id=position.position_id,
            company_id=position.company_id,
            company_name=position.company_name,
            occupation=position.occupation,
            town=position.town,
            start_date=position.start_date,
        ),
        applicant=ProposedApplicant(
            applicant_id=applicant.applicant_id,
            name=f"{applicant.first_name} {applicant.last_name}",
            home_town=applicant.home_town,
        ),
        score=_share(score.total, most),
        rank=1,
        reasons=[_reason(c) for c in score.criteria],
    )


def _reason(criterion: Criterion) -> Reason:
    return Reason(
        criterion=CRITERION_OF_KEY[criterion.key.split(".", 1)[0]],
        key=criterion.key,
        score=_share(criterion.points, criterion.max_points),
        weight=criterion.max_points,
        text=criterion.sentence,
    )


def _share(points: float, most: float) -> float:
    """Points as a share of the most there are, 0 to 1 (0 when a criterion weighs nothing)."""
    return round(min(1.0, max(0.0, points / most)), 4) if most > 0 else 0.0


def ranked(proposals: Iterable[Proposal]) -> list[Proposal]:
    """Best score first (ties by id, so that every replica ranks alike), ranks from 1."""
    ordered = sorted(proposals, key=lambda p: (-p.score, p.proposal_id))
    return [p.model_copy(update={"rank": i}) for i, p in enumerate(ordered, start=1)]


def shortlist(proposals: Iterable[StoredProposal], limit: int) -> list[Candidate]:
    """A position's candidates: every proposal made for it, best first, with status."""
    stored = sorted(proposals, key=lambda s: (-s.proposal.score, s.proposal.proposal_id))
    return [
        Candidate(
            proposal_id=s.proposal.proposal_id,
            applicant=s.proposal.applicant,
            score=s.proposal.score,
            rank=rank,
            reasons=s.proposal.reasons,
            status=s.status,
        )
        for rank, s in enumerate(stored[:limit], start=1)
    ]


# -- decisions -----------------------------------------------------------------------------


def check_acceptable(position: PositionCopy | None) -> None:
    """A proposal can be accepted only while its position has a place left.

    Companies would refuse the acceptance of a filled position; refusing it here keeps
    matching's story (proposal accepted, applicant placed) the same as companies'.
    """
    if position is not None and position.status != "open":
        raise Conflict(
            f"Die Ausbildungsstelle {position.position_id} ist bereits besetzt; "
            "der Vorschlag lässt sich nicht mehr annehmen",
            [ErrorDetail(field="data.decision", problem="die Stelle hat keinen freien Platz")],
        )


def takes_decision(claim: DecisionClaim, decision: DecisionWord, key: str) -> bool:
    """Whether the message `key` took the decision (True) or repeats it (False).

    The first decision on a proposal is final: the same decision again is answered
    alike without a second event, the other one is a conflict.
    """
    if claim.decision != decision:
        raise Conflict(
            f"Vorschlag {claim.proposal_id} wurde bereits {DECIDED_TEXT[claim.decision]}",
            [
                ErrorDetail(
                    field="data.decision",
                    problem=f"bereits {DECIDED_TEXT[claim.decision]}; "
                    "eine Entscheidung lässt sich nicht umkehren",
                )
            ],
        )
    return claim.key == key
