"""``edgeloop-export-corpus``: a paper run on the simulator written out as a backtest corpus.

    edgeloop-export-corpus --run 3 --db sqlite:///var/edgeloop.db --out var/corpus-run3
    edgeloop mode=backtest backtest.corpus=var/corpus-run3 db.url=sqlite:///var/backtest.db

The ledger holds the run's markets and outcomes but not its spot and books per second, so the
simulator is built again from the run's stored configuration (``runs.config``, resolved: the
same seed and fields give the same market, which the stored ``market_prefix`` confirms) and
its ticks over the run's span (``runs.first_ts..last_ts``) are written in the corpus layout
(``docs/corpus.md``):

- Binance 1 s klines per symbol and day from the ticks' spot (:class:`~engine.adapters.corpus.writers.KlineDays`);
- a Gamma market object per Up/Down market of the run (from the ``markets`` and ``outcomes``
  tables: its slug, tokens as decimal ids, tick 0.01, ``feeSchedule.rate`` = its fee rate, the
  outcome if it resolved by the run's last tick);
- a book-top row per token and second from the ticks' books, the top level only.

Range (neg-risk) markets are skipped and counted. The re-run is checked against the ledger:
every market it lists must have the strike the ledger holds, every resolution its winner.
Everything is written into a temporary folder beside ``--out`` and moved there at the end, so a
failed export leaves nothing behind. Exit 0 done, 2 a bad argument (an unknown run, a run not
on the simulator, an ``--out`` that is not empty), 4/6/7 the database (docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.adapters.corpus.layout import CorpusLayout
from engine.adapters.corpus.writers import BookTopDays, KlineDays, decimal_token, gamma_market
from engine.components import build
from engine.core.types import UPDOWN
from engine.core.validation import ConfigError
from engine.ledger.db import check_database, make_sessionmaker, resolve_url
from engine.ledger.models import MarketRow, OutcomeRow, RunRow
from engine.ledger.runs import describe, find_run
from engine.sim.common import short_symbol, window_label
from engine.sim.feed import SimFeed
from engine.timeutil import from_dt, iso
from settings_service.dbcheck import DatabaseError, exit_codes, translated

PROG = "edgeloop-export-corpus"
_SLUG = re.compile(r"^[a-z0-9]+-updown-(5m|15m|1h)-\d+$")


class ExportError(ValueError):
    """A run that cannot be exported (the message names the option, the value and why)."""


@dataclass(frozen=True)
class ExportMarket:
    """One Up/Down market of the run as the corpus names it."""

    market_id: str
    slug: str
    symbol: str
    start_ts: float
    end_ts: float
    strike: float
    up_token: str
    down_token: str
    fee_rate: float
    winner: str | None

    @property
    def series(self) -> str:
        return self.slug.rsplit("-", 1)[0]


@dataclass
class ExportSummary:
    """What an export wrote."""

    run: str
    first_ts: float
    last_ts: float
    symbols: list[str] = field(default_factory=list)
    kline_days: int = 0
    markets: int = 0
    resolved: int = 0
    skipped_range: int = 0
    booktop_files: int = 0
    booktop_rows: int = 0
    notes: list[str] = field(default_factory=list)

    def render(self, out: Path) -> str:
        lines = [
            f"exported {self.run}, {iso(self.first_ts)}..{iso(self.last_ts)}) to {out}:",
            f"  klines: {', '.join(self.symbols)} 1s, {self.kline_days} day files",
            f"  markets: {self.markets} Up/Down ({self.resolved} resolved, "
            f"{self.markets - self.resolved} open at the run's end); "
            f"{self.skipped_range} range markets skipped",
            f"  book-top: {self.booktop_rows} rows in {self.booktop_files} files",
            *(f"  note: {n}" for n in self.notes),
            f"replay it: edgeloop mode=backtest backtest.corpus={out} (and the run's overrides)",
        ]
        return "\n".join(lines)


def corpus_slug(market: MarketRow) -> str:
    """The market's id when it is a Polymarket Up/Down slug, else one built from its symbol,
    window and start (``btc-updown-5m-1767571200``)."""
    if _SLUG.match(market.market_id):
        return market.market_id
    start = int(from_dt(market.start_ts))
    return f"{short_symbol(market.symbol)}-updown-{window_label(market.window_s)}-{start}"


def run_markets(*, session: Session, run: RunRow, prefix: str) -> tuple[list[ExportMarket], int]:
    """The run's Up/Down markets (those of its simulator listed in its span) with the outcomes
    known by its last tick; and how many range markets were left out."""
    first, last = run.first_ts, run.last_ts
    rows = session.scalars(
        select(MarketRow)
        .where(MarketRow.market_id.startswith(prefix, autoescape=True))
        .where(MarketRow.start_ts >= first, MarketRow.start_ts <= last)
        .order_by(MarketRow.start_ts, MarketRow.market_id)
    ).all()
    outcomes = dict(
        session.execute(
            select(OutcomeRow.market_id, OutcomeRow.winner).where(
                OutcomeRow.market_id.in_([r.market_id for r in rows]),
                OutcomeRow.resolved_at <= last,
            )
        ).all()
    )
    out, skipped = [], 0
    for r in rows:
        if r.kind != UPDOWN:
            skipped += 1
            continue
        slug = corpus_slug(r)
        out.append(
            ExportMarket(
                market_id=r.market_id,
                slug=slug,
                symbol=r.symbol,
                start_ts=from_dt(r.start_ts),
                end_ts=from_dt(r.end_ts),
                strike=r.strike,
                up_token=decimal_token(f"{slug}:{r.up_token}"),
                down_token=decimal_token(f"{slug}:{r.down_token}"),
                fee_rate=r.fee_rate,
                winner=outcomes.get(r.market_id),
            )
        )
    return out, skipped


def rebuild_feed(run: RunRow) -> SimFeed:
    """The run's simulator feed, built again from its stored configuration; raises
    :class:`ExportError` when it no longer builds or simulates another market."""
    ref = describe(run)
    if run.feed != "sim":
        raise ExportError(
            f"--run {run.id}: {ref} ran on feed {run.feed!r}, expected a run on the simulator "
            "(feed=sim): a replay's corpus is already one"
        )
    if run.first_ts is None or run.last_ts is None:
        raise ExportError(f"--run {run.id}: {ref} has no ticks to export")
    try:
        feed = build(OmegaConf.create(run.config["feed"]), "feed")
    except (ConfigError, KeyError, TypeError, ImportError) as exc:
        raise ExportError(
            f"--run {run.id}: its stored configuration does not build a simulator now ({exc})"
        ) from None
    stored = (run.feed_identity or {}).get("market_prefix")
    rebuilt = feed.identity().get("market_prefix")
    if stored != rebuilt:
        raise ExportError(
            f"--run {run.id}: the simulator rebuilt from its configuration names markets "
            f"{rebuilt!r}, the run's were {stored!r}: export it with the edgeloop that made it"
        )
    return feed


def replay_notes(config: dict) -> list[str]:
    """Where a replay of the export will differ from the run, read from its configuration
    (``docs/backtest.md``, "Exporting a run as a corpus", says why)."""
    sim = config.get("feed", {}).get("simulator", {})
    venue = config.get("venue", {})
    strategies = config.get("strategies", {})
    notes = []
    if int(sim.get("levels", 1)) > 1:
        notes.append(
            f"the simulator quoted {sim['levels']} levels a side, the corpus holds the top only: "
            "depth (the liquidity gate) and fills differ (sim.levels=1 makes them the same)"
        )
    if len(sim.get("windows", ())) > 1 or sim.get("negrisk_windows"):
        notes.append(
            "the simulator listed several windows or range events at once: a replay lists Up/Down "
            "markets only, by slug, so strategies evaluate them at other phases of eval_every_s "
            "(one window and sim.negrisk_windows=[], or eval_every_s=1, make them the same)"
        )
    draws = ("latency_tail_ms", "revert_rate", "reject_near_end_rate")
    if any(float(venue.get(k) or 0.0) > 0.0 for k in draws):
        notes.append(
            "the paper venue seeds its draws with signal keys, which hold the market id, and the "
            "corpus renames markets: latency tails, reverts and near-end refusals are drawn "
            "afresh (venue.latency_tail_ms=0 venue.revert_rate=0 venue.reject_near_end_rate=0)"
        )
    fed = [n for n in ("follow", "news") if strategies.get(n, {}).get("enabled")]
    if fed:
        notes.append(
            f"{' and '.join(fed)} enabled: leader trades and headlines are not in a corpus, "
            "a replay shows none"
        )
    if float(sim.get("settle_noise", 0.0)) > 0.0:
        notes.append(
            "sim.settle_noise > 0: the run struck on an oracle price the corpus does not hold; "
            "a replay strikes on the spot close (outcomes are the run's)"
        )
    return notes


def export_run(*, session: Session, ref: str, out: Path) -> ExportSummary:
    """Write run ``ref`` (an id, a name or ``last``) as a corpus into ``out`` (new or empty)."""
    try:
        run = find_run(session=session, ref=ref)
    except LookupError as exc:
        raise ExportError(f"--run {ref}: {exc}") from None
    feed = rebuild_feed(run)
    markets, skipped = run_markets(session=session, run=run, prefix=feed.simulator.market_prefix)
    first, last = from_dt(run.first_ts), from_dt(run.last_ts)
    summary = ExportSummary(f"{describe(run)} (sim seed={run.seed}", first, last)
    summary.skipped_range = skipped
    summary.notes = replay_notes(run.config)
    _write(feed, markets, first, last, CorpusLayout(out), summary, source=describe(run))
    return summary


def _write(
    feed: SimFeed,
    markets: list[ExportMarket],
    first: float,
    last: float,
    layout: CorpusLayout,
    summary: ExportSummary,
    *,
    source: str,
) -> None:
    """Iterate the feed over ``first..last`` into the layout's files (see the module)."""
    by_id = {m.market_id: m for m in markets}
    sim_tokens: dict[str, tuple[ExportMarket, str]] = {}  # the simulator's token -> the corpus's
    klines: dict[str, KlineDays] = {}
    books = BookTopDays(layout)
    try:
        for tick in feed.ticks(None):
            if tick.ts > last:
                break
            if tick.ts < first:
                continue
            for symbol, spot in tick.spot.items():
                days = klines.get(symbol) or klines.setdefault(symbol, KlineDays(layout, symbol))
                days.add(tick.ts, spot)
            for listed in tick.listed:
                m = by_id.get(listed.market_id)
                if m is None:
                    if listed.kind == UPDOWN:
                        raise ExportError(f"the re-run lists {listed.market_id}, the ledger not")
                    continue
                if listed.strike != m.strike or listed.start_ts != m.start_ts:
                    raise ExportError(
                        f"the re-run lists {listed.market_id} with strike {listed.strike!r}, "
                        f"the ledger holds {m.strike!r}: the simulator no longer replays this run"
                    )
                sim_tokens[listed.up_token] = (m, m.up_token)
                sim_tokens[listed.down_token] = (m, m.down_token)
            for r in tick.resolved:
                m = by_id.get(r.market_id)
                if m is not None and m.winner is not None and m.winner != r.winner:
                    raise ExportError(
                        f"the re-run resolves {r.market_id} {r.winner}, the ledger {m.winner}"
                    )
            for token, book in tick.books.items():
                known = sim_tokens.get(token)
                if known is not None:
                    books.add(known[0].series, tick.ts, known[1], book)
    finally:
        books.close()
    for days in klines.values():
        days.flush()
    for m in markets:
        obj = gamma_market(
            slug=m.slug,
            symbol=m.symbol,
            start_ts=m.start_ts,
            end_ts=m.end_ts,
            up_token=m.up_token,
            down_token=m.down_token,
            fee_rate=m.fee_rate,
            winner=m.winner,
            source=f"edgeloop simulator, {source}, market {m.market_id}",
        )
        path = layout.market_path(m.slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
    summary.symbols = sorted(klines)
    summary.kline_days = sum(d.days_written for d in klines.values())
    summary.markets = len(markets)
    summary.resolved = sum(m.winner is not None for m in markets)
    summary.booktop_files, summary.booktop_rows = books.files_written, books.rows_written


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(
            f"{PROG}: --out {args.out!r}: not empty (expected a new or empty directory)",
            file=sys.stderr,
        )
        return 2
    url = resolve_url(args.db)
    engine = None
    try:
        engine = check_database(url, readonly=True)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        except OSError as exc:
            raise ExportError(f"--out {args.out!r}: cannot write there ({exc.strerror})") from None
        try:
            with translated(url), make_sessionmaker(engine)() as session:
                summary = export_run(session=session, ref=args.run, out=tmp)
            if out.exists():
                out.rmdir()
            tmp.rename(out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    except ExportError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if engine is not None:
            engine.dispose()
    print(summary.render(out))
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n")[0].split(": ", 1)[1],
        epilog=exit_codes((2, "a bad argument, an unknown run or one not on the simulator")),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", required=True, metavar="ID", help="the run: an id, a name or last")
    p.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="database URL (default: $EDGELOOP_DB_URL or var/edgeloop.db)",
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="a new (or empty) directory for the corpus"
    )
    return p


if __name__ == "__main__":
    raise SystemExit(main())
