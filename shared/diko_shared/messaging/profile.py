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
    "lookup",
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

    def samples(self) -> dict[str, list[float]]:
        """Every duration noted, per phase, in the order noted (for pooling runs)."""
        return {phase: list(values) for phase, values in self._samples.items()}

    def summary(self) -> dict[str, dict[str, float]]:
        return summarise_phases(self._samples)


def summarise_phases(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Count, mean, p50, p99 and total of each phase's durations, in pipeline order."""
    result: dict[str, dict[str, float]] = {}
    for phase in (*PHASES, *sorted(set(samples) - set(PHASES))):
        ordered = sorted(samples.get(phase, ()))
        if not ordered:
            continue
        result[phase] = {
            "count": len(ordered),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
            "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
            "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 3),
            "total_s": round(sum(ordered), 3),
        }
    return result
