"""``edgeloop-ledger``: the ledger per strategy and in total, as a table or JSON.

    edgeloop-ledger                      # the latest run of the embedded SQLite ledger
    edgeloop-ledger --run 3              # run 3 (an id or a run's name); --run all: every run
    edgeloop-ledger runs                 # the runs this database holds
    edgeloop-ledger --json               # one JSON object per strategy, then "total"
    edgeloop-ledger --db postgresql+psycopg://127.0.0.1/edgeloop
    edgeloop-ledger --skips              # rejected candidates per strategy x reason

The database is ``--db``, else ``$EDGELOOP_DB_URL``, else ``sqlite:///var/edgeloop.db``.
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy.orm import Session

from engine.ledger.db import check_database, make_sessionmaker, resolve_url
from engine.ledger.models import RunRow
from engine.ledger.queries import LedgerRow, Runs, group_fills, ledger, open_exposure, skip_mix
from engine.ledger.runs import describe, list_runs, select_runs
from engine.timeutil import from_dt, iso
from settings_service.dbcheck import DatabaseError, exit_codes, translated


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def render_ledger(session: Session, runs: Runs = None) -> str:
    """The ledger table of ``runs`` with its notes (open exposure, multi-leg groups), headed by
    which runs it covers, as the CLI prints it."""
    complete, partial = group_fills(session=session, runs=runs)
    table = format_table(
        ledger(session=session, runs=runs),
        *open_exposure(session=session, runs=runs),
        complete,
        partial,
    )
    lines = ["all runs"] if runs is None else [run_line(session.get(RunRow, r)) for r in runs]
    head = "; ".join(lines)
    return f"ledger of {head}\n{table}"


def run_line(run: RunRow) -> str:
    """``run 3 'calm' paper on sim seed=7, 2026-01-05T00:00:00Z..2026-01-05T02:00:00Z, finished``."""
    span = "no ticks yet"
    if run.first_ts is not None and run.last_ts is not None:
        span = f"{iso(from_dt(run.first_ts))}..{iso(from_dt(run.last_ts))}"
    seed = "" if run.seed is None else f" seed={run.seed}"
    return f"{describe(run)} {run.mode} on {run.feed}{seed}, {span}, {run.status}"


def format_runs(rows: list[RunRow]) -> str:
    if not rows:
        return "no runs yet"
    header = f"{'id':>4}  {'name':<16}  {'mode':<6}  {'feed':<5}  {'seed':>5}  {'fingerprint':<12}  {'started (wall, UTC)':<20}  {'feed time':<41}  status"
    lines = [header, "-" * len(header)]
    for r in rows:
        span = "-"
        if r.first_ts is not None and r.last_ts is not None:
            span = f"{iso(from_dt(r.first_ts))}..{iso(from_dt(r.last_ts))}"
        lines.append(
            f"{r.id:>4}  {(r.name or '-'):<16}  {r.mode:<6}  {r.feed:<5}  "
            f"{'-' if r.seed is None else r.seed:>5}  {r.fingerprint:<12}  "
            f"{r.started_at:%Y-%m-%d %H:%M:%S}  {span:<41}  {r.status}"
        )
    return "\n".join(lines)


def runs_json(rows: list[RunRow]) -> list[dict[str, object]]:
    def ts(x):  # noqa: ANN001, ANN202
        return None if x is None else iso(from_dt(x))

    return [
        {
            "id": r.id,
            "name": r.name,
            "mode": r.mode,
            "feed": r.feed,
            "seed": r.seed,
            "fingerprint": r.fingerprint,
            "settings_version": r.settings_version,
            "started_at": ts(r.started_at),
            "ended_at": ts(r.ended_at),
            "first_ts": ts(r.first_ts),
            "last_ts": ts(r.last_ts),
            "status": r.status,
        }
        for r in rows
    ]


def format_table(
    rows: list[LedgerRow],
    open_count: int = 0,
    open_cost: float = 0.0,
    groups_complete: int = 0,
    groups_partial: int = 0,
) -> str:
    """The human ledger: the verdict, then per trade and per share the win rate beside its
    break-even, P&L after fees and the p-value."""
    header = (
        "strategy", "trades", "wins", "WR", "break-even WR", "WR/share", "break-even/share",
        "P&L", "fees", "p-value",
    )  # fmt: skip
    body = [
        (
            r.strategy,
            str(r.trades),
            str(r.wins),
            _pct(r.win_rate),
            _pct(r.breakeven_win_rate),
            _pct(r.win_rate_shares),
            _pct(r.breakeven_win_rate_shares),
            f"{r.pnl:+.2f}",
            f"{r.fees:.2f}",
            _p(r.p_value),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    out = [f"verdict: {rows[-1].verdict}" if rows else "verdict: no resolved trade yet"]
    out += [line, "-" * len(line)]
    for b in body:
        if b[0] == "total":
            out.append("-" * len(line))
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(b, widths, strict=True))
            )
        )
    out += LEGEND
    arbs = rows[-1] if rows else None
    if arbs is not None and arbs.arb_trades:
        out.append(
            f"Arb groups: {arbs.arb_trades} trades, P&L {arbs.arb_pnl:+.2f} USD, in the rows "
            "above but not in the p-value."
        )
    if open_count:
        out.append(
            f"Open (unresolved): {open_count} orders, {open_cost:.2f} USD at stake, not counted above."
        )
    return "\n".join(out)


LEGEND = [
    "P&L is after fees, in USD, over resolved trades. Break-even = fee-inclusive entry price: WR and",
    "break-even WR count each trade once; per share they weigh trades by shares, and WR/share minus",
    "break-even/share is P&L / shares (the verdict). p-value = P(wins >= observed) if each directional",
    "trade won with its own break-even price (Poisson-binomial; small = not a coin flip).",
]


def format_skips(rows: list[tuple[str, str, int]]) -> str:
    if not rows:
        return "no rejected candidates"
    total = sum(c for _, _, c in rows)
    width = max(len(f"{s} {r}") for s, r, _ in rows)
    lines = [f"{'strategy reason'.ljust(width)}  {'count':>8}  {'share':>6}"]
    lines += [f"{f'{s} {r}'.ljust(width)}  {c:>8}  {100 * c / total:5.1f}%" for s, r, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="edgeloop-ledger",
        description=__doc__.split("\n")[0],
        epilog=exit_codes((2, "a bad argument or an unknown run")),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", nargs="?", choices=["ledger", "runs"], default="ledger",
        help="ledger (default) or runs: the runs this database holds",
    )  # fmt: skip
    parser.add_argument("--db", help="database URL (default: $EDGELOOP_DB_URL or var/edgeloop.db)")
    parser.add_argument(
        "--run", default=None, help="a run id or name, or all (default: the latest run)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("--skips", action="store_true", help="the skip mix instead of the ledger")
    args = parser.parse_args(argv)
    url = resolve_url(args.db)
    engine = None
    try:
        engine = check_database(url, readonly=True)  # creates nothing, writes nothing
        with translated(url), make_sessionmaker(engine)() as session:
            if args.command == "runs":
                rows_ = list_runs(session=session)
                print(json.dumps(runs_json(rows_), indent=2) if args.json else format_runs(rows_))
                return 0
            try:
                runs = select_runs(session=session, ref=args.run)
            except LookupError as exc:
                print(f"edgeloop-ledger: {exc}", file=sys.stderr)
                return 2
            if args.skips:
                mix = skip_mix(session=session, runs=runs)
                print(
                    json.dumps(
                        [{"strategy": s, "reason": r, "count": c} for s, r, c in mix], indent=2
                    )
                    if args.json
                    else format_skips(mix)
                )
                return 0
            rows = ledger(session=session, runs=runs)
            if args.json:
                print(json.dumps([r.as_dict() for r in rows], indent=2))
            else:
                print(render_ledger(session, runs))
    except DatabaseError as exc:
        print(f"edgeloop-ledger: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if engine is not None:
            engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
