"""Tick -> decisions latency with 600 live markets (the seed tracked 611), on one core.

    .venv/bin/python bench/decision.py [--markets 600] [--ticks 900]

Builds a MarketState with 150 symbols x 4 windows (5 m, 15 m, 1 h, 4 h) of
Up/Down markets, feeds it one spot tick per simulated second, and times
``state.apply(tick) + decide(...)`` for
- the engine's vectorised pipeline with Up/Down Capture only, and with all five
  strategies as composed in conf/ (Up/Down, ITM, Follow, News, Negrisk pairs), and
- the reference: a naive per-market Python loop computing Up/Down Capture's
  decisions with scalar ``math`` (same rule, same gates, same Kelly).
Prints p50/p99/max per tick over all ticks and over evaluation ticks (every 5 s,
when every market is evaluated at once), and the ratios. Target: p99 < 1 ms.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.app import CONF_DIR  # noqa: E402
from engine.components import build_all  # noqa: E402
from engine.core.pipeline import decide  # noqa: E402
from engine.core.sizers import SizingContext  # noqa: E402
from engine.core.state import MarketState, VolConfig  # noqa: E402
from engine.core.types import Book, Market, Tick  # noqa: E402

T0 = 1_767_571_200.0
YEAR = 365 * 86400
WINDOWS = (300, 900, 3600, 14400)


def ladder(mid: float, levels: int = 5) -> tuple[np.ndarray, np.ndarray]:
    bid0, ask0 = math.floor((mid - 0.01) * 100) / 100, math.ceil((mid + 0.01) * 100) / 100
    bids = np.array([[max(bid0 - i * 0.01, 0.01), 100.0 * (1 + i)] for i in range(levels)])
    asks = np.array([[min(ask0 + i * 0.01, 0.99), 100.0 * (1 + i)] for i in range(levels)])
    return bids, asks


def world(n_markets: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_sym = n_markets // len(WINDOWS)
    symbols = [f"S{i:03d}USDT" for i in range(n_sym)]
    markets, books = [], {}
    for s in symbols:
        for w in WINDOWS:
            mid = f"{s}-{w}"
            markets.append(Market(mid, s, w, T0, T0 + w, 100.0, f"{mid}-up", f"{mid}-down", 0.07))
            p = float(np.clip(rng.normal(0.5, 0.2), 0.03, 0.97))
            for token, m in ((f"{mid}-up", p), (f"{mid}-down", 1 - p)):
                bids, asks = ladder(m)
                books[token] = Book(token, bids, asks, ts=T0)
    paths = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.6 / math.sqrt(YEAR), (2000, n_sym)), axis=0))
    return symbols, markets, books, paths


def ticks(symbols, markets, books, paths, n):
    for i in range(n):
        yield Tick(
            T0 + i,
            dict(zip(symbols, paths[i].tolist(), strict=True)),
            markets if i == 0 else [],
            books,
        )


def ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def naive_updown(state: MarketState, hist: dict[str, list[float]]) -> list[tuple]:
    """Up/Down Capture's rule, one market at a time, in plain Python."""
    out = []
    for m in state.live.markets:
        elapsed, remaining = state.ts - m.start_ts, m.end_ts - state.ts
        if elapsed < 30 or remaining < 15 or elapsed % 5:
            continue
        sigma = state.sigma(m.symbol)
        if not sigma > 0:
            continue
        S, ref = hist[m.symbol][-1], hist[m.symbol][-31]
        z = math.log(S / ref) / (sigma * math.sqrt(30 / YEAR))
        up = z >= 0
        T = remaining / YEAR
        d2 = (math.log(S / m.strike) - 0.5 * sigma * sigma * T) / (sigma * math.sqrt(T))
        fair = ncdf(d2) if up else ncdf(-d2)
        book = state.books[m.up_token if up else m.down_token]
        ask = float(book.asks[0, 0])
        edge = fair - ask - 0.07 * ask * (1 - ask)
        reason = None
        if abs(z) < 1.5:
            reason = "sigma"
        elif 0.42 <= ask <= 0.58:
            reason = "dead_zone"
        elif ask > 0.85:
            reason = "max_odds"
        elif edge < 0.02:
            reason = "min_edge"
        stake = 0.0
        if reason is None:
            p_eff = ask + 0.07 * ask * (1 - ask)
            stake = min(max((fair - p_eff) / (1 - p_eff), 0) * 0.25 * 1000, 25.0)
        out.append((m.market_id, up, fair, edge, z, reason, stake))
    return out


def time_engine(strategies, world_, n):
    symbols, markets, books, paths = world_
    state = MarketState(VolConfig(half_life_s=300, warmup_s=60))
    ctx = SizingContext(bankroll=1000.0)
    lat, evals = [], []
    for tick in ticks(symbols, markets, books, paths, n):
        t0 = time.perf_counter()
        state.apply(tick)
        decide(state, strategies, ctx=ctx, held=set())
        dt = time.perf_counter() - t0
        lat.append(dt)
        if (tick.ts - T0) % 5 == 0 and tick.ts - T0 >= 60:
            evals.append(dt)
    return np.array(lat[60:]), np.array(evals)


def time_naive(world_, n):
    symbols, markets, books, paths = world_
    state = MarketState(VolConfig(half_life_s=300, warmup_s=60))
    hist: dict[str, list[float]] = {s: [] for s in symbols}
    lat, evals = [], []
    for tick in ticks(symbols, markets, books, paths, n):
        t0 = time.perf_counter()
        state.apply(tick)
        for s, p in tick.spot.items():
            hist[s].append(p)
        naive_updown(state, hist)
        dt = time.perf_counter() - t0
        lat.append(dt)
        if (tick.ts - T0) % 5 == 0 and tick.ts - T0 >= 60:
            evals.append(dt)
    return np.array(lat[60:]), np.array(evals)


def row(name, lat, evals):
    q = lambda a, p: 1e3 * float(np.percentile(a, p))  # noqa: E731
    return f"{name:34}{q(lat, 50):9.3f}{q(lat, 99):9.3f}{1e3 * lat.max():9.3f}{q(evals, 50):11.3f}{q(evals, 99):11.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markets", type=int, default=600)
    parser.add_argument("--ticks", type=int, default=900)
    args = parser.parse_args()
    overrides = [
        f"strategies.{s}.gates.staleness.max_book_age_s=3600"
        for s in ("updown", "itm", "follow", "news", "negrisk")
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    everything = list(build_all(cfg.strategies, "strategies").values())
    for s in everything:
        object.__setattr__(
            s, "symbols", [f"S{i:03d}USDT" for i in range(args.markets // len(WINDOWS))]
        ) if hasattr(s, "symbols") else None
        object.__setattr__(s, "windows", list(WINDOWS)) if hasattr(s, "windows") else None
    updown_only = [everything[0]]
    w = world(args.markets)
    print(
        f"{len(w[1])} live markets, {len(w[0])} symbols, {args.ticks} ticks (1 s each); latency in ms"
    )
    print(f"{'':34}{'p50':>9}{'p99':>9}{'max':>9}{'eval p50':>11}{'eval p99':>11}")
    naive = time_naive(w, args.ticks)
    fast = time_engine(updown_only, w, args.ticks)
    allfive = time_engine(everything, w, args.ticks)
    print(row("reference: naive per-market loop", *naive))
    print(row("engine: Up/Down Capture", *fast))
    print(row("engine: all five strategies", *allfive))
    print(
        f"naive / engine (Up/Down), eval-tick p99: {np.percentile(naive[1], 99) / np.percentile(fast[1], 99):.1f}x"
    )
    p99 = 1e3 * np.percentile(allfive[0], 99)
    print(
        f"target p99 < 1 ms per tick (all five): {p99:.3f} ms -> {'met' if p99 < 1 else 'missed'}"
    )


if __name__ == "__main__":
    main()
