"""Applicant and position profiles, and their array form for the candidate kernel.

A profile instance is what the service holds: where people live and train,
which occupations they want or offer, certificates and dates. Staff write
place names; the shared gazetteer turns them into coordinates here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from diko_matching.engine.fields import IsoDate, first_error
from diko_matching.engine.instance import InstanceError
from diko_matching.engine.scoring import NO_END, SCHOOL_LEVELS, ScoringWeights, effective_reach
from diko_shared.geo import UnknownPlaceError, load_gazetteer
from diko_shared.occupations import load_occupations

KldbCode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
"""A 5-digit KldB 2010 code (Berufsgattung)."""
School = Literal["ohne", "hauptschule", "realschule", "abitur"]


class ApplicantProfile(BaseModel):
    """An applicant as matching sees them (no names: matching needs none)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    home: str = Field(min_length=1, description="place name from the gazetteer")
    occupations: list[KldbCode] = Field(
        min_length=1, max_length=10, description="wishes, best first"
    )
    reach_km: float = Field(25.0, ge=0, le=300)
    licence: bool = False
    school: School = "realschule"
    available_from: IsoDate
    available_until: IsoDate | None = None


class PositionProfile(BaseModel):
    """A training position (Ausbildungsstelle) with its number of places."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    company: str = ""
    town: str = Field(min_length=1, description="place name from the gazetteer")
    occupation: KldbCode
    places: int = Field(1, ge=0)
    school: School = "hauptschule"
    start: IsoDate


class ProfileInstance(BaseModel):
    """A profile instance: the input of shortlists and of stable runs from profiles."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    applicants: dict[str, ApplicantProfile]
    positions: dict[str, PositionProfile]
    optimal: Literal["applicant", "position"] = "applicant"
    seed: int = 0
    weights: ScoringWeights = ScoringWeights()
    list_length: int = Field(50, ge=1, le=500, description="longest preference list derived")

    @classmethod
    def parse(cls, data: Any) -> ProfileInstance:
        """Validate decoded JSON; the first problem becomes a one-line InstanceError."""
        try:
            inst = cls.model_validate(data)
        except ValidationError as exc:
            raise InstanceError(first_error(exc)) from None
        for a, prof in inst.applicants.items():
            if len(set(prof.occupations)) != len(prof.occupations):
                raise InstanceError(f"applicants.{a}.occupations: duplicate entry")
        return inst


def check_catalogue(inst: ProfileInstance) -> None:
    """InstanceError for the first occupation code the shipped KldB catalogue lacks.

    The engine scores any 5-digit code (related codes share a prefix), but a
    code without a name is most likely a typo in a hand-written file; the
    service checks codes on registration, the CLI through this.
    """
    catalogue = load_occupations()
    for a, prof in inst.applicants.items():
        for i, code in enumerate(prof.occupations):
            if not catalogue.names(code):
                raise InstanceError(f"applicants.{a}.occupations.{i}: {_not_listed(code)}")
    for p, pos in inst.positions.items():
        if not catalogue.names(pos.occupation):
            raise InstanceError(f"positions.{p}.occupation: {_not_listed(pos.occupation)}")


def _not_listed(code: str) -> str:
    return (
        f"KldB code {code} is not in the catalogue of Ausbildungsberufe (diko_shared.occupations)"
    )


@dataclass(frozen=True, slots=True)
class ProfileArrays:
    """Column arrays of both sides, indexed by the sorted ids."""

    app_ids: list[str]
    pos_ids: list[str]
    a_lat: np.ndarray
    a_lon: np.ndarray
    a_reach: np.ndarray
    a_school: np.ndarray
    a_from: np.ndarray
    a_until: np.ndarray
    wish_indptr: np.ndarray
    wish_code: np.ndarray
    p_lat: np.ndarray
    p_lon: np.ndarray
    p_code: np.ndarray
    p_school: np.ndarray
    p_start: np.ndarray
    capacity: np.ndarray


def _coords(name: str, where: str) -> tuple[float, float]:
    try:
        place = load_gazetteer().lookup(name)
    except UnknownPlaceError as exc:
        raise InstanceError(f"{where}: {exc}") from None
    return place.latitude, place.longitude


def to_arrays(inst: ProfileInstance) -> ProfileArrays:
    """Look up coordinates and lay both sides out as arrays for the kernel."""
    w = inst.weights
    app_ids = sorted(inst.applicants)
    pos_ids = sorted(inst.positions)
    apps = [inst.applicants[a] for a in app_ids]
    poss = [inst.positions[p] for p in pos_ids]
    a_ll = np.array(
        [_coords(x.home, f"applicants.{a}.home") for a, x in zip(app_ids, apps, strict=True)]
    )
    p_ll = np.array(
        [_coords(x.town, f"positions.{p}.town") for p, x in zip(pos_ids, poss, strict=True)]
    )
    lengths = np.array([len(x.occupations) for x in apps], dtype=np.int64)
    return ProfileArrays(
        app_ids=app_ids,
        pos_ids=pos_ids,
        a_lat=a_ll[:, 0].copy() if apps else np.empty(0),
        a_lon=a_ll[:, 1].copy() if apps else np.empty(0),
        a_reach=np.array(
            [effective_reach(x.reach_km, x.licence, w) for x in apps], dtype=np.float64
        ),
        a_school=np.array([SCHOOL_LEVELS.index(x.school) for x in apps], dtype=np.int64),
        a_from=np.array([x.available_from.toordinal() for x in apps], dtype=np.int64),
        a_until=np.array(
            [NO_END if x.available_until is None else x.available_until.toordinal() for x in apps],
            dtype=np.int64,
        ),
        wish_indptr=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        wish_code=np.array([int(c) for x in apps for c in x.occupations], dtype=np.int64),
        p_lat=p_ll[:, 0].copy() if poss else np.empty(0),
        p_lon=p_ll[:, 1].copy() if poss else np.empty(0),
        p_code=np.array([int(x.occupation) for x in poss], dtype=np.int64),
        p_school=np.array([SCHOOL_LEVELS.index(x.school) for x in poss], dtype=np.int64),
        p_start=np.array([x.start.toordinal() for x in poss], dtype=np.int64),
        # More places than applicants change nothing; the cap keeps int64 from overflowing.
        capacity=np.array([min(x.places, len(apps)) for x in poss], dtype=np.int64),
    )
