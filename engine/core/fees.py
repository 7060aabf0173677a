"""Venue arithmetic: taker fees, ticks and share rounding (Polymarket CLOB rules).

- Taker fee per fill: ``shares x rate x (p (1 - p)) ** exponent``, rounded to
  5 decimals (exponent 1 on crypto markets); makers pay none.
- Tick 0.01, or 0.001 when the price is beyond 0.96 or below 0.04.
- Sizes are in shares with 2 decimals.
"""

from __future__ import annotations

import math

import numpy as np

FEE_DECIMALS = 5
SHARE_DECIMALS = 2
COARSE_TICK = 0.01
FINE_TICK = 0.001


def taker_fee(shares: float, price: float, rate: float, exponent: float = 1.0) -> float:
    """The taker fee in USD of one fill of ``shares`` at ``price``."""
    return round(shares * rate * (price * (1.0 - price)) ** exponent, FEE_DECIMALS)


def fee_per_share(price: np.ndarray | float, rate: np.ndarray | float) -> np.ndarray:
    """Unrounded taker fee of one share (for edge arithmetic; fills use :func:`taker_fee`)."""
    p = np.asarray(price, dtype=float)
    return np.asarray(rate, dtype=float) * p * (1.0 - p)


def tick_for(price: float) -> float:
    """The venue tick at ``price``: 0.001 beyond 0.96 or below 0.04, else 0.01."""
    return FINE_TICK if (price > 0.96 or price < 0.04) else COARSE_TICK


def floor_shares(shares: float) -> float:
    """Round a share count down to the venue's 0.01 share precision."""
    return math.floor(shares * 100 + 1e-9) / 100
