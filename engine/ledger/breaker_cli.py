"""``edgeloop-breaker``: the circuit breaker's state and its history; a human reset.

    edgeloop-breaker                                  # the latest run's state and last events
    edgeloop-breaker reset --reason "reviewed the losses"
    edgeloop-breaker --run 3 --json --db postgresql+psycopg://127.0.0.1/edgeloop

Each run has its own breaker (``--run ID|NAME``, default the latest run). A reset is a
``breaker_events`` row of that run written by a person; the running engine picks it up
within a minute of feed time and opens entries again.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from sqlalchemy import select

from engine.ledger.db import check_database, make_sessionmaker, resolve_url
from engine.ledger.models import BreakerEventRow, BreakerStateRow
from engine.ledger.runs import describe, find_run
from settings_service.dbcheck import DatabaseError, exit_codes, translated
from settings_service.identity import cli_author
from settings_service.schema import SettingsValidationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="edgeloop-breaker",
        description=__doc__.split("\n")[0],
        epilog=exit_codes(
            (1, "reset: the breaker is not tripped"),
            (2, "a bad argument (reset without --reason) or an unknown run"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", choices=["status", "reset"], default="status")
    parser.add_argument("--reason", help="why (required for reset)")
    parser.add_argument(
        "--author",
        default=None,
        help="a label recorded beside the OS account that runs this (never instead of it)",
    )
    parser.add_argument("--db", help="database URL (default: $EDGELOOP_DB_URL or var/edgeloop.db)")
    parser.add_argument("--run", default="last", help="run id or name (default: the latest)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "reset" and not args.reason:
        print("edgeloop-breaker: reset needs --reason", file=sys.stderr)
        return 2
    url = resolve_url(args.db)
    engine = None
    try:
        # status only reads: it creates and writes nothing
        engine = check_database(url, readonly=args.command == "status")
        with translated(url), make_sessionmaker(engine).begin() as session:
            try:
                run = find_run(session=session, ref=args.run)
            except LookupError as exc:
                print(f"edgeloop-breaker: {exc}", file=sys.stderr)
                return 2
            rows = session.scalars(
                select(BreakerEventRow)
                .where(BreakerEventRow.run_id == run.id)
                .order_by(BreakerEventRow.id.desc())
                .limit(10)
            ).all()
            counters = session.get(BreakerStateRow, run.id)
            # The engine's own view when it stored one; a reset a person asked for since
            # acts at the engine's next minute of feed time.
            trip = next((r for r in rows if r.event == "trip"), None)
            if counters is not None:
                tripped = counters.tripped
            else:
                tripped = bool(rows) and rows[0].event == "trip"
            pending = tripped and bool(rows) and rows[0].cause == "human"
            if args.command == "reset":
                if not tripped or pending:
                    print(
                        "edgeloop-breaker: the breaker is not tripped"
                        + (" (a reset is already pending)" if pending else "")
                        + "; nothing to reset",
                        file=sys.stderr,
                    )
                    return 1
                try:
                    author = cli_author(args.author)
                except SettingsValidationError as exc:
                    print(f"edgeloop-breaker: refused: {exc}", file=sys.stderr)
                    return 2
                # The engine's clock is simulated: stamp the reset at the trip's time; it acts on
                # the row, not the stamp.
                session.add(
                    BreakerEventRow(
                        run_id=run.id,
                        ts=trip.ts if trip is not None else rows[0].ts,
                        event="reset",
                        cause="human",
                        value=0.0,
                        detail=args.reason[:255],
                        author=author[:64],
                    )
                )
                print(
                    f"{describe(run)}: reset requested by {author} at "
                    f"{datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}: {args.reason}"
                )
                return 0
            events = [
                {
                    "ts": r.ts.isoformat(),
                    "event": r.event,
                    "cause": r.cause,
                    "value": r.value,
                    "author": r.author,
                    "detail": r.detail,
                }
                for r in rows
            ]
            state = _counters(counters)
            if args.json:
                body = {"run": run.id, "tripped": tripped, "reset_pending": pending}
                print(json.dumps({**body, "counters": state, "events": events}, indent=2))
            else:
                cause = (counters.cause if counters is not None else "") or (
                    trip.cause if trip is not None else ""
                )
                word = f"TRIPPED ({cause})" if tripped else "inactive"
                if pending:
                    word += ", reset requested: the engine applies it within a minute of feed time"
                print(f"{describe(run)}: breaker {word}")
                if state is not None:
                    # The drawdown rule's peak is the day's: say so wherever it is shown.
                    peak = (
                        "-"
                        if state["peak"] is None
                        else f"{state['peak']:,.2f} USD (peak since 00:00 UTC "
                        f"{state['peak_since'][:10]}: the drawdown is measured from it)"
                    )
                    print(
                        f"  today (UTC day {state['day']}): realized P&L {state['day_pnl']:+,.2f} USD, "
                        f"losing streak {state['streak']}, equity peak {peak}"
                    )
                for e in events:
                    print(
                        f"  {e['ts']}  {e['event']:<5}  {e['cause']:<18}  {e['value']:.4g}  {e['author']}  {e['detail']}"
                    )
    except DatabaseError as exc:
        print(f"edgeloop-breaker: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if engine is not None:
            engine.dispose()
    return 0


def _counters(row: BreakerStateRow | None) -> dict | None:
    """The breaker's counters as the engine stored them with its last settlement.

    ``peak`` is the highest equity since ``peak_since``, 00:00 UTC of the counters' day: the
    drawdown rule's peak restarts every UTC day (``engine.core.adaptive.breaker``)."""
    if row is None:
        return None
    return {
        "day": row.day,
        "day_pnl": row.day_pnl,
        "streak": row.streak,
        "peak": row.peak,
        "peak_since": datetime.fromtimestamp(row.day * 86_400, UTC).isoformat(),
        "updated": row.updated_ts.isoformat(),
    }


if __name__ == "__main__":
    raise SystemExit(main())
