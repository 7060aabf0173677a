"""Follow Mirror: enter the token a leader wallet just bought, if the signal is fresh and cheap.

The wallet-trades feed delivers a leader's fill some seconds after it
happened. A fill is ``BUY`` or ``SELL`` of a token; which outcome it is comes
from the token alone: the live market whose Up token it is (UP) or whose Down
token it is (DOWN). The strategy proposes that token of that market once per
leader ``BUY`` (``trigger`` = wallet and fill time); its gates refuse signals
older than ``max_age_s`` and asks that moved more than ``max_slippage`` past
the leader's price. It is judged on its own fills, never on the leader's P&L.

A leader's ``SELL`` is the leader leaving a position. It is never copied as a
buy of that token (nor read as a buy of the other one: selling Up at 0.40 is
not buying Down at 0.60 for anyone who does not hold Up): the row is proposed
rejected with ``strategy.leader_exit``, so the ledger shows what was skipped.
Exiting our own position when the leader exits is out of scope: the engine
holds positions to resolution. A fill on a token of no live market (or of a
market other than the one the trade names) cannot be priced or recorded
against a market, so it is left out; ``match_leader_trades`` gives the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.sizers import Sizer
from engine.core.state import LiveMarkets, MarketState
from engine.core.strategies.base import Held, check_common
from engine.core.strategies.common import not_held, price_rows
from engine.core.types import BUY, DOWN, SELL, UP, WalletTrade
from engine.core.validation import ConfigError

LEADER_EXIT = "strategy.leader_exit"
UNKNOWN_TOKEN = "strategy.unknown_token"
UNKNOWN_SIDE = "strategy.unknown_side"


def match_leader_trades(
    trades: Sequence[WalletTrade], live: LiveMarkets
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(idx, up, reason)`` per trade: its live-market row (-1 if none), whether its token
    is that market's Up token, and why it is not copied (None for a ``BUY`` to copy)."""
    token_of = {t: (i, True) for i, t in enumerate(live.up_token.tolist())}
    token_of.update((t, (i, False)) for i, t in enumerate(live.down_token.tolist()))
    idx, up, reason = [], [], []
    for t in trades:
        row, is_up = token_of.get(t.token_id, (-1, False))
        if row >= 0 and live.market_id[row] != t.market_id:
            row = -1
        idx.append(row)
        up.append(is_up)
        if row < 0:
            reason.append(UNKNOWN_TOKEN)
        elif t.side == BUY:
            reason.append(None)
        else:
            reason.append(LEADER_EXIT if t.side == SELL else UNKNOWN_SIDE)
    return np.array(idx, dtype=int), np.array(up, dtype=bool), np.array(reason, dtype=object)


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
        if not trades or not len(state.live):
            return SignalFrame.empty(self.name, state.ts)
        idx, up, reason = match_leader_trades(trades, state.live)
        copy = np.equal(reason, None)
        side = np.where(up, UP, DOWN).astype(object)
        keep = (idx >= 0) & (~copy | not_held(self.name, state.live.market_id[idx], side, held))
        # One row per market side, kind (copy or skip) and tick: the first leader to reach it.
        seen: set[tuple[int, bool, bool]] = set()
        for i, key in enumerate(zip(idx.tolist(), up.tolist(), copy.tolist(), strict=True)):
            keep[i] &= key not in seen
            seen.add(key)
        trades = [t for t, k in zip(trades, keep, strict=True) if k]
        idx, up, reason, copy = idx[keep], up[keep], reason[keep], copy[keep]
        # A skipped row gets its own trigger: its key must not collide with a copy's.
        trigger = [
            f"{t.wallet}@{int(t.ts)}" + ("" if c else ":skip")
            for t, c in zip(trades, copy.tolist(), strict=True)
        ]
        frame = price_rows(
            state,
            self.name,
            idx,
            up,
            np.array(trigger, dtype=object),
            age_s=np.array([state.ts - t.ts for t in trades]),
            ref_price=np.array([t.price for t in trades]),
        )
        if len(frame):
            frame.reject(~copy, reason, 1.0)
        return frame
