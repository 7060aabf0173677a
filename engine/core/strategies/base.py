"""The strategy contract: one method that turns a market snapshot into candidates.

A strategy is a frozen dataclass whose fields are its YAML keys. It owns its
gates and its sizer chain (dicts of named components, run in order by
``engine.core.pipeline``), and implements ``propose``. Nothing else: no
clock, no cache, no I/O. ``enabled: false`` keeps it configured but idle.
See ``engine/core/strategies/sample.py`` for a commented one to copy.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any, Protocol

from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.sizers import Sizer
from engine.core.state import MarketState
from engine.core.validation import ConfigError

# (strategy, market_id, side) of positions already held: a strategy enters a
# market's side at most once per window.
Held = Set[tuple[str, str, str]]


class Strategy(Protocol):
    name: str
    enabled: bool
    gates: dict[str, Gate]
    sizers: dict[str, Sizer]

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        """Candidates for every live market this strategy trades, as of ``state.ts``."""
        ...


def check_common(strategy: Any) -> None:
    """Checks every strategy shares: a name, symbols, windows, a sizer chain."""
    if not strategy.name or not str(strategy.name).replace("_", "").isalnum():
        raise ConfigError("name", strategy.name, "must be a non-empty identifier")
    if not isinstance(strategy.enabled, bool):
        raise ConfigError("enabled", strategy.enabled, "must be true or false")
    if hasattr(strategy, "symbols") and not strategy.symbols:
        raise ConfigError("symbols", strategy.symbols, "must name at least one symbol")
    if hasattr(strategy, "windows") and not strategy.windows:
        raise ConfigError("windows", strategy.windows, "must name at least one window length")
    if not strategy.sizers:
        raise ConfigError("sizers", strategy.sizers, "must hold at least one sizer")
