"""Whom to propose: the engine's scores on the read model, and proposals with reasons.

Pure (no I/O): the same formula, acceptability and German sentences as `diko match`.
Rankings use the engine's numba kernel over the index's arrays; a proposal's reasons
come from `explain_pair` on the one pair, so that numbers and sentences agree.
"""

from __future__ import annotations

import numpy as np

from diko_matching.domain import CRITERION_OF_KEY, proposal_id
from diko_matching.engine import (
    ApplicantProfile,
    Criterion,
    PositionProfile,
    ProfileInstance,
    Score,
    ScoringWeights,
    explain_pair,
    score_pairs,
)
from diko_matching.index import (
    ENGINE_SCHOOL,
    ApplicantEntry,
    Index,
    PositionEntry,
    applicant_arrays,
    with_positions,
)
from diko_shared.contract.matching import Proposal, ProposedApplicant, ProposedPosition, Reason


def rank_for_position(
    index: Index, position: PositionEntry, weights: ScoringWeights
) -> list[tuple[str, float]]:
    """Every active applicant the position suits, best first: (applicant id, points)."""
    arrays = with_positions(index.applicant_arrays(weights), [position], [1])
    if not arrays.app_ids:
        return []
    cands = score_pairs(arrays, weights, list_length=1)
    ok = np.flatnonzero(cands.position[:, 0] >= 0)
    order = ok[np.lexsort((ok, -cands.score[ok, 0]))]  # ties: the lower id first
    return [(arrays.app_ids[i], float(cands.score[i, 0])) for i in order]


def rank_for_applicant(
    applicant: ApplicantEntry,
    positions: list[PositionEntry],
    weights: ScoringWeights,
    limit: int,
) -> list[tuple[str, float]]:
    """The applicant's best `limit` suitable positions among `positions`: (id, points)."""
    if not positions or limit <= 0:
        return []
    arrays = with_positions(applicant_arrays([applicant], weights), positions)
    cands = score_pairs(arrays, weights, list_length=max(1, min(limit, len(positions))))
    return [
        (arrays.pos_ids[int(p)], float(s))
        for p, s in zip(cands.position[0], cands.score[0], strict=True)
        if p >= 0
    ]


def explain(applicant: ApplicantEntry, position: PositionEntry, weights: ScoringWeights) -> Score:
    """The pair's score with a German sentence per criterion (also when unacceptable)."""
    inst = ProfileInstance(
        applicants={
            applicant.applicant_id: ApplicantProfile(
                home=applicant.home_town,
                occupations=list(applicant.wishes),
                reach_km=applicant.reach_km,
                licence=applicant.licence,
                school=ENGINE_SCHOOL[applicant.school],  # type: ignore[arg-type]
                available_from=applicant.earliest_start,
            )
        },
        positions={
            position.position_id: PositionProfile(
                company=position.company_id,
                town=position.town,
                occupation=position.occupation.code,
                places=position.places,
                school=ENGINE_SCHOOL[position.school],  # type: ignore[arg-type]
                start=position.start_date,
            )
        },
        weights=weights,
    )
    return explain_pair(inst, applicant.applicant_id, position.position_id)


def proposal(score: Score, position: PositionEntry, applicant: ApplicantEntry) -> Proposal:
    """The contract's proposal of an acceptable pair (rank 1 until `domain.ranked`)."""
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
            name=applicant.name,
            home_town=applicant.home_town,
        ),
        score=share(score.total, most),
        rank=1,
        reasons=[reason(c) for c in score.criteria],
    )


def reason(criterion: Criterion) -> Reason:
    return Reason(
        criterion=CRITERION_OF_KEY[criterion.key.split(".", 1)[0]],
        key=criterion.key,
        score=share(criterion.points, criterion.max_points),
        weight=criterion.max_points,
        text=criterion.sentence,
    )


def share(points: float, most: float) -> float:
    """Points as a share of the most there are, 0 to 1 (0 when a criterion weighs nothing)."""
    return round(min(1.0, max(0.0, points / most)), 4) if most > 0 else 0.0


def total_weight(weights: ScoringWeights) -> float:
    return weights.occupation + weights.distance + weights.school + weights.start + weights.wish
