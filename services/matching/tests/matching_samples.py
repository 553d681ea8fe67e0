"""Applicants, positions and a read model to test the matching service's rules with."""

from __future__ import annotations

from datetime import date
from typing import Any

from diko_matching import choosing, domain
from diko_matching.index import ApplicantEntry, Index, PositionEntry, ProposalEntry
from diko_shared.contract.common import Occupation
from diko_shared.contract.matching import Proposal
from diko_shared.geo import load_gazetteer

POLICY = domain.Policy()


def applicant(number: int, home: str, **changes: Any) -> ApplicantEntry:
    place = load_gazetteer().lookup(changes.pop("home_town", home))
    data: dict[str, Any] = {
        "applicant_id": f"apl_{number:020x}",
        "status": "active",
        "name": f"Bewerber Nr. {number}",
        "email": f"bewerber{number}@example.org",
        "home_town": place.name,
        "lat": place.latitude,
        "lon": place.longitude,
        "reach_km": 25.0,
        "licence": False,
        "school": "realschule",
        "wishes": ("25212",),
        "earliest_start": date(2027, 8, 1),
    }
    return ApplicantEntry(**{**data, **changes})


def position(number: int, town: str = "Stendal", **changes: Any) -> PositionEntry:
    place = load_gazetteer().lookup(town)
    data: dict[str, Any] = {
        "position_id": f"pos_{number:020x}",
        "company_id": f"cmp_{number:020x}",
        "company_name": "Autohaus Beispiel GmbH",
        "occupation": Occupation(code="25212", name="Kraftfahrzeugmechatroniker/in"),
        "places": 2,
        "start_date": date(2027, 8, 1),
        "town": place.name,
        "lat": place.latitude,
        "lon": place.longitude,
        "school": "realschule",
        "status": "open",
    }
    return PositionEntry(**{**data, **changes})


def index_of(
    applicants: list[ApplicantEntry],
    positions: list[PositionEntry] = (),  # type: ignore[assignment]
    proposals: list[ProposalEntry] = (),  # type: ignore[assignment]
) -> Index:
    index = Index()
    for a in applicants:
        index.applicants[a.applicant_id] = a
    for p in positions:
        index.positions[p.position_id] = p
        index.by_company.setdefault(p.company_id, set()).add(p.position_id)
    for x in proposals:
        index.proposals[x.proposal_id] = x
        index.by_position.setdefault(x.position_id, set()).add(x.proposal_id)
        index.by_applicant.setdefault(x.applicant_id, set()).add(x.proposal_id)
    index.version += 1
    index.applicants_version += 1
    return index


def proposal_entry(
    position: PositionEntry, applicant: ApplicantEntry, status: str, score: float = 0.5
) -> ProposalEntry:
    return ProposalEntry(
        proposal_id=domain.proposal_id(position.position_id, applicant.applicant_id),
        position_id=position.position_id,
        applicant_id=applicant.applicant_id,
        status=status,
        score=score,
        day="2027-01-01",
        trigger="k",
    )


def best_for_position(
    position: PositionEntry,
    applicants: list[ApplicantEntry],
    limit: int,
    policy: domain.Policy = POLICY,
) -> list[Proposal]:
    """What the proposer offers a new position: the best `limit`, with reasons, ranked."""
    index = index_of(applicants)
    ranked = choosing.rank_for_position(index, position, policy.weights)[:limit]
    made = [
        choosing.proposal(
            choosing.explain(index.applicants[a], position, policy.weights),
            position,
            index.applicants[a],
        )
        for a, _ in ranked
    ]
    return domain.ranked(made)


def best_for_applicant(
    applicant: ApplicantEntry,
    positions: list[PositionEntry],
    limit: int,
    policy: domain.Policy = POLICY,
) -> list[Proposal]:
    """What the proposer offers a new applicant among open positions."""
    open_ = [p for p in positions if p.status == "open"]
    ranked = choosing.rank_for_applicant(applicant, open_, policy.weights, limit)
    by_id = {p.position_id: p for p in open_}
    made = [
        choosing.proposal(
            choosing.explain(applicant, by_id[x], policy.weights), by_id[x], applicant
        )
        for x, _ in ranked
    ]
    return domain.ranked(made)
