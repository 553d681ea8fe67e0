"""`python -m bench.notifications`: fan-out and digests against the raw SMTP floor.

All in one run against the local stack (`make stack`), in a private virtual host and
database, with a Mailpit of the benchmark's own:

- raw floor: 1,000 e-mails of the same size, composed beforehand, handed to the same
  Mailpit by aiosmtplib over the same number of kept connections, nothing else;
- fan-out: one `position.filled` for a town 1,000 staff members are responsible for (all
  of them getting that kind at once), from publishing the event until the 1,000th e-mail
  is in Mailpit; then every address is checked to have exactly one;
- digest run: the same 1,000 staff members with that kind in their daily digest, one more
  event queued for all of them, the service's clock moved to the digest hour, until the
  1,000th digest is in Mailpit (again exactly one each).

Goals (issue 12): the fan-out under 30 s, the digest run under 60 s on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import aiosmtplib
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "services" / "notifications" / "tests"))

from notifications_helpers import PrivateMailpit, publish  # noqa: E402

from diko_notifications.domain import filled_letter  # noqa: E402
from diko_notifications.mail import compose, flatten  # noqa: E402
from diko_notifications.preferences import BERLIN  # noqa: E402
from diko_notifications.recipients import Recipient  # noqa: E402
from diko_notifications.render import render_letter  # noqa: E402
from diko_shared import due  # noqa: E402
from diko_shared.contract.common import Occupation  # noqa: E402
from diko_shared.contract.companies import PositionFilled  # noqa: E402
from diko_shared.contract.notifications import (  # noqa: E402
    KindSetting,
    RegisterStaff,
    Responsibilities,
    SetPreferences,
)
from harness.bus import Bus  # noqa: E402
from harness.processes import ServiceProcess, free_port  # noqa: E402
from harness.stack import SessionStack  # noqa: E402

RESULTS = REPO / "bench" / "results" / "notifications.json"
TOWN = "Tangermünde"
CONNECTIONS = 8
CLOCK = "bench"


def filled(company: str) -> PositionFilled:
    return PositionFilled(
        position_id=f"pos_{uuid.uuid4().hex[:20]}",
        company_id=f"cmp_{uuid.uuid4().hex[:20]}",
        company_name=company,
        occupation=Occupation(code="22342", name="Tischler/in"),
        places=1,
        town=TOWN,
        start_date=date(2027, 8, 1),
    )


async def mails_in(mailpit: PrivateMailpit) -> int:
    response = await mailpit.client.client.get("/api/v1/messages", params={"limit": 1})
    response.raise_for_status()
    return int(response.json()["messages_count"])


async def until_count(
    mailpit: PrivateMailpit, count: int, timeout: float, db: AsyncDatabase
) -> float:
    """Seconds until Mailpit holds `count` messages (polled every 50 ms).

    On timeout the error says where the rest stand (deliveries by status, due items),
    since the database is dropped with the benchmark's stack.
    """
    started = time.perf_counter()
    while (held := await mails_in(mailpit)) < count:
        if time.perf_counter() - started > timeout:
            statuses = Counter([d.get("status") async for d in db["deliveries"].find({})])
            due_items = [d["_id"] async for d in db["due"].find({}, {"_id": 1})]
            raise TimeoutError(
                f"{held} of {count} mails after {timeout:.0f} s; deliveries by status "
                f"{dict(statuses)}; due items {due_items[:10]}"
            )
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def every_address_once(mailpit: PrivateMailpit, addresses: set[str]) -> bool:
    seen: Counter[str] = Counter()
    start = 0
    while True:
        response = await mailpit.client.client.get(
            "/api/v1/messages", params={"limit": 500, "start": start}
        )
        page = response.json()["messages"]
        if not page:
            break
        for message in page:
            for to in message["To"]:
                seen[to["Address"]] += 1
        start += len(page)
    return set(seen) == addresses and set(seen.values()) == {1}


async def raw_floor(mailpit: PrivateMailpit, n: int) -> float:
    """1,000 composed e-mails handed to Mailpit over kept connections: the floor."""
    recipient = Recipient("stf_" + "0" * 20, "staff", "Bench Floor", "floor@diko.example")
    rendered = render_letter(filled_letter(filled("Tischlerei Floor"), recipient), recipient)
    bodies = [
        flatten(
            compose(
                rendered,
                sender="DIKO Altmark <noreply@diko.example>",
                to_name="Bench Floor",
                to_address=f"floor{i}@diko.example",
                message_id=f"<floor{i}-{uuid.uuid4().hex}@diko.example>",
                date=datetime.now(BERLIN),
                headers={},
            )
        )
        for i in range(n)
    ]
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for item in enumerate(bodies):
        queue.put_nowait(item)

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=mailpit.smtp_port)
        await client.connect()
        while not queue.empty():
            i, body = queue.get_nowait()
            await client.sendmail("noreply@diko.example", [f"floor{i}@diko.example"], body)
        await client.quit()

    before = await mails_in(mailpit)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    while await mails_in(mailpit) < before + n:  # noqa: ASYNC110 - another process's state
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def clear(mailpit: PrivateMailpit) -> None:
    await mailpit.client.client.delete("/api/v1/messages")


async def main(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch, SessionStack.create() as stack:
        mailpit = PrivateMailpit(Path(scratch))
        await mailpit.start()
        env = stack.service_env(
            "notifications",
            DIKO_SMTP_PORT=str(mailpit.smtp_port),
            DIKO_LINK_SECRET="b" * 40,
            DIKO_LOG_LEVEL="WARNING",
            DIKO_TEST_CLOCK=CLOCK,
            DIKO_SMTP_CONNECTIONS=str(CONNECTIONS),
            DIKO_DUE_POLL_S="0.2",
            DIKO_RETRY_DELAYS_MS="1000,10000",
        )
        service = ServiceProcess("notifications-bench", "diko_notifications", free_port(), env)
        service.start()
        mongo: AsyncMongoClient = AsyncMongoClient(stack.mongo_url, tz_aware=True)
        db = mongo[stack.database("notifications")]
        try:
            async with Bus(stack.amqp_url, source="bench") as bus:
                print(f"registering {n} staff members …", file=sys.stderr)
                # Setup, not measured: commands sent without waiting for each reply
                # (a request waits for its answer before the next may go).
                for i in range(n):
                    await bus.send(
                        RegisterStaff(
                            name=f"Bench {i:04d}",
                            email=f"bench{i:04d}@diko.example",
                            responsibilities=Responsibilities(municipalities=[TOWN]),
                        )
                    )
                while await db["staff"].count_documents({}) < n:  # noqa: ASYNC110 - another process's state
                    await asyncio.sleep(0.5)
                staff = [doc["_id"] async for doc in db["staff"].find({}, {"_id": 1})]
                addresses = {f"bench{i:04d}@diko.example" for i in range(n)}

                floor = [await raw_floor(mailpit, n)]
                await clear(mailpit)

                await due.set_test_clock(db, CLOCK, datetime(2027, 3, 2, 10, 0, tzinfo=BERLIN))
                started = time.perf_counter()
                await publish(bus, "position.filled", filled("Tischlerei Fanout"), "companies")
                await until_count(mailpit, n, 600, db)
                fanout = time.perf_counter() - started
                print(f"fan-out: {n} mails in {fanout:.1f} s", file=sys.stderr)
                fanout_once = await every_address_once(mailpit, addresses)
                await clear(mailpit)

                floor.append(await raw_floor(mailpit, n))
                await clear(mailpit)

                print("switching everybody to the digest …", file=sys.stderr)
                for staff_id in staff:
                    await bus.send(
                        SetPreferences(
                            staff_id=staff_id,
                            kinds=[KindSetting(kind="position.filled", mode="digest")],
                            digest_hour=7,
                        )
                    )
                while await db["preferences"].count_documents({}) < n:  # noqa: ASYNC110 - another process's state
                    await asyncio.sleep(0.5)
                await publish(bus, "position.filled", filled("Tischlerei Digest"), "companies")
                while await db["queued"].count_documents({}) < n:  # noqa: ASYNC110 - another process's state
                    await asyncio.sleep(0.2)
                started = time.perf_counter()
                await due.set_test_clock(db, CLOCK, datetime(2027, 3, 3, 7, 0, 1, tzinfo=BERLIN))
                await until_count(mailpit, n, 900, db)
                digest = time.perf_counter() - started
                print(f"digest run: {n} digests in {digest:.1f} s", file=sys.stderr)
                digest_once = await every_address_once(mailpit, addresses)
        finally:
            service.stop()
            await mongo.close()
            await mailpit.stop()
    floor_s = min(floor)
    return {
        "recipients": n,
        "smtp_connections": CONNECTIONS,
        "raw_floor_s": round(floor_s, 2),
        "raw_floor_runs_s": [round(f, 2) for f in floor],
        "fanout_s": round(fanout, 2),
        "fanout_ratio": round(fanout / floor_s, 2),
        "fanout_exactly_once": fanout_once,
        "digest_run_s": round(digest, 2),
        "digest_ratio": round(digest / floor_s, 2),
        "digest_exactly_once": digest_once,
        "goals": {"fanout_s": 30, "digest_run_s": 60},
        "measured_at": datetime.now(BERLIN).isoformat(timespec="seconds"),
    }


def table(result: dict[str, object]) -> str:
    n = result["recipients"]
    rows = [
        ("raw SMTP floor", f"{n} mails", result["raw_floor_s"], 1.0, "", ""),
        (
            "fan-out (one event)",
            f"{n} mails",
            result["fanout_s"],
            result["fanout_ratio"],
            "< 30 s",
            result["fanout_exactly_once"],
        ),
        (
            "digest run",
            f"{n} digests",
            result["digest_run_s"],
            result["digest_ratio"],
            "< 60 s",
            result["digest_exactly_once"],
        ),
    ]
    lines = [f"{'':22} {'what':>14} {'seconds':>8} {'× floor':>8} {'goal':>7} {'once':>6}"]
    lines += [f"{a:22} {b:>14} {c:>8} {d:>8} {e:>7} {f!s:>6}" for a, b, c, d, e, f in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    args = parser.parse_args()
    outcome = asyncio.run(main(args.recipients))
    print(table(outcome))
    RESULTS.write_text(json.dumps(outcome, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
