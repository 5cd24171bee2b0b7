"""Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


def backoff_delay(attempt: int, *, base: float = 0.05, cap: float = 5.0, rng: random.Random | None = None) -> float:
    """Seconds to sleep before retry number ``attempt`` (1-based): uniform in [0, min(cap, base * 2**attempt)]."""
    upper = min(cap, base * (2 ** max(attempt, 0)))
    return (rng or random).uniform(0.0, upper)


class TokenBucket:
    """Write-unit meter for one task: at most ``rate`` units per second on average, bursts up to one second."""

    def __init__(
        self, rate: float, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.rate = max(rate, 0.001)
        self.capacity = max(self.rate, 1.0)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()

    def acquire(self, units: float) -> float:
        """Block until ``units`` are available; returns the seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens + 1e-9 >= min(units, self.capacity):
                # A request larger than a second's budget waits for a full bucket, then runs into debt.
                self._tokens -= units
                return waited
            need = max((min(units, self.capacity) - self._tokens) / self.rate, 1e-4)
            self._sleep(need)
            waited += need
