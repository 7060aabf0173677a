"""Failed sign-ins counted per key (a user name, a browser session), with a lockout that grows.

The dashboard keeps one :class:`LoginThrottle` per server process
(``st.cache_resource``), so opening a new tab or reloading the page does not
reset a user name's count. Pure: the clock is passed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

FREE_FAILURES = 5  # failures allowed before the first lockout
FIRST_LOCK_S = 30.0  # the first lockout; each further failure doubles it
MAX_LOCK_S = 3600.0
MAX_KEYS = 10_000  # beyond this, keys that are not locked are forgotten


@dataclass
class _Count:
    failures: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    """After ``free`` failures for a key, each further failure locks it for ``first_s`` doubled
    per failure past ``free`` (30 s, 60 s, 120 s, ... up to ``max_s``); a success clears it."""

    def __init__(
        self,
        *,
        free: int = FREE_FAILURES,
        first_s: float = FIRST_LOCK_S,
        max_s: float = MAX_LOCK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if free < 1 or first_s <= 0 or max_s < first_s:
            raise ValueError(f"free={free} must be >= 1 and 0 < first_s={first_s} <= max_s={max_s}")
        self.free, self.first_s, self.max_s, self.clock = free, first_s, max_s, clock
        self._counts: dict[Hashable, _Count] = {}
        self._lock = threading.Lock()

    def wait_s(self, keys: Iterable[Hashable]) -> float:
        """Seconds until none of ``keys`` is locked (0.0: an attempt may be checked now)."""
        now = self.clock()
        with self._lock:
            ends = [self._counts[k].locked_until for k in keys if k in self._counts]
        return max([0.0, *(end - now for end in ends)])

    def failed(self, keys: Iterable[Hashable]) -> float:
        """Count a failure for every key; returns the lockout it started (0.0: none yet)."""
        now = self.clock()
        lock = 0.0
        with self._lock:
            if len(self._counts) >= MAX_KEYS:
                self._forget_unlocked(now)
            for key in keys:
                count = self._counts.setdefault(key, _Count())
                count.failures += 1
                if count.failures >= self.free:
                    doubling = min(count.failures - self.free, 30)  # 2**30 s is past any cap
                    span = min(self.first_s * 2**doubling, self.max_s)
                    count.locked_until = max(count.locked_until, now + span)
                    lock = max(lock, span)
        return lock

    def succeeded(self, keys: Iterable[Hashable]) -> None:
        with self._lock:
            for key in keys:
                self._counts.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def _forget_unlocked(self, now: float) -> None:
        for key in [k for k, c in self._counts.items() if c.locked_until <= now]:
            del self._counts[key]
