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
import getpass
import json
import sys
from datetime import UTC, datetime

from sqlalchemy import select

from engine.ledger.db import check_database, make_sessionmaker, resolve_url
from engine.ledger.models import BreakerEventRow
from engine.ledger.runs import describe, find_run
from settings_service.dbcheck import DatabaseError, exit_codes, translated


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
    parser.add_argument("--author", default=None, help="who (default: $USER)")
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
            tripped = bool(rows) and rows[0].event == "trip"
            if args.command == "reset":
                if not tripped:
                    print(
                        "edgeloop-breaker: the breaker is not tripped; nothing to reset",
                        file=sys.stderr,
                    )
                    return 1
                # The engine's clock is simulated: stamp the reset at the trip's time; it acts on
                # the row, not the stamp.
                session.add(
                    BreakerEventRow(
                        run_id=run.id,
                        ts=rows[0].ts,
                        event="reset",
                        cause="human",
                        value=0.0,
                        detail=args.reason[:255],
                        author=(args.author or getpass.getuser())[:64],
                    )
                )
                print(
                    f"{describe(run)}: reset requested at "
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
            if args.json:
                print(json.dumps({"run": run.id, "tripped": tripped, "events": events}, indent=2))
            else:
                state = f"TRIPPED ({rows[0].cause})" if tripped else "inactive"
                print(f"{describe(run)}: breaker {state}")
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


if __name__ == "__main__":
    raise SystemExit(main())
