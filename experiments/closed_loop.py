"""Does calibration pay on days it has not seen? The closed-loop experiment, run end to end.

    .venv/bin/python experiments/closed_loop.py [--days 3] [--train-days 1] [--seed 11]

Runs ``edgeloop +experiment=corridor`` twice on the same seed (the same
simulated market), with the calibrator on and off (``adaptive=static``), each
on its own SQLite file, in parallel. The calibrated run learns from its own
resolved entries as it goes (walk-forward: a gate at time t was learned from
outcomes before t). It then compares the trades of the days after
``--train-days``: count, win rate beside break-even win rate, P&L after fees,
and a one-sided Welch t-test that the calibrated run's per-trade P&L is higher,
plus where the calibrated gates ended.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import query  # noqa: E402

START = datetime(2026, 1, 5)


def run(url: str, days: int, seed: int, *extra: str) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv/bin/edgeloop"), "+experiment=corridor", f"seed={seed}", f"run.duration={days}d",
           "sim.speed=max", f"db.url={url}", "hydra.run.dir=var/runs/experiment", *extra]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def trades(url: str, since: datetime) -> np.ndarray:
    """(won, pnl, break-even price) per resolved updown position settled after ``since``."""
    rows = query(
        url,
        "SELECT payout > 0, pnl, (cost + fees) / shares FROM positions "
        f"WHERE status = 'settled' AND strategy = 'updown' AND closed_at >= '{since:%Y-%m-%d %H:%M:%S}'",
    )
    return np.array(rows, dtype=float).reshape(-1, 3)


def summary(name: str, t: np.ndarray) -> str:
    n = len(t)
    wr, be = t[:, 0].mean(), t[:, 2].mean()
    p = stats.binomtest(int(t[:, 0].sum()), n, be, alternative="greater").pvalue
    return f"{name:12}{n:8d}{100 * wr:9.1f}%{100 * be:13.1f}%{t[:, 1].sum():+12.2f}{t[:, 1].mean():+11.3f}{p:12.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--train-days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for both runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        on, off = f"sqlite:///{tmp}/on.db", f"sqlite:///{tmp}/off.db"
        procs = [
            run(on, args.days, args.seed, *args.overrides),
            run(off, args.days, args.seed, "adaptive=static", *args.overrides),
        ]
        if any(p.wait() for p in procs):
            raise SystemExit("a run failed: see var/runs/experiment")
        since = START + timedelta(days=args.train_days)
        t_on, t_off = trades(on, since), trades(off, since)
        last = query(
            on,
            "SELECT after FROM calibrations WHERE strategy = 'updown' AND applied ORDER BY id DESC LIMIT 1",
        )
    print(
        f"seed {args.seed}: {args.days} simulated days, trades of days {args.train_days + 1}-{args.days} (unseen)"
    )
    print(
        f"{'':12}{'trades':>8}{'WR':>10}{'break-even WR':>14}{'P&L':>12}{'P&L/trade':>11}{'p(WR>BE)':>12}"
    )
    print(summary("calibrated", t_on))
    print(summary("static", t_off))
    test = stats.ttest_ind(t_on[:, 1], t_off[:, 1], equal_var=False, alternative="greater")
    print(
        f"one-sided Welch t-test, per-trade P&L calibrated > static: t={test.statistic:.2f} p={test.pvalue:.3g}"
    )
    if last:
        after = last[0][0] if isinstance(last[0][0], dict) else json.loads(last[0][0])
        print(
            "calibrated gates at the end:",
            {k: round(v, 3) for k, v in after.items() if k.startswith("gates.")},
        )


if __name__ == "__main__":
    main()
