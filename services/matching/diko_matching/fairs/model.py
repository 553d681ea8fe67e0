"""A planned fair as the contract carries it: from the setup and the engine's plan.

One representation for everyone: `fair.planned`, `fair.get`, the HTML, PDF and .ics
timetables and `diko match fair` all start from the contract's `Fair`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from diko_matching.engine.fair_instance import FairInstance
from diko_matching.fairs.setup import ApplicantAtFair, CompanyAtFair, FairSetup
from diko_shared.contract.matching import (
    Fair,
    FairApplicantPlan,
    FairCompanyPlan,
    FairInterview,
    FairLevel,
    FairMissing,
    FairNumbers,
    FairShortfall,
    FairStage,
)
from diko_shared.text import clean


def clock(start: str, minutes: int) -> str:
    """`HH:MM`, `minutes` after `start` (the end of a day that fills it: `24:00`)."""
    hours, mins = (int(x) for x in start.split(":"))
    total = hours * 60 + mins + minutes
    return f"{total // 60:02d}:{total % 60:02d}"


def fair_of(fair_id: str, setup: FairSetup, plan: dict[str, Any]) -> Fair:
    """The contract's fair from its setup and `FairPlan.to_dict` of its plan."""
    summary = plan["summary"]
    below = {b["applicant"]: b for b in summary["below_minimum_applicants"]}
    return Fair(
        fair_id=fair_id,
        title=setup.title,
        date=setup.date,
        venue=setup.venue,
        start=setup.start,
        slot_minutes=setup.slot_minutes,
        n_slots=setup.n_slots,
        min_interviews=setup.min_interviews,
        summary=FairNumbers(
            applicants=summary["applicants"],
            companies=summary["companies"],
            slots=summary["slots"],
            interviews=summary["interviews"],
            wishes=summary["wishes"],
            granted_weight=summary["granted_weight"],
            possible_weight=summary["possible_weight"],
            worst_share=summary["worst_share"],
            below_minimum=summary["below_minimum"],
            shortfall=summary["shortfall"],
            proven_optimal=summary["proven_optimal"],
            levels=[FairLevel(**level) for level in summary["levels"]],
        ),
        stages=[FairStage(**stage) for stage in plan["stages"]],
        companies=[
            FairCompanyPlan(
                ref=c.ref,
                company_id=c.company_id,
                name=c.name,
                tables=c.tables,
                slots=c.slots,
                occupations=c.occupations,
            )
            for c in setup.companies
        ],
        applicants=[
            FairApplicantPlan(
                ref=a.ref,
                applicant_id=a.applicant_id,
                name=a.name,
                email=a.email,
                wishes=a.wishes,
                slots=a.slots,
                below_minimum=_shortfall(below.get(a.ref)),
            )
            for a in setup.applicants
        ],
        interviews=[
            FairInterview(
                applicant=i["applicant"],
                company=i["company"],
                slot=i["slot"],
                table=i["table"],
                starts=clock(setup.start, i["slot"] * setup.slot_minutes),
                ends=clock(setup.start, (i["slot"] + 1) * setup.slot_minutes),
                wish_rank=i["wish_rank"],
            )
            for i in plan["interviews"]
        ],
    )


def _shortfall(below: dict[str, Any] | None) -> FairShortfall | None:
    if below is None:
        return None
    return FairShortfall(
        needed=below["needed"],
        interviews=below["interviews"],
        missing=[FairMissing(**m) for m in below["missing"]],
    )


def file_fair_id(data: Any) -> str:
    """A fair id for a fair planned from a file (`diko match fair`): its content's hash."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return f"fair_{digest[:20]}"


def setup_of(inst: FairInstance) -> FairSetup:
    """The setup of a fair given as the engine reads it (`diko match fair`'s file).

    A hand-written file may carry characters the contract refuses in text (control
    characters pasted from a spreadsheet); they are dropped, as nobody could see them.
    """
    return FairSetup(
        title=clean(inst.title),
        date=inst.date,
        venue=None,
        start=inst.start.strftime("%H:%M"),
        slot_minutes=inst.slot_minutes,
        n_slots=inst.n_slots,
        min_interviews=inst.min_interviews,
        companies=[
            CompanyAtFair(ref, None, clean(c.name or ref), c.tables, c.slots, [])
            for ref, c in sorted(inst.companies.items())
        ],
        applicants=[
            ApplicantAtFair(ref, None, clean(a.name or ref), None, list(a.wishes), a.slots)
            for ref, a in sorted(inst.applicants.items())
        ],
    )
