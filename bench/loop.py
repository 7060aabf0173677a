"""How fast the engine loop runs: a simulated 24-hour day, full engine vs the feed alone.

    .venv/bin/python bench/loop.py [--hours 24] [--seed 0] [--scenario lagging_mm]

Prints simulated ticks (seconds) per wall second of
- the reference: a bare feed-only loop (``SimFeed.ticks()`` into ``MarketState.apply``,
  same seed, same day: what any loop must pay to see the market);
- the engine with the honest paper venue (the default: latency, depletion, venue failure
  modes): feed + MarketState + all five strategies + gates + sizers + venue + closed loop
  + ledger writes to a fresh SQLite file, exactly what ``edgeloop`` runs;
- the same engine with a zero-latency venue (``venue.latency_ms=0``, failure modes off):
  the fills of the old loop, to show what latency costs in money and in speed;
and each engine's cost as a ratio of the reference.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.app import CONF_DIR, build_loop, open_run  # noqa: E402
from engine.components import build  # noqa: E402
from engine.core.state import MarketState  # noqa: E402
from engine.ledger.db import make_engine, make_sessionmaker, upgrade_to_head  # noqa: E402
from engine.ledger.queries import ledger  # noqa: E402

ZERO_LATENCY = [
    "venue.latency_ms=0",
    "venue.latency_tail_ms=0",
    "venue.reject_near_end_rate=0",
    "venue.revert_rate=0",
]


def compose_cfg(overrides: list[str]):  # noqa: ANN201
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def feed_only(cfg, seconds: int) -> float:  # noqa: ANN001
    feed, state = build(cfg.feed, "feed"), MarketState(build(cfg.vol, "vol"))
    t0 = time.perf_counter()
    for n, tick in enumerate(feed.ticks()):
        state.apply(tick)
        if n >= seconds:
            break
    return time.perf_counter() - t0


def engine_run(cfg):  # noqa: ANN001, ANN201
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        loop = build_loop(cfg, make_sessionmaker(engine))
        open_run(cfg, loop, 0)
        t0 = time.perf_counter()
        counters = loop.run()
        wall = time.perf_counter() - t0
        with loop.sessions() as session:
            total = ledger(session=session, runs=[loop.run_id])[-1]
        engine.dispose()
    return wall, counters, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="lagging_mm")
    args = parser.parse_args()
    seconds = int(args.hours * 3600)
    base = [
        f"seed={args.seed}",
        f"sim={args.scenario}",
        "run.speed=max",
        f"run.duration={seconds}",
        "run.progress=true",
    ]
    logging.basicConfig(level=logging.WARNING)
    ref_wall = feed_only(compose_cfg(base), seconds)
    rows = [("reference: feed-only loop", ref_wall, seconds + 1, None, None)]
    for label, extra in (
        ("engine, honest venue", []),
        ("engine, zero-latency venue", ZERO_LATENCY),
    ):
        wall, counters, total = engine_run(compose_cfg(base + extra))
        rows.append((label, wall, counters.ticks, counters, total))

    print(
        f"\nsimulated {args.hours:g} h ({seconds + 1} ticks, scenario={args.scenario}, seed={args.seed})"
    )
    print(f"{'':30}{'wall s':>9}{'ticks/s':>10}{'x feed':>8}  decisions and money")
    for label, wall, ticks, counters, total in rows:
        line = f"{label:30}{wall:9.2f}{ticks / wall:10.0f}{wall / ref_wall:8.2f}"
        if counters is not None:
            line += (
                f"  {counters.signals} signals, {counters.accepted} orders accepted, "
                f"{counters.fills} fills, {counters.unfilled} unfilled, {counters.reverted} "
                f"reverted; {total.trades} trades, WR {100 * (total.win_rate or 0):.1f}% vs "
                f"break-even {100 * (total.breakeven_win_rate or 0):.1f}%, P&L after fees "
                f"{total.pnl:+.2f}"
            )
        print(line)


if __name__ == "__main__":
    main()
