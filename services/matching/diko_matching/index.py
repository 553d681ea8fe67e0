"""Matching's read model: applicants, position copies and proposals in memory.

Choosing whom to propose scores a position against every active applicant, or an
applicant against every open position. FerretDB answers only a lookup of exactly one
`_id` from an index and scans the whole collection for anything else (two seconds
for 5,000 applicants here), so the service does not read its collections to choose:
each process keeps them in memory and keeps them current through the **change feed**.

Every write that changes an applicant, a position copy or a proposal is made to its
document first and then announced in the feed, a collection of numbered entries
(`_id` = the number, twelve digits) that each name the documents changed. A writer
takes the next free number by inserting it (a taken one fails, so it tries the next);
numbers are therefore taken without gaps. An entry names its documents as
`<kind>|<id>` strings (FerretDB stores no arrays of arrays). Before it reads, a process looks up the
numbers after the last one it has seen, one `_id` at a time, until one is missing (the
entries it appended itself it knows without reading them), and reloads the documents
they name. A message that has just announced a change of its own reads only up to its
entry: of two writers, the one whose entry comes later reads the other's, which is all
that "either it sees their change, or they see mine" needs (`proposing.still_standing`),
and the read that would find the feed's end is saved. Replicas keep their own copies;
none needs another's.

The index only chooses. What must hold (a pair proposed once, a proposal decided once,
an applicant placed once, no place taken twice) is decided by claims and by reading
documents by `_id` (`store`, `decisions`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from diko_matching import eligibility
from diko_matching.engine.profiles import ProfileArrays
from diko_matching.engine.scoring import NO_END, SCHOOL_LEVELS, ScoringWeights, effective_reach
from diko_shared.contract.common import Occupation
from diko_shared.geo import load_gazetteer

FEED = "feed"
#: Feed entries older than this are deleted by the hourly chore; a live process reads
#: them within seconds, a process that starts reads the collections themselves.
FEED_RETENTION = timedelta(days=2)

APPLICANTS = "applicants"
POSITIONS = "positions"
PROPOSALS = "proposals"
KINDS = {"applicant": APPLICANTS, "position": POSITIONS, "proposal": PROPOSALS}

ENGINE_SCHOOL = {
    "none": "ohne",
    "hauptschule": "hauptschule",
    "realschule": "realschule",
    "abitur": "abitur",
}


def as_written(kind: str, document: dict[str, Any] | None) -> dict[tuple[str, str], Any]:
    """A document this message wrote (or just read), for the index to take without reading
    it back (`Index.announce`); empty when there is none (the index reads it then)."""
    return {} if document is None else {(kind, document["_id"]): document}


def feed_id(number: int) -> str:
    return f"{number:012d}"


@dataclass(frozen=True, slots=True)
class ApplicantEntry:
    applicant_id: str
    status: str
    name: str
    email: str | None
    home_town: str
    lat: float
    lon: float
    reach_km: float
    licence: bool
    school: str
    wishes: tuple[str, ...]
    earliest_start: date
    born: date | None = None
    guardian_consent: bool = False
    email_confirmed: bool | None = None

    def held(self, day: date) -> str | None:
        """Why the applicant is not proposed on `day` (`eligibility`), or None."""
        return eligibility.hold(
            born=self.born,
            has_guardian_consent=self.guardian_consent,
            email_confirmed=self.email_confirmed,
            day=day,
        )

    def proposable(self, day: date) -> bool:
        return self.status == "active" and self.held(day) is None


@dataclass(frozen=True, slots=True)
class PositionEntry:
    position_id: str
    company_id: str
    company_name: str
    occupation: Occupation
    places: int
    start_date: date
    town: str
    lat: float
    lon: float
    school: str
    status: str


@dataclass(frozen=True, slots=True)
class ProposalEntry:
    proposal_id: str
    position_id: str
    applicant_id: str
    status: str
    score: float
    day: str
    trigger: str


@dataclass(frozen=True, slots=True)
class _Announcement:
    """Documents one message changed, waiting for the feed entry that names them."""

    named: set[tuple[str, str]]
    written: set[tuple[str, str]]
    appended: asyncio.Future[None]


@dataclass
class Index:
    """The read model of one process (see the module's docstring)."""

    applicants: dict[str, ApplicantEntry] = field(default_factory=dict)
    positions: dict[str, PositionEntry] = field(default_factory=dict)
    proposals: dict[str, ProposalEntry] = field(default_factory=dict)
    by_position: dict[str, set[str]] = field(default_factory=dict)
    by_applicant: dict[str, set[str]] = field(default_factory=dict)
    by_company: dict[str, set[str]] = field(default_factory=dict)
    cursor: int = 0
    appended: int = 0
    version: int = 0
    #: Changes when an applicant changes (the arrays of applicants are rebuilt then only).
    applicants_version: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _append_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Announcements waiting for the next feed entry (`announce`).
    _announcing: list[_Announcement] = field(default_factory=list)
    _arrays: tuple[tuple[int, date], ScoringWeights, ProfileArrays] | None = None
    #: Feed entries this process wrote with the documents: not read back on catch-up.
    _applied: dict[int, set[tuple[str, str]]] = field(default_factory=dict)
    #: What the feed entries this process appended name, by number: catch-up takes the
    #: names from here instead of reading its own entries back (half the feed's reads of
    #: a story with one replica).
    _appended_names: dict[int, set[tuple[str, str]]] = field(default_factory=dict)

    # -- loading and catching up -------------------------------------------------------

    async def load(self, db: AsyncDatabase) -> None:
        """Read everything once (at start-up); the feed's head first, so nothing is missed."""
        async with self._lock:
            last = await db[FEED].find_one({}, {"_id": 1}, sort=[("_id", -1)])
            self.cursor = int(last["_id"]) if last else 0
            self.appended = self.cursor
            for kind, collection in KINDS.items():
                async for doc in db[collection].find({}):
                    self._apply(kind, doc["_id"], doc)
            self.version += 1

    async def catch_up(self, db: AsyncDatabase, *, through_own: bool = False) -> None:
        """Reload what the feed says changed since this process last looked.

        `through_own`: only up to this process's last entry, for a message that has just
        announced its own change and catches up to see what overtook it. Every entry
        below its number exists (numbers are taken without gaps), and a writer whose
        entry comes later sees this one when it catches up; so the read past the end of
        the feed, which finds nothing nearly always, is left out.
        """
        async with self._lock:
            changed: set[tuple[str, str]] = set()
            while True:
                number = self.cursor + 1
                if through_own and number > self.appended:
                    break
                names = self._appended_names.pop(number, None)
                if names is None:
                    entry = await db[FEED].find_one({"_id": feed_id(number)})
                    if entry is None:
                        break
                    names = {tuple(change.split("|", 1)) for change in entry["changes"]}
                self.cursor = number
                changed.update(names - self._applied.pop(number, set()))
            for kind, id_ in sorted(changed):
                doc = await db[KINDS[kind]].find_one({"_id": id_})
                self._apply(kind, id_, doc)
            if changed:
                self.version += 1

    async def announce(
        self,
        db: AsyncDatabase,
        changes: Iterable[tuple[str, str]],
        written: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    ) -> None:
        """Add a feed entry naming documents just written (after the write, never before).

        Documents the caller passes as `written` (what it inserted) go into this process's
        read model at once, and its next catch-up does not read them back. Announcements
        made while an entry is being appended share the next one: the messages of a
        commit batch finish together, and one insert then names all their documents
        instead of each waiting for the one before.
        """
        named = {(kind, id_) for kind, id_ in changes}
        if not named:
            return
        for (kind, id_), doc in (written or {}).items():
            self._apply(kind, id_, doc)
        mine = _Announcement(named, set(written or {}), asyncio.get_running_loop().create_future())
        self._announcing.append(mine)
        async with self._append_lock:
            if not mine.appended.done():
                await self._append(db)
        await mine.appended

    async def _append(self, db: AsyncDatabase) -> None:
        """One feed entry for every announcement waiting now, under the next free number;
        each announcer learns from its own wait whether it was written."""
        batch, self._announcing = self._announcing, []
        named = set().union(*(a.named for a in batch))
        written = set().union(*(a.written for a in batch))
        names = sorted(f"{kind}|{id_}" for kind, id_ in named)
        number = max(self.cursor, self.appended) + 1
        try:
            while True:
                entry = {"_id": feed_id(number), "changes": names, "at": datetime.now(UTC)}
                try:
                    await db[FEED].insert_one(entry)
                    break
                except DuplicateKeyError:
                    number += 1
        except asyncio.CancelledError:
            # Not written: the next in line (one of this batch, waiting) writes them.
            self._announcing[:0] = batch
            raise
        except Exception as exc:  # noqa: BLE001 - each announcer raises it from its own wait
            for announcement in batch:
                announcement.appended.set_exception(exc)
            return
        self.appended = number
        if number > self.cursor:  # else a catch-up read it back meanwhile
            self._appended_names[number] = named
            if written:
                self._applied[number] = written
        for announcement in batch:
            announcement.appended.set_result(None)

    # -- applying documents ----------------------------------------------------------------

    def _apply(self, kind: str, id_: str, doc: Mapping[str, Any] | None) -> None:
        if kind == "applicant":
            self._apply_applicant(id_, doc)
        elif kind == "position":
            self._apply_position(id_, doc)
        else:
            self._apply_proposal(id_, doc)

    def _apply_applicant(self, id_: str, doc: Mapping[str, Any] | None) -> None:
        self.applicants_version += 1
        if doc is None:
            self.applicants.pop(id_, None)
            return
        place = load_gazetteer().get(doc["home_town"])
        if place is None:  # a town the gazetteer no longer knows: not scorable
            self.applicants.pop(id_, None)
            return
        self.applicants[id_] = ApplicantEntry(
            applicant_id=id_,
            status=doc["status"],
            name=f"{doc['first_name']} {doc['last_name']}",
            email=doc.get("email"),
            home_town=doc["home_town"],
            lat=place.latitude,
            lon=place.longitude,
            reach_km=float(doc["reach_km"]),
            licence=bool(doc["driving_licence"]),
            school=doc["school_certificate"],
            wishes=tuple(doc["desired_occupations"]),
            earliest_start=date.fromisoformat(doc["earliest_start"]),
            born=date.fromisoformat(doc["date_of_birth"]) if doc.get("date_of_birth") else None,
            guardian_consent=bool(doc.get("guardian_consent")),
            email_confirmed=doc.get("email_confirmed"),
        )

    def _apply_position(self, id_: str, doc: Mapping[str, Any] | None) -> None:
        old = self.positions.pop(id_, None)
        if old is not None:
            self.by_company.get(old.company_id, set()).discard(id_)
        if doc is None:
            return
        place = load_gazetteer().get(doc["town"])
        if place is None:
            return
        entry = PositionEntry(
            position_id=id_,
            company_id=doc["company_id"],
            company_name=doc["company_name"],
            occupation=Occupation.model_validate(doc["occupation"]),
            places=int(doc["places"]),
            start_date=date.fromisoformat(doc["start_date"]),
            town=doc["town"],
            lat=place.latitude,
            lon=place.longitude,
            school=doc["school_certificate"],
            status=doc["status"],
        )
        self.positions[id_] = entry
        self.by_company.setdefault(entry.company_id, set()).add(id_)

    def _apply_proposal(self, id_: str, doc: Mapping[str, Any] | None) -> None:
        old = self.proposals.pop(id_, None)
        if old is not None:
            self.by_position.get(old.position_id, set()).discard(id_)
            self.by_applicant.get(old.applicant_id, set()).discard(id_)
        if doc is None:
            return
        entry = ProposalEntry(
            proposal_id=id_,
            position_id=doc["position_id"],
            applicant_id=doc["applicant_id"],
            status=doc["status"],
            score=float(doc["proposal"]["score"]),
            day=doc.get("day", ""),
            trigger=doc.get("trigger", ""),
        )
        self.proposals[id_] = entry
        self.by_position.setdefault(entry.position_id, set()).add(id_)
        self.by_applicant.setdefault(entry.applicant_id, set()).add(id_)

    # -- reading -----------------------------------------------------------------------------

    def proposals_of_position(self, position_id: str) -> list[ProposalEntry]:
        return [self.proposals[p] for p in sorted(self.by_position.get(position_id, ()))]

    def proposals_of_applicant(self, applicant_id: str) -> list[ProposalEntry]:
        return [self.proposals[p] for p in sorted(self.by_applicant.get(applicant_id, ()))]

    def accepted(self, position_id: str) -> int:
        return sum(1 for p in self.proposals_of_position(position_id) if p.status == "accepted")

    def free_places(self, position: PositionEntry) -> int:
        return max(0, position.places - self.accepted(position.position_id))

    def active_applicants(self) -> list[ApplicantEntry]:
        """The applicants who may be proposed today: active and not held (`eligibility`)."""
        today = eligibility.berlin_today()
        return [a for _, a in sorted(self.applicants.items()) if a.proposable(today)]

    def open_positions(self) -> list[PositionEntry]:
        return [
            p
            for _, p in sorted(self.positions.items())
            if p.status == "open" and self.free_places(p) > 0
        ]

    def applicant_arrays(self, weights: ScoringWeights) -> ProfileArrays:
        """The active applicants as the engine's arrays; rebuilt when an applicant changes."""
        version = (self.applicants_version, eligibility.berlin_today())
        cached = self._arrays
        if cached is not None and cached[0] == version and cached[1] == weights:
            return cached[2]
        arrays = applicant_arrays(self.active_applicants(), weights)
        self._arrays = (version, weights, arrays)
        return arrays


def applicant_arrays(applicants: list[ApplicantEntry], weights: ScoringWeights) -> ProfileArrays:
    """Applicants laid out as `ProfileArrays` rows, with no positions yet."""
    lengths = np.array([len(a.wishes) for a in applicants], dtype=np.int64)
    empty_f = np.empty(0, dtype=np.float64)
    empty_i = np.empty(0, dtype=np.int64)
    return ProfileArrays(
        app_ids=[a.applicant_id for a in applicants],
        pos_ids=[],
        a_lat=np.array([a.lat for a in applicants], dtype=np.float64),
        a_lon=np.array([a.lon for a in applicants], dtype=np.float64),
        a_reach=np.array(
            [effective_reach(a.reach_km, a.licence, weights) for a in applicants],
            dtype=np.float64,
        ),
        a_school=np.array(
            [SCHOOL_LEVELS.index(ENGINE_SCHOOL[a.school]) for a in applicants], dtype=np.int64
        ),
        a_from=np.array([a.earliest_start.toordinal() for a in applicants], dtype=np.int64),
        a_until=np.full(len(applicants), NO_END, dtype=np.int64),
        wish_indptr=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        wish_code=np.array([int(c) for a in applicants for c in a.wishes], dtype=np.int64),
        p_lat=empty_f,
        p_lon=empty_f,
        p_code=empty_i,
        p_school=empty_i,
        p_start=empty_i,
        capacity=empty_i,
    )


def with_positions(
    arrays: ProfileArrays, positions: list[PositionEntry], capacity: list[int] | None = None
) -> ProfileArrays:
    """The applicants' arrays with these positions as the other side."""
    from dataclasses import replace

    return replace(
        arrays,
        pos_ids=[p.position_id for p in positions],
        p_lat=np.array([p.lat for p in positions], dtype=np.float64),
        p_lon=np.array([p.lon for p in positions], dtype=np.float64),
        p_code=np.array([int(p.occupation.code) for p in positions], dtype=np.int64),
        p_school=np.array(
            [SCHOOL_LEVELS.index(ENGINE_SCHOOL[p.school]) for p in positions], dtype=np.int64
        ),
        p_start=np.array([p.start_date.toordinal() for p in positions], dtype=np.int64),
        capacity=np.array(
            capacity if capacity is not None else [p.places for p in positions], dtype=np.int64
        ),
    )
