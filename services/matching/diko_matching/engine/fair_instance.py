"""The input of a fair plan: companies with tables, applicants with wishes, the day's slots.

Strict pydantic models (no coercion, unknown fields rejected) with one-line errors,
shared by the CLI (`diko match fair`) and the service (`fair.plan`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from diko_matching.engine.fields import IsoDate, IsoTime, first_error
from diko_matching.engine.instance import InstanceError

_STRICT = ConfigDict(extra="forbid", strict=True)
DAY_MINUTES = 24 * 60


class FairCompany(BaseModel):
    """A company at the fair: its tables and the slots it is there."""

    model_config = _STRICT

    name: str = Field("", description="shown in the timetables; the id if empty")
    tables: int = Field(1, ge=1, le=50)
    slots: list[int] | None = Field(None, description="slots present (0-based); None = all")


class FairApplicant(BaseModel):
    """An applicant: ranked wishes (company ids) and the slots they can attend."""

    model_config = _STRICT

    name: str = Field("", description="shown in the timetables; the id if empty")
    wishes: list[str] = Field(default_factory=list, description="company ids, best first")
    slots: list[int] | None = Field(None, description="slots available (0-based); None = all")


def _check_slots(slots: list[int] | None, owner: str, n_slots: int) -> None:
    for t in slots or []:
        if not 0 <= t < n_slots:
            raise ValueError(f"{owner} lists slot {t}, outside 0..{n_slots - 1}")
    if slots is not None and len(set(slots)) != len(slots):
        twice = next(t for t in slots if slots.count(t) > 1)
        raise ValueError(f"{owner} lists slot {twice} twice")


class FairInstance(BaseModel):
    """Input of a fair plan; the whole day must lie between 00:00 and 24:00."""

    model_config = _STRICT

    title: str = "Bewerberbörse"
    date: IsoDate | None = None
    start: IsoTime = dt.time(9, 0)
    slot_minutes: int = Field(15, ge=1, le=240)
    n_slots: int = Field(ge=1, le=200)
    min_interviews: int = Field(2, ge=0, le=50)
    companies: dict[str, FairCompany]
    applicants: dict[str, FairApplicant]

    @model_validator(mode="after")
    def _check_ids(self) -> FairInstance:
        first = self.start.hour * 60 + self.start.minute
        if first + self.n_slots * self.slot_minutes > DAY_MINUTES:
            most = (DAY_MINUTES - first) // self.slot_minutes
            raise ValueError(
                f"{self.n_slots} slots of {self.slot_minutes} minutes from "
                f"{self.start.strftime('%H:%M')} end after midnight; at most {most} fit the day"
            )
        for c, comp in self.companies.items():
            _check_slots(comp.slots, f"company {c!r}", self.n_slots)
        for a, app in self.applicants.items():
            if len(set(app.wishes)) != len(app.wishes):
                raise ValueError(f"duplicate wish in the list of applicant {a!r}")
            for c in app.wishes:
                if c not in self.companies:
                    raise ValueError(f"unknown company {c!r} in the wishes of applicant {a!r}")
            _check_slots(app.slots, f"applicant {a!r}", self.n_slots)
        return self

    @classmethod
    def parse(cls, data: Any) -> FairInstance:
        """Validate decoded JSON; the first problem becomes a one-line InstanceError."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InstanceError(first_error(exc)) from None

    def slot_time(self, slot: int) -> dt.time:
        """Clock time at which a slot starts (slot n_slots, the end, may be 24:00 = 00:00)."""
        base = dt.datetime.combine(dt.date(2000, 1, 1), self.start)
        return (base + dt.timedelta(minutes=self.slot_minutes * slot)).time()

    def slot_clock(self, slot: int) -> str:
        """ "HH:MM" at which a slot starts; the end of a day that fills it is "24:00"."""
        minutes = self.start.hour * 60 + self.start.minute + self.slot_minutes * slot
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


def wish_weights(instance: FairInstance) -> dict[tuple[str, str], float]:
    """Weight of each wish: rank r of a list of at most L wishes weighs L - r."""
    longest = max((len(a.wishes) for a in instance.applicants.values()), default=0)
    return {
        (a, c): float(longest - r)
        for a, app in instance.applicants.items()
        for r, c in enumerate(app.wishes)
    }
