"""Stable-assignment instances with string ids, their validation and their results.

An instance is what staff or the service hand in: weak preference lists
(an element may be a list of tied ids), capacities, which side the result
should favour and the seed of the tie-breaking lottery. Validation turns
every problem into an `InstanceError` whose one-line message names it, so
that the CLI and the message handlers can answer bad input without a trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Optimal = Literal["applicant", "position"]
OPTIMAL_SIDES: tuple[str, ...] = ("applicant", "position")
KEYS: tuple[str, ...] = ("applicants", "positions", "capacities", "optimal", "seed")
"""The keys of a list instance; any other is a typo that would otherwise go unnoticed."""

WeakList = list[str | list[str]]
"""A preference list, most preferred first; an element that is a list holds tied ids."""


class InstanceError(ValueError):
    """Bad input; the message names the offending field or id."""


def _weak_list(raw: Any, owner: str, others: Mapping[str, Any], other_kind: str) -> WeakList:
    if type(raw) is not list:
        raise InstanceError(f"the list of {owner} must be a JSON array")
    out: WeakList = []
    seen: set[str] = set()
    for element in raw:
        group = element if isinstance(element, list) else [element]
        if not group:
            raise InstanceError(f"empty tie group in the list of {owner}")
        for item in group:
            if not isinstance(item, str):
                raise InstanceError(f"the list of {owner} holds {item!r}, not an id string")
            if item in seen:
                raise InstanceError(f"duplicate entry {item!r} in the list of {owner}")
            if item not in others:
                raise InstanceError(f"unknown {other_kind} {item!r} in the list of {owner}")
            seen.add(item)
        out.append(group[0] if len(group) == 1 else list(group))
    return out


def members(lst: WeakList) -> list[str]:
    """All ids of a weak list, in order (tie groups flattened)."""
    return [y for x in lst for y in ([x] if isinstance(x, str) else x)]


def _side(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise InstanceError(f"'{key}' must be a JSON object of id -> preference list")
    return value


@dataclass(frozen=True, slots=True)
class Numbered:
    """Ids numbered in sorted order and the tie-free lists already as numbers.

    Validation has to look every id up anyway; keeping the numbers spares the
    compile step a second pass over a million entries. A list with tie
    groups is None here and compiled from its strings. The numbers describe
    the lists as validated: treat an Instance as immutable.
    """

    app_ids: list[str]
    pos_ids: list[str]
    app_lists: list[list[int] | None]
    pos_lists: list[list[int] | None]


def _numbered_side(
    raw: Mapping[str, Any],
    index: dict[str, int],
    owner_kind: str,
    others: Mapping[str, Any],
    other_kind: str,
) -> tuple[dict[str, WeakList], dict[str, list[int] | None]]:
    lists: dict[str, WeakList] = {}
    numbers: dict[str, list[int] | None] = {}
    get = index.__getitem__
    for key, lst in raw.items():
        ints: list[int] | None = None
        if type(lst) is list:
            try:
                ints = list(map(get, lst))
            except (KeyError, TypeError):  # unknown id, or a tie group / non-string
                ints = None
        if ints is not None and len(set(ints)) == len(ints):
            lists[key] = lst
            numbers[key] = ints
        else:  # the slow path names the problem or keeps the tie groups
            lists[key] = _weak_list(lst, f"{owner_kind} {key!r}", others, other_kind)
            numbers[key] = None
    return lists, numbers


@dataclass(frozen=True, slots=True)
class Instance:
    """A validated stable-assignment instance over string ids."""

    applicants: dict[str, WeakList]
    positions: dict[str, WeakList]
    capacities: dict[str, int]
    optimal: Optimal = "applicant"
    seed: int = 0
    numbered: Numbered | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Any) -> Instance:
        """Validate a decoded JSON document; missing capacities default to 1."""
        if not isinstance(data, Mapping):
            raise InstanceError("the instance must be a JSON object")
        unknown = [k for k in data if k not in KEYS]
        if unknown:
            raise InstanceError(
                f"unknown key {unknown[0]!r} in the instance (known: {', '.join(KEYS)})"
            )
        raw_app = _side(data, "applicants")
        raw_pos = _side(data, "positions")
        app_ids = sorted(raw_app)
        pos_ids = sorted(raw_pos)
        app_index = {a: i for i, a in enumerate(app_ids)}
        pos_index = {p: j for j, p in enumerate(pos_ids)}
        applicants, app_numbers = _numbered_side(
            raw_app, pos_index, "applicant", raw_pos, "position"
        )
        positions, pos_numbers = _numbered_side(
            raw_pos, app_index, "position", raw_app, "applicant"
        )
        numbered = Numbered(
            app_ids,
            pos_ids,
            [app_numbers[a] for a in app_ids],
            [pos_numbers[p] for p in pos_ids],
        )
        raw_cap = data.get("capacities", {})
        if not isinstance(raw_cap, Mapping):
            raise InstanceError("'capacities' must be a JSON object of position id -> integer")
        capacities = dict.fromkeys(positions, 1)
        for p, c in raw_cap.items():
            if p not in positions:
                raise InstanceError(f"capacity given for unknown position {p!r}")
            if not isinstance(c, int) or isinstance(c, bool):
                raise InstanceError(f"capacity of position {p!r} must be an integer, not {c!r}")
            if c < 0:
                raise InstanceError(f"negative capacity {c} for position {p!r}")
            capacities[p] = c
        optimal = data.get("optimal", "applicant")
        if optimal not in OPTIMAL_SIDES:
            raise InstanceError(f"'optimal' must be 'applicant' or 'position', not {optimal!r}")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InstanceError(f"'seed' must be an integer, not {seed!r}")
        return cls(applicants, positions, capacities, optimal, seed, numbered)

    @classmethod
    def from_lists(
        cls,
        applicants: Mapping[str, Sequence[str | Sequence[str]]],
        positions: Mapping[str, Sequence[str | Sequence[str]]],
        capacities: Mapping[str, int] | None = None,
        optimal: Optimal = "applicant",
        seed: int = 0,
    ) -> Instance:
        """Build and validate an instance from Python lists (strings or tie groups)."""
        return cls.from_dict(
            {
                "applicants": {a: [_plain(x) for x in v] for a, v in applicants.items()},
                "positions": {p: [_plain(x) for x in v] for p, v in positions.items()},
                "capacities": dict(capacities or {}),
                "optimal": optimal,
                "seed": seed,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the lists are shared, not copied)."""
        return {
            "applicants": self.applicants,
            "positions": self.positions,
            "capacities": dict(self.capacities),
            "optimal": self.optimal,
            "seed": self.seed,
        }

    @property
    def has_ties(self) -> bool:
        """Whether any list holds a tie group of two or more ids."""
        return any(
            len(g) > 1 for v in (*self.applicants.values(), *self.positions.values()) for g in v
        )


def _plain(x: str | Sequence[str]) -> str | list[str]:
    return x if isinstance(x, str) else list(x)


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of a solve or of checking a given assignment.

    `assignment` lists every position with its applicants in the position's
    order of preference; `blocking_pairs` holds (applicant, position) pairs
    that would both rather be together, judged on the original (weak) lists.
    """

    assignment: dict[str, list[str]]
    unassigned: list[str]
    stable: bool
    blocking_pairs: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's and the service's JSON form."""
        return {
            "assignment": self.assignment,
            "unassigned": self.unassigned,
            "stable": self.stable,
            "blocking_pairs": [list(pair) for pair in self.blocking_pairs],
        }

    def matched_pairs(self) -> set[tuple[str, str]]:
        """The assignment as a set of (applicant, position) pairs."""
        return {(a, p) for p, apps in self.assignment.items() for a in apps}
