"""`match.run`: a stable assignment over the open positions and the active applicants.

Planning is pure (`plan_run`, the engine's kernels on arrays, in a worker thread): each
applicant ranks their best `list_length` suitable positions by score, each position
ranks exactly the applicants who rank it by the same score; scores equal to two
decimals are ties, broken by one seeded lottery per side (the numbering of applicants
and of positions is shuffled with the seed before the kernels, which break ties by
number). Pairs proposed before and declined or withdrawn are left out, so that no pair
is ever proposed twice; capacities are the free places. Deferred acceptance then gives
the applicant-optimal (or position-optimal) stable assignment, and its blocking pairs
are counted (none, by construction; reported so that staff can see it).

The plan is stored under the run's id before anything is proposed, so that a
redelivery proposes the same pairs. Proposing is the same as for one pair
(`proposing`), in bulk: pairs already proposed and open count as such, the daily cap
holds back what exceeds it, and the proposals are checked against the read model after
they were announced (the accept, withdraw and close handlers check after they wrote).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymongo.errors import BulkWriteError

from diko_matching import choosing, domain, proposing, store
from diko_matching.engine import ScoringWeights, preference_csr, score_pairs
from diko_matching.engine.candidates import Candidates
from diko_matching.engine.stable_arrays import ArrayProblem, blocking_pairs_arrays, solve_arrays
from diko_matching.index import (
    ApplicantEntry,
    Index,
    PositionEntry,
    applicant_arrays,
    with_positions,
)
from diko_shared.contract.matching import (
    BlockingPair,
    MatchRunCompleted,
    Proposal,
    RunMatching,
    RunResult,
)
from diko_shared.messaging.handling import Context

#: The event lists at most this many unassigned applicants (the reply lists all).
EVENT_UNASSIGNED = 1000
#: Scores equal to this many decimals are tied (as in `diko match solve` on profiles).
TIE_DECIMALS = 2


@dataclass(frozen=True)
class RunPlan:
    """The assignment of one run, before anything is proposed."""

    pairs: list[tuple[str, str]]  # (applicant, position)
    unassigned: list[str]
    applicants: int
    positions: int
    places: int
    blocking_pairs: list[tuple[str, str]]
    blocking_total: int


def plan_run(
    applicants: list[ApplicantEntry],
    positions: list[PositionEntry],
    capacity: list[int],
    excluded: set[tuple[str, str]],
    weights: ScoringWeights,
    *,
    optimal: str = "applicant",
    seed: int = 0,
    list_length: int = 50,
) -> RunPlan:
    """The stable assignment of these applicants to these positions (see the module)."""
    rng = random.Random(seed)
    applicants = sorted(applicants, key=lambda a: a.applicant_id)
    positions = sorted(positions, key=lambda p: p.position_id)
    rng.shuffle(applicants)
    order = list(range(len(positions)))
    rng.shuffle(order)
    positions = [positions[i] for i in order]
    capacity = [capacity[i] for i in order] if capacity else []
    if not applicants or not positions:
        ids = [a.applicant_id for a in applicants]
        return RunPlan([], sorted(ids), len(applicants), len(positions), sum(capacity), [], 0)
    arrays = with_positions(applicant_arrays(applicants, weights), positions, capacity)
    excluded_by_app: dict[int, set[int]] = defaultdict(set)
    a_index = {a: i for i, a in enumerate(arrays.app_ids)}
    p_index = {p: j for j, p in enumerate(arrays.pos_ids)}
    for a, p in excluded:
        if a in a_index and p in p_index:
            excluded_by_app[a_index[a]].add(p_index[p])
    extra = max((len(s) for s in excluded_by_app.values()), default=0)
    length = max(1, min(list_length + extra, len(positions)))
    cands = _lists(score_pairs(arrays, weights, list_length=length), excluded_by_app, list_length)
    csr = preference_csr(cands, len(positions))
    problem = ArrayProblem.from_joined(
        csr.app_indptr, csr.app_pos, csr.pos_indptr, csr.pos_entry, np.array(capacity)
    )
    match = solve_arrays(problem, "position" if optimal == "position" else "applicant")
    blocking, total = blocking_pairs_arrays(problem, match, limit=100)
    pairs = [(arrays.app_ids[a], arrays.pos_ids[int(p)]) for a, p in enumerate(match) if p >= 0]
    return RunPlan(
        pairs=sorted(pairs),
        unassigned=sorted(arrays.app_ids[a] for a, p in enumerate(match) if p < 0),
        applicants=len(applicants),
        positions=len(positions),
        places=int(sum(capacity)),
        blocking_pairs=[(arrays.app_ids[a], arrays.pos_ids[p]) for a, p in blocking],
        blocking_total=int(total),
    )


def _lists(cands: Candidates, excluded: dict[int, set[int]], length: int) -> Candidates:
    """Each applicant's list without excluded pairs, ties to two decimals by lottery number."""
    position = cands.position.copy()
    score = np.round(cands.score, TIE_DECIMALS)
    for a, ps in excluded.items():
        for k in range(position.shape[1]):
            if position[a, k] in ps:
                position[a, k] = -1
    out_pos = np.full((position.shape[0], length), -1, dtype=np.int64)
    out_score = np.zeros((position.shape[0], length))
    for a in range(position.shape[0]):
        keep = np.flatnonzero(position[a] >= 0)
        if not len(keep):
            continue
        ps, ss = position[a, keep], score[a, keep]
        best = np.lexsort((ps, -ss))[:length]  # score, then the lottery's number
        out_pos[a, : len(best)] = ps[best]
        out_score[a, : len(best)] = ss[best]
    return Candidates(out_pos, out_score, cands.n_acceptable)


async def run(ctx: Context[RunMatching], *, index: Index, policy: domain.Policy) -> RunResult:
    """`match.run`: plan (once per message), propose, report."""
    started = time.perf_counter()
    data = ctx.data
    run_id = ctx.new_id("run")
    stored = await store.find_document(ctx.db, store.RUNS, run_id)
    if stored is None:
        await index.catch_up(ctx.db)
        applicants = index.active_applicants()
        positions = index.open_positions()
        capacity = [index.free_places(p) for p in positions]
        excluded = {
            (p.applicant_id, p.position_id)
            for p in index.proposals.values()
            if p.status in ("declined", "withdrawn")
        }
        plan = await asyncio.to_thread(
            plan_run,
            applicants,
            positions,
            capacity,
            excluded,
            policy.weights,
            optimal=data.optimal,
            seed=data.seed,
            list_length=data.list_length,
        )
        stored = await store.keep_once(ctx.db, store.RUNS, run_id, _plan_document(plan, ctx.key))
    plan = _plan_of(stored)
    proposed, already, held_back = await _propose(ctx, index, policy, plan.pairs, run_id)
    report = {
        "run_id": run_id,
        "optimal": data.optimal,
        "seed": data.seed,
        "applicants": plan.applicants,
        "positions": plan.positions,
        "places": plan.places,
        "assigned": len(plan.pairs),
        "proposed": sum(len(v) for v in proposed.values()),
        "already_proposed": already,
        "held_back": held_back,
        "unassigned": len(plan.unassigned),
        "stable": plan.blocking_total == 0,
        "blocking_pairs": [
            BlockingPair(applicant_id=a, position_id=p) for a, p in plan.blocking_pairs
        ],
        "seconds": round(time.perf_counter() - started, 3),
    }
    for position_id in sorted(proposed):
        proposing.announce(ctx, "position", position_id, proposed[position_id], "run", run_id)
    ctx.emit(
        MatchRunCompleted(**report, unassigned_applicants=plan.unassigned[:EVENT_UNASSIGNED]),
        subject=run_id,
    )
    return RunResult(**report, unassigned_applicants=plan.unassigned)


def _plan_document(plan: RunPlan, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "pairs": ["|".join(p) for p in plan.pairs],  # FerretDB stores no arrays of arrays
        "unassigned": plan.unassigned,
        "applicants": plan.applicants,
        "positions": plan.positions,
        "places": plan.places,
        "blocking_pairs": ["|".join(p) for p in plan.blocking_pairs],
        "blocking_total": plan.blocking_total,
        "at": store.now(),
    }


def _plan_of(document: dict[str, Any]) -> RunPlan:
    return RunPlan(
        pairs=[_pair(p) for p in document["pairs"]],
        unassigned=list(document["unassigned"]),
        applicants=document["applicants"],
        positions=document["positions"],
        places=document["places"],
        blocking_pairs=[_pair(p) for p in document["blocking_pairs"]],
        blocking_total=document["blocking_total"],
    )


def _pair(text: str) -> tuple[str, str]:
    applicant_id, position_id = text.split("|")
    return applicant_id, position_id


async def _propose(
    ctx: Context[RunMatching],
    index: Index,
    policy: domain.Policy,
    pairs: list[tuple[str, str]],
    run_id: str,
) -> tuple[dict[str, list[Proposal]], int, int]:
    """Claim the run's pairs in bulk: (new proposals by position, already open, held back)."""
    await index.catch_up(ctx.db)
    day = domain.berlin_day(ctx.occurred_at)
    cap = policy.proposals_per_position_per_day
    already = held_back = 0
    mine: list[str] = []
    fresh: dict[str, tuple[Proposal, PositionEntry, ApplicantEntry]] = {}
    slots: dict[str, int] = {}
    for a_id, x_id in pairs:
        pid = domain.proposal_id(x_id, a_id)
        entry = index.proposals.get(pid)
        if entry is not None:
            if entry.trigger == ctx.key:
                mine.append(pid)
            elif entry.status == "proposed":
                already += 1
            continue
        applicant, position = index.applicants.get(a_id), index.positions.get(x_id)
        if applicant is None or position is None:
            continue
        if x_id not in slots:
            slots[x_id] = sum(1 for p in index.proposals_of_position(x_id) if p.day == day)
        if slots[x_id] >= cap:
            held_back += 1
            continue
        slots[x_id] += 1
        score = choosing.explain(applicant, position, policy.weights)
        if score.acceptable:
            made = choosing.proposal(score, position, applicant)
            fresh[made.proposal_id] = (made, position, applicant)
    proposals = [made for made, _, _ in fresh.values()]
    claimed, capped = await _claim_bulk(ctx, index, proposals, day, cap, run_id)
    held_back += capped
    kept = await proposing.still_standing(
        ctx, index, policy, [fresh[p.proposal_id] for p in claimed]
    )
    standing: dict[str, list[Proposal]] = defaultdict(list)
    for pid in mine:
        stored = await store.find_proposal(ctx.db, pid)
        if stored is not None and stored.status == "proposed":
            standing[stored.proposal.position.position_id].append(stored.proposal)
    for proposal in kept:
        standing[proposal.position.position_id].append(proposal)
    return dict(standing), already, held_back


async def _claim_bulk(
    ctx: Context[RunMatching],
    index: Index,
    fresh: list[Proposal],
    day: str,
    cap: int,
    run_id: str,
) -> tuple[list[Proposal], int]:
    """Insert the day's slots, then the proposals, unordered: (those that got both, capped).

    A slot is numbered after the position's proposals of the day in the read model; one
    taken meanwhile fails its insert, and that proposal waits like one over the cap.
    """
    if not fresh:
        return [], 0
    counts: dict[str, int] = {}
    slot_docs, owner = [], {}
    for proposal in fresh:
        x_id = proposal.position.position_id
        if x_id not in counts:
            counts[x_id] = sum(1 for p in index.proposals_of_position(x_id) if p.day == day)
        counts[x_id] += 1
        slot_id = f"{x_id}|{day}|{counts[x_id]}"
        owner[slot_id] = proposal.proposal_id
        slot_docs.append(
            {
                "_id": slot_id,
                "position_id": x_id,
                "day": day,
                "proposal_id": proposal.proposal_id,
                "key": ctx.key,
                "at": store.now(),
            }
        )
    lost = {owner[s] for s in await _insert_unordered(ctx, store.QUOTA, slot_docs)}
    docs = [
        {
            "_id": p.proposal_id,
            "position_id": p.position.position_id,
            "applicant_id": p.applicant.applicant_id,
            "proposal": p.model_dump(mode="json"),
            "status": "proposed",
            "trigger": ctx.key,
            "cause": "run",
            "run_id": run_id,
            "day": day,
            "proposed_at": store.now(),
        }
        for p in fresh
        if p.proposal_id not in lost
    ]
    taken = set(await _insert_unordered(ctx, store.PROPOSALS, docs))
    for slot_id, pid in owner.items():
        if pid in taken:
            await ctx.db[store.QUOTA].delete_one({"_id": slot_id, "key": ctx.key})
    claimed = [p for p in fresh if p.proposal_id not in lost and p.proposal_id not in taken]
    return claimed, len(lost)


async def _insert_unordered(
    ctx: Context[Any], collection: str, docs: list[dict[str, Any]]
) -> list[str]:
    """Insert what is not there yet; returns the ids that were there (duplicates)."""
    if not docs:
        return []
    try:
        await ctx.db[collection].insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return [docs[e["index"]]["_id"] for e in errors]
    return []
