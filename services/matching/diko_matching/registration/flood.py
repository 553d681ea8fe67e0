"""A rate limit per client address: at most `limit` form submissions per `window`.

Kept in each process's memory: the limit is there to stop a script flooding the form,
not to count exactly, so two replicas allowing twice the limit between them is fine,
and nothing about a visitor is written anywhere. Addresses that have gone quiet are
forgotten as the window slides.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RateLimit:
    """Sliding window per address; `clock` is `time.monotonic` except in tests."""

    limit: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, address: str) -> bool:
        """Count a submission from `address`; False once it is over the limit."""
        now = self.clock()
        self._forget(now)
        times = self._seen.setdefault(address, deque())
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def retry_after_s(self, address: str) -> int:
        """Seconds until `address` may submit again (0 if it may now)."""
        times = self._seen.get(address)
        if not times or len(times) < self.limit:
            return 0
        return max(1, int(times[0] + self.window_s - self.clock()) + 1)

    def _forget(self, now: float) -> None:
        cutoff = now - self.window_s
        for address in list(self._seen):
            times = self._seen[address]
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:
                del self._seen[address]
