"""Chaos under load, short form: stories through two replicas of every service while
replicas are killed, the broker connection is cut and the database paused (see
harness/chaos.py; `make chaos` runs the long form)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.chaos import Report, chaos, schedule, write
from harness.stack import SessionStack

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SEED = 16


@pytest.fixture(scope="module")
def stack() -> Iterator[SessionStack]:
    """A virtual host and databases of the run's own: nothing else's messages in its queues."""
    with SessionStack.create() as own:
        yield own


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    faults = schedule(SEED, 30, kills=2, cuts=1, pauses=1)
    assert faults == schedule(SEED, 30, kills=2, cuts=1, pauses=1)
    assert faults != schedule(SEED + 1, 30, kills=2, cuts=1, pauses=1)
    kinds = [f.kind for f in faults]
    assert (kinds.count("kill"), kinds.count("cut"), kinds.count("pause")) == (8, 1, 1)
    killed = {f.target.rsplit("-", 1)[0] for f in faults if f.kind == "kill"}
    assert killed == {"companies", "matching", "notifications", "media"}
    assert all(2 <= f.at <= 30 for f in faults)


async def test_every_story_has_exactly_its_effects_after_kills_cuts_and_pauses(
    stack: SessionStack,
) -> None:
    report: Report = await chaos(
        stack,
        seed=SEED,
        stories=12,
        concurrency=6,
        window_s=15,
        kills=1,
        cuts=1,
        pauses=1,
        say=lambda _: None,
    )
    write(report, "chaos-short.json")
    summary = report.summary()
    assert report.faults_done == len(report.faults) == 6, summary
    assert not report.failed, f"{summary}\n{report.failed}"
    assert report.completed == 12, summary
    assert not report.duplicated_effects, f"{summary}\n{report.duplicated_effects}"
    assert not report.missing_effects, f"{summary}\n{report.missing_effects}"
    assert not report.wrong_state, f"{summary}\n{report.wrong_state}"
    assert report.mails == report.mails_expected == 24, summary
    assert report.mails_repeated == 0, summary
    assert report.dead_letters_without_reason == 0, summary
    assert not any(report.outbox_left.values()), summary
    assert report.passed, summary
