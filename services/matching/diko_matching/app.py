"""Composition root of the matching service: settings, every subscription, start-up.

Who handles what, at a glance:

| message | kind | handler |
| --- | --- | --- |
| `applicant.register` | command | `handlers.register_applicant` |
| `applicant.get` | query | `handlers.get_applicant` |
| `match.shortlist` | query | `handlers.get_shortlist` |
| `match.decide` | command | `handlers.decide_match` |
| `position.opened` | event | `handlers.propose_for_position` |
| `position.filled` | event | `handlers.mark_position_filled` |
| `applicant.registered` | event | `handlers.propose_for_applicant` |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial

from pydantic import Field

from diko_matching import domain, handlers, store
from diko_matching.engine import ScoringWeights
from diko_shared.contract.common import Occupation
from diko_shared.contract.matching import Applicant
from diko_shared.service.app import Service
from diko_shared.settings import ServiceSettings, load_settings

NAME = "matching"


class MatchingSettings(ServiceSettings):
    """The matching service's settings (`DIKO_*`), with its own HTTP port."""

    http_port: int = 8002
    proposals_per_trigger: int = Field(
        10,
        ge=1,
        le=100,
        description="Most proposals one new position or applicant gives (top k)",
    )
    scoring_weights: ScoringWeights = Field(
        default_factory=ScoringWeights,
        description=(
            "Weights and knobs of the engine's scoring as JSON, e.g. "
            '{"distance": 30} or {"start_tolerance_days": 90} (days a start may lie '
            "outside the applicant's window before the pair is no candidate)"
        ),
    )


def build(settings: MatchingSettings | None = None) -> Service:
    """The service with every subscription; `python -m diko_matching` runs it."""
    settings = settings or load_settings(MatchingSettings, "matching")
    policy = domain.Policy(settings.proposals_per_trigger, settings.scoring_weights)
    service = Service(
        NAME,
        settings,
        description="Applicants, scored proposals with reasons, and staff decisions",
        indexes=store.INDEXES,
    )
    service.on_request("applicant.register", handlers.register_applicant)
    service.on_request("applicant.get", handlers.get_applicant)
    service.on_request("match.shortlist", handlers.get_shortlist)
    service.on_request("match.decide", handlers.decide_match)
    service.on_event("position.opened", partial(handlers.propose_for_position, policy=policy))
    service.on_event("position.filled", handlers.mark_position_filled)
    service.on_event("applicant.registered", partial(handlers.propose_for_applicant, policy=policy))
    service.on_start(_warm_up(policy))
    return service


def _warm_up(policy: domain.Policy) -> Callable[[], Awaitable[None]]:
    """numba compiles the engine's kernel on first use, for seconds; pay that before
    messages flow, so that the first proposal does not stall the event loop."""

    async def score_a_sample() -> None:
        position = domain.PositionCopy(
            position_id="pos_00000000000000000000",
            company_id="cmp_00000000000000000000",
            company_name="Beispiel GmbH",
            occupation=Occupation(code="22342", name="Tischler/in"),
            places=1,
            start_date=date(2027, 8, 1),
            town="Stendal",
            school_certificate="none",
            status="open",
        )
        applicant = Applicant(
            applicant_id="apl_00000000000000000000",
            first_name="Beispiel",
            last_name="Beispiel",
            home_town="Tangermünde",
            reach_km=20,
            driving_licence=False,
            school_certificate="hauptschule",
            desired_occupations=["22342"],
            earliest_start=date(2027, 8, 1),
            status="active",
        )
        domain.proposals_for_position(position, [applicant], policy, 1)
        domain.proposals_for_applicant(applicant, [position], policy, 1)

    return score_a_sample
