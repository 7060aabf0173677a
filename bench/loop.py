"""How fast the paper loop runs: a simulated 24-hour day, full engine vs the simulator alone.

    .venv/bin/python bench/loop.py [--hours 24] [--seed 0] [--scenario calm]

Prints simulated ticks (seconds) per wall second of
- the reference: the bare simulator (``sim.step()`` only, same seed, same day), and
- the engine: simulator + MarketState + Up/Down Capture + gates + sizers + paper
  venue + ledger writes to a fresh SQLite file (exactly what ``edgeloop`` runs),
and the engine's cost as a ratio of the reference, and its speed against real time.
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

from engine.app import CONF_DIR, build_driver  # noqa: E402
from engine.components import build  # noqa: E402
from engine.ledger.db import make_engine, make_sessionmaker, upgrade_to_head  # noqa: E402
from engine.ledger.queries import ledger  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="calm")
    args = parser.parse_args()
    seconds = int(args.hours * 3600)
    overrides = [
        f"seed={args.seed}",
        f"sim={args.scenario}",
        "run.speed=max",
        f"run.duration={seconds}",
        "run.progress=true",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)

    sim = build(cfg.sim, "sim")
    t0 = time.perf_counter()
    for _ in range(seconds + 1):
        sim.step()
    ref_wall = time.perf_counter() - t0

    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        driver = build_driver(cfg, make_sessionmaker(engine))
        t0 = time.perf_counter()
        counters = driver.run()
        wall = time.perf_counter() - t0
        with driver.sessions() as session:
            total = ledger(session=session)[-1]
        engine.dispose()

    ticks = counters.ticks
    print(
        f"\nsimulated {args.hours:g} h ({ticks} ticks, scenario={args.scenario}, seed={args.seed})"
    )
    print(f"{'':28}{'wall s':>10}{'ticks/s':>12}{'x real time':>14}")
    print(
        f"{'reference: simulator alone':28}{ref_wall:10.2f}{(seconds + 1) / ref_wall:12.0f}{(seconds + 1) / ref_wall:14.0f}"
    )
    print(f"{'engine: full paper loop':28}{wall:10.2f}{ticks / wall:12.0f}{ticks / wall:14.0f}")
    print(f"engine / reference wall time: {wall / ref_wall:.2f}x")
    print(
        f"decisions: {counters.signals} signals, {counters.orders} orders, {counters.fills} fills; "
        f"{total.trades} trades, P&L after fees {total.pnl:+.2f}"
    )


if __name__ == "__main__":
    main()
