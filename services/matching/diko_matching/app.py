"""Composition root of the matching service: settings, every subscription, start-up.

Who handles what, at a glance:

| message | kind | handler |
| --- | --- | --- |
| `applicant.register` | command | `handlers.register_applicant` (also the form, `registration/`) |
| `applicant.update` | command | `handlers.update_applicant` |
| `applicant.withdraw` | command | `handlers.withdraw_applicant` |
| `applicant.get` | query | `handlers.get_applicant` |
| `match.decide` | command | `handlers.decide_match` (`decisions.py`) |
| `match.run` | command | `runs.run` |
| `match.shortlist` | query | `handlers.get_shortlist` |
| `match.explain` | query | `explaining.explain` |
| `fair.plan` | command | `fairs.handlers.plan_fair` |
| `fair.get` | query | `fairs.handlers.get_fair` |
| `position.opened` | event | `handlers.propose_for_position` |
| `position.updated` | event | `handlers.position_changed` |
| `position.closed` | event | `handlers.position_closed` |
| `position.reopened` | event | `handlers.position_reopened` |
| `position.filled` | event | `handlers.position_filled` |
| `company.updated` | event | `handlers.company_renamed` |
| `company.merged` | event | `handlers.company_merged` |
| `applicant.registered` | event | `handlers.propose_for_applicant` |
| `applicant.updated` | event | `handlers.applicant_changed` |
| `match.declined` | event | `handlers.propose_after_decline` |
| `applicant.export`, `applicant.erase` | query, command | `rights.owner` |
| `<service>.person_exported`, `<service>.person_erased` | event | `rights.owner` |
| `contact.*`, `staff.*`: `export_requested`, `erased` | event | `rights.RIGHTS` |

The data-subject rights (`rights.py`) run on `diko_shared.rights`: the owner's part
collects the other services' parts and confirmations, the participant's answers the
requests of companies (contacts) and notifications (staff).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from functools import partial

from pydantic import Field

from diko_matching import choosing, domain, explaining, handlers, rights, runs, store
from diko_matching.engine import ScoringWeights
from diko_matching.fairs import handlers as fairs
from diko_matching.fairs.planner import Planner
from diko_matching.fairs.web import fair_routes
from diko_matching.index import ApplicantEntry, Index, PositionEntry
from diko_matching.registration.confirming import Confirmations
from diko_matching.registration.flood import RateLimit
from diko_matching.registration.pages import RegistrationPages
from diko_shared.brand import web as brand
from diko_shared.contract.common import Occupation
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
        description="Open proposals a position with a free place (or an applicant) should have",
    )
    proposals_per_position_per_day: int = Field(
        20,
        ge=1,
        le=500,
        description="Most proposals one position gets on one day (Berlin), whatever the cause",
    )
    applicant_retention_days: int = Field(
        365,
        ge=1,
        le=3650,
        description=(
            "Days after an applicant's registration or last change after which they are "
            "erased everywhere (GDPR storage limitation), with the proof of applicant.erase"
        ),
    )
    registration_rate_limit: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Registration form submissions one client address may send per hour",
    )
    registration_link_days: float = Field(
        7.0, gt=0, le=60, description="How long the link that confirms an address stays valid"
    )
    privacy_version: str = Field(
        "2026-1",
        min_length=1,
        max_length=60,
        description="The version of the privacy text (Datenschutzhinweise) the form's "
        "consent refers to; recorded with every consent",
    )
    privacy_url: str = Field(
        "", description="Where the form links the privacy text (the website's /datenschutz/)"
    )
    site_url: str = Field("", description="The website's start page, linked from the form's logo")
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
    policy = domain.Policy(
        settings.proposals_per_trigger,
        settings.proposals_per_position_per_day,
        settings.scoring_weights,
    )
    index = Index()
    planner = Planner()
    service = Service(
        NAME,
        settings,
        description="Applicants, proposals with reasons, decisions, stable runs, applicant fairs",
        indexes=store.INDEXES,
    )
    with_index = {"index": index}
    base_url = settings.public_base_url or f"http://127.0.0.1:{settings.http_port}"
    confirmations = Confirmations(base_url, timedelta(days=settings.registration_link_days))
    kept = {"index": index, "retention": timedelta(days=settings.applicant_retention_days)}
    both = {"index": index, "policy": policy}
    service.on_request(
        "applicant.register",
        partial(handlers.register_applicant, **kept, confirmations=confirmations),
    )
    service.on_request("applicant.update", partial(handlers.update_applicant, **kept))
    service.on_request("applicant.withdraw", partial(handlers.withdraw_applicant, **with_index))
    service.on_request("applicant.get", handlers.get_applicant)
    service.on_request("match.decide", partial(handlers.decide_match, **both))
    service.on_request("match.run", partial(runs.run, **both))
    service.on_request("match.shortlist", partial(handlers.get_shortlist, **with_index))
    service.on_request("match.explain", partial(explaining.explain, **both))
    service.on_request("fair.plan", partial(fairs.plan_fair, **both, planner=planner))
    service.on_request("fair.get", fairs.get_fair)
    service.on_event("position.opened", partial(handlers.propose_for_position, **both))
    service.on_event("position.updated", partial(handlers.position_changed, **both))
    service.on_event("position.closed", partial(handlers.position_closed, **with_index))
    service.on_event("position.reopened", partial(handlers.position_reopened, **both))
    service.on_event("position.filled", partial(handlers.position_filled, **with_index))
    service.on_event("company.updated", partial(handlers.company_renamed, **with_index))
    service.on_event("company.merged", partial(handlers.company_merged, **with_index))
    service.on_event("applicant.registered", partial(handlers.propose_for_applicant, **both))
    service.on_event("applicant.updated", partial(handlers.applicant_changed, **both))
    service.on_event("match.declined", partial(handlers.propose_after_decline, **both))
    registration = RegistrationPages(
        db=lambda: service.db,
        publisher=lambda: service.publisher,
        now=service.clock.now,
        confirmations=confirmations,
        limit=RateLimit(settings.registration_rate_limit, 3600.0),
        privacy_version=settings.privacy_version,
        privacy_url=settings.privacy_url,
        site_url=settings.site_url,
    )
    service.add_routes(*fair_routes(lambda: service.db), *registration.routes(), *brand.routes())
    rights.RIGHTS.wire(service)
    owner = rights.owner(index, base_url)
    owner.wire(service)
    service.on_due(rights.RETENTION, partial(rights.retention_due, owner=owner))
    service.on_due(rights.RETENTION_SWEEP, rights.sweep_retention)
    service.on_start(_load(service, index))
    service.on_start(_warm_up(policy))
    service.on_stop(planner.close)
    service.hourly(lambda: store.forget_old(service.db))
    return service


def _load(service: Service, index: Index) -> Callable[[], Awaitable[None]]:
    """Read applicants, position copies and proposals into the read model before messages
    flow; start the retention sweep (`rights.start_sweeping`)."""

    async def load() -> None:
        await index.load(service.db)
        await rights.start_sweeping(service.db, await service.clock.now())

    return load


def _warm_up(policy: domain.Policy) -> Callable[[], Awaitable[None]]:
    """numba compiles the engine's kernel on first use, for seconds; pay that before
    messages flow, so that the first proposal does not stall the event loop."""

    async def score_a_sample() -> None:
        sample = Index()
        applicant = ApplicantEntry(
            applicant_id="apl_00000000000000000000",
            status="active",
            name="Beispiel Beispiel",
            email=None,
            home_town="Tangermünde",
            lat=52.54,
            lon=11.97,
            reach_km=20.0,
            licence=False,
            school="hauptschule",
            wishes=("22342",),
            earliest_start=date(2027, 8, 1),
        )
        position = PositionEntry(
            position_id="pos_00000000000000000000",
            company_id="cmp_00000000000000000000",
            company_name="Beispiel GmbH",
            occupation=Occupation(code="22342", name="Tischler/in"),
            places=1,
            start_date=date(2027, 8, 1),
            town="Stendal",
            lat=52.6,
            lon=11.86,
            school="none",
            status="open",
        )
        sample.applicants[applicant.applicant_id] = applicant
        await asyncio.to_thread(choosing.rank_for_position, sample, position, policy.weights)
        choosing.explain(applicant, position, policy.weights)

    return score_a_sample
