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
    """The engine's view of the market at the last applied tick."""

    def __init__(self, vol: VolConfig | None = None) -> None:
        self.vol_config = vol or VolConfig()
        self.ts = float("nan")
        self.spot: dict[str, float] = {}
        self.books: dict[str, Book] = {}
        self.live = LiveMarkets.of(())
        self._vol: dict[str, EwmaVol] = {}
        self._first_ts: dict[str, float] = {}

    def apply(self, tick: SimTick) -> list[Resolution]:
        """Ingest one tick; returns the markets it resolved."""
        self.ts = tick.ts
        for symbol, price in tick.spot.items():
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

    def sigma(self, symbol: str) -> float:
        """Annualised realized vol of ``symbol``; NaN during warm-up."""
        est = self._vol.get(symbol)
        if est is None or self.ts - self._first_ts[symbol] < self.vol_config.warmup_s:
            return float("nan")
        return float(est.sigma)
