"""Realized-volatility estimators, annualised on the 365-day clock crypto trades on.

All sigmas here are annualised like the ``sigma`` of :mod:`.binary`: the
standard deviation of log returns over one 365-day year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine.core.pricing.binary import (
    SECONDS_PER_YEAR,
    _as_float,
    _raise_first,
    _require_nonnegative,
    _require_positive,
)

__all__ = [
    "IV_RV_SANE",
    "EwmaVol",
    "degenerate_iv_rv",
    "garman_klass",
    "iv_rv_ratio",
    "parkinson",
    "sigma_move",
]

FloatArray = NDArray[np.float64]

_FOUR_LN2 = 4.0 * math.log(2.0)
_GK_CLOSE = 2.0 * math.log(2.0) - 1.0


@dataclass(slots=True)
class EwmaVol:
    """Exponentially weighted realized vol from a stream of (timestamp, price) ticks.

    Each tick contributes its log return squared divided by its duration, a
    per-second variance, so irregular spacing (gaps, bursts) is handled; the
    weight of a tick decays by half every ``half_life_s`` seconds of elapsed
    time. The average is normalised by its total weight, so the first
    returns are not biased towards zero. Feed 1-second samples for the
    estimate the engine uses.

    Parameters
    ----------
    half_life_s : float
        Half-life of the weights in seconds, finite and > 0.
    """

    half_life_s: float
    _sum: float = field(default=0.0, init=False, repr=False)
    _weight: float = field(default=0.0, init=False, repr=False)
    _ts: float = field(default=math.nan, init=False, repr=False)
    _log_price: float = field(default=math.nan, init=False, repr=False)

    def __post_init__(self) -> None:
        h = self.half_life_s
        if isinstance(h, bool) or not (isinstance(h, Real) and math.isfinite(h) and h > 0.0):
            raise ValueError(f"half_life_s={h!r} must be a finite number in (0, inf) seconds")

    def update(self, ts: float, price: float) -> float:
        """Add a tick (``ts`` in seconds, ``price`` > 0); returns the current :attr:`sigma`.

        A tick with the same timestamp as the last one only replaces the price
        the next return is measured from; a timestamp earlier than the last
        one raises ValueError.
        """
        if not math.isfinite(ts):
            raise ValueError(f"ts={ts!r} must be finite")
        if not (price > 0.0 and math.isfinite(price)):
            raise ValueError(f"price={price!r} must be a finite number > 0")
        log_price = math.log(price)
        dt = ts - self._ts
        if dt < 0.0:
            raise ValueError(f"ts={ts!r} must be >= the previous ts={self._ts!r}")
        if dt > 0.0:  # False on the first tick, where _ts is NaN
            ret = log_price - self._log_price
            decay = 2.0 ** (-dt / self.half_life_s)
            self._sum = decay * self._sum + (1.0 - decay) * ret * ret / dt
            self._weight = decay * self._weight + (1.0 - decay)
        if math.isnan(self._ts) or dt > 0.0:
            self._ts = ts
        self._log_price = log_price
        return self.sigma

    @property
    def variance_per_second(self) -> float:
        """Weighted mean of squared log returns per second; NaN before the second tick."""
        return self._sum / self._weight if self._weight > 0.0 else math.nan

    @property
    def sigma(self) -> float:
        """Annualised volatility (365-day year); NaN before the second tick."""
        return math.sqrt(self.variance_per_second * SECONDS_PER_YEAR)


def _check_bars(dt_seconds: float, high: FloatArray, low: FloatArray, **inside: FloatArray) -> None:
    """Bar length > 0, prices > 0, high >= low, and each of ``inside`` within [low, high]."""
    if not (isinstance(dt_seconds, Real) and math.isfinite(dt_seconds) and dt_seconds > 0.0):
        raise ValueError(f"dt_seconds={dt_seconds!r} must be a finite number > 0")
    _require_positive("high", high)
    _require_positive("low", low)
    h, lo = np.broadcast_arrays(high, low)
    if (bad := h < lo).any():
        _raise_first("high", h, bad, ">= low")
    for name, a in inside.items():
        a, h, lo = np.broadcast_arrays(a, high, low)
        if (bad := (a > h) | (a < lo)).any():
            _raise_first(name, a, bad, "within [low, high]")


def parkinson(high: ArrayLike, low: ArrayLike, dt_seconds: float) -> FloatArray:
    """Parkinson range estimator over the bars on the last axis, annualised.

    ``sigma**2 = mean(ln(high/low)**2) / (4 ln 2) * SECONDS_PER_YEAR / dt_seconds``
    where ``dt_seconds`` is the bar length. Reduces the last axis, so a
    ``(n_symbols, n_bars)`` array gives one sigma per symbol. Assumes no drift
    and continuous trading; on coarsely sampled paths it reads a little low.
    """
    high, low = _as_float(high), _as_float(low)
    _check_bars(dt_seconds, high, low)
    hl = np.log(high / low)
    var_bar = np.mean(hl * hl, axis=-1) / _FOUR_LN2
    return np.asarray(np.sqrt(var_bar * (SECONDS_PER_YEAR / dt_seconds)))


def garman_klass(
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    dt_seconds: float,
) -> FloatArray:
    """Garman-Klass OHLC estimator over the bars on the last axis, annualised.

    Per bar ``0.5 ln(high/low)**2 - (2 ln 2 - 1) ln(close/open)**2``, averaged
    over the last axis, scaled by ``SECONDS_PER_YEAR / dt_seconds`` (bar
    length in seconds) and square-rooted; a negative mean (possible with very
    few bars) gives 0. Assumes no drift and no gaps between bars.
    """
    o, h, lo, c = (_as_float(a) for a in (open, high, low, close))
    _check_bars(dt_seconds, h, lo, open=o, close=c)
    hl = np.log(h / lo)
    co = np.log(c / o)
    var_bar = np.mean(0.5 * hl * hl - _GK_CLOSE * co * co, axis=-1)
    return np.asarray(np.sqrt(np.maximum(var_bar, 0.0) * (SECONDS_PER_YEAR / dt_seconds)))


def sigma_move(S_now: ArrayLike, S_ref: ArrayLike, sigma: ArrayLike, dt: ArrayLike) -> FloatArray:
    """How many standard deviations spot has moved: ``ln(S_now/S_ref) / (sigma sqrt(dt))``.

    ``sigma`` annualised, ``dt`` in years (the time over which the move
    happened, e.g. seconds since the window opened / SECONDS_PER_YEAR).
    A zero ``sigma * sqrt(dt)`` gives +-inf (NaN for no move).
    """
    S_now, S_ref, sigma, dt = (_as_float(a) for a in (S_now, S_ref, sigma, dt))
    _require_positive("S_now", S_now)
    _require_positive("S_ref", S_ref)
    _require_nonnegative("sigma", sigma)
    _require_nonnegative("dt", dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.log(S_now / S_ref) / (sigma * np.sqrt(dt)))


def iv_rv_ratio(iv: ArrayLike, rv: ArrayLike) -> FloatArray:
    """Implied over realized vol, ``iv / rv``; NaN where ``rv`` is not > 0 or either is NaN."""
    iv, rv = _as_float(iv), _as_float(rv)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(rv > 0.0, iv / rv, np.nan))


# IV/RV a market's price can honestly mean: implied vol within 20x either way of realized.
# Outside it the number comes from a degenerate solve, not from the book's view of vol.
IV_RV_SANE = (0.05, 20.0)


def degenerate_iv_rv(iv_rv: ArrayLike) -> NDArray[np.bool_]:
    """True where an IV/RV ratio comes from a degenerate implied-vol solve: outside
    :data:`IV_RV_SANE`, ``[0.05, 20]`` (``inf`` included); NaN (no solve at all) is False.

    Why: a binary's price stops depending on vol near expiry and deep in or out of the
    money (vega -> 0), and asks are quoted in 0.01 ticks, so a tick or two of price turns
    into an implied vol of almost 0 or of thousands of percent: IV/RV of 0.01 or 10,000 in
    the ledger. The solve that hit its bound (``sigma = 0``, the price at its deterministic
    limit) gives IV/RV 0 and is flagged too. No market prices vol at 1/20 or 20x what it
    realises over minutes, so values outside the range say nothing about the book's view
    of vol; readers (the Greeks page) show them apart and leave them out of averages. The
    rule reads the ratio alone, so it applies wherever the ratio is stored; the time left
    is not part of it: the strategies stop 10-15 s before expiry, and there a sane ratio is
    as good as any other.
    """
    v = _as_float(iv_rv)
    lo, hi = IV_RV_SANE
    with np.errstate(invalid="ignore"):
        return np.asarray(~np.isnan(v) & ~((v >= lo) & (v <= hi)))


class EwmaVolArray:
    """:class:`EwmaVol` for many symbols at once: the same estimator, one numpy update per tick.

    Slot ``i`` follows its own (timestamp, price) stream; ``update(slots, ts,
    prices)`` advances the given slots. Results equal EwmaVol's to rounding.
    """

    def __init__(self, half_life_s: float, capacity: int = 8) -> None:
        EwmaVol(half_life_s)  # the same validation
        self.half_life_s = float(half_life_s)
        self._sum = np.zeros(capacity)
        self._weight = np.zeros(capacity)
        self._ts = np.full(capacity, np.nan)
        self._log_price = np.full(capacity, np.nan)

    def grow(self, capacity: int) -> None:
        """Make room for slots ``0 .. capacity-1`` (new slots start empty)."""
        extra = capacity - len(self._sum)
        if extra > 0:
            self._sum = np.concatenate([self._sum, np.zeros(extra)])
            self._weight = np.concatenate([self._weight, np.zeros(extra)])
            self._ts = np.concatenate([self._ts, np.full(extra, np.nan)])
            self._log_price = np.concatenate([self._log_price, np.full(extra, np.nan)])

    def update(self, slots: np.ndarray, ts: float, prices: np.ndarray) -> None:
        """Add one tick at ``ts`` for each slot in ``slots`` (prices > 0, finite)."""
        prices = np.asarray(prices, dtype=float)
        if not (np.all(prices > 0.0) and np.all(np.isfinite(prices))):
            bad = int(np.flatnonzero(~((prices > 0.0) & np.isfinite(prices)))[0])
            raise ValueError(f"prices[{bad}]={prices[bad]!r} must be a finite number > 0")
        log_price = np.log(prices)
        dt = ts - self._ts[slots]
        if np.any(dt < 0.0):
            raise ValueError(f"ts={ts!r} must be >= the previous ts of every slot")
        step = dt > 0.0  # False on a slot's first tick (NaN) and on a repeated timestamp
        if step.any():
            s, d = slots[step], dt[step]
            ret = log_price[step] - self._log_price[s]
            decay = np.exp2(-d / self.half_life_s)
            self._sum[s] = decay * self._sum[s] + (1.0 - decay) * ret * ret / d
            self._weight[s] = decay * self._weight[s] + (1.0 - decay)
        first_or_step = np.isnan(self._ts[slots]) | step
        self._ts[slots[first_or_step]] = ts
        self._log_price[slots] = log_price

    def sigma(self) -> FloatArray:
        """Annualised volatility per slot (365-day year); NaN before a slot's second tick."""
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(self._weight > 0.0, self._sum / self._weight, np.nan)
        return np.sqrt(var * SECONDS_PER_YEAR)
