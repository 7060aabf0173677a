"""Market makers' quotes for simulated Up/Down markets, vectorised over markets.

Prices are built in integer thousandths ("mills") so that every price lies
exactly on the venue's tick grid: tick 0.01 normally, 0.001 while the UP mid is
beyond 0.96 or below 0.04 (Polymarket's rule, which is symmetric, so an UP book
and its mirrored DOWN book always share one tick).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

SECONDS_PER_YEAR = 365.0 * 86400.0

_FINE_BELOW = 0.04
_FINE_ABOVE = 0.96
_EPS = 1e-9


class Ladders(NamedTuple):
    """All tokens' L2 ladders at one instant.

    Rows ``0..n-1`` are the UP tokens of the ``n`` markets, rows ``n..2n-1``
    their DOWN tokens, in market order. ``bids`` and ``asks`` have shape
    ``(2n, levels, 2)`` (price, size), best level first; only the first
    ``n_bids[k]`` / ``n_asks[k]`` levels of row ``k`` lie within
    ``[tick, 1 - tick]``. ``tick`` has shape ``(2n,)``.
    """

    bids: np.ndarray
    asks: np.ndarray
    n_bids: np.ndarray
    n_asks: np.ndarray
    tick: np.ndarray


def updown_fair_value(S: np.ndarray, K: np.ndarray, T: np.ndarray, sigma: float) -> np.ndarray:
    """Cash-or-nothing call value ``N(d2)`` with ``r = q = 0``.

    ``T`` in years (must be > 0), ``sigma`` annualised (must be > 0).
    """
    sig_sqrt_t = sigma * np.sqrt(T)
    d2 = (np.log(S / K) - 0.5 * sig_sqrt_t * sig_sqrt_t) / sig_sqrt_t
    return ndtr(d2)


def range_fair_value(S: np.ndarray, edges: np.ndarray, T: np.ndarray, sigma: float) -> np.ndarray:
    """``P(low <= S_T < high)`` under the lognormal of :func:`updown_fair_value`.

    ``edges`` has shape ``(2, n)``: lows then highs, all > 0 (use tiny and huge
    stand-ins for 0 and infinity). The value is ``N(d2(low)) - N(d2(high))``, so a
    market with ``high`` huge gets exactly :func:`updown_fair_value` at ``low``.
    """
    sig_sqrt_t = sigma * np.sqrt(T)
    d2 = (np.log(S / edges) - 0.5 * sig_sqrt_t * sig_sqrt_t) / sig_sqrt_t
    nd = ndtr(d2)
    return nd[0] - nd[1]


def level_sizes(levels: int, level_size: float) -> np.ndarray:
    """Shares per level, best first: the best level holds ``level_size``, level i ``(1 + i)`` times it."""
    return level_size * (1.0 + np.arange(levels, dtype=float))


def build_ladders(up_mid: np.ndarray, half_spread: float, sizes: np.ndarray) -> Ladders:
    """Quote both tokens of every market around the UP mids ``up_mid`` (shape ``(n,)``).

    The UP book is ``floor(mid - half_spread)`` / ``ceil(mid + half_spread)`` on the
    tick grid, stepping one tick per level; the DOWN book is its mirror
    (DOWN bid = 1 - UP ask), as on a venue that matches complementary orders.
    """
    levels = sizes.shape[0]
    fine = (up_mid > _FINE_ABOVE) | (up_mid < _FINE_BELOW)
    tick_m = np.where(fine, 1.0, 10.0)
    lo = tick_m
    hi = 1000.0 - tick_m
    # Plain ufuncs rather than np.clip / np.round / np.count_nonzero: this runs every
    # simulated second and their Python wrappers cost more than the arithmetic.
    mid_m = np.minimum(np.maximum(up_mid * 1000.0, 1.0), 999.0)
    h_m = half_spread * 1000.0
    best_bid = np.floor((mid_m - h_m) / tick_m + _EPS) * tick_m
    best_ask = np.ceil((mid_m + h_m) / tick_m - _EPS) * tick_m
    # half_spread > 0 keeps best_bid <= mid - h < mid + h <= best_ask, so clamping
    # each side into [tick, 1 - tick] can never cross the book.
    np.maximum(best_bid, lo, out=best_bid)
    np.minimum(best_ask, hi, out=best_ask)

    steps = np.arange(levels, dtype=float)[None, :] * tick_m[:, None]
    up_bids = best_bid[:, None] - steps
    up_asks = best_ask[:, None] + steps
    bid_m = np.concatenate((up_bids, 1000.0 - up_asks))
    ask_m = np.concatenate((up_asks, 1000.0 - up_bids))
    tick2 = np.concatenate((tick_m, tick_m))

    # Bids descend and asks ascend, so the in-range levels are a prefix of each row:
    # UP bids best_bid - i * tick >= tick and UP asks best_ask + i * tick <= 1 - tick
    # (both sides are whole ticks); DOWN bids mirror UP asks and DOWN asks UP bids.
    n_up_bids = np.minimum(np.rint(best_bid / tick_m), levels).astype(np.intp)
    n_up_asks = np.minimum(np.rint((1000.0 - best_ask) / tick_m), levels).astype(np.intp)
    n_bids = np.concatenate((n_up_bids, n_up_asks))
    n_asks = np.concatenate((n_up_asks, n_up_bids))

    n_tok = bid_m.shape[0]
    bids = np.empty((n_tok, levels, 2))
    asks = np.empty((n_tok, levels, 2))
    np.divide(np.rint(bid_m), 1000.0, out=bids[:, :, 0])
    np.divide(np.rint(ask_m), 1000.0, out=asks[:, :, 0])
    bids[:, :, 1] = sizes
    asks[:, :, 1] = sizes
    # Books are published values: consumers get read-only views.
    bids.flags.writeable = False
    asks.flags.writeable = False
    return Ladders(bids, asks, n_bids, n_asks, tick2 / 1000.0)
