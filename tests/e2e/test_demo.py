"""`diko demo` as an operator runs it: its own process, against the four service processes.

The demo gets the harness's addresses through the environment only (it runs outside the
checkout, so `.local/stack.env` cannot leak the default virtual host into it). The tests
run in this order on one database: three runs in a row, a run among a dozen comparable
open positions, the stack and a service stopped, a service stopping during the story, and
last a position with more well-fitting applicants than matching proposes.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from diko_shared import story_cast
from diko_shared.contract.companies import (
    Address,
    Contact,
    GetCompany,
    OpenPosition,
    RegisterCompany,
)
from diko_shared.contract.matching import RegisterApplicant
from diko_shared.contract.notifications import ListDeliveries
from diko_shared.story import Story, StoryFailed
from harness.bus import Bus
from harness.cli import diko
from harness.mailpit import Mailpit
from harness.processes import free_port
from harness.stack import SessionStack

from .conftest import SERVICES, System

STEPS = ("1. staff member", "2. company", "3. applicant", "4. training position")
LATER_STEPS = ("5. media drafted", "6. matching proposed", "7. the proposal", "8. staff accepted")
#: A run's id, as the demo used to append to names ("… A55EA8 GmbH", "Schröder-a55ea8").
DECORATION = re.compile(r"\b[0-9a-fA-F]{6}\b|-[0-9a-f]{6}\b|\([0-9a-f]{6}\)")
URL = re.compile(r"https?://\S+")


def demo_env(stack: SessionStack, **extra: str) -> dict[str, str]:
    """What the demo needs besides the broker: where to point people for the e-mails."""
    return {"DIKO_MAILPIT_URL": stack.mailpit_url, **extra}


def service_urls(system: System) -> dict[str, str]:
    return {f"DIKO_{name.upper()}_URL": system[name].base_url for name in SERVICES}


async def run_demo(
    stack: SessionStack, env: dict[str, str], cwd: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(diko, stack, "demo", *args, env=env, cwd=cwd, timeout=timeout)


def ids(stdout: str) -> dict[str, Any]:
    """The `--json` block at the end of the output."""
    return json.loads(stdout[stdout.rindex("\n{") :])


async def next_run(bus: Bus) -> story_cast.Run:
    """What the demo's next run brings: the demo company's positions so far, plus one."""
    reply = await bus.request(story_cast.COMPANY)
    if reply["ok"]:
        company_id = reply["data"]["company_id"]
    else:
        company_id = re.search(r"cmp_[0-9a-f]{20}", json.dumps(reply["error"])).group()  # type: ignore[union-attr]
    company = await bus.ok(GetCompany(company_id=company_id))
    return story_cast.run(len(company["positions"]) + 1, date.today())


async def test_three_runs_read_like_the_real_thing_and_register_staff_and_company_once(
    stack: SessionStack, system: System, bus: Bus, mailpit: Mailpit, tmp_path: Path
) -> None:
    staff_email = f"birte.albrecht+demo{secrets.token_hex(3)}@diko.example"
    env = demo_env(stack, **service_urls(system))
    args = ("--staff-email", staff_email, "--timeout", "90", "--json")

    first = await run_demo(stack, env, tmp_path, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    for step in (*STEPS, *LATER_STEPS, "   the position is filled", "9. podcast episode", "10."):
        assert re.search(rf"^{re.escape(step)}", out, re.MULTILINE), step
    assert "The story happened." in out
    # where to look: before the first step already, and with the services' real addresses
    mailpit_line = f"{stack.mailpit_url} (search: to:{staff_email})"
    assert out.index(mailpit_line) < out.index("1. staff member")
    assert f"companies {system['companies'].base_url}/asyncapi" in out
    assert f"media {system['media'].base_url}/asyncapi" in out
    made = ids(out)
    assert f"post       {made['post_image_url']}" in out
    assert f"podcast    {system['media'].base_url}/podcast  (feed {made['feed_url']})" in out
    site = f"{system['media'].base_url}/site/betriebe/{made['company_id']}"
    assert made["site_url"] == site
    assert f"website    {site}" in out
    assert "10. the website shows Tischlerei Müller & Söhne GmbH with the episode" in out
    assert "1. staff member registered and subscribed" in out
    assert "2. company registered in Stendal: Tischlerei Müller & Söhne GmbH" in out
    assert "3. applicant registered: Lena Schröder from Osterburg" in out
    assert "9. podcast episode 1 published: „DIKO trifft… die Tischlerei Müller in Stendal“" in out

    runs = [made]
    for _ in range(2):
        again = await run_demo(stack, env, tmp_path, *args)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "1. staff member already registered (earlier run) and subscribed" in again.stdout
        assert "2. company found (registered by an earlier run) in Stendal" in again.stdout
        runs.append(ids(again.stdout))
    second, third = runs[1:]
    assert [r["run"] for r in runs] == [1, 2, 3]
    assert {r["staff_id"] for r in runs} == {made["staff_id"]}
    assert {r["company_id"] for r in runs} == {made["company_id"]}
    assert len({r["position_id"] for r in runs}) == 3
    assert [r["applicant_name"] for r in runs] == ["Lena Schröder", "Jonas Becker", "Mia Krüger"]
    assert [r["occupation"] for r in runs] == [
        "Tischler/in",
        "Kaufmann/-frau für Büromanagement",
        "Fachkraft für Lagerlogistik",
    ]
    assert [r["episode_title"] for r in runs] == [
        "DIKO trifft… die Tischlerei Müller in Stendal",
        "DIKO trifft… das Büro der Tischlerei Müller",
        "DIKO trifft… das Holzlager der Tischlerei Müller",
    ]
    # one staff member, so each later run's proposal went to one recipient only
    for later in (second, third):
        deliveries = await bus.ok(ListDeliveries(event_id=later["events"]["match.proposed"]))
        assert [d["staff_id"] for d in deliveries["deliveries"]] == [made["staff_id"]]

    # What a person reads after three runs: nine e-mails, the podcast page, with no name
    # decorated by a run's id.
    mails = await mailpit.wait_for(f"to:{staff_email}", count=9)
    assert len(mails) == 9
    for summary in mails:
        message = await mailpit.message(summary["ID"])
        text = URL.sub("", message["Text"])
        assert not DECORATION.search(summary["Subject"]), summary["Subject"]
        assert not DECORATION.search(text), text
    async with httpx.AsyncClient(timeout=10) as http:
        page = (await http.get(f"{system['media'].base_url}/podcast")).text
    for number, title in enumerate((r["episode_title"] for r in runs), start=1):
        assert f">{title}</a></h3>" in page
        assert f"Folge {number} · " in page
    assert not DECORATION.search(URL.sub("", re.sub(r'"[^"]*"', "", page)))


async def test_the_demo_works_among_a_dozen_comparable_open_positions(
    stack: SessionStack, system: System, bus: Bus, tmp_path: Path
) -> None:
    """Other data in the database cannot push the demo's pair out of the proposals."""
    coming = await next_run(bus)
    other = await bus.ok(
        RegisterCompany(
            name=f"Möbelwerkstatt Altmark {secrets.token_hex(2)} GmbH",
            address=Address(street="Hallstraße 3", postcode="39576", town="Stendal"),
            contact=Contact(name="Uwe Krause", email="uwe.krause@moebelwerkstatt.example"),
        )
    )
    for _ in range(12):
        await bus.ok(
            OpenPosition(
                company_id=other["company_id"],
                occupation=coming.position.occupation,
                places=1,
                start_date=coming.start_date,
                town="Stendal",
                school_certificate="hauptschule",
            )
        )
    proposals = await bus.tap(pattern="match.proposed")

    demo = await run_demo(stack, demo_env(stack, **service_urls(system)), tmp_path, "--json")

    assert demo.returncode == 0, demo.stdout + demo.stderr
    made = ids(demo.stdout)
    assert made["run"] == coming.number
    # At her registration matching proposed her ten of the dozen: her best ten positions
    # cannot include the demo's, which opens after; its own proposals name her.
    at_registration = [
        m
        for m in proposals.of_type("match.proposed")
        if m.data["subject_id"] == made["applicant_id"]
    ]
    assert [len(m.data["proposals"]) for m in at_registration] == [10]


async def test_with_the_broker_away_the_demo_says_to_start_the_stack(
    stack: SessionStack, tmp_path: Path
) -> None:
    closed = f"amqp://diko:diko@127.0.0.1:{free_port()}/diko"
    env = demo_env(stack, DIKO_AMQP_URL=closed)
    failed = await run_demo(stack, env, tmp_path, "--timeout", "3", timeout=120)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    err = " ".join(failed.stderr.split())
    assert "the story cannot start: RabbitMQ does not answer at 127.0.0.1:" in err
    assert "(connection refused): start the local stack with `make stack`, then start" in err
    assert "`make up`" in err
    assert "Traceback" not in failed.stdout + failed.stderr
    assert "error when creating transport" not in failed.stdout + failed.stderr
    assert not re.search(r"^1\. ", failed.stdout, re.MULTILINE)


async def test_a_stopped_service_is_named_before_the_first_step(
    stack: SessionStack, system: System, tmp_path: Path
) -> None:
    media = system["media"]
    media.stop()
    try:
        # No DIKO_<SERVICE>_URL: the addresses follow DIKO_RUN_PORT_OFFSET, as under make run.
        env = demo_env(stack, DIKO_RUN_PORT_OFFSET="100")
        failed = await run_demo(stack, env, tmp_path, "--timeout", "3", timeout=120)
    finally:
        await asyncio.to_thread(media.start, timeout=180)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    out, err = failed.stdout, " ".join(failed.stderr.split())
    assert not re.search(r"^[1-9]\. ", out, re.MULTILINE), out
    assert "The story stopped." in out
    assert out.count(f"{stack.mailpit_url} (search: to:") == 2  # at the start and now
    assert "companies http://127.0.0.1:8101/asyncapi" in out
    assert "media http://127.0.0.1:8104/asyncapi" in out
    assert (
        "error: the story cannot start: media is not running (no process takes its messages "
        "on 127.0.0.1:"
    ) in err
    assert "start the services with `make up` (their logs are in .local/run/)" in err
    assert "Traceback" not in out + failed.stderr


async def test_a_service_that_stops_during_the_story_is_named_with_what_to_do(
    stack: SessionStack, system: System
) -> None:
    media = system["media"]

    async def stop_media() -> None:
        await asyncio.to_thread(media.stop)

    try:
        async with Story(
            stack.amqp_url,
            timeout=5,
            say=lambda _: None,
            staff_email=f"birte.albrecht+{secrets.token_hex(3)}@diko.example",
            service_url=lambda name: system[name].base_url,
        ) as story:
            try:
                await story.play({"applicant": stop_media})
            except StoryFailed as stopped:
                failure = str(stopped)
            else:
                raise AssertionError("the story went on without media")
    finally:
        await asyncio.to_thread(media.start, timeout=180)

    # Step 4 reads the company's page on media's website for the new position: with media
    # gone that page does not answer (or no rebuild comes), and the story names media.
    assert failure.startswith(
        "the story stopped at step 4 (company opens a position): the website"
    ), failure
    assert failure.endswith(
        "; media is not running: start the services with `make up` (their logs are in .local/run/)"
    ), failure


async def test_a_position_with_more_fitting_applicants_than_matching_proposes_says_so(
    stack: SessionStack, system: System, bus: Bus
) -> None:
    """Eleven applicants from Stendal fit the coming position best: the demo's, from a
    town nearby, is not among the ten matching proposes, and the story says so."""
    coming = await next_run(bus)
    for i in range(11):
        await bus.ok(
            RegisterApplicant(
                first_name="Anna",
                last_name=f"Beispiel {i + 1}",
                home_town="Stendal",
                reach_km=30,
                school_certificate="abitur",
                desired_occupations=[coming.position.occupation.code],
                earliest_start=date(coming.start_date.year, 1, 1),
            )
        )
    async with Story(
        stack.amqp_url,
        timeout=10,
        say=lambda _: None,
        staff_email=f"birte.albrecht+{secrets.token_hex(3)}@diko.example",
        service_url=lambda name: system[name].base_url,
    ) as story:
        try:
            await story.play()
        except StoryFailed as stopped:
            failure = str(stopped)
        else:
            raise AssertionError("the story's applicant was proposed among eleven better ones")

    assert failure == (
        "the story stopped at step 6 (matching proposes the applicant): matching proposed "
        f"10 other applicant(s) for the position (best score 1.00), not "
        f"{coming.applicant.name}: it proposes only the applicants who fit a position best, "
        "and more of them fit this one at least as well"
    )
