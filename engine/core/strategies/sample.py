"""A commented sample strategy to copy: buy the cheaper side of a market near its open.

Copy this file, rename the class, and add a YAML under ``conf/strategy/``
(see ``conf/strategy/sample.yaml``); enable it with
``edgeloop +strategy@strategies.sample=sample``. A strategy only proposes: the
gates it composes decide, the sizer chain sizes, the driver executes and
records. It must not do I/O, read a clock or keep mutable state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.sizers import Sizer
from engine.core.state import MarketState
from engine.core.strategies.base import Held, check_common
from engine.core.strategies.common import eligible, not_held, price_rows, window_trigger
from engine.core.types import DOWN, UP, UPDOWN
from engine.core.validation import check_declared, tunable


@dataclass(frozen=True)  # frozen: settings versions rebuild strategies, never mutate them
class SampleCheaperSide:
    # Every field is a YAML key. A tunable one is declared once with tunable(): default, bounds,
    # unit, who may change it, what it does; check_declared(self) refuses a bad value naming
    # the field and the rule, and `python -m engine.tunables` puts it in the settings schema.
    name: str = "sample"
    enabled: bool = True
    symbols: list[str] = field(default_factory=lambda: ["BTCUSDT"])
    windows: list[int] = field(default_factory=lambda: [300])
    eval_every_s: int = tunable(
        10,
        lo=1,
        hi=3600,
        unit="s",
        writers="governor",
        description="evaluate each live market every eval_every_s seconds",
    )
    max_elapsed_s: int = tunable(
        60,
        lo=1,
        hi=86400,
        unit="s",
        writers="governor",
        description="only the first max_elapsed_s seconds of a window",
    )
    gates: dict[str, Gate] = field(default_factory=dict)
    sizers: dict[str, Sizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_common(self)
        check_declared(self)

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        # 1. Which live markets to look at now: vectorised over all of them.
        rows = eligible(
            state,
            symbols=self.symbols,
            windows=self.windows,
            kind=UPDOWN,
            every_s=self.eval_every_s,
            min_elapsed_s=0,
            min_remaining_s=0,
        )
        rows &= (state.ts - state.live.start_ts) <= self.max_elapsed_s
        idx = np.flatnonzero(rows)
        if not len(idx):
            return SignalFrame.empty(self.name, state.ts)
        # 2. Which side: the one whose best ask is lower (books are keyed by token id).
        up_ask = np.array(
            [
                state.books[t].best_ask if t in state.books else np.nan
                for t in state.live.up_token[idx]
            ]
        )
        down_ask = np.array(
            [
                state.books[t].best_ask if t in state.books else np.nan
                for t in state.live.down_token[idx]
            ]
        )
        up = ~(down_ask < up_ask)
        # 3. Never enter a market side twice.
        keep = not_held(
            self.name, state.live.market_id[idx], np.where(up, UP, DOWN).astype(object), held
        )
        idx, up = idx[keep], up[keep]
        # 4. price_rows adds fair value, Greeks, edge after fees, book depth and ages;
        #    the trigger makes the idempotency key (one candidate per market, side and second).
        return price_rows(state, self.name, idx, up, window_trigger(state, idx))
