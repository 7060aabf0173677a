"""``edgeloop-report``: one run's report as an HTML page and PNG plots.

    edgeloop-report                                  # the latest run of the embedded SQLite ledger
    edgeloop-report --run 3                          # run 3 (an id, a run's name, or last)
    edgeloop-report --run choppy-1h --out /tmp/choppy
    edgeloop-report --db postgresql+psycopg://127.0.0.1/edgeloop

Writes ``index.html`` and the PNGs it shows (equity and drawdown, WR against break-even per
strategy, P&L by sigma bin, the calibration diagram, the skip mix, fills against unfilled)
into ``--out`` (default ``var/reports/run-<id>/``) and prints the path of ``index.html``.
The page needs nothing but the PNGs beside it. The database is ``--db``, else
``$EDGELOOP_DB_URL``, else ``sqlite:///var/edgeloop.db``; it is only read.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from engine.ledger.cli import LEGEND
from engine.ledger.db import check_database, make_sessionmaker, resolve_url
from engine.ledger.queries import TOTAL
from engine.ledger.report import Interval, ReliabilityBin, Report, Row, build_report
from engine.ledger.runs import find_run
from settings_service.dbcheck import DatabaseError, exit_codes, shown, translated

PROG = "edgeloop-report"
NO_TRADES = "no resolved trades in this run"


# -- Plots ----------------------------------------------------------------------------


def _figure(width: float = 8.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg renderer, whatever matplotlib's global backend is
    return fig


def _empty(text: str) -> Figure:
    fig = _figure(8.0, 1.5)
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="0.4")
    return fig


def _err(centre: Sequence[float], intervals: Sequence[Interval]) -> np.ndarray:
    """Error-bar lengths below and above ``centre`` (0 where the interval is undefined)."""
    c = np.asarray(centre, dtype=float)
    lo = np.array([i.low for i in intervals], dtype=float)
    hi = np.array([i.high for i in intervals], dtype=float)
    return np.nan_to_num(np.vstack([c - lo, hi - c]), nan=0.0).clip(min=0.0)


def plot_equity(report: Report) -> Figure:
    """Realized P&L after fees over settle time, and its drawdown below it."""
    curve = report.equity
    if not curve.times:
        return _empty("no settled positions in this run")
    fig = _figure(8.0, 4.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.step(curve.times, curve.equity, where="post", color="tab:blue", marker=".")
    top.axhline(0.0, color="0.6", lw=0.8)
    top.set_ylabel("realized P&L after fees, USD")
    top.set_title(report.title)
    bottom.fill_between(curve.times, curve.drawdown, step="post", color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown, USD")
    bottom.set_xlabel("settle time (UTC)")
    return fig


def plot_strategies(report: Report) -> Figure:
    """Per strategy and in total: WR with its 95 % interval beside break-even, per trade and
    per share."""
    rows = [r for r in report.strategies if r.ledger.trades]
    if not rows:
        return _empty(NO_TRADES)
    fig = _figure(9.0, 1.2 + 0.45 * len(rows))
    per_trade, per_share = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(rows))[::-1]
    pairs = (
        (per_trade, "per trade", [r.ledger.win_rate for r in rows], [r.win_rate_ci for r in rows],
         [r.ledger.breakeven_win_rate for r in rows]),
        (per_share, "per share", [r.ledger.win_rate_shares for r in rows],
         [r.win_rate_shares_ci for r in rows], [r.ledger.breakeven_win_rate_shares for r in rows]),
    )  # fmt: skip
    for ax, title, wr, ci, be in pairs:
        ax.errorbar(wr, y, xerr=_err(wr, ci), fmt="o", capsize=3, label="WR, 95% interval")
        ax.plot(be, y, "x", color="tab:red", markersize=9, label="break-even")
        ax.set_title(f"WR {title}")
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("win rate")
    per_trade.set_yticks(y, [r.ledger.strategy for r in rows])
    per_share.legend(loc="lower left", fontsize=8)
    return fig


def plot_sigma(report: Report) -> Figure:
    """Mean P&L per directional entry and its 95 % interval, per |z| bin."""
    rows = report.sigma
    if not rows:
        return _empty(NO_TRADES)
    fig = _figure()
    ax = fig.subplots()
    x = np.arange(len(rows))
    means = [r.mean_pnl or 0.0 for r in rows]
    colors = ["tab:green" if m > 0 else "tab:red" for m in means]
    ax.bar(x, means, color=colors, alpha=0.6)
    err = _err(means, [r.mean_pnl_ci for r in rows])
    ax.errorbar(x, means, yerr=err, fmt="none", capsize=4, color="k")
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xticks(x, [f"{r.ledger.strategy}\nn={r.ledger.trades}" for r in rows])
    ax.set_xlabel("|z| of the triggering move (sigma)")
    ax.set_ylabel("mean P&L per entry after fees, USD")
    ax.set_title("Mean P&L per directional entry, 95% interval")
    return fig


def plot_calibration(report: Report) -> Figure:
    """The reliability diagram of N(d2), and of the market's ask, against the outcomes."""
    cal = report.calibration
    if not cal.entries:
        return _empty("no resolved entries with a fair value in this run")
    fig = _figure(6.0, 5.5)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "--", color="0.5", lw=1, label="perfect calibration")

    def series(bins: list[ReliabilityBin], label: str, **style: object) -> None:
        mean_p, wr = [b.mean_p for b in bins], [b.win_rate for b in bins]
        err = _err(wr, [b.interval for b in bins])
        ax.errorbar(mean_p, wr, yerr=err, capsize=3, label=label, **style)

    series(cal.bins, f"fair N(d2), Brier {_num(cal.brier, 3)}", fmt="o", color="tab:blue")
    series(cal.market_bins, f"market ask, Brier {_num(cal.market_brier, 3)}", fmt="s",
           color="tab:orange", mfc="none", alpha=0.7)  # fmt: skip
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("forecast probability of the side bought (bin mean)")
    ax.set_ylabel("observed win rate, Wilson 95%")
    ax.set_title(f"Reliability of {cal.entries} resolved entries")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_skips(report: Report, top: int = 15) -> Figure:
    """The ``top`` most frequent (strategy, reason) of rejected candidates."""
    skips = report.skips[:top]
    if not skips:
        return _empty("no rejected candidates in this run")
    fig = _figure(8.0, 1.0 + 0.3 * len(skips))
    ax = fig.subplots()
    ax.barh(range(len(skips))[::-1], [c for _, _, c in skips], color="tab:gray")
    ax.set_yticks(range(len(skips))[::-1], [f"{s} {r}" for s, r, _ in skips])
    ax.set_xlabel("rejected candidates")
    ax.set_title(f"Where candidates went (top {len(skips)} strategy x reason)")
    return fig


def plot_orders(report: Report) -> Figure:
    """Each strategy's orders, stacked by last status."""
    mixes = [m for m in report.orders if m.strategy != TOTAL]
    if not mixes:
        return _empty("no orders in this run")
    fig = _figure(8.0, 1.2 + 0.4 * len(mixes))
    ax = fig.subplots()
    statuses = sorted({s for m in mixes for s in m.by_status})
    left = np.zeros(len(mixes))
    y = np.arange(len(mixes))[::-1]
    for status in statuses:
        counts = np.array([m.by_status.get(status, 0) for m in mixes], dtype=float)
        ax.barh(y, counts, left=left, label=status)
        left += counts
    ax.set_yticks(y, [m.strategy for m in mixes])
    ax.set_xlabel("orders")
    ax.set_title("Orders by status")
    ax.legend(fontsize=8)
    return fig


# -- The page -------------------------------------------------------------------------


def _num(x: float | None, digits: int = 2, sign: str = "") -> str:
    return "-" if x is None or math.isnan(x) else f"{x:{sign}.{digits}f}"


def _pct(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def _ci(i: Interval, spec: str = "+.2f") -> str:
    """``[low, high]`` in the format ``spec`` (``-`` when undefined)."""
    return "-" if math.isnan(i.low) else f"[{i.low:{spec}}, {i.high:{spec}}]"


def _pct_ci(i: Interval) -> str:
    return "-" if math.isnan(i.low) else f"[{_pct(i.low)}, {_pct(i.high)}]"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _table(header: Sequence[str], body: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _p_text(*lines: str) -> str:
    return f"<p>{html.escape(' '.join(lines))}</p>"


def _rows_table(rows: list[Row], first: str) -> str:
    header = (first, "trades", "wins", "WR", "WR 95%", "break-even WR", "WR/share",
              "WR/share 95%", "break-even/share", "P&L", "fees", "P&L/trade", "P&L/trade 95%",
              "p-value")  # fmt: skip
    body = [
        (
            r.ledger.strategy, r.ledger.trades, r.ledger.wins, _pct(r.ledger.win_rate),
            _pct_ci(r.win_rate_ci), _pct(r.ledger.breakeven_win_rate),
            _pct(r.ledger.win_rate_shares), _pct_ci(r.win_rate_shares_ci),
            _pct(r.ledger.breakeven_win_rate_shares), f"{r.ledger.pnl:+.2f}",
            f"{r.ledger.fees:.2f}", _num(r.mean_pnl, sign="+"), _ci(r.mean_pnl_ci),
            _p(r.ledger.p_value),
        )
        for r in rows
    ]  # fmt: skip
    return _table(header, body)


INTERVALS = (
    "WR 95% is Wilson's score interval; WR/share 95% the same with Kish's effective number of "
    "trades (weights: shares); P&L/trade 95% a Student-t interval of the mean. A break-even "
    "inside the interval: this sample does not tell the edge from none."
)


def _equity_body(report: Report) -> str:
    eq = report.equity
    return _p_text(
        f"{eq.settlements} settled positions; realized P&L after fees {eq.final:+.2f} USD,",
        f"deepest drawdown {eq.max_drawdown:.2f} USD from the running peak (the peak starts",
        f"at 0). Open (unresolved): {report.open_orders} orders, {report.open_cost:.2f} USD at",
        "stake, not counted.",
    )


def _strategies_body(report: Report) -> str:
    if not report.strategies[-1].ledger.trades:
        return _p_text(f"{NO_TRADES}.")
    return _rows_table(report.strategies, "strategy") + _p_text(*LEGEND, INTERVALS)


def _sigma_body(report: Report) -> str:
    if not report.sigma:
        return _p_text(f"{NO_TRADES}.")
    total = report.strategies[-1].ledger
    arbs = (
        f" Arb groups ({total.arb_trades} trades, P&L {total.arb_pnl:+.2f} USD) are in the "
        "per-strategy rows only."
        if total.arb_trades
        else ""
    )
    return _rows_table(report.sigma, "|z| bin") + _p_text(
        "Directional entries (filled single-leg orders whose market resolved) by |z|, the size",
        "of the move that triggered them in standard deviations (what the sigma gate tests);",
        "'no z': strategies that price no move (copy trading, news)." + arbs,
        INTERVALS,
    )


def _skips_body(report: Report) -> str:
    n = sum(c for _, c in report.signals) or 1
    status = _table(("signal status", "count", "share"),
                    [(s, c, _pct(c / n)) for s, c in report.signals])  # fmt: skip
    rejected = sum(c for _, _, c in report.skips) or 1
    reasons = _table(("strategy", "reason", "count", "share of rejected"),
                     [(s, r, c, _pct(c / rejected)) for s, r, c in report.skips])  # fmt: skip
    return (
        status
        + reasons
        + _p_text(
            "Every candidate is a signal; a rejected one keeps the first stage that rejected it",
            "(gate.*, exec.*), accepted candidates whose order filled nothing included.",
        )
    )


def _orders_body(report: Report) -> str:
    statuses = sorted({s for m in report.orders for s in m.by_status})
    header = ("strategy", "orders", *statuses, "any fill", "fill rate", "fill rate 95%")
    body = [
        (m.strategy, m.orders, *(m.by_status.get(s, 0) for s in statuses), m.filled,
         _pct(m.fill_rate), _pct_ci(m.interval))
        for m in report.orders
    ]  # fmt: skip
    return _table(header, body) + _p_text(
        "Orders by their last status; any fill: orders with a fill that stands (partial or",
        "whole), over orders: the fill rate, with its Wilson 95% interval.",
    )


def _calibration_body(report: Report) -> str:
    cal = report.calibration
    if not cal.entries:
        return _p_text("no resolved entries with a fair value in this run.")
    body = [
        (
            f"{b.low:.1f}-{b.high:.1f}",
            b.n,
            _num(b.mean_p, 3),
            _pct(b.win_rate),
            _pct_ci(b.interval),
        )
        for b in cal.bins
    ]
    table = _table(("N(d2) bin", "entries", "mean N(d2)", "WR", "WR 95%"), body)
    return table + _p_text(
        f"Brier score of the fair value N(d2) over {cal.entries} resolved entries:",
        f"{_num(cal.brier, 4)} {_ci(cal.brier_ci, '.4f')};",
        f"of the market ask on the same entries (for reference): {_num(cal.market_brier, 4)}",
        f"{_ci(cal.market_brier_ci, '.4f')}; difference (fair minus ask, paired per entry):",
        f"{_num(cal.gap, 4, '+')} {_ci(cal.gap_ci, '+.4f')} (negative: N(d2) forecast better).",
        "Brier = mean (forecast - outcome)^2, 0 perfect, 0.25 a coin called at 0.5;",
        "intervals 95% (Student-t). Forecast: the probability of the side bought.",
    )


@dataclass(frozen=True)
class Section:
    """One section of the page: its heading, its plot (``<id>.png``) and its text."""

    id: str
    heading: str
    plot: Callable[[Report], Figure]
    body: Callable[[Report], str]

    @property
    def png(self) -> str:
        return f"{self.id}.png"


SECTIONS = (
    Section("equity", "Equity and drawdown", plot_equity, _equity_body),
    Section("strategies", "Per strategy", plot_strategies, _strategies_body),
    Section("sigma", "P&L by sigma bin", plot_sigma, _sigma_body),
    Section("calibration", "Calibration", plot_calibration, _calibration_body),
    Section("skips", "Skip mix", plot_skips, _skips_body),
    Section("orders", "Fills vs unfilled", plot_orders, _orders_body),
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead { background: #f3f3f3; }
img { max-width: 100%; }
.verdict { font-size: 1.1em; font-weight: bold; }
"""


def render_html(report: Report, source: str) -> str:
    """The page: the run and its verdict, then each section with its plot (relative paths)."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>edgeloop report: run {report.run_id}</title><style>{STYLE}</style></head><body>",
        f"<h1>edgeloop report: {html.escape(report.title)}</h1>",
        f'<p class="verdict">verdict: {html.escape(report.verdict)}</p>',
        f"<p>ledger: {html.escape(source)}</p>",
    ]
    for sec in SECTIONS:
        parts += [
            f'<section id="{sec.id}"><h2>{html.escape(sec.heading)}</h2>',
            f'<img src="{sec.png}" alt="{html.escape(sec.heading)}">',
            sec.body(report),
            "</section>",
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(report: Report, out: Path, source: str) -> Path:
    """Write the PNGs and ``index.html`` into ``out`` (created); the path of ``index.html``."""
    out.mkdir(parents=True, exist_ok=True)
    for sec in SECTIONS:
        sec.plot(report).savefig(out / sec.png, format="png")
    index = out / "index.html"
    index.write_text(render_html(report, source), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n")[0],
        epilog=exit_codes((2, "a bad argument, an unknown run, or an --out it cannot write")),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run", default="last", help="a run id or name, or last (default)")
    parser.add_argument("--db", help="database URL (default: $EDGELOOP_DB_URL or var/edgeloop.db)")
    parser.add_argument("--out", type=Path, help="folder to write (default: var/reports/run-ID/)")
    args = parser.parse_args(argv)
    url = resolve_url(args.db)
    engine = None
    try:
        engine = check_database(url, readonly=True)  # creates nothing, writes nothing
        with translated(url), make_sessionmaker(engine)() as session:
            try:
                run = find_run(session=session, ref=args.run)
            except LookupError as exc:
                print(f"{PROG}: {exc}", file=sys.stderr)
                return 2
            report = build_report(session=session, run=run)
    except DatabaseError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if engine is not None:
            engine.dispose()
    out = args.out if args.out is not None else Path("var/reports") / f"run-{report.run_id}"
    try:
        index = write_report(report, out, shown(url))
    except OSError as exc:
        print(f"{PROG}: cannot write the report into {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(index)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
