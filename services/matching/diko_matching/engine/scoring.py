"""Scoring an applicant–position pair: criteria, weights and reasons for staff.

One formula, `criteria_points`, is written once in plain Python: the
explanation path calls it as is, and the bulk candidate kernel calls the
numba-compiled copy of the same function, so a shortlist's numbers and its
sentences can never disagree. Each criterion yields points between 0 and its
weight; the score is their sum (0–100 with the default weights). A pair is
unacceptable (no score) when the occupations share fewer than
`min_shared_prefix` KldB digits, the distance exceeds the applicant's reach,
or the training start lies more than `start_tolerance_days` outside the
applicant's window: staff need shortlists of people who can actually start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from diko_matching.engine import reasons

SCHOOL_LEVELS = ("ohne", "hauptschule", "realschule", "abitur")
NO_END = 10**7
"""Day number used for an open-ended availability window."""


MAX_POINTS = 1_000_000.0
"""Most points one criterion may weigh: any sum of five stays a finite, printable number."""


class ScoringWeights(BaseModel):
    """Points per criterion and the knobs of each; the defaults sum to 100 points."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    occupation: float = Field(40.0, ge=0, le=MAX_POINTS, description="same KldB code as a wish")
    distance: float = Field(
        25.0, ge=0, le=MAX_POINTS, description="all points at 0 km, none at the reach"
    )
    school: float = Field(
        15.0, ge=0, le=MAX_POINTS, description="certificate held meets the requirement"
    )
    start: float = Field(
        10.0, ge=0, le=MAX_POINTS, description="training start within the wished window"
    )
    wish: float = Field(
        10.0, ge=0, le=MAX_POINTS, description="the applicant's own ranking of the occupation"
    )
    related_4: float = Field(0.6, ge=0, le=1, description="share for 4 shared KldB digits")
    related_3: float = Field(0.4, ge=0, le=1, description="share for 3 shared KldB digits")
    related_2: float = Field(0.2, ge=0, le=1, description="share for 2 shared KldB digits")
    min_shared_prefix: int = Field(3, ge=2, le=5, description="fewer shared digits: unacceptable")
    licence_bonus_km: float = Field(
        15.0, ge=0, le=1000, description="extra reach with a driving licence"
    )
    school_below: float = Field(0.3, ge=0, le=1, description="share when one level below")
    start_tolerance_days: float = Field(
        120.0,
        gt=0,
        le=36_500,
        description=(
            "days outside the window at which the start points reach 0; "
            "further outside: unacceptable (about 4 months of late entry)"
        ),
    )
    wish_step: float = Field(0.25, ge=0, le=1, description="share lost per place down the wishes")

    def as_array(self) -> np.ndarray:
        """The weights in the order `criteria_points` reads them."""
        return np.array(
            [
                self.occupation,
                self.distance,
                self.school,
                self.start,
                self.wish,
                self.related_4,
                self.related_3,
                self.related_2,
                float(self.min_shared_prefix),
                self.licence_bonus_km,
                self.school_below,
                self.start_tolerance_days,
                self.wish_step,
            ],
            dtype=np.float64,
        )


def effective_reach(reach_km: float, licence: bool, weights: ScoringWeights) -> float:
    """The applicant's reach, widened by a driving licence."""
    return reach_km + (weights.licence_bonus_km if licence else 0.0)


def criteria_points(
    dist_km: float,
    reach_km: float,
    shared_prefix: int,
    wish_rank: int,
    school_held: int,
    school_required: int,
    start_day: int,
    avail_from: int,
    avail_until: int,
    w: np.ndarray,
) -> tuple[float, float, float, float, float]:
    """Points per criterion (occupation, distance, school, start, wish); -1s if unacceptable.

    Plain Python on purpose: the candidate kernel compiles this very function
    with numba, the explanation path runs it uncompiled, so both reject the
    same pairs (unrelated occupation, beyond reach, start beyond the tolerance).
    """
    if start_day < avail_from:
        off = avail_from - start_day
    elif start_day > avail_until:
        off = start_day - avail_until
    else:
        off = 0
    if shared_prefix < w[8] or dist_km > reach_km or off > w[11]:
        return -1.0, -1.0, -1.0, -1.0, -1.0
    if shared_prefix >= 5:
        share = 1.0
    elif shared_prefix == 4:
        share = w[5]
    elif shared_prefix == 3:
        share = w[6]
    else:
        share = w[7]
    occupation = w[0] * share
    distance = w[1] * (1.0 - dist_km / reach_km) if reach_km > 0 else w[1]
    if school_held >= school_required:
        school = w[2]
    elif school_held == school_required - 1:
        school = w[2] * w[10]
    else:
        school = 0.0
    start = w[3] * max(0.0, 1.0 - off / w[11])
    wish = w[4] * max(0.0, 1.0 - wish_rank * w[12])
    return occupation, distance, school, start, wish


@dataclass(frozen=True, slots=True)
class Criterion:
    """One line of a score's breakdown: stable key, points, maximum, sentence for staff."""

    key: str
    points: float
    max_points: float
    sentence: str


@dataclass(frozen=True, slots=True)
class PairFacts:
    """What a pair's explanation talks about, in people's terms."""

    home: str
    town: str
    dist_km: float
    reach_km: float
    licence: bool
    position_code: str
    position_label: str
    wish_code: str
    wish_label: str
    wish_rank: int
    n_wishes: int
    shared_prefix: int
    school_held: str
    school_required: str
    start: dt.date
    avail_from: dt.date
    avail_until: dt.date | None


@dataclass(frozen=True, slots=True)
class Score:
    """A pair's total and its breakdown, or `acceptable=False` with the reason."""

    applicant_id: str
    position_id: str
    acceptable: bool
    total: float
    criteria: tuple[Criterion, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON form for replies and shortlists."""
        return {
            "applicant": self.applicant_id,
            "position": self.position_id,
            "acceptable": self.acceptable,
            "score": round(self.total, 2),
            "reasons": [
                {
                    "key": c.key,
                    "points": round(c.points, 2),
                    "max": round(c.max_points, 2),
                    "text": c.sentence,
                }
                for c in self.criteria
            ],
        }


def explain(
    applicant_id: str, position_id: str, facts: PairFacts, weights: ScoringWeights
) -> Score:
    """The score of one pair with a German sentence per criterion.

    The reason keys follow the facts (certificate held at least as high as
    required, days outside the start window), not the points, so that a
    criterion weighted 0 still gets the key and sentence that describe it.
    Whether the pair is acceptable is `criteria_points`' verdict alone, the
    one the candidate kernel reaches too.
    """
    f = facts
    held, required = SCHOOL_LEVELS.index(f.school_held), SCHOOL_LEVELS.index(f.school_required)
    until = NO_END if f.avail_until is None else f.avail_until.toordinal()
    pts = criteria_points(
        f.dist_km,
        f.reach_km,
        f.shared_prefix,
        f.wish_rank,
        held,
        required,
        f.start.toordinal(),
        f.avail_from.toordinal(),
        until,
        weights.as_array(),
    )
    if pts[0] < 0:
        return Score(applicant_id, position_id, False, 0.0, (_why_unacceptable(f, weights),))
    occupation, distance, school, start, wish = (float(x) for x in pts)
    if f.shared_prefix >= 5:
        occ = Criterion(
            "occupation.exact", occupation, weights.occupation, reasons.occupation_exact(f)
        )
    else:
        occ = Criterion(
            "occupation.related", occupation, weights.occupation, reasons.occupation_related(f)
        )
    met = held >= required
    criteria = (
        occ,
        Criterion("distance.within_reach", distance, weights.distance, reasons.distance_within(f)),
        Criterion(
            "school.met" if met else "school.below",
            school,
            weights.school,
            reasons.school(f, met),
        ),
        Criterion(
            "start.within_window" if reasons.days_outside(f) == 0 else "start.outside_window",
            start,
            weights.start,
            reasons.start(f),
        ),
        Criterion("wish.rank", wish, weights.wish, reasons.wish(f)),
    )
    return Score(applicant_id, position_id, True, sum(c.points for c in criteria), criteria)


def _why_unacceptable(f: PairFacts, weights: ScoringWeights) -> Criterion:
    """The first rule an unacceptable pair breaks: occupation, then distance, then start."""
    if f.shared_prefix < weights.min_shared_prefix:
        return Criterion(
            "occupation.unrelated", 0.0, weights.occupation, reasons.occupation_unrelated(f)
        )
    if f.dist_km > f.reach_km:
        return Criterion("distance.beyond_reach", 0.0, weights.distance, reasons.distance_beyond(f))
    return Criterion(
        "start.beyond_tolerance",
        0.0,
        weights.start,
        reasons.start_beyond(f, weights.start_tolerance_days),
    )
