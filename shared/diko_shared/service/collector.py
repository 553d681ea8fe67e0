"""CPython's cycle collector, set for a process that handles many small messages.

Nearly everything a message creates (frames, envelopes, futures, write batches) is freed
by reference counting as soon as it is done with; the cycle collector only finds the
rare cycle. With the default thresholds it runs a young collection every 700 container
objects allocated and not yet freed, and each one traverses whatever the messages in
flight hold; every tenth an older one, every hundredth a full one over everything the
process has built since it began (modules, models, templates, read models). Measured in
bench/pipeline (10,000 messages, 256 in flight): about 1,000 collections took 0.9-1.1 s,
11-14 % of the consumer's CPU, and each of the seven full ones stopped the event loop
for 20-60 ms.

So a service, once started, moves what start-up built out of the collector's reach
(`gc.freeze`: it lives as long as the process anyway, and reference counting still frees
whatever of it is dropped), and collects young objects after `YOUNG` of them instead of
700, and at least once a minute: a quiet service allocates too little to reach `YOUNG`,
and its cyclic garbage (with whatever it holds) would wait for hours.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Container objects allocated (and not freed) between two young collections.
YOUNG = 50_000
#: The longest time between two young collections, however little the service does.
YOUNG_AT_LEAST_EVERY_S = 60.0


def tune() -> None:
    """Collect young objects after `YOUNG` of them; the older generations as by default."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)


async def collect_young_forever(every_s: float = YOUNG_AT_LEAST_EVERY_S) -> None:
    """Collect the two younger generations every `every_s` (a few milliseconds each)."""
    while True:
        await asyncio.sleep(every_s)
        gc.collect(1)


def freeze_startup() -> None:
    """Move everything alive now (start-up's work) out of every later collection."""
    gc.collect()
    gc.freeze()


class CollectorSettings(Collector):
    """The collector's thresholds and frozen objects as the process has them, for /metrics."""

    def collect(self) -> Iterator[Metric]:
        threshold = GaugeMetricFamily(
            "diko_gc_threshold",
            "Allocations (generation 0) or collections of the younger generation that start "
            "a collection of this generation",
            labels=["generation"],
        )
        for generation, value in enumerate(gc.get_threshold()):
            threshold.add_metric([str(generation)], value)
        yield threshold
        yield GaugeMetricFamily(
            "diko_gc_frozen_objects",
            "Objects of start-up kept out of every cycle collection (gc.freeze)",
            value=gc.get_freeze_count(),
        )
