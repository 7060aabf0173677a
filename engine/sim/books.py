"""Market makers' quotes for simulated Up/Down and range markets, vectorised over markets.

Prices are built in integer thousandths ("mills") so that every price lies
exactly on the venue's tick grid: tick 0.01 normally, 0.001 while the UP mid is
beyond 0.96 or below 0.04 (Polymarket's rule, which is symmetric, so an UP book
and its mirrored DOWN book always share one tick).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

from engine.core.types import DEPTH_TICKS, Book

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


def range_fair_value(
    S: np.ndarray, edges: np.ndarray, T: np.ndarray, sigma: float, extra_var: float = 0.0
) -> np.ndarray:
    """``P(low <= S_T < high)`` under the lognormal of :func:`updown_fair_value`.

    ``edges`` has shape ``(2, n)``: lows then highs, all > 0 (use tiny and huge
    stand-ins for 0 and infinity). The value is ``N(d2(low)) - N(d2(high))``, so a
    market with ``high`` huge gets exactly :func:`updown_fair_value` at ``low``.
    ``extra_var`` is a log variance added to ``sigma^2 T``: the noise of the
    price the market resolves on around spot (``MarketSimulator.settle_noise``).
    """
    if extra_var:
        var = sigma * sigma * T + extra_var
        sig_sqrt_t = np.sqrt(var)
    else:
        sig_sqrt_t = sigma * np.sqrt(T)
        var = sig_sqrt_t * sig_sqrt_t
    d2 = (np.log(S / edges) - 0.5 * var) / sig_sqrt_t
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
    tick_m = np.where((up_mid > _FINE_ABOVE) | (up_mid < _FINE_BELOW), 1.0, 10.0)
    # Plain ufuncs rather than np.clip / np.round / np.count_nonzero: this runs every
    # simulated second and their Python wrappers cost more than the arithmetic.
    mid_m = np.minimum(np.maximum(up_mid * 1000.0, 1.0), 999.0)
    h_m = half_spread * 1000.0
    # half_spread > 0 keeps best_bid <= mid - h < mid + h <= best_ask, so clamping
    # each side into [tick, 1 - tick] can never cross the book.
    best_bid = np.maximum(np.floor((mid_m - h_m) / tick_m + _EPS) * tick_m, tick_m)
    best_ask = np.minimum(np.ceil((mid_m + h_m) / tick_m - _EPS) * tick_m, 1000.0 - tick_m)
    # Rows n..2n-1 are the DOWN books: DOWN bid = 1 - UP ask, DOWN ask = 1 - UP bid.
    top_bid = np.concatenate((best_bid, 1000.0 - best_ask))
    top_ask = np.concatenate((best_ask, 1000.0 - best_bid))
    tick2 = np.concatenate((tick_m, tick_m))
    steps = tick2[:, None] * np.arange(levels, dtype=float)

    # Every price is a whole number of mills, so the arithmetic above is exact. Bids
    # descend and asks ascend one tick a level, so the levels within [tick, 1 - tick]
    # are a prefix of each row: top_bid / tick bids and (1 - top_ask) / tick asks.
    n_bids = np.minimum(top_bid / tick2, levels).astype(np.intp)
    n_asks = np.minimum((1000.0 - top_ask) / tick2, levels).astype(np.intp)

    n_tok = top_bid.shape[0]
    bids = np.empty((n_tok, levels, 2))
    asks = np.empty((n_tok, levels, 2))
    np.divide(top_bid[:, None] - steps, 1000.0, out=bids[:, :, 0])
    np.divide(top_ask[:, None] + steps, 1000.0, out=asks[:, :, 0])
    bids[:, :, 1] = sizes
    asks[:, :, 1] = sizes
    # Books are published values: consumers get read-only views.
    bids.flags.writeable = False
    asks.flags.writeable = False
    return Ladders(bids, asks, n_bids, n_asks, tick2 / 1000.0)


# Book's fields, in order, as publish_books fills them. Book computes its top-of-book
# fields in __post_init__ (about 3 us a book, too slow for 40 books a simulated
# second); publish_books computes them for all rows at once and sets the slots
# directly. If Book's fields ever differ from these it falls back to Book(...).
def publish_books(token_ids: list[str], lad: Ladders, ts: float) -> dict[str, Book]:
    """One :class:`~engine.core.types.Book` per ladder row, keyed by ``token_ids`` (row order).

    Equal to ``Book(token_id, bids, asks, ts, tick)`` for each row; the top of
    book is computed for all rows at once and passed in, which is about four times
    faster (``depth_usd`` may differ from Book's ``np.dot`` in the last bit: another
    summation order).
    """
    n_bids, n_asks, ticks = lad.n_bids.tolist(), lad.n_asks.tolist(), lad.tick.tolist()
    bids, asks = lad.bids, lad.asks
    levels = bids.shape[1]
    price = asks[:, :, 0]
    near = price <= price[:, :1] + (DEPTH_TICKS * lad.tick + 1e-12)[:, None]
    near &= np.arange(levels) < lad.n_asks[:, None]
    depth = np.where(near, price * asks[:, :, 1], 0.0).sum(axis=1).tolist()
    # build_ladders clamps the best levels into [tick, 1 - tick]: no side is ever empty.
    best_bid = bids[:, 0, 0].tolist()
    best_ask = price[:, 0].tolist()
    ask_size = asks[:, 0, 1].tolist()
    out: dict[str, Book] = {}
    for tid, b, a, nb, na, tick, bb, ba, size, dep in zip(
        token_ids,
        bids,
        asks,
        n_bids,
        n_asks,
        ticks,
        best_bid,
        best_ask,
        ask_size,
        depth,
        strict=True,
    ):
        out[tid] = Book(
            tid,
            b if nb == levels else b[:nb],
            a if na == levels else a[:na],
            ts,
            tick,
            best_bid=bb,
            best_ask=ba,
            ask_size=size,
            depth_usd=dep,
        )
    return out
