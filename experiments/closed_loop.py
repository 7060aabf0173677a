"""Does calibration pay on days it has not seen? The closed-loop experiment, run end to end.

    .venv/bin/python experiments/closed_loop.py [--days 3] [--train-days 1] [--seed 11]
        [--out DIR] [--analyse]

Runs ``edgeloop +experiment=corridor`` twice on the same seed (the same
simulated market), with the calibrator on and off (``adaptive=static``), each
on its own SQLite file, in parallel. The calibrated run learns from its own
resolved entries as it goes (walk-forward: a gate at time t was learned from
outcomes before t). It then prints:

- where the edge lives: the static run's entries (which no gate has filtered
  beyond the loose floors) by quintile of |z|, IV/RV and |gamma_1pct|, with the
  edge per share (``won - fee-inclusive price``) and its t-statistic;
- where the calibrated gates stood at the end of each day;
- the trades of the days after ``--train-days`` (unseen when those gates were
  learned): count, win rate beside break-even win rate, P&L after fees, a
  binomial p-value of the wins against break-even, and a one-sided Welch t-test
  that the calibrated run's per-trade P&L is higher.

``--out DIR`` keeps the two databases (``on.db``, ``off.db``); ``--analyse``
prints the report from databases already there without running anything;
``--plot PNG`` also draws both runs' cumulative P&L and the calibrated gates
over time (docs/img/closed_loop.png).
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
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.ledger.queries import resolved_entries  # noqa: E402
from tests.helpers import query  # noqa: E402

START = datetime(2026, 1, 5)
GATES = (
    "gates.sigma.min_sigma",
    "gates.vol_band.low",
    "gates.vol_band.high",
    "gates.gamma_leash.cap",
)


def run(url: str, days: int, seed: int, *extra: str) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv/bin/edgeloop"), "+experiment=corridor", f"seed={seed}", f"run.duration={days}d",
           "run.speed=max", f"db.url={url}", "hydra.run.dir=var/runs/experiment", *extra]  # fmt: skip
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


def corridor(url: str, bins: int = 5) -> list[str]:
    """The static run's entries by quantile of |z|, IV/RV and |gamma_1pct|: edge per share."""
    with Session(create_engine(url)) as session:
        o = resolved_entries(
            session=session,
            strategy="updown",
            since=datetime(2000, 1, 1),
            until=datetime(2100, 1, 1),
        )
    edge = o.won.astype(float) - o.cost
    lines = [
        f"{'':8}{'bucket':>19}{'entries':>9}{'WR':>8}{'break-even':>12}{'edge/share':>12}{'t':>7}"
    ]
    for name, x in (("|z|", np.abs(o.z)), ("IV/RV", o.iv_rv), ("|gamma|", np.abs(o.gamma))):
        ok = np.isfinite(x) & np.isfinite(edge)
        edges = np.quantile(x[ok], np.linspace(0.0, 1.0, bins + 1))
        for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            m = ok & (x >= lo) & ((x < hi) if k < bins - 1 else (x <= hi))
            e = edge[m]
            t = e.mean() / (e.std(ddof=1) / np.sqrt(len(e)))
            lines.append(
                f"{name if k == 0 else '':8}{f'[{lo:.2f}, {hi:.2f}]':>19}{m.sum():9d}"
                f"{100 * o.won[m].mean():7.1f}%{100 * o.cost[m].mean():11.1f}%{e.mean():+12.4f}{t:+7.2f}"
            )
    return lines


def gate_path(url: str, days: int) -> list[str]:
    """The calibrated gates at the end of each simulated day (the floors before any calibration)."""
    rows = query(
        url, "SELECT ts, before, after FROM calibrations WHERE strategy = 'updown' ORDER BY id"
    )
    doc = lambda v: v if isinstance(v, dict) else json.loads(v)  # noqa: E731
    lines = [f"{'':12}" + "".join(f"{g.removeprefix('gates.'):>22}" for g in GATES)]
    if rows:
        lines.append(
            f"{'floors':12}"
            + "".join(f"{doc(rows[0][1]).get(g, float('nan')):22.3f}" for g in GATES)
        )
    for day in range(1, days + 1):
        end = f"{START + timedelta(days=day):%Y-%m-%d %H:%M:%S}"
        last = [r for r in rows if str(r[0]) < end]
        if last:
            after = doc(last[-1][2])
            lines.append(
                f"{f'end of day {day}':12}"
                + "".join(f"{after.get(g, float('nan')):22.3f}" for g in GATES)
            )
    return lines


def plot(on: str, off: str, args: argparse.Namespace, path: str) -> None:
    """Cumulative P&L after fees of both runs, and the calibrated gates, against simulated days."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def days(ts: object) -> float:
        t = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
        return (t.replace(tzinfo=None) - START).total_seconds() / 86400.0

    fig, (ax_pnl, ax_gate) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, height_ratios=[3, 2])
    for url, label, color in (
        (on, "calibrated", "tab:blue"),
        (off, "static (calibrator off)", "tab:gray"),
    ):
        rows = query(url, "SELECT closed_at, pnl FROM positions WHERE status = 'settled' "
                     "AND strategy = 'updown' ORDER BY closed_at")  # fmt: skip
        ax_pnl.step([days(r[0]) for r in rows], np.cumsum([r[1] for r in rows]), where="post",
                    label=label, color=color)  # fmt: skip
    ax_pnl.axvline(args.train_days, color="k", ls="--", lw=1)
    ax_pnl.text(args.train_days, ax_pnl.get_ylim()[1], " unseen days ->", va="top", fontsize=9)
    ax_pnl.set_ylabel("cumulative P&L after fees, USD")
    ax_pnl.legend(loc="upper left")
    ax_pnl.set_title(
        f"Closed-loop experiment, seed {args.seed}: Up/Down Capture in the corridor scenario"
    )
    rows = query(on, "SELECT ts, after FROM calibrations WHERE strategy = 'updown' ORDER BY id")
    doc = lambda v: v if isinstance(v, dict) else json.loads(v)  # noqa: E731
    x = [days(r[0]) for r in rows]
    for key, color in (("gates.sigma.min_sigma", "tab:blue"), ("gates.vol_band.low", "tab:green")):
        ax_gate.step(x, [doc(r[1]).get(key, np.nan) for r in rows], where="post", color=color,
                     label=key.removeprefix("gates."))  # fmt: skip
    ax_cap = ax_gate.twinx()
    ax_cap.step(x, [doc(r[1]).get("gates.gamma_leash.cap", np.nan) for r in rows], where="post",
                color="tab:red", label="gamma_leash.cap (right)")  # fmt: skip
    ax_cap.set_ylabel("|gamma_1pct| cap")
    ax_gate.set_ylabel("gate value")
    ax_gate.set_xlabel("simulated days")
    ax_gate.legend(*[a + b for a, b in zip(ax_gate.get_legend_handles_labels(),
                                            ax_cap.get_legend_handles_labels(), strict=True)],
                   loc="center right", fontsize=8)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def report(on: str, off: str, args: argparse.Namespace) -> None:
    since = START + timedelta(days=args.train_days)
    t_on, t_off = trades(on, since), trades(off, since)
    print(f"seed {args.seed}: {args.days} simulated days; calibrator on vs off (adaptive=static)\n")
    print("Where the edge lives: the static run's entries (loose floors), all days")
    print("\n".join(corridor(off)))
    print("\nThe calibrated run's gates (each value learned only from outcomes before it)")
    print("\n".join(gate_path(on, args.days)))
    print(
        f"\nTrades of days {args.train_days + 1}-{args.days} (unseen when the gates were learned)"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--train-days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--out", help="keep the two SQLite files in this folder (default: a temp one)"
    )
    parser.add_argument(
        "--analyse", action="store_true", help="report on the databases in --out, run nothing"
    )
    parser.add_argument(
        "--plot", metavar="PNG", help="also draw P&L and gates over time to this file"
    )
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for both runs")
    args = parser.parse_args()
    if args.analyse and not args.out:
        parser.error("--analyse needs --out DIR (where on.db and off.db are)")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or scratch)
        on, off = f"sqlite:///{out}/on.db", f"sqlite:///{out}/off.db"
        if not args.analyse:
            out.mkdir(parents=True, exist_ok=True)
            for name in ("on.db", "off.db"):
                (out / name).unlink(missing_ok=True)
            procs = [
                run(on, args.days, args.seed, *args.overrides),
                run(off, args.days, args.seed, "adaptive=static", *args.overrides),
            ]
            if any(p.wait() for p in procs):
                raise SystemExit("a run failed: see var/runs/experiment")
        report(on, off, args)
        if args.plot:
            plot(on, off, args, args.plot)


if __name__ == "__main__":
    main()
