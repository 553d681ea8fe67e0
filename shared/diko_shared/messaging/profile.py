"""Where a message's time goes: wall time per phase of the pipeline and the relay.

Off in production (`Hooks.profile` is None, and each phase then costs one `if`); the
pipeline benchmark switches it on to say which phase a change made cheaper. Phases of
concurrent messages overlap, so the times add up to latency, not to CPU.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

#: In the order a message passes them.
PHASES = (
    "decode_validate",
    "claim",
    "handler",
    "commit",
    "publish_confirm",
    "ack",
    "relay_wait",
)


class PhaseProfile:
    """Durations per phase, summarised as count, mean, p50, p99 and total."""

    def __init__(self) -> None:
        self._samples: dict[str, list[float]] = defaultdict(list)

    def add(self, phase: str, seconds: float) -> None:
        self._samples[phase].append(seconds)

    def reset(self) -> None:
        self._samples.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {}
        for phase in (*PHASES, *sorted(set(self._samples) - set(PHASES))):
            samples = sorted(self._samples.get(phase, ()))
            if not samples:
                continue
            result[phase] = {
                "count": len(samples),
                "mean_ms": round(statistics.fmean(samples) * 1000, 3),
                "p50_ms": round(samples[len(samples) // 2] * 1000, 3),
                "p99_ms": round(samples[max(0, int(len(samples) * 0.99) - 1)] * 1000, 3),
                "total_s": round(sum(samples), 3),
            }
        return result
