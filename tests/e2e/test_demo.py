"""`diko demo` as an operator runs it: its own process, against the four service processes.

The demo gets the harness's addresses through the environment only (it runs outside the
checkout, so `.local/stack.env` cannot leak the default virtual host into it).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

from diko_shared.contract.notifications import ListDeliveries
from harness.bus import Bus
from harness.cli import diko
from harness.stack import SessionStack

from .conftest import SERVICES, System

STEPS = ("1. staff member", "2. company", "3. training position", "4. media drafted")
LATER_STEPS = ("5. applicant", "6. matching proposed", "7. the proposal", "8. staff accepted")


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


async def test_demo_plays_the_story_and_registers_its_staff_member_once(
    stack: SessionStack, system: System, bus: Bus, tmp_path: Path
) -> None:
    staff_email = f"birte.albrecht+demo{secrets.token_hex(3)}@diko.example"
    env = demo_env(stack, **service_urls(system))
    args = ("--staff-email", staff_email, "--timeout", "90", "--json")

    first = await run_demo(stack, env, tmp_path, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    for step in (*STEPS, *LATER_STEPS, "   the position is filled", "9. podcast episode"):
        assert re.search(rf"^{re.escape(step)}", out, re.MULTILINE), step
    assert "The story happened." in out
    # where to look: before the first step already, and with the services' real addresses
    mailpit = f"{stack.mailpit_url} (search: to:{staff_email})"
    assert out.index(mailpit) < out.index("1. staff member")
    assert f"companies {system['companies'].base_url}/asyncapi" in out
    assert f"media {system['media'].base_url}/asyncapi" in out
    made = ids(out)
    assert f"post       {made['post_image_url']}" in out
    assert f"podcast    {made['feed_url']}" in out
    assert "1. staff member registered and subscribed" in out

    second = await run_demo(stack, env, tmp_path, *args)
    assert second.returncode == 0, second.stdout + second.stderr
    again = ids(second.stdout)
    assert "1. staff member already registered (earlier run) and subscribed" in second.stdout
    assert again["staff_id"] == made["staff_id"]
    # one staff member, so the second run's proposal went to one recipient only
    proposed = again["events"]["match.proposed"]
    deliveries = await bus.ok(ListDeliveries(event_id=proposed))
    assert [d["staff_id"] for d in deliveries["deliveries"]] == [made["staff_id"]]


async def test_demo_stops_with_a_clear_message_when_a_step_does_not_happen(
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
    out, err = failed.stdout, failed.stderr
    for step in STEPS[:3]:
        assert re.search(rf"^{re.escape(step)}", out, re.MULTILINE), step
    assert not re.search(r"^[4-9]\. ", out, re.MULTILINE), out
    assert "The story stopped." in out
    assert out.count(f"{stack.mailpit_url} (search: to:") == 2  # at the start and now
    assert "companies http://127.0.0.1:8101/asyncapi" in out
    assert "media http://127.0.0.1:8104/asyncapi" in out
    assert (
        "error: the story stopped at step 4 (media drafts the post): no post.drafted within "
        "3 s; is media running? (`diko stack status`)"
    ) in err
    assert "Traceback" not in out + err
