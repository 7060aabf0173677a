"""The strategy contract: one method that turns a market snapshot into candidates.

A strategy is a frozen dataclass whose fields are its YAML keys. It owns its
gates and its sizer chain (dicts of named components, run in order by
``engine.core.pipeline``), and implements ``propose``. Nothing else: no
clock, no cache, no I/O.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol

from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.sizers import Sizer
from engine.core.state import MarketState

# (strategy, market_id, side) of positions already held: a strategy enters a
# market's side at most once per window.
Held = Set[tuple[str, str, str]]


class Strategy(Protocol):
    name: str
    gates: dict[str, Gate]
    sizers: dict[str, Sizer]

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        """Candidates for every live market this strategy trades, as of ``state.ts``."""
        ...
