"""Follow Mirror: enter the token a leader wallet just bought, if the signal is fresh and cheap.

The wallet-trades feed delivers a leader's fill some seconds after it
happened. The strategy proposes the same token of the same market once per
leader fill (``trigger`` = wallet and fill time); its gates refuse signals
older than ``max_age_s`` and asks that moved more than ``max_slippage`` past
the leader's price. It is judged on its own fills, never on the leader's P&L.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.sizers import Sizer
from engine.core.state import MarketState
from engine.core.strategies.base import Held, check_common
from engine.core.strategies.common import not_held, price_rows
from engine.core.types import UP
from engine.core.validation import ConfigError


@dataclass(frozen=True)
class FollowMirror:
    name: str = "follow"
    enabled: bool = True
    leaders: list[str] = field(default_factory=list)
    gates: dict[str, Gate] = field(default_factory=dict)
    sizers: dict[str, Sizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_common(self)
        if not self.leaders:
            raise ConfigError("leaders", self.leaders, "must name at least one wallet to follow")

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        trades = [t for t in state.wallet_trades if t.wallet in self.leaders]
        if not trades:
            return SignalFrame.empty(self.name, state.ts)
        row_of = {m: i for i, m in enumerate(state.live.market_id.tolist())}
        trades = [t for t in trades if t.market_id in row_of]
        idx = np.array([row_of[t.market_id] for t in trades], dtype=int)
        up = np.array([t.side == UP for t in trades], dtype=bool)
        side = np.array([t.side for t in trades], dtype=object)
        keep = not_held(self.name, state.live.market_id[idx], side, held)
        # One candidate per market side and tick: the first leader to reach it.
        seen: set[tuple[int, bool]] = set()
        for i, (r, u) in enumerate(zip(idx.tolist(), up.tolist(), strict=True)):
            keep[i] &= (r, u) not in seen
            seen.add((r, u))
        trades = [t for t, k in zip(trades, keep, strict=True) if k]
        idx, up = idx[keep], up[keep]
        return price_rows(
            state,
            self.name,
            idx,
            up,
            np.array([f"{t.wallet}@{int(t.ts)}" for t in trades], dtype=object),
            age_s=np.array([state.ts - t.ts for t in trades]),
            ref_price=np.array([t.price for t in trades]),
        )
