"""``SimFeed``: the market simulator behind the :class:`engine.ports.Feed` port."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engine.core.types import Tick
from engine.sim.simulator import MarketSimulator


@dataclass(frozen=True, eq=False)
class SimFeed:
    """One tick per simulated second from ``simulator``, from its start.

    The simulator is deterministic, so resuming after ``ts`` replays every tick
    from the start: the loop applies those at or before ``ts`` to its market state
    only (warm-up), exactly what the uninterrupted run had seen.
    """

    simulator: MarketSimulator

    @property
    def start_ts(self) -> float:
        return self.simulator.start_ts

    def identity(self) -> Mapping[str, object]:
        prefix = self.simulator.market_prefix
        return {
            "kind": "sim",
            "seed": self.simulator.seed,
            "fingerprint": hashlib.sha1(prefix.encode()).hexdigest()[:12],
            "market_prefix": prefix,
        }

    def ticks(self, after: float | None = None) -> Iterator[Tick]:
        # `after` changes nothing here: warm-up is every tick up to it, as the loop needs.
        sim = self.simulator
        while True:
            yield sim.step()
