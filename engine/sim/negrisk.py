"""Neg-risk range events: several range markets on one symbol and window, one of which wins.

An event on ``symbol`` for the window ``[start, start + window_s)`` has
``n_outcomes`` buckets of the end spot. Its ``n_outcomes - 1`` edges sit at
``strike * exp(k * width)``, ``k = -(n - 2) / 2, ..., (n - 2) / 2`` (so the middle
bucket holds the strike when ``n`` is odd), rounded to a "nice" step (1, 2 or 5
times a power of ten) no larger than a quarter of the smallest gap (and of the
lowest edge), so rounding moves an edge by at most an eighth of a gap and keeps
them strictly increasing and positive; the first bucket starts at 0 and the last
ends at infinity, so the buckets cover ``(0, inf)`` without gaps or overlaps and
exactly one of them resolves Yes. ``width`` is ``negrisk_bucket_sigma`` times the
window's standard deviation of log spot as the market makers see it
(``mm_vol * sqrt(window_s / year)``).

An augmented event's top bucket is labelled "Other" (its ``low``/``high`` still
say what it covers) and all its markets are flagged ``augmented``.
"""

from __future__ import annotations

import math

from engine.core.types import DOWN, RANGE, UP, Market, Resolution
from engine.sim.common import short_symbol, window_label
from engine.sim.news import coin_name

# Stand-ins for 0 and infinity in the pricing arrays: log(S / K) stays finite and
# N(d2) evaluates to exactly 1 and 0 there (for any spot in (1e-100, 1e100)).
LOW_EDGE = 1e-200
HIGH_EDGE = 1e200


def nice_step(x: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten that is <= ``x`` (> 0)."""
    e = math.floor(math.log10(x))
    base = 10.0**e
    m = x / base
    if m < 1.0:  # log10 rounded up just below a power of ten
        base, m = base / 10.0, m * 10.0
    return (5.0 if m >= 5.0 else 2.0 if m >= 2.0 else 1.0) * base


def bucket_edges(strike: float, n_outcomes: int, width: float) -> tuple[list[float], int]:
    """The ``n_outcomes - 1`` inner edges, rounded, and the decimals that print them exactly."""
    raw = [strike * math.exp((j - 0.5 * (n_outcomes - 2)) * width) for j in range(n_outcomes - 1)]
    gaps = [b - a for a, b in zip(raw, raw[1:], strict=False)]
    step = nice_step(0.25 * min([raw[0], *gaps]))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return [round(round(x / step) * step, decimals) for x in raw], decimals


def range_event(
    *,
    prefix: str,
    symbol: str,
    window_s: int,
    start_ts: int,
    strike: float,
    n_outcomes: int,
    width: float,
    fee_rate: float,
    augmented: bool,
) -> list[Market]:
    """The markets of one event, lowest bucket first."""
    edges, dec = bucket_edges(strike, n_outcomes, width)
    lows = [0.0, *edges]
    highs = [*edges, math.inf]
    coin = coin_name(symbol)
    event_id = f"{prefix}{short_symbol(symbol)}-range-{window_label(window_s)}-{start_ts}"
    markets = []
    for j, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
        if j == 0:
            label, slug = f"{coin} < {hi:,.{dec}f}", f"lt{hi:.{dec}f}"
        elif j == n_outcomes - 1:
            label, slug = f"≥ {lo:,.{dec}f}", f"ge{lo:.{dec}f}"
            if augmented:
                label, slug = "Other", "other"
        else:
            label, slug = f"{lo:,.{dec}f}–{hi:,.{dec}f}", f"{lo:.{dec}f}-{hi:.{dec}f}"
        market_id = f"{event_id}-{slug}"
        markets.append(
            Market(
                market_id=market_id,
                symbol=symbol,
                window_s=window_s,
                start_ts=float(start_ts),
                end_ts=float(start_ts + window_s),
                strike=strike,
                up_token=f"{market_id}-yes",
                down_token=f"{market_id}-no",
                fee_rate=fee_rate,
                kind=RANGE,
                event_id=event_id,
                low=lo,
                high=hi,
                label=label,
                augmented=augmented,
            )
        )
    return markets


def resolve_event(markets: list[Market], end_price: float, ts: int) -> list[Resolution]:
    """Yes (``UP``) for the one bucket with ``low <= end_price < high``, No for the others."""
    return [
        Resolution(
            m.market_id, UP if m.low <= end_price < m.high else DOWN, m.strike, end_price, float(ts)
        )
        for m in markets
    ]
