"""How fast a backtest replays a corpus: the whole engine against a bare replay of the same files.

    .venv/bin/python bench/backtest.py [--days 3] [--symbols BTCUSDT ETHUSDT] [--corpus DIR]

Builds (or reuses, ``--corpus``) a synthetic corpus in the real layout
(``engine.adapters.corpus.synthetic``): ``days`` days of 1 s Binance klines per symbol,
back-to-back 5-minute Up/Down windows (3 days x 2 symbols = 1,728 windows) and a top of book
per token every second. Then, in one run, it times:

- the floor: a bare replay loop that only reads and merges the same files into ticks
  (``ReplayFeed.ticks()``: unzipping, checksums, CSV parsing, the per-second merge);
- the floor plus the market state (``MarketState.apply``: what any strategy needs to see);
- the backtest: ``edgeloop mode=backtest`` in-process (every strategy, gates, sizers, the
  paper venue with latency and depletion, the closed loop, the in-memory ledger) and its
  write of the run to a fresh SQLite file at the end;

and prints events (kline rows + book-top rows) per second and wall time of each, and the
backtest's cost as a multiple of the floor.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import app  # noqa: E402
from engine.adapters.corpus.replay import ReplayFeed  # noqa: E402
from engine.adapters.corpus.synthetic import SyntheticCorpus  # noqa: E402
from engine.components import build  # noqa: E402
from engine.core.state import MarketState  # noqa: E402
from engine.ledger.db import make_engine, make_sessionmaker  # noqa: E402
from engine.ledger.queries import ledger  # noqa: E402


def compose_cfg(overrides: list[str]):  # noqa: ANN201
    with initialize_config_dir(config_dir=str(app.CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def replay_only(corpus: Path, with_state: bool, vol_cfg) -> tuple[float, int]:  # noqa: ANN001
    """Wall seconds and ticks of a bare replay (optionally into a MarketState)."""
    feed = ReplayFeed(corpus=str(corpus))
    state = MarketState(build(vol_cfg, "vol")) if with_state else None
    t0 = time.perf_counter()
    ticks = 0
    for tick in feed.ticks():
        if state is not None:
            state.apply(tick)
        ticks += 1
    return time.perf_counter() - t0, ticks


def count_events(corpus: Path) -> tuple[int, int]:
    """Kline rows and book-top rows in the corpus (the events a replay merges)."""
    klines = booktop = 0
    for z in corpus.rglob("*.zip"):
        with zipfile.ZipFile(z) as zf:
            klines += zf.read(zf.namelist()[0]).count(b"\n")
    for g in corpus.rglob("*.csv.gz"):
        with gzip.open(g) as f:
            booktop += sum(1 for _ in f) - 1
    return klines, booktop


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--symbols", nargs="+", default=["BTCUSDT", "ETHUSDT"])
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--corpus", type=Path, default=None, help="reuse (or write once) this corpus")
    args = p.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or Path(tmp) / "corpus"
        if not (corpus.exists() and any(corpus.iterdir())):
            t0 = time.perf_counter()
            spec = SyntheticCorpus(days=args.days, symbols=tuple(args.symbols), seed=args.seed)
            spec.write(corpus)
            print(f"corpus written in {time.perf_counter() - t0:.1f} s: {corpus}")
        klines, booktop = count_events(corpus)
        markets = len(list((corpus / "polymarket/gamma/markets").glob("*.json")))
        events = klines + booktop
        print(
            f"corpus: {klines:,} kline rows + {booktop:,} book-top rows = {events:,} events, "
            f"{markets:,} markets"
        )
        cfg = compose_cfg(
            [
                "mode=backtest",
                f"backtest.corpus={corpus}",
                f"db.url=sqlite:///{tmp}/bench.db",
                "run.progress=false",
            ]
        )
        floor_s, ticks = replay_only(corpus, False, cfg.vol)
        state_s, _ = replay_only(corpus, True, cfg.vol)
        t0 = time.perf_counter()
        code = app.run(cfg)
        backtest_s = time.perf_counter() - t0
        if code:
            sys.exit(f"the backtest failed with exit code {code}")
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        with make_sessionmaker(engine)() as session:
            rows = ledger(session=session)
        engine.dispose()
        trades = sum(r.trades for r in rows)
    print()
    print(f"{'':<36} {'wall s':>8} {'events/s':>11} {'ticks/s':>9} {'x floor':>8}")
    for name, wall in (
        ("floor: replay (read + merge)", floor_s),
        ("replay + MarketState.apply", state_s),
        ("backtest (engine, ledger written)", backtest_s),
    ):
        print(
            f"{name:<36} {wall:8.1f} {events / wall:11,.0f} {ticks / wall:9,.0f} "
            f"{wall / floor_s:8.2f}"
        )
    print(f"\n{ticks:,} ticks (seconds) replayed; the backtest made {trades} resolved trades")
    print("goal (issue 16): the whole corpus in <= 15 s on one core and >= 100,000 events/s")


if __name__ == "__main__":
    main()
