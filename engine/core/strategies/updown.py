"""Up/Down Capture: buy the side a statistically meaningful move favours, when the book lags.

After spot has moved ``z`` sigma over the last ``lookback_s`` seconds,
``z = ln(S_now / S_lookback) / (sigma sqrt(lookback))``, the fair value of the
token in the direction of the move, ``N(d2)`` against the window's strike,
rises before the order book catches up. The strategy proposes that token on
every live Up/Down market every ``eval_every_s`` seconds of the window; its
gates (sigma, dead zone, max odds, min edge) decide which candidates are worth
taking. It wants +gamma: mostly at- and out-of-the-money tokens, early enough
in the window to move.
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
from engine.core.validation import check_declared, tunable


@dataclass(frozen=True)
class UpDownCapture:
    name: str = "updown"
    enabled: bool = True
    symbols: list[str] = field(default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    windows: list[int] = field(default_factory=lambda: [300, 900])
    lookback_s: int = tunable(
        30,
        lo=1,
        hi=600,
        unit="s",
        writers="governor",
        description="the move z is measured over the last lookback_s seconds",
    )
    eval_every_s: int = eval_every(5)
    min_elapsed_s: int = tunable(
        30,
        lo=1,
        hi=86_400,
        unit="s",
        writers="governor",
        description="no candidate before this much of the window has passed",
    )
    min_remaining_s: int = min_remaining(15)
    hold: str = "market"  # one position per market, never both sides (base.HOLD)
    gates: dict[str, Gate] = field(default_factory=dict)
    sizers: dict[str, Sizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_common(self)
        check_declared(self)

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        rows = eligible(
            state,
            symbols=self.symbols,
            windows=self.windows,
            kind=UPDOWN,
            every_s=self.eval_every_s,
            min_elapsed_s=self.min_elapsed_s,
            min_remaining_s=self.min_remaining_s,
        )
        idx = np.flatnonzero(rows)
        if not len(idx):
            return SignalFrame.empty(self.name, state.ts)
        z = move_z(state, idx, self.lookback_s)
        up = ~(z < 0)  # NaN (warm-up) proposes UP and is rejected by the sigma gate
        side = np.where(up, UP, DOWN).astype(object)
        keep = not_held(self.name, state.live.market_id[idx], side, held, self.hold)
        idx, z, up = idx[keep], z[keep], up[keep]
        return price_rows(state, self.name, idx, up, window_trigger(state, idx), z=z)
