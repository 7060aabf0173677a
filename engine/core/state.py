"""MarketState: what the engine knows right now, built only from feed events.

It ingests ticks (spot, listings, books, resolutions, leader trades,
headlines) in time order and keeps a struct of arrays of the live markets plus
per-symbol arrays (spot, its time, a spot history, realized vol). It never
sees anything a live feed would not have shown at ``ts``. Everything a
strategy reads per market is an array indexed by ``live.sym`` (the market's
symbol slot), so a tick costs the same whether 6 or 600 markets are live.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.pricing.vol import EwmaVolArray
from engine.core.types import Book, Headline, Market, Resolution, Tick, WalletTrade
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

    Columns are the fields of :class:`engine.core.types.Market` as numpy arrays,
    plus ``sym``: each market's symbol slot in the MarketState.
    """

    def __init__(
        self,
        markets: tuple[Market, ...],
        sym: np.ndarray | None = None,
        phase: np.ndarray | None = None,
    ) -> None:
        self.markets = markets
        for name, dtype in _MARKET_COLUMNS.items():
            setattr(self, name, np.array([getattr(m, name) for m in markets], dtype=dtype))
        self.sym = np.zeros(len(markets), dtype=int) if sym is None else sym
        self.is_range = self.kind == "range"
        # A per-market number that spreads periodic evaluations over the seconds of a
        # period, so 600 markets do not all wake up in the same tick (see MarketState).
        self.phase = np.zeros(len(markets), dtype=np.int64) if phase is None else phase
        self._masks: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.markets)

    def static_mask(self, kind: str, symbols: list[str], windows: list[int]) -> np.ndarray:
        """Rows of ``kind`` on ``symbols`` and ``windows`` (cached until the set changes)."""
        key = (kind, tuple(symbols), tuple(windows))
        mask = self._masks.get(key)
        if mask is None:
            mask = self._masks[key] = (
                (self.kind == kind)
                & np.isin(self.symbol, list(symbols))
                & np.isin(self.window_s, windows)
            )
        return mask


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
        self.books: dict[str, Book] = {}
        self.live = LiveMarkets(())
        self.wallet_trades: list[WalletTrade] = []
        self.news: list[Headline] = []
        self.symbols: list[str] = []
        self._slot: dict[str, int] = {}
        self.spot_arr = np.empty(0)
        self.spot_ts_arr = np.empty(0)
        self._first_ts = np.empty(0)
        self._hist = np.empty((history_s, 0))
        self._vol = EwmaVolArray(self.vol_config.half_life_s, capacity=0)
        self._sigma_cache: tuple[float, np.ndarray] | None = None
        self._n = 0
        self._last_keys: tuple[str, ...] = ()
        self._phases: dict[str, int] = {}
        self._next_phase = 0
        self._last_slots = np.empty(0, dtype=int)

    # -- ingest -----------------------------------------------------------------------
    def slot(self, symbol: str) -> int:
        """The array slot of ``symbol``, allocating one the first time it is seen."""
        i = self._slot.get(symbol)
        if i is None:
            i = self._slot[symbol] = len(self.symbols)
            self.symbols.append(symbol)
            self.spot_arr = np.append(self.spot_arr, np.nan)
            self.spot_ts_arr = np.append(self.spot_ts_arr, np.nan)
            self._first_ts = np.append(self._first_ts, np.nan)
            self._hist = np.hstack([self._hist, np.full((self.history_s, 1), np.nan)])
            self._vol.grow(len(self.symbols))
        return i

    def apply(self, tick: Tick) -> list[Resolution]:
        """Ingest one tick; returns the markets it resolved."""
        self.ts = tick.ts
        self._sigma_cache = None
        row = self._n % self.history_s
        self._n += 1
        # Carry every symbol's last spot forward, then write this tick's.
        self._hist[row] = self._hist[(row - 1) % self.history_s] if self._n > 1 else np.nan
        if tick.spot:
            keys = tuple(tick.spot)
            if keys == self._last_keys:
                slots = self._last_slots
            else:
                slots = np.fromiter((self.slot(s) for s in keys), dtype=int, count=len(keys))
                self._last_keys, self._last_slots = keys, slots
            prices = np.fromiter(tick.spot.values(), dtype=float, count=len(tick.spot))
            new = np.isnan(self._first_ts[slots])
            if new.any():
                self._first_ts[slots[new]] = tick.ts
                self._hist[:, slots[new]] = prices[new]  # a new symbol's history starts flat
            self._hist[row, slots] = prices
            self.spot_arr[slots] = prices
            self.spot_ts_arr[slots] = tick.ts
            self._vol.update(slots, tick.ts, prices)
            self.spot.update(tick.spot)
        self.books = tick.books
        self.wallet_trades = tick.wallet_trades
        self.news = tick.news
        if tick.listed or tick.resolved:
            gone = {r.market_id for r in tick.resolved}
            kept = tuple(m for m in self.live.markets if m.market_id not in gone)
            markets = kept + tuple(tick.listed)
            live_keys = {m.event_id or m.market_id for m in markets}
            self._phases = {k: v for k, v in self._phases.items() if k in live_keys}
            sym = np.array([self.slot(m.symbol) for m in markets], dtype=int)
            self.live = LiveMarkets(
                markets, sym, np.array([self._phase_of(m) for m in markets], dtype=np.int64)
            )
        return tick.resolved

    def _phase_of(self, market: Market) -> int:
        """Markets get consecutive phases in the order they are listed, so every second of a
        period evaluates the same number of them; an event's legs share one (they are
        evaluated together). The order is the feed's, so a replay assigns the same phases."""
        key = market.event_id or market.market_id
        phase = self._phases.get(key)
        if phase is None:
            phase = self._phases[key] = self._next_phase
            self._next_phase += 1
        return phase

    # -- per-symbol reads ---------------------------------------------------------------
    def spot_ago(self, symbol: str, seconds: int) -> float:
        """Spot ``seconds`` ticks ago (the oldest kept sample if the history is shorter)."""
        return float(self.spots_ago(np.array([self._slot[symbol]]), seconds)[0])

    def spots_ago(self, slots: np.ndarray, seconds: int) -> np.ndarray:
        """Spot of each symbol slot ``seconds`` ticks ago."""
        if not 0 <= seconds < self.history_s:
            raise ValueError(f"seconds={seconds} must be in [0, {self.history_s})")
        back = min(seconds, self._n - 1)
        return self._hist[(self._n - 1 - back) % self.history_s, slots]

    def sigma_arr(self) -> np.ndarray:
        """Annualised realized vol per symbol slot; NaN during a symbol's warm-up."""
        if self._sigma_cache is None or self._sigma_cache[0] != self.ts:
            sigma = self._vol.sigma()
            sigma[self.ts - self._first_ts < self.vol_config.warmup_s] = np.nan
            self._sigma_cache = (self.ts, sigma)
        return self._sigma_cache[1]

    def sigma(self, symbol: str) -> float:
        """Annualised realized vol of ``symbol``; NaN during warm-up or if never seen."""
        i = self._slot.get(symbol)
        return float("nan") if i is None else float(self.sigma_arr()[i])
