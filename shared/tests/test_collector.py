"""The collector settings of a service process, applied here and undone after each test."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from diko_shared.service import collector


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_collects_young_objects_rarely_and_keeps_the_older_generations() -> None:
    gc.set_threshold(700, 12, 13)
    collector.tune()
    assert gc.get_threshold() == (collector.YOUNG, 12, 13)


def test_freeze_startup_keeps_what_is_alive_out_of_later_collections() -> None:
    kept = [[n] for n in range(1000)]
    assert any(item is kept[0] for item in gc.get_objects())
    collector.freeze_startup()
    assert gc.get_freeze_count() >= len(kept)
    assert not any(item is kept[0] for item in gc.get_objects())


def test_the_settings_are_in_metrics_as_the_process_has_them() -> None:
    registry = CollectorRegistry()
    registry.register(collector.CollectorSettings())
    gc.set_threshold(1234, 5, 6)
    collector.freeze_startup()
    frozen = gc.get_freeze_count()
    assert registry.get_sample_value("diko_gc_threshold", {"generation": "0"}) == 1234
    assert registry.get_sample_value("diko_gc_threshold", {"generation": "2"}) == 6
    assert registry.get_sample_value("diko_gc_frozen_objects") == frozen > 0


async def test_a_quiet_service_still_collects_its_young_objects_now_and_then() -> None:
    collected: list[int] = []
    twice = asyncio.Event()

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.append(info["generation"])
            if collected.count(1) >= 2:
                twice.set()

    gc.set_threshold(10**9, 10, 10)  # no allocation starts a collection here
    gc.callbacks.append(note)
    task = asyncio.create_task(collector.collect_young_forever(every_s=0.01))
    try:
        async with asyncio.timeout(5):
            await twice.wait()
    finally:
        task.cancel()
        gc.callbacks.remove(note)
    assert set(collected) == {1}
