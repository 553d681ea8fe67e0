"""The rules of the matching service: pure functions, no I/O.

Validation collects every problem of a message before it answers; problem texts are
German, as staff read them. Scoring is the engine's (`choosing.py` calls it on the
read model); this module holds what the service decides around it: copies of
positions, changes of applicants, how many proposals a position should have, the day
a proposal counts against, and the words for every refusal and withdrawal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from diko_matching import eligibility
from diko_matching.engine import ScoringWeights
from diko_shared.contract.common import Occupation, SchoolCertificate
from diko_shared.contract.companies import (
    PositionFilled,
    PositionOpened,
    PositionReopened,
    PositionUpdated,
)
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.matching import (
    Applicant,
    ApplicantRegistered,
    ApplicantUpdated,
    Candidate,
    Proposal,
    RegisterApplicant,
    UpdateApplicant,
    WithdrawReason,
)
from diko_shared.geo import UnknownPlaceError, load_gazetteer
from diko_shared.messaging.errors import Conflict, Invalid
from diko_shared.occupations import load_occupations

#: Namespace of proposal ids: one id per (position, applicant) pair, whoever proposes it.
PROPOSAL_IDS = uuid.UUID("2b4e5f0a-8c1d-4f7e-9a36-5d0c7e1b9f42")
#: Days, for the daily cap, are days in Berlin.
BERLIN = ZoneInfo("Europe/Berlin")

#: The criterion of a reason, by the first part of the engine's reason key.
CRITERION_OF_KEY = {
    "occupation": "occupation",
    "distance": "distance",
    "school": "school",
    "start": "start",
    "wish": "preference",
}

ProposalStatus = Literal["proposed", "accepted", "declined", "withdrawn"]
DECIDED_TEXT = {"accept": "angenommen", "decline": "abgelehnt", "withdraw": "zurückgezogen"}

#: Why a proposal was withdrawn, as staff read it.
WITHDRAWN_TEXT: dict[str, str] = {
    "applicant_withdrawn": "Die Bewerberin oder der Bewerber hat sich zurückgezogen.",
    "applicant_placed": "Die Bewerberin oder der Bewerber ist bereits vermittelt.",
    "applicant_changed": "Die Angaben der Bewerberin oder des Bewerbers haben sich geändert; "
    "die Stelle passt nicht mehr.",
    "position_filled": "Die Stelle ist inzwischen besetzt.",
    "position_closed": "Die Stelle wurde geschlossen.",
    "position_changed": "Die Stelle hat sich geändert und passt nicht mehr.",
}

#: Fields of an applicant that `applicant.update` may change, and which may be cleared.
APPLICANT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "home_town",
    "reach_km",
    "driving_licence",
    "school_certificate",
    "desired_occupations",
    "earliest_start",
    "date_of_birth",
    "guardian_consent",
    "email_confirmed",
)
CLEARABLE = frozenset({"email", "phone"})
#: Fields that change whom the applicant suits (the others are names and contact data).
PROFILE_FIELDS = frozenset(
    {
        "home_town",
        "reach_km",
        "driving_licence",
        "school_certificate",
        "desired_occupations",
        "earliest_start",
    }
)
#: Fields that decide whether the applicant may be proposed at all (`eligibility`).
ELIGIBILITY_FIELDS = frozenset({"date_of_birth", "guardian_consent", "email_confirmed"})
#: Fields of a position whose change can make a proposed pair unsuitable.
POSITION_FIELDS = frozenset({"occupation", "start_date", "town", "school_certificate"})


@dataclass(frozen=True, slots=True)
class Policy:
    """How many proposals a position or applicant gets, the daily cap, the engine's weights."""

    proposals_per_trigger: int = 10
    proposals_per_position_per_day: int = 20
    weights: ScoringWeights = field(default_factory=ScoringWeights)


@dataclass(frozen=True, slots=True)
class PositionCopy:
    """Matching's own copy of a training position (from companies' events)."""

    position_id: str
    company_id: str
    company_name: str
    occupation: Occupation
    places: int
    start_date: date
    town: str
    school_certificate: SchoolCertificate
    status: Literal["open", "filled", "closed"]


# -- applicants ----------------------------------------------------------------------------


def check_registration(data: RegisterApplicant) -> str:
    """The canonical home town; `Invalid` naming every bad field otherwise."""
    problems: list[ErrorDetail] = []
    home = town_and_occupations(data.home_town, data.desired_occupations, problems)
    if data.confirm_email and data.email is None:
        problems.append(
            ErrorDetail(field="data.email", problem="für die Bestätigung nötig, fehlt aber")
        )
    if data.date_of_birth is not None and data.date_of_birth >= eligibility.berlin_today():
        problems.append(
            ErrorDetail(field="data.date_of_birth", problem="liegt nicht in der Vergangenheit")
        )
    if problems or home is None:
        raise Invalid(f"{len(problems)} ungültige Angabe(n)", problems)
    return home


def town_and_occupations(
    home_town: str, codes: list[str], problems: list[ErrorDetail]
) -> str | None:
    """The canonical home town; a problem for an unknown town or occupation, a repeat."""
    home = _canonical_town(home_town, "data.home_town", problems)
    _check_occupations(codes, problems)
    return home


def _check_occupations(codes: list[str], problems: list[ErrorDetail]) -> None:
    catalogue = load_occupations()
    seen: set[str] = set()
    for i, code in enumerate(codes):
        where = f"data.desired_occupations.{i}"
        if not catalogue.names(code):
            problems.append(ErrorDetail(field=where, problem=f"unbekannter KldB-Code {code}"))
        elif code in seen:
            problems.append(ErrorDetail(field=where, problem=f"KldB-Code {code} doppelt genannt"))
        seen.add(code)


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
        date_of_birth=data.date_of_birth,
        guardian_consent=data.guardian_consent,
        privacy_consent=data.privacy_consent,
        email_confirmed=False if data.confirm_email else None,
    )


def with_hold(applicant: Applicant, day: date) -> Applicant:
    """The applicant as `applicant.get` answers: with why they are held today, if they are."""
    key = eligibility.hold(
        born=applicant.date_of_birth,
        has_guardian_consent=applicant.guardian_consent is not None,
        email_confirmed=applicant.email_confirmed,
        day=day,
    )
    return applicant.model_copy(update={"held": eligibility.held_text(key)})


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


def changed_applicant(current: Applicant, data: UpdateApplicant) -> tuple[Applicant, list[str]]:
    """The applicant after a partial update, and the fields that changed.

    A field left out stays; `email` and `phone` sent as null are cleared; any other
    field sent as null, an unknown town or occupation is named in one `Invalid`.
    A withdrawn applicant's record can still be corrected (no proposals follow).
    """
    sent = data.model_fields_set & set(APPLICANT_FIELDS)
    problems: list[ErrorDetail] = []
    values: dict[str, object] = {}
    for name in sorted(sent):
        value = getattr(data, name)
        if value is None and name not in CLEARABLE:
            problems.append(
                ErrorDetail(field=f"data.{name}", problem="darf nicht leer sein (null)")
            )
            continue
        values[name] = value
    if "home_town" in values:
        values["home_town"] = _canonical_town(str(values["home_town"]), "data.home_town", problems)
    if "desired_occupations" in values:
        _check_occupations(list(values["desired_occupations"]), problems)  # type: ignore[call-overload]
    if problems:
        raise Invalid(f"{len(problems)} ungültige Angabe(n)", problems)
    changed = [
        name
        for name in APPLICANT_FIELDS
        if name in values and values[name] != getattr(current, name)
    ]
    return current.model_copy(update={n: values[n] for n in changed}), changed


def updated(applicant: Applicant, changed: list[str]) -> ApplicantUpdated:
    return ApplicantUpdated(
        applicant_id=applicant.applicant_id,
        changed=changed,
        status=applicant.status,
        home_town=applicant.home_town,
        reach_km=applicant.reach_km,
        driving_licence=applicant.driving_licence,
        school_certificate=applicant.school_certificate,
        desired_occupations=applicant.desired_occupations,
        earliest_start=applicant.earliest_start,
    )


# -- positions -----------------------------------------------------------------------------


def _canonical_or_invalid(town: str) -> str:
    problems: list[ErrorDetail] = []
    canonical = _canonical_town(town, "data.town", problems)
    if canonical is None:
        raise Invalid(problems[0].problem, problems)
    return canonical


def position_copy(event: PositionOpened | PositionReopened) -> PositionCopy:
    """The open position as matching keeps it, its town canonical; `Invalid` if unknown."""
    return PositionCopy(
        position_id=event.position_id,
        company_id=event.company_id,
        company_name=event.company_name,
        occupation=event.occupation,
        places=event.places,
        start_date=event.start_date,
        town=_canonical_or_invalid(event.town),
        school_certificate=event.school_certificate,
        status="open",
    )


def filled_copy(event: PositionFilled) -> PositionCopy:
    """A filled position (also for when `position.filled` arrives before `position.opened`)."""
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


def edited_copy(current: PositionCopy, event: PositionUpdated) -> PositionCopy:
    """The copy after `position.updated`: its places, status and edited fields."""
    changes: dict[str, object] = {"places": event.places}
    if event.status is not None:
        changes["status"] = event.status
    if event.occupation is not None:
        changes["occupation"] = event.occupation
    if event.start_date is not None:
        changes["start_date"] = event.start_date
    if event.town is not None:
        changes["town"] = _canonical_or_invalid(event.town)
    if event.school_certificate is not None:
        changes["school_certificate"] = event.school_certificate
    return replace(current, **changes)  # type: ignore[arg-type]


def with_status(copy: PositionCopy, status: str) -> PositionCopy:
    return replace(copy, status=status)  # type: ignore[arg-type]


def edit_changes_fit(event: PositionUpdated) -> bool:
    """Whether an edit changed what makes a pair suitable (then proposals are checked)."""
    return bool(POSITION_FIELDS & set(event.changed))


# -- proposals -----------------------------------------------------------------------------


def proposal_id(position_id: str, applicant_id: str) -> str:
    """The one id of a pair's proposal, so that no pair is ever proposed twice."""
    return f"prp_{uuid.uuid5(PROPOSAL_IDS, f'{position_id}|{applicant_id}').hex[:20]}"


def trigger_id(kind: Literal["position", "applicant"], subject_id: str) -> str:
    """What a trigger is about: only the first message about it may propose."""
    return f"{kind}|{subject_id}"


def berlin_day(moment: datetime) -> str:
    """The day in Berlin on which a message happened: the day its proposals count against."""
    return moment.astimezone(BERLIN).date().isoformat()


def wanted_open(policy: Policy, free_places: int) -> int:
    """How many open proposals a position with free places should have.

    The shortlist's length, or more when the position has more free places than that.
    """
    return max(policy.proposals_per_trigger, free_places) if free_places > 0 else 0


def ranked(proposals: Iterable[Proposal]) -> list[Proposal]:
    """Best score first (ties by id, so that every replica ranks alike), ranks from 1."""
    ordered = sorted(proposals, key=lambda p: (-p.score, p.proposal_id))
    return [p.model_copy(update={"rank": i}) for i, p in enumerate(ordered, start=1)]


@dataclass(frozen=True, slots=True)
class Listed:
    """A stored proposal as the shortlist lists it."""

    proposal: Proposal
    status: ProposalStatus
    withdrawn_reason: WithdrawReason | None = None


def shortlist(proposals: Iterable[Listed], limit: int) -> list[Candidate]:
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
            withdrawn_reason=s.withdrawn_reason,
        )
        for rank, s in enumerate(stored[:limit], start=1)
    ]


# -- decisions -----------------------------------------------------------------------------


def already_decided(proposal_id: str, decision: str, reason: str | None = None) -> Conflict:
    """The answer to a decision on a proposal decided otherwise (decisions are final)."""
    text = DECIDED_TEXT[decision]
    why = f": {WITHDRAWN_TEXT[reason]}" if decision == "withdraw" and reason else ""
    return Conflict(
        f"Vorschlag {proposal_id} wurde bereits {text}{why}",
        [
            ErrorDetail(
                field="data.decision",
                problem=f"bereits {text}; eine Entscheidung lässt sich nicht umkehren",
            )
        ],
    )


def applicant_unavailable(applicant_id: str, placed_by: str | None) -> Conflict:
    """An acceptance for an applicant who is placed already or has withdrawn."""
    if placed_by is None:
        return Conflict(
            f"Bewerber/in {applicant_id} hat sich zurückgezogen; der Vorschlag lässt sich "
            "nicht mehr annehmen",
            [ErrorDetail(field="data.proposal_id", problem="Bewerber/in zurückgezogen")],
        )
    return Conflict(
        f"Bewerber/in {applicant_id} ist bereits vermittelt (Vorschlag {placed_by}); "
        "ein zweiter Vorschlag lässt sich nicht annehmen",
        [ErrorDetail(field="data.proposal_id", problem=f"bereits vermittelt über {placed_by}")],
    )


def position_unavailable(
    position: PositionCopy, why: Literal["filled", "closed", "full"]
) -> Conflict:
    """An acceptance for a position without a free place."""
    if why == "closed":
        text = f"Die Ausbildungsstelle {position.position_id} wurde geschlossen"
        problem = "die Stelle ist geschlossen"
    else:
        places = (
            "ihr einziger Platz ist vergeben"
            if position.places == 1
            else f"alle {position.places} Plätze sind vergeben"
        )
        text = (
            f"Die Ausbildungsstelle {position.position_id} ({position.occupation.name} bei "
            f"{position.company_name}) ist bereits besetzt: {places}"
        )
        problem = "die Stelle hat keinen freien Platz"
    return Conflict(
        f"{text}; der Vorschlag lässt sich nicht mehr annehmen",
        [ErrorDetail(field="data.decision", problem=problem)],
    )


def check_acceptable(position: PositionCopy | None) -> None:
    """A proposal can be accepted only while its position is open."""
    if position is None:
        return
    if position.status == "closed":
        raise position_unavailable(position, "closed")
    if position.status == "filled":
        raise position_unavailable(position, "filled")


def applicant_placed_cannot_withdraw(applicant_id: str, proposal_id: str) -> Conflict:
    """A withdrawal of an applicant who is placed: the place is the company's to free."""
    return Conflict(
        f"Bewerber/in {applicant_id} ist bereits vermittelt (Vorschlag {proposal_id}); "
        "ein Rückzug lässt sich hier nicht mehr erfassen – bitte mit dem Betrieb klären",
        [ErrorDetail(field="data.applicant_id", problem=f"bereits vermittelt über {proposal_id}")],
    )
