"""Write pacing for the loaders: capped exponential backoff with full jitter (AWS Architecture Blog,
"Exponential Backoff and Jitter"), a token bucket of write units, and an AIMD rate that adapts it to throttling."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


def backoff_delay(attempt: int, *, base: float = 0.05, cap: float = 5.0, rng: random.Random | None = None) -> float:
    """Seconds to sleep before retry number ``attempt`` (1-based): uniform in [0, min(cap, base * 2**attempt)]."""
    upper = min(cap, base * (2 ** max(attempt, 0)))
    return (rng or random).uniform(0.0, upper)


class TokenBucket:
    """Write-unit meter for one task: at most ``rate`` units per second on average.

    The bucket holds at most ``burst_seconds`` of credit, so a task that paused cannot catch up in a burst
    that would push a 10-second window over its share by more than that fraction. A request larger than the
    credit waits for a full bucket and runs into debt, which the next requests pay back.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.burst_seconds = burst_seconds
        self._clock = clock
        self._sleep = sleep
        self.rate = self.capacity = 0.0
        self.set_rate(rate)
        self._tokens = self.capacity
        self._last = clock()

    def set_rate(self, rate: float) -> None:
        self.rate = max(rate, 0.001)
        self.capacity = max(self.rate * self.burst_seconds, 1.0)

    def acquire(self, units: float) -> float:
        """Block until ``units`` are available; returns the seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens + 1e-9 >= min(units, self.capacity):
                self._tokens -= units
                return waited
            need = max((min(units, self.capacity) - self._tokens) / self.rate, 1e-4)
            self._sleep(need)
            waited += need


class AimdRate:
    """Additive increase, multiplicative decrease between ``floor`` and ``ceiling`` (units per second).

    A throttle cuts the rate by ``decrease`` at most once per ``hold_seconds`` (one congestion event often
    throttles several requests in flight); every success adds back ``increase`` x ceiling per elapsed second.
    The ceiling is the task's share of the job's budget: the rate never goes above it.
    """

    def __init__(
        self,
        ceiling: float,
        *,
        floor_fraction: float = 0.02,
        decrease: float = 0.7,
        increase: float = 0.05,
        hold_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = ceiling
        self.floor = ceiling * floor_fraction
        self.decrease = decrease
        self.increase = increase
        self.hold_seconds = hold_seconds
        self._clock = clock
        self.rate = ceiling
        self._last_cut = float("-inf")
        self._last_update = clock()
        self.cuts = 0

    def throttled(self) -> float:
        now = self._clock()
        if now - self._last_cut >= self.hold_seconds:
            self.rate = max(self.floor, self.rate * self.decrease)
            self._last_cut = now
            self.cuts += 1
        self._last_update = now
        return self.rate

    def succeeded(self) -> float:
        now = self._clock()
        self.rate = min(self.ceiling, self.rate + self.ceiling * self.increase * (now - self._last_update))
        self._last_update = now
        return self.rate
