"""`match.explain`: a pair's criteria, and the better positions the applicant does not have.

Every criterion comes with its points, its maximum and its German sentence (the
engine's). The counterfactual staff ask for lists the positions this applicant would
rank above the explained one, and why they do not have them:

- every position that suits them with a higher score (the applicant's own order), with
  `full` (no free place), `closed`, `ranked_lower` (the position has at least as many
  open or accepted proposals of applicants it ranks higher as it wants candidates),
  `declined`, `withdrawn`, `proposed` (pending), `accepted`, or `not_proposed` (it
  would rank them among its candidates, but the daily cap or the applicant's own list
  stood in the way so far);
- positions of an occupation the applicant wished more that do not suit them, closest
  first, with `not_acceptable` and the rule they break (beyond reach, start beyond the
  tolerance).
"""

from __future__ import annotations

from diko_matching import choosing, domain, eligibility, store
from diko_matching.engine import Score
from diko_matching.index import ApplicantEntry, Index, PositionEntry
from diko_shared.contract.matching import (
    BetterPosition,
    ExplainedCriterion,
    ExplainMatch,
    Explanation,
)
from diko_shared.geo import haversine_km
from diko_shared.messaging.errors import Invalid, NotFound
from diko_shared.messaging.handling import Context
from diko_shared.occupations import shared_prefix_length


async def explain(
    ctx: Context[ExplainMatch], *, index: Index, policy: domain.Policy
) -> Explanation:
    """The explanation of one pair (see the module's docstring)."""
    applicant_id, position_id = await _pair(ctx)
    await index.catch_up(ctx.db)
    applicant = index.applicants.get(applicant_id)
    position = index.positions.get(position_id)
    if applicant is None:
        raise NotFound(f"Bewerber/in {applicant_id} ist nicht bekannt")
    if position is None:
        raise NotFound(f"Ausbildungsstelle {position_id} ist dem Matching nicht bekannt")
    weights = policy.weights
    score = choosing.explain(applicant, position, weights)
    pid = domain.proposal_id(position_id, applicant_id)
    entry = index.proposals.get(pid)
    most = choosing.total_weight(weights)
    return Explanation(
        proposal_id=pid,
        applicant_id=applicant_id,
        position_id=position_id,
        status=entry.status if entry is not None else "not_proposed",  # type: ignore[arg-type]
        acceptable=score.acceptable,
        score=choosing.share(score.total, most),
        points=round(score.total, 2),
        max_points=round(most, 2),
        criteria=[
            ExplainedCriterion(
                criterion=domain.CRITERION_OF_KEY[c.key.split(".", 1)[0]],
                key=c.key,
                points=round(c.points, 2),
                max_points=round(c.max_points, 2),
                text=c.sentence,
            )
            for c in score.criteria
        ],
        better_positions=better_positions(
            index, policy, applicant, position, score, ctx.data.limit
        ),
        held=eligibility.held_text(applicant.held(eligibility.berlin_today(ctx.occurred_at))),
    )


async def _pair(ctx: Context[ExplainMatch]) -> tuple[str, str]:
    data = ctx.data
    if data.proposal_id is not None:
        if data.applicant_id is not None or data.position_id is not None:
            raise Invalid.field(
                "data.proposal_id", "entweder proposal_id oder applicant_id und position_id angeben"
            )
        stored = await store.find_proposal(ctx.db, data.proposal_id)
        if stored is None:
            raise NotFound(f"Vorschlag {data.proposal_id} ist nicht bekannt")
        return stored.proposal.applicant.applicant_id, stored.proposal.position.position_id
    if data.applicant_id is None or data.position_id is None:
        missing = "data.applicant_id" if data.applicant_id is None else "data.position_id"
        raise Invalid.field(missing, "fehlt (oder proposal_id angeben)")
    return data.applicant_id, data.position_id


def better_positions(
    index: Index,
    policy: domain.Policy,
    applicant: ApplicantEntry,
    position: PositionEntry,
    score: Score,
    limit: int,
) -> list[BetterPosition]:
    """The positions the applicant would rank above `position`, each with why not."""
    if limit <= 0:
        return []
    weights = policy.weights
    others = [
        p for _, p in sorted(index.positions.items()) if p.position_id != position.position_id
    ]
    ranked = choosing.rank_for_applicant(applicant, others, weights, len(others))
    threshold = score.total if score.acceptable else -1.0
    out = []
    for position_id, points in ranked:
        if points <= threshold or len(out) >= limit:
            break
        other = index.positions[position_id]
        why, text = _why_not(index, policy, applicant, other, points)
        out.append(
            _better(other, True, choosing.share(points, choosing.total_weight(weights)), why, text)
        )
    for other, sentence in _wished_more(index, policy, applicant, position, score, others):
        if len(out) >= limit:
            break
        out.append(_better(other, False, 0.0, "not_acceptable", sentence))
    return out


def _better(
    position: PositionEntry, acceptable: bool, score: float, why: str, text: str
) -> BetterPosition:
    return BetterPosition(
        position_id=position.position_id,
        company_id=position.company_id,
        company_name=position.company_name,
        occupation=position.occupation,
        town=position.town,
        acceptable=acceptable,
        score=score,
        why=why,  # type: ignore[arg-type]
        text=text,
    )


def _why_not(
    index: Index,
    policy: domain.Policy,
    applicant: ApplicantEntry,
    position: PositionEntry,
    points: float,
) -> tuple[str, str]:
    pid = domain.proposal_id(position.position_id, applicant.applicant_id)
    entry = index.proposals.get(pid)
    if entry is not None and entry.status != "proposed":
        if entry.status == "accepted":
            return "accepted", "Die Bewerberin oder der Bewerber ist über diese Stelle vermittelt."
        if entry.status == "declined":
            return "declined", "Der Vorschlag für diese Stelle wurde abgelehnt."
        return "withdrawn", "Der Vorschlag für diese Stelle wurde zurückgezogen."
    if entry is not None:
        return (
            "proposed",
            "Der Vorschlag für diese Stelle liegt vor und ist noch nicht entschieden.",
        )
    if position.status == "closed":
        return "closed", "Die Stelle wurde geschlossen."
    free = index.free_places(position)
    if position.status == "filled" or free <= 0:
        if position.places == 1:
            return "full", "Der einzige Platz der Stelle ist vergeben."
        return "full", f"Alle {position.places} Plätze der Stelle sind vergeben."
    share = choosing.share(points, choosing.total_weight(policy.weights))
    ahead = [
        p
        for p in index.proposals_of_position(position.position_id)
        if p.status in ("proposed", "accepted") and p.score > share
    ]
    if len(ahead) >= domain.wanted_open(policy, free):
        return "ranked_lower", (
            f"Die Stelle hat {len(ahead)} Vorschläge mit Bewerberinnen und Bewerbern, "
            "die besser zu ihr passen."
        )
    return "not_proposed", (
        "Noch nicht vorgeschlagen: Das Tageslimit der Stelle oder die volle Vorschlagsliste "
        "der Bewerberin oder des Bewerbers stand bisher im Weg; der nächste Anlass oder Lauf "
        "schlägt sie vor."
    )


def _wished_more(
    index: Index,
    policy: domain.Policy,
    applicant: ApplicantEntry,
    position: PositionEntry,
    score: Score,
    others: list[PositionEntry],
) -> list[tuple[PositionEntry, str]]:
    """Unsuitable positions of a more wished occupation, closest first, with the rule broken."""
    least = policy.weights.min_shared_prefix

    def rank(code: str) -> int | None:
        """The wish an occupation answers: the one it is, else the first it is related to."""
        if code in applicant.wishes:
            return applicant.wishes.index(code)
        related = [
            r for r, w in enumerate(applicant.wishes) if shared_prefix_length(w, code) >= least
        ]
        return min(related) if related else None

    own = rank(position.occupation.code) if score.acceptable else None
    found = []
    for other in others:
        r = rank(other.occupation.code)
        if r is None or (own is not None and r >= own) or other.status != "open":
            continue
        why = choosing.explain(applicant, other, policy.weights)
        if why.acceptable:
            continue
        km = haversine_km(applicant.lat, applicant.lon, other.lat, other.lon)
        found.append((km, other.position_id, other, why.criteria[0].sentence))
    return [(other, sentence) for _, _, other, sentence in sorted(found)]
