"""``edgeloop-ledger``: the ledger per strategy and in total, as a table or JSON.

    edgeloop-ledger                      # the embedded SQLite ledger (var/edgeloop.db)
    edgeloop-ledger --json               # one JSON object per strategy, then "total"
    edgeloop-ledger --db postgresql+psycopg://127.0.0.1/edgeloop
    edgeloop-ledger --skips              # rejected candidates per strategy x reason

The database is ``--db``, else ``$EDGELOOP_DB_URL``, else ``sqlite:///var/edgeloop.db``.
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.ledger.db import make_engine, make_sessionmaker, resolve_url
from engine.ledger.queries import LedgerRow, group_fills, ledger, open_exposure, skip_mix


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def render_ledger(session: Session) -> str:
    """The ledger table with its notes (open exposure, multi-leg groups), as the CLI prints it."""
    complete, partial = group_fills(session=session)
    return format_table(ledger(session=session), *open_exposure(session=session), complete, partial)


def format_table(
    rows: list[LedgerRow],
    open_count: int = 0,
    open_cost: float = 0.0,
    groups_complete: int = 0,
    groups_partial: int = 0,
) -> str:
    """The human ledger: win rate beside break-even win rate, P&L after fees, p-value."""
    header = ("strategy", "trades", "wins", "WR", "break-even WR", "P&L", "fees", "p-value")
    body = [
        (
            r.strategy,
            str(r.trades),
            str(r.wins),
            _pct(r.win_rate),
            _pct(r.breakeven_win_rate),
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
    out = [line, "-" * len(line)]
    for b in body:
        if b[0] == "total":
            out.append("-" * len(line))
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(b, widths, strict=True))
            )
        )
    out.append(
        "P&L is after fees, in USD, over resolved trades. Break-even WR = mean fee-inclusive entry price;"
    )
    out.append(
        "p-value = one-sided binomial test of the wins against it (small = not a coin flip)."
    )
    if open_count:
        out.append(
            f"Open (unresolved): {open_count} orders, {open_cost:.2f} USD at stake, not counted above."
        )
    return "\n".join(out)


def format_skips(rows: list[tuple[str, str, int]]) -> str:
    if not rows:
        return "no rejected candidates"
    total = sum(c for _, _, c in rows)
    width = max(len(f"{s} {r}") for s, r, _ in rows)
    lines = [f"{'strategy reason'.ljust(width)}  {'count':>8}  {'share':>6}"]
    lines += [f"{f'{s} {r}'.ljust(width)}  {c:>8}  {100 * c / total:5.1f}%" for s, r, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edgeloop-ledger", description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="database URL (default: $EDGELOOP_DB_URL or var/edgeloop.db)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("--skips", action="store_true", help="the skip mix instead of the ledger")
    args = parser.parse_args(argv)
    url = resolve_url(args.db)
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("signals"):
            print(
                f"edgeloop-ledger: no ledger at {url} (run `edgeloop` or `alembic upgrade head` first)",
                file=sys.stderr,
            )
            return 2
        with make_sessionmaker(engine)() as session:
            if args.skips:
                mix = skip_mix(session=session)
                print(
                    json.dumps(
                        [{"strategy": s, "reason": r, "count": c} for s, r, c in mix], indent=2
                    )
                    if args.json
                    else format_skips(mix)
                )
                return 0
            rows = ledger(session=session)
            if args.json:
                print(json.dumps([r.as_dict() for r in rows], indent=2))
            else:
                print(render_ledger(session))
    except OperationalError as exc:
        print(f"edgeloop-ledger: cannot read {url}: {exc.orig}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
