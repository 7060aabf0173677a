"""MarketState: what the engine knows right now, built only from feed events.

It ingests ticks (spot, listings, books, resolutions) in time order and keeps
a struct of arrays of the live markets plus one realized-vol estimator per
symbol. It never sees anything a live feed would not have shown at ``ts``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.pricing.vol import EwmaVol
from engine.core.types import Book, Market, Resolution, SimTick
from engine.core.validation import check_range


@dataclass(frozen=True)
class VolConfig:
    """Realized vol: EWMA of 1-second log returns; NaN until ``warmup_s`` seconds of spot."""

    half_life_s: float = 300.0
    warmup_s: int = 120

    def __post_init__(self) -> None:
        check_range("half_life_s", self.half_life_s, 5.0, 86_400.0)
        check_range("warmup_s", self.warmup_s, 2, 86_400)


@dataclass(frozen=True)
class LiveMarkets:
    """Live markets as columns (one row per market), rebuilt when the set changes."""

    markets: tuple[Market, ...]
    market_id: np.ndarray
    symbol: np.ndarray
    window_s: np.ndarray
    start_ts: np.ndarray
    end_ts: np.ndarray
    strike: np.ndarray
    up_token: np.ndarray
    down_token: np.ndarray
    fee_rate: np.ndarray

    @classmethod
    def of(cls, markets: tuple[Market, ...]) -> LiveMarkets:
        def col(name: str, dtype: type) -> np.ndarray:
            return np.array([getattr(m, name) for m in markets], dtype=dtype)

        return cls(
            markets=markets,
            market_id=col("market_id", object),
            symbol=col("symbol", object),
            window_s=col("window_s", float),
            start_ts=col("start_ts", float),
            end_ts=col("end_ts", float),
            strike=col("strike", float),
            up_token=col("up_token", object),
            down_token=col("down_token", object),
            fee_rate=col("fee_rate", float),
        )

    def __len__(self) -> int:
        return len(self.markets)


class MarketState:
    """The engine's view of the market at the last applied tick.

    Spot is sampled once per tick (1 s); the last ``history_s`` samples per
    symbol are kept so strategies can measure moves over a lookback.
    """

    def __init__(self, vol: VolConfig | None = None, history_s: int = 900) -> None:
        self.vol_config = vol or VolConfig()
        self.history_s = history_s
        self._hist: dict[str, np.ndarray] = {}
        self._n = 0
        self.ts = float("nan")
        self.spot: dict[str, float] = {}
        self.books: dict[str, Book] = {}
        self.live = LiveMarkets.of(())
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
            hist[slot] = price
            est = self._vol.get(symbol)
            if est is None:
                est = self._vol[symbol] = EwmaVol(half_life_s=self.vol_config.half_life_s)
                self._first_ts[symbol] = tick.ts
            est.update(tick.ts, price)
            self.spot[symbol] = price
        self.books = tick.books
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
