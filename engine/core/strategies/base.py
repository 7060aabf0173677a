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
from engine.core.validation import ConfigError, tunable

# (strategy, market_id, side) of positions already held (filled, or an order working): a
# strategy enters a market's side at most once per window, and with ``hold: market`` one side
# of a market at most (see HOLD).
Held = Set[tuple[str, str, str]]

# What one position blocks, a strategy's ``hold`` field: "market" (one position per market:
# never both UP and DOWN of it) or "side" (one per side: a strategy that bought UP may buy DOWN
# of the same market later, when the move reverses). Up/Down Capture and ITM Capture default
# to "market": holding both sides of a binary is paying two asks (and two fees) for a payout
# of 1, a sure loss unless the asks sum under 1 - fees, which is the arb strategy's job.
HOLD = ("market", "side")


class Strategy(Protocol):
    name: str
    enabled: bool
    gates: dict[str, Gate]
    sizers: dict[str, Sizer]

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        """Candidates for every live market this strategy trades, as of ``state.ts``."""
        ...


def check_common(strategy: Any) -> None:
    """Checks every strategy shares: a name, symbols, windows, a sizer chain, ``hold``."""
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
    if hasattr(strategy, "hold"):
        check_hold(strategy.hold)


def eval_every(default: int, what: str = "live market") -> Any:
    """The ``eval_every_s`` field of a strategy that scans its markets: declared once here."""
    return tunable(
        default, lo=1, hi=3600, unit="s", writers="governor",
        description=f"evaluate each {what} every eval_every_s seconds",
    )  # fmt: skip


def min_remaining(default: int, description: str = "no candidate with less than this left") -> Any:
    """The ``min_remaining_s`` field (no entry this close to a window's end): declared once here."""
    return tunable(
        default, lo=0, hi=86_400, unit="s", writers="governor", description=description
    )  # fmt: skip


def check_hold(hold: object) -> None:
    """``hold`` must be one of :data:`HOLD` (ConfigError naming the field, value and choices)."""
    if not (isinstance(hold, str) and hold in HOLD):
        raise ConfigError("hold", hold, "must be one of " + ", ".join(repr(h) for h in HOLD))
