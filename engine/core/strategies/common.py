"""What every strategy computes for its candidate rows: prices, Greeks, book and ages.

``price_rows`` turns "buy this side of these live markets" into a SignalFrame
with the model's fair value and scaled Greeks (one pricing code path:
``engine.core.pricing``), the token's book (best ask, size, depth), the edge
after the taker fee, implied vol and the ages the staleness gate reads.
"""

from __future__ import annotations

import numpy as np

from engine.core.fees import fee_per_share
from engine.core.frame import SignalFrame
from engine.core.pricing import SECONDS_PER_YEAR, implied_vol, price_greeks, scaled_greeks
from engine.core.state import MarketState
from engine.core.types import DOWN, UP, Book

_MISSING = Book("", np.empty((0, 2)), np.empty((0, 2)), ts=float("nan"))


def _book_columns(state: MarketState, tokens: np.ndarray) -> tuple[np.ndarray, ...]:
    """Best ask, its size, depth (USD within two ticks) and book age per token (NaN if none)."""
    books, missing = state.books, _MISSING
    top = np.array(
        [
            (b.best_ask, b.ask_size, b.depth_usd, b.ts)
            for b in (books.get(t, missing) for t in tokens.tolist())
        ],
        dtype=float,
    ).reshape(-1, 4)
    return top[:, 0], top[:, 1], top[:, 2], state.ts - top[:, 3]


def _greeks(S, K, T, sig, up):  # noqa: ANN001, ANN202
    """Greeks of the UP (call) or DOWN (put) digital, chosen per row.

    With r = q = 0 the put is the mirror of the call (price 1 - C, every Greek
    negated), so one pricing pass serves both sides.
    """
    call = price_greeks(S, K, T, sig, kind="call")
    sign = np.where(up, 1.0, -1.0)
    return type(call)(np.where(up, call.price, 1.0 - call.price), *(sign * g for g in call[1:]))


def _range_greeks(S, low, high, T, sig, yes):  # noqa: ANN001, ANN202
    """Yes of a range ``[low, high)`` = call(low) - call(high); No = 1 - Yes."""
    lo = price_greeks(S, np.where(low > 0, low, 1e-300), T, sig, kind="call")
    hi = price_greeks(S, np.where(np.isfinite(high), high, 1e300), T, sig, kind="call")
    rng = type(lo)(*(a - b for a, b in zip(lo, hi, strict=True)))
    sign = np.where(yes, 1.0, -1.0)
    return type(lo)(np.where(yes, rng.price, 1.0 - rng.price), *(sign * g for g in rng[1:]))


def price_rows(
    state: MarketState,
    strategy: str,
    idx: np.ndarray,
    up: np.ndarray,
    trigger: np.ndarray,
    *,
    model: bool = True,
    **extra: object,
) -> SignalFrame:
    """Candidates buying the UP (``up``) or DOWN token of live markets ``idx``.

    ``model=False`` skips fair value, Greeks and implied vol (left NaN) for
    strategies that do not use them (an arb is priced by its books alone).
    """
    live = state.live
    idx = np.asarray(idx, dtype=int)
    up = np.asarray(up, dtype=bool)
    if not len(idx):
        return SignalFrame.empty(strategy, state.ts)
    token = np.where(up, live.up_token[idx], live.down_token[idx])  # object in, object out
    ask, size, depth, book_age = _book_columns(state, token)
    offered = ask == ask
    if not offered.all():
        # No ask (no book yet, or an empty side): nothing to buy, so not a candidate.
        n = len(idx)
        idx, up, trigger, token = idx[offered], up[offered], trigger[offered], token[offered]
        ask, size, depth, book_age = ask[offered], size[offered], depth[offered], book_age[offered]
        extra = {
            k: v[offered] if isinstance(v, np.ndarray) and len(v) == n else v
            for k, v in extra.items()
        }
        if not len(idx):
            return SignalFrame.empty(strategy, state.ts)
    symbol = live.symbol[idx]
    sym = live.sym[idx]
    S = state.spot_arr[sym]
    K = live.strike[idx]
    sig = state.sigma_arr()[sym]
    remaining = live.end_ts[idx] - state.ts
    fee_rate = live.fee_rate[idx]
    columns: dict[str, object] = {
        "market_id": live.market_id[idx],
        "symbol": symbol,
        "side": np.where(up, UP, DOWN).astype(object),
        "token_id": token,
        "trigger": trigger,
        "price": ask,
        "ask_size": size,
        "depth_usd": depth,
        "sigma": sig,
        "window_s": live.window_s[idx],
        "t_remaining_s": remaining,
        "fee_rate": fee_rate,
        "book_age_s": book_age,
        "spot_age_s": state.ts - state.spot_ts_arr[sym],
    }
    if model:
        with np.errstate(all="ignore"):
            columns.update(_model_columns(live, idx, up, S, K, remaining, sig, ask, fee_rate))
    columns.update(extra)
    return SignalFrame(strategy, state.ts, **columns)


def _model_columns(live, idx, up, S, K, remaining, sig, ask, fee_rate) -> dict[str, object]:  # noqa: ANN001
    """Fair value, edge, scaled Greeks and implied vol of the rows (NaN while vol warms up)."""
    T = remaining / SECONDS_PER_YEAR
    is_range = live.is_range[idx]
    any_range = bool(is_range.any())
    g = _greeks(S, K, T, sig, up)  # NaN sigma (warm-up) in, NaN out
    if any_range:
        r = _range_greeks(S, live.low[idx], live.high[idx], T, sig, up)
        g = type(g)(*(np.where(is_range, a, b) for a, b in zip(r, g, strict=True)))
    scaled = scaled_greeks(g, S)
    # The put's implied vol is the call's at the mirrored price (r = q = 0).
    iv = implied_vol(np.where(up, ask, 1.0 - ask), S, K, T, kind="call")
    if any_range:
        iv = np.where(is_range, np.nan, iv)
    return {
        "fair": g.price,
        "edge": g.price - ask - fee_per_share(ask, fee_rate),
        "delta_1pct": scaled.delta_1pct,
        "gamma_1pct": scaled.gamma_1pct,
        "vega_1pt": scaled.vega_1pt,
        "theta_1min": scaled.theta_1min,
        "iv": iv,
        "iv_rv": iv / sig,
    }


_TRIGGERS: dict[int, str] = {}


def window_trigger(state: MarketState, idx: np.ndarray) -> np.ndarray:
    """``t+00045s``: the second of the window a candidate was proposed at."""
    elapsed = (state.ts - state.live.start_ts[idx]).astype(int).tolist()
    cache = _TRIGGERS
    out = []
    for e in elapsed:
        label = cache.get(e)
        if label is None:
            label = cache[e] = f"t+{e:05d}s"
        out.append(label)
    return np.array(out, dtype=object)


def move_z(state: MarketState, idx: np.ndarray, lookback_s: int) -> np.ndarray:
    """Signed sigma of the move of each live market's symbol over the last ``lookback_s`` s."""
    sym = state.live.sym[idx]
    now = state.spot_arr[sym]
    then = state.spots_ago(sym, lookback_s)
    sig = state.sigma_arr()[sym]
    with np.errstate(all="ignore"):
        return np.log(now / then) / (sig * np.sqrt(lookback_s / SECONDS_PER_YEAR))


def eligible(
    state: MarketState,
    *,
    symbols: list[str],
    windows: list[int],
    kind: str,
    every_s: int,
    min_elapsed_s: float,
    min_remaining_s: float,
    max_remaining_s: float = float("inf"),
) -> np.ndarray:
    """Row mask of live markets a strategy evaluates at this tick.

    Each market is evaluated every ``every_s`` seconds of its window, at its own
    phase (``live.phase``), so the work of many markets spreads over the period.
    """
    live = state.live
    if not len(live):
        return np.zeros(0, dtype=bool)
    static = live.static_mask(kind, symbols, windows)
    if not static.any():
        return static.copy()  # none of its markets is live (all False): nothing to compute
    elapsed = state.ts - live.start_ts
    remaining = live.end_ts - state.ts
    return (
        static
        & (elapsed >= min_elapsed_s)
        & (remaining >= min_remaining_s)
        & (remaining <= max_remaining_s)
        & (np.mod(elapsed.astype(np.int64) - live.phase, every_s) == 0)
    )


def not_held(
    strategy: str,
    market_id: np.ndarray,
    side: np.ndarray,
    held,  # noqa: ANN001 - a set-like of (strategy, market, side)
    hold: str = "side",
) -> np.ndarray:
    """Rows the strategy may still enter: whose (strategy, market, side) is not already a
    position; with ``hold="market"`` (see :data:`~engine.core.strategies.base.HOLD`), whose
    market the strategy holds no side of."""
    if not held:
        return np.ones(len(market_id), dtype=bool)
    if hold == "market":
        markets = {m for (s, m, _side) in held if s == strategy}
        return np.array([m not in markets for m in market_id], dtype=bool)
    return np.array(
        [(strategy, m, s) not in held for m, s in zip(market_id, side, strict=True)], dtype=bool
    )
