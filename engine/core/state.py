"""MarketState: what the engine knows right now, built only from feed events.

It ingests ticks (spot, listings, books, resolutions, leader trades,
headlines) in time order and keeps a struct of arrays of the live markets plus
one realized-vol estimator per symbol. It never sees anything a live feed
would not have shown at ``ts``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.pricing.vol import EwmaVol
from engine.core.types import Book, Headline, Market, Resolution, SimTick, WalletTrade
from engine.core.validation import check_range


@dataclass(frozen=True)
class VolConfig:
    """Realized vol: EWMA of 1-second log returns; NaN until ``warmup_s`` seconds of spot."""

    half_life_s: float = 300.0
    warmup_s: int = 120

    def __post_init__(self) -> None:
        check_range("half_life_s", self.half_life_s, 5.0, 86_400.0)
        check_range("warmup_s", self.warmup_s, 2, 86_400)


_MARKET_COLUMNS = {
    "market_id": object,
    "symbol": object,
    "window_s": float,
    "start_ts": float,
    "end_ts": float,
    "strike": float,
    "up_token": object,
    "down_token": object,
    "fee_rate": float,
    "kind": object,
    "event_id": object,
    "low": float,
    "high": float,
    "label": object,
    "augmented": bool,
}


class LiveMarkets:
    """Live markets as columns (one row per market), rebuilt when the set changes.

    Columns are the fields of :class:`engine.core.types.Market`, as numpy arrays.
    """

    def __init__(self, markets: tuple[Market, ...]) -> None:
        self.markets = markets
        for name, dtype in _MARKET_COLUMNS.items():
            setattr(self, name, np.array([getattr(m, name) for m in markets], dtype=dtype))

    @classmethod
    def of(cls, markets: tuple[Market, ...]) -> LiveMarkets:
        return cls(markets)

    def __len__(self) -> int:
        return len(self.markets)


class MarketState:
    """The engine's view of the market at the last applied tick.

    Spot is sampled once per tick (1 s); the last ``history_s`` samples per
    symbol are kept so strategies can measure moves over a lookback.
    ``wallet_trades`` and ``news`` hold what the feeds delivered in the last
    tick only (a strategy reacts to them once).
    """

    def __init__(self, vol: VolConfig | None = None, history_s: int = 900) -> None:
        self.vol_config = vol or VolConfig()
        self.history_s = history_s
        self.ts = float("nan")
        self.spot: dict[str, float] = {}
        self.spot_ts: dict[str, float] = {}
        self.books: dict[str, Book] = {}
        self.live = LiveMarkets.of(())
        self.wallet_trades: list[WalletTrade] = []
        self.news: list[Headline] = []
        self._hist: dict[str, np.ndarray] = {}
        self._n = 0
        self._vol: dict[str, EwmaVol] = {}
        self._first_ts: dict[str, float] = {}

    def apply(self, tick: SimTick) -> list[Resolution]:
        """Ingest one tick; returns the markets it resolved."""
        self.ts = tick.ts
        slot = self._n % self.history_s
        self._n += 1
        for symbol, price in tick.spot.items():
            hist = self._hist.get(symbol)
            if hist is None:
                hist = self._hist[symbol] = np.full(self.history_s, float(price))
                self._vol[symbol] = EwmaVol(half_life_s=self.vol_config.half_life_s)
                self._first_ts[symbol] = tick.ts
            hist[slot] = price
            self._vol[symbol].update(tick.ts, price)
            self.spot[symbol] = price
            self.spot_ts[symbol] = tick.ts
        self.books = tick.books
        self.wallet_trades = tick.wallet_trades
        self.news = tick.news
        if tick.listed or tick.resolved:
            gone = {r.market_id for r in tick.resolved}
            kept = tuple(m for m in self.live.markets if m.market_id not in gone)
            self.live = LiveMarkets.of(kept + tuple(tick.listed))
        return tick.resolved

    def spot_ago(self, symbol: str, seconds: int) -> float:
        """Spot ``seconds`` ticks ago (the oldest kept sample if the history is shorter)."""
        if not 0 <= seconds < self.history_s:
            raise ValueError(f"seconds={seconds} must be in [0, {self.history_s})")
        back = min(seconds, self._n - 1)
        return float(self._hist[symbol][(self._n - 1 - back) % self.history_s])

    def sigma(self, symbol: str) -> float:
        """Annualised realized vol of ``symbol``; NaN during warm-up."""
        est = self._vol.get(symbol)
        if est is None or self.ts - self._first_ts[symbol] < self.vol_config.warmup_s:
            return float("nan")
        return float(est.sigma)

    def per_symbol(self, symbols: np.ndarray, values: dict[str, float]) -> np.ndarray:
        """``values[s]`` for each ``s`` in ``symbols`` (NaN where missing), one lookup per symbol."""
        out = np.full(len(symbols), np.nan)
        for s in set(symbols.tolist()):
            out[symbols == s] = values.get(s, np.nan)
        return out

    def sigmas(self, symbols: np.ndarray) -> np.ndarray:
        return self.per_symbol(symbols, {s: self.sigma(s) for s in set(symbols.tolist())})
