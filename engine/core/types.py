"""Value types shared by the simulator, the drivers and the pure core.

Everything here is plain data: frozen dataclasses holding numpy arrays or
scalars. Times are UTC epoch seconds (float); prices are probabilities in
(0, 1); sizes are shares (one share pays $1 if its outcome happens).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UP = "UP"
DOWN = "DOWN"


@dataclass(frozen=True, slots=True)
class Book:
    """One token's L2 order book, best level first on both sides.

    ``bids`` and ``asks`` are float arrays of shape ``(n, 2)``: column 0 the
    price, column 1 the size in shares. Bids are sorted by price descending,
    asks ascending, so ``asks[0]`` is the best ask. ``ts`` is when the book
    was published (epoch seconds). ``tick`` is the venue tick at that moment.
    """

    token_id: str
    bids: np.ndarray
    asks: np.ndarray
    ts: float
    tick: float = 0.01

    @property
    def best_bid(self) -> float:
        return float(self.bids[0, 0]) if len(self.bids) else float("nan")

    @property
    def best_ask(self) -> float:
        return float(self.asks[0, 0]) if len(self.asks) else float("nan")

    @property
    def mid(self) -> float:
        return 0.5 * (self.best_bid + self.best_ask)


@dataclass(frozen=True, slots=True)
class Market:
    """An Up/Down market: pays $1 per UP share if spot at ``end_ts`` >= ``strike``.

    ``strike`` is the spot price at ``start_ts`` (the window start).
    """

    market_id: str
    symbol: str
    window_s: int
    start_ts: float
    end_ts: float
    strike: float
    up_token: str
    down_token: str
    fee_rate: float


@dataclass(frozen=True, slots=True)
class Resolution:
    """A market's outcome: ``winner`` is ``UP`` when end price >= start price (ties go Up)."""

    market_id: str
    winner: str
    start_price: float
    end_price: float
    ts: float


@dataclass(frozen=True, slots=True)
class SimTick:
    """What a live feed would have shown at ``ts`` (never anything later).

    ``spot``: last spot price per symbol. ``listed``: markets whose window
    started at ``ts``. ``books``: the current published book of every token of
    every live market. ``resolved``: markets whose window ended at ``ts``.
    """

    ts: float
    spot: dict[str, float]
    listed: list[Market] = field(default_factory=list)
    books: dict[str, Book] = field(default_factory=dict)
    resolved: list[Resolution] = field(default_factory=list)
