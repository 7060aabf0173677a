"""Up/Down Capture: buy the side a statistically meaningful move favours, when the book lags.

After spot has moved ``z`` sigma over the last ``lookback_s`` seconds,
``z = ln(S_now / S_lookback) / (sigma sqrt(lookback))``, the fair value of the
token in the direction of the move, ``N(d2)`` against the window's strike,
rises before the order book catches up. The strategy proposes that token on every live market at every
``eval_every_s`` seconds of the window; its gates (sigma, dead zone, max odds,
min edge) decide which candidates are worth taking. It wants +gamma: mostly
at- and out-of-the-money tokens, early enough in the window to move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.core.fees import fee_per_share
from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.pricing import (
    SECONDS_PER_YEAR,
    implied_vol,
    price_greeks,
    scaled_greeks,
    sigma_move,
)
from engine.core.sizers import Sizer
from engine.core.state import MarketState
from engine.core.strategies.base import Held
from engine.core.types import DOWN, UP
from engine.core.validation import ConfigError, check_range


@dataclass(frozen=True)
class UpDownCapture:
    name: str = "updown"
    symbols: list[str] = field(default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    windows: list[int] = field(default_factory=lambda: [300, 900])
    lookback_s: int = 30
    eval_every_s: int = 5
    min_elapsed_s: int = 30
    min_remaining_s: int = 15
    gates: dict[str, Gate] = field(default_factory=dict)
    sizers: dict[str, Sizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ConfigError("symbols", self.symbols, "must name at least one symbol")
        if not self.windows:
            raise ConfigError("windows", self.windows, "must name at least one window length")
        check_range("lookback_s", self.lookback_s, 1, 600)
        check_range("eval_every_s", self.eval_every_s, 1, 3600)
        check_range("min_elapsed_s", self.min_elapsed_s, 1, 86_400)
        check_range("min_remaining_s", self.min_remaining_s, 0, 86_400)
        if not self.sizers:
            raise ConfigError("sizers", self.sizers, "must hold at least one sizer")

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        live = state.live
        now = state.ts
        elapsed = now - live.start_ts
        remaining = live.end_ts - now
        sigma = np.array([state.sigma(s) for s in live.symbol], dtype=float)
        rows = (
            np.isin(live.symbol, self.symbols)
            & np.isin(live.window_s, self.windows)
            & (elapsed >= self.min_elapsed_s)
            & (remaining >= self.min_remaining_s)
            & (np.mod(elapsed, self.eval_every_s) == 0)
            & np.isfinite(sigma)
            & (sigma > 0)
        )
        if not rows.any():
            return SignalFrame.empty(self.name, now)
        idx = np.flatnonzero(rows)
        S = np.array([state.spot[s] for s in live.symbol[idx]], dtype=float)
        K = live.strike[idx]
        sig = sigma[idx]
        S_ref = np.array([state.spot_ago(s, self.lookback_s) for s in live.symbol[idx]])
        z = sigma_move(S, S_ref, sig, self.lookback_s / SECONDS_PER_YEAR)
        up = z >= 0.0
        side = np.where(up, UP, DOWN).astype(object)
        token = np.where(up, live.up_token[idx], live.down_token[idx]).astype(object)
        market_id = live.market_id[idx]
        fresh = np.array(
            [(self.name, m, s) not in held for m, s in zip(market_id, side, strict=True)]
        )
        has_book = np.array([t in state.books for t in token])
        keep = fresh & has_book
        if not keep.any():
            return SignalFrame.empty(self.name, now)
        idx, S, K, sig, z, up = idx[keep], S[keep], K[keep], sig[keep], z[keep], up[keep]
        side, token, market_id = side[keep], token[keep], market_id[keep]

        T = remaining[idx] / SECONDS_PER_YEAR
        call = price_greeks(S, K, T, sig, kind="call")
        put = price_greeks(S, K, T, sig, kind="put")
        g = type(call)(*(np.where(up, c, p) for c, p in zip(call, put, strict=True)))
        scaled = scaled_greeks(g, S)
        books = [state.books[t] for t in token]
        ask = np.array([b.best_ask for b in books])
        ask_size = np.array([b.asks[0, 1] if len(b.asks) else 0.0 for b in books])
        fee_rate = live.fee_rate[idx]
        iv = np.where(
            up,
            implied_vol(ask, S, K, T, kind="call"),
            implied_vol(ask, S, K, T, kind="put"),
        )
        elapsed_i = elapsed[idx].astype(int)
        return SignalFrame(
            strategy=self.name,
            ts=now,
            market_id=market_id,
            symbol=live.symbol[idx],
            side=side,
            token_id=token,
            trigger=np.array([f"t+{e:05d}s" for e in elapsed_i], dtype=object),
            price=ask,
            ask_size=ask_size,
            fair=g.price,
            edge=g.price - ask - fee_per_share(ask, fee_rate),
            z=z,
            sigma=sig,
            t_remaining_s=remaining[idx],
            fee_rate=fee_rate,
            delta_1pct=scaled.delta_1pct,
            gamma_1pct=scaled.gamma_1pct,
            vega_1pt=scaled.vega_1pt,
            theta_1min=scaled.theta_1min,
            iv=iv,
            iv_rv=iv / sig,
        )
