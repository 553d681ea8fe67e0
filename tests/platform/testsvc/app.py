"""Composition of the test service; its fault hooks are switched on by environment variables."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from typing import Any

import pymongo
from pymongo import ReturnDocument

from diko_shared import due
from diko_shared.contract.envelope import Envelope
from diko_shared.due import DueContext
from diko_shared.messaging.errors import Conflict, Invalid, NotFound
from diko_shared.messaging.handling import Context
from diko_shared.service.app import Service
from diko_shared.settings import ServiceSettings
from diko_shared.store import guards
from testsvc import stock
from testsvc.contract import (
    SERVICE,
    AddToTally,
    FlakyDone,
    FlakyWork,
    GetTally,
    HoldDone,
    HoldWork,
    Remind,
    Reminded,
    Reserve,
    Reserved,
    TallyAdded,
    TallyTotal,
)

#: How long a held reminder (`fail="hold"`) waits for its release at most.
HOLD_LIMIT_S = 120
#: SIGKILL after the commit of the message with this id, before its ack.
KILL_AFTER_COMMIT = "TESTSVC_KILL_AFTER_COMMIT"
#: "<phase>:<message id>": SIGKILL after that phase of the message's commit (0 prepare,
#: 1 state change, 2 outbox, 3 processed record), before the next one.
KILL_AFTER_PHASE = "TESTSVC_KILL_AFTER_PHASE"
#: "<phase>:<item>": SIGKILL after that phase of the commit of the reminder of <item>;
#: "run:<item>": SIGKILL after its handler ran, before the commit.
KILL_DUE = "TESTSVC_KILL_DUE"
#: Set: a start-up step that counts its runs in `start_up/runs`, then writes until the
#: document `start_up/go` appears, each call to the store with a deadline of
#: START_UP_CALL_S (a test cuts the store meanwhile).
START_UP_STEP = "TESTSVC_START_UP_STEP"
START_UP_CALL_S = 1.0
START_UP_LIMIT_S = 120


class Settings(ServiceSettings):
    http_port: int = 8090


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def add_to_tally(ctx: Context[AddToTally]) -> TallyTotal:
    data = ctx.data
    if data.crash:
        await ctx.db["crash_marks"].update_one(
            {"_id": ctx.envelope.id}, {"$inc": {"crashes": 1}}, upsert=True
        )
        mark = await ctx.db["crash_marks"].find_one({"_id": ctx.envelope.id})
        if mark["crashes"] == 1:
            _die()
    ctx.write(
        guards.apply_once(
            "totals", data.item, ctx.key, {"$inc": {"total": data.amount, "count": 1}}
        )
    )
    ctx.write(guards.insert("effects", {"_id": ctx.envelope.id, "item": data.item}))
    ctx.emit(TallyAdded(item=data.item, amount=data.amount), subject=data.item)
    current = await ctx.db["totals"].find_one({"_id": data.item}) or {}
    # A redelivery after a crash between commit phases may find its own change applied.
    pending = 0 if guards.was_applied(current, ctx.key) else 1
    return TallyTotal(
        item=data.item,
        total=current.get("total", 0) + pending * data.amount,
        count=current.get("count", 0) + pending,
    )


async def flaky(ctx: Context[FlakyWork]) -> FlakyDone:
    attempts = await ctx.db["attempts"].find_one_and_update(
        {"_id": ctx.envelope.id},
        {"$inc": {"n": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    switch = await ctx.db["switches"].find_one({"_id": ctx.data.item})
    if (switch or {}).get("broken") or attempts["n"] <= ctx.data.fail_times:
        raise RuntimeError(f"flaky failure {attempts['n']} of {ctx.data.item}")
    ctx.write(guards.insert("flaky_done", {"_id": ctx.envelope.id, "attempts": attempts["n"]}))
    return FlakyDone(item=ctx.data.item, attempts=attempts["n"])


async def hold(ctx: Context[HoldWork]) -> HoldDone:
    """Count the attempt, then hold on the first one: SIGTERM finds a message in flight."""
    attempts = await ctx.db["attempts"].find_one_and_update(
        {"_id": ctx.envelope.id},
        {"$inc": {"n": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    if attempts["n"] == 1:
        await asyncio.sleep(ctx.data.hold_s)
    ctx.write(guards.insert("held_done", {"_id": ctx.envelope.id, "attempts": attempts["n"]}))
    return HoldDone(item=ctx.data.item, attempts=attempts["n"])


async def reserve(ctx: Context[Reserve]) -> Reserved:
    """Claim a name at once, like a duplicate guard; then fail if asked to, after the claim."""
    name = ctx.data.name
    claim = await ctx.claim("reservations", name, {"holder": ctx.envelope.id})
    if claim["holder"] != ctx.envelope.id:
        raise Conflict(f"{name!r} ist bereits reserviert.")
    if ctx.data.fail == "domain":
        raise Invalid(f"{name!r} lässt sich nicht reservieren.")
    if ctx.data.fail == "permanent":
        ctx.occurred_at + timedelta(days=3_000_000)  # OverflowError: past the year 9999
    if ctx.data.fail == "transient":
        raise RuntimeError(f"the reservation of {name!r} failed for now")
    ctx.write(guards.insert("reserved", {"_id": name, "holder": ctx.envelope.id}))
    return Reserved(name=name, holder=ctx.envelope.id)


async def get_tally(ctx: Context[GetTally]) -> TallyTotal:
    doc = await ctx.db["totals"].find_one({"_id": ctx.data.item})
    if doc is None:
        raise NotFound(f"no tally for {ctx.data.item!r}")
    return TallyTotal(item=doc["_id"], total=doc["total"], count=doc["count"])


async def on_tally_added(ctx: Context[TallyAdded]) -> None:
    ctx.write(
        guards.apply_once("received", ctx.data.item, ctx.key, {"$inc": {"count": 1}}),
        guards.insert("received_events", {"_id": ctx.envelope.id}),
    )


async def on_stock_counted(ctx: Context[Any]) -> None:
    """Record what this process's release of the contract read, and who read it."""
    seen = {
        "_id": ctx.envelope.id,
        "release": stock.RELEASE,
        "pid": os.getpid(),
        "dataschema": ctx.envelope.dataschema,
        "data": ctx.data.model_dump(mode="json"),
    }
    ctx.write(guards.insert("stock_seen", seen))


async def remind(ctx: Context[Remind]) -> None:
    data = ctx.data
    ctx.write(
        due.schedule(
            "reminder",
            data.item,
            data.at,
            {"item": data.item, "fail": data.fail},
            correlation_id=ctx.correlation_id,
        )
    )


async def held_until_released(ctx: DueContext, item: str) -> None:
    """A run that hangs like one waiting for a service that is down, until the test lets it go."""
    for _ in range(int(HOLD_LIMIT_S / 0.1)):
        if await ctx.db["released"].find_one({"_id": item}) is not None:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"reminder {item} was not released within {HOLD_LIMIT_S} s")


async def run_reminder(ctx: DueContext) -> None:
    """Counts every run (unstaged, so that a test sees a second run), then stages the effect."""
    item, fail = ctx.data["item"], ctx.data["fail"]
    await ctx.db["due_runs"].insert_one({"item": item, "pid": os.getpid(), "at": ctx.now})
    if fail == "domain":
        raise Invalid.field("data.item", f"{item} kann nicht erinnert werden")
    if fail == "hold":
        await held_until_released(ctx, item)
    runs = await ctx.db["due_runs"].count_documents({"item": item})
    if fail.isdigit() and runs <= int(fail):
        raise RuntimeError(f"reminder {item} failed on run {runs}")
    ctx.write(guards.insert("reminded", {"_id": item, "at": ctx.now}))
    ctx.write(guards.apply_once("reminder_totals", item, ctx.key, {"$inc": {"count": 1}}))
    ctx.emit(Reminded(item=item, due_at=ctx.due_at), subject=item)


def build() -> Service:
    service = Service(SERVICE, Settings(), description="Test service of the platform")
    service.on_request("tally.add", add_to_tally)
    service.on_request("tally.flaky", flaky)
    service.on_request("tally.hold", hold)
    service.on_request("tally.get", get_tally)
    service.on_request("tally.reserve", reserve)
    service.on_request("tally.remind", remind)
    service.on_event("tally.added", on_tally_added)
    service.on_event(stock.TYPE, on_stock_counted)
    service.on_due("reminder", run_reminder)
    kill_id = os.environ.get(KILL_AFTER_COMMIT)
    if kill_id:

        def kill_after_commit(envelope: Envelope[Any]) -> None:
            if envelope.id == kill_id:
                _die()

        service.hooks.after_commit = kill_after_commit
    if kill_at := os.environ.get(KILL_AFTER_PHASE):
        phase, _, message_id = kill_at.partition(":")

        def kill_after_phase(done: int, tags: list[str]) -> None:
            if done == int(phase) and any(tag.endswith(f"|{message_id}") for tag in tags):
                _die()

        service.committer.after_phase = kill_after_phase
    if os.environ.get(START_UP_STEP):
        service.on_start(lambda: _start_up_step(service))
    if kill_due := os.environ.get(KILL_DUE):
        step, _, item = kill_due.partition(":")
        tag = f"due|{due.item_id('reminder', item)}"

        def kill_before_commit(id_: str) -> None:
            if step == "run" and id_ == due.item_id("reminder", item):
                _die()

        def kill_after_due_phase(done: int, tags: list[str]) -> None:
            if step != "run" and done == int(step) and tag in tags:
                _die()

        service.due.before_commit = kill_before_commit
        service.committer.after_phase = kill_after_due_phase
    return service


async def _start_up_step(service: Service) -> None:
    """A repeatable start-up step that uses the store until the test lets it end."""
    runs = service.db["start_up"]
    loop = asyncio.get_running_loop()
    give_up = loop.time() + START_UP_LIMIT_S
    with pymongo.timeout(START_UP_CALL_S):
        await runs.update_one({"_id": "runs"}, {"$inc": {"began": 1}}, upsert=True)
    while loop.time() < give_up:
        with pymongo.timeout(START_UP_CALL_S):
            await runs.update_one({"_id": "runs"}, {"$inc": {"writes": 1}})
            if await runs.find_one({"_id": "go"}) is not None:
                await runs.update_one({"_id": "runs"}, {"$inc": {"ended": 1}})
                return
        await asyncio.sleep(0.05)  # the step's own pace, not a wait in a test
    raise RuntimeError("the start-up step was not let go")
