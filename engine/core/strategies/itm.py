"""ITM Capture: buy the in-the-money token late in the window, when the book under-prices it.

Late in a window an in-the-money binary (priced ~0.80-0.97) has negative gamma
and positive theta: it wants stillness, and every quiet second moves its fair
value toward 1. The strategy proposes the in-the-money token of every live
Up/Down market with at most ``max_remaining_s`` seconds left; its gates keep
entries inside the odds band (its own max-odds, above Up/Down Capture's), with
an edge after fees, low realized vol and a gamma leash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.sizers import Sizer
from engine.core.state import MarketState
from engine.core.strategies.base import Held, check_common, eval_every, min_remaining
from engine.core.strategies.common import eligible, move_z, not_held, price_rows, window_trigger
from engine.core.types import DOWN, UP, UPDOWN
from engine.core.validation import check_declared, check_order, tunable


@dataclass(frozen=True)
class ItmCapture:
    name: str = "itm"
    enabled: bool = True
    symbols: list[str] = field(default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    windows: list[int] = field(default_factory=lambda: [300, 900])
    lookback_s: int = tunable(
        30,
        lo=1,
        hi=600,
        unit="s",
        writers="governor",
        description="z (recorded) over the last lookback_s seconds",
    )
    eval_every_s: int = eval_every(5)
    min_remaining_s: int = min_remaining(10)
    max_remaining_s: int = tunable(
        120,
        lo=1,
        hi=86_400,
        unit="s",
        writers="governor",
        description="only the last max_remaining_s seconds of a window",
    )
    hold: str = "market"  # one position per market, never both sides (base.HOLD)
    gates: dict[str, Gate] = field(default_factory=dict)
    sizers: dict[str, Sizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_common(self)
        check_declared(self)
        check_order(
            "min_remaining_s", self.min_remaining_s, "max_remaining_s", self.max_remaining_s
        )

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        rows = eligible(
            state,
            symbols=self.symbols,
            windows=self.windows,
            kind=UPDOWN,
            every_s=self.eval_every_s,
            min_elapsed_s=0,
            min_remaining_s=self.min_remaining_s,
            max_remaining_s=self.max_remaining_s,
        )
        idx = np.flatnonzero(rows)
        if not len(idx):
            return SignalFrame.empty(self.name, state.ts)
        live = state.live
        spot = state.spot_arr[live.sym[idx]]
        up = spot >= live.strike[idx]  # the in-the-money side (ties go Up, as resolution does)
        side = np.where(up, UP, DOWN).astype(object)
        keep = not_held(self.name, live.market_id[idx], side, held, self.hold)
        idx, up = idx[keep], up[keep]
        z = move_z(state, idx, self.lookback_s)
        return price_rows(state, self.name, idx, up, window_trigger(state, idx), z=z)
