"""``edgeloop-lookahead``: would a backtest decide the same before a cut without the data after it?

    edgeloop-lookahead --corpus var/corpus                    # 3 cuts evenly spaced in the span
    edgeloop-lookahead --corpus var/corpus --cuts 5
    edgeloop-lookahead --corpus var/corpus --cut 2026-05-04T00:20:00Z --cut 2026-05-04T01:00:00Z
    edgeloop-lookahead --corpus var/corpus --db-dir var/lookahead -- strategies.news.enabled=false

It backtests the whole corpus once, then for each cut a copy of the corpus truncated at the cut
(:mod:`engine.backtest.truncate`: no bar, book row or market after it, no outcome not known by
it), with the replay ending at the cut. Every decision strictly before a cut (signals, orders,
fills: :mod:`engine.backtest.decisions`) must be the same in both runs: one that changed was
made with data from after the cut, a look-ahead. The freqtrade ``lookahead-analysis`` idea.

Overrides after ``--`` go to every run (Hydra syntax, as on the ``edgeloop`` command line); the
mode, the corpus, its end and the database are this command's. Exit 0: nothing changed; 1: a
decision before a cut changed (the first ones are listed); 2: a bad argument (or a backtest
refused its configuration); 3: a backtest failed otherwise (its message above).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session
from tqdm import tqdm

from engine.adapters.corpus.errors import CorpusError
from engine.adapters.corpus.layout import INSTANT_FORMS
from engine.adapters.corpus.layout import parse_instant as corpus_instant
from engine.app import build_loop
from engine.backtest.decisions import (
    Change,
    Comparison,
    LedgerDecisions,
    as_of,
    compare,
    read_decisions,
)
from engine.backtest.runner import OverrideError, backtest_overrides, compose_config, run_quiet
from engine.backtest.truncate import truncate_corpus
from engine.core.validation import ConfigError
from engine.ledger.db import make_engine
from engine.ledger.runs import find_run
from engine.timeutil import iso

PROG = "edgeloop-lookahead"
DEFAULT_CUTS = 3
SHOWN_CHANGES = 10
# Keys this command sets on every run: an override of one of them is refused.
OWN_KEYS = (
    "mode",
    "backtest.corpus",
    "backtest.end",
    "db",
    "db.url",
    "feed",
    "feed.corpus",
    "feed.end",
)
EXIT_CHANGED, EXIT_BAD_INPUT, EXIT_BACKTEST_FAILED = 1, 2, 3


class BadInput(ValueError):
    """An argument this command cannot use (the message names the option and the value)."""


@dataclass(frozen=True)
class Plan:
    """What to run: the corpus, its replayed span, the cuts, the overrides, the databases."""

    corpus: Path
    start: int
    end: int
    cuts: list[int]
    overrides: list[str]
    db_dir: Path | None


def parse_instant(option: str, text: str) -> int:
    """Epoch seconds of ``text`` (the corpus's instant forms), a whole second."""
    try:
        ts = corpus_instant(option, text)
    except ConfigError:
        raise BadInput(f"{option} {text!r}: expected {INSTANT_FORMS}") from None
    if ts != int(ts):
        raise BadInput(f"{option} {text!r}: expected a whole second")
    return int(ts)


def even_cuts(start: int, end: int, n: int) -> list[int]:
    """``n`` cuts evenly spaced strictly inside ``(start, end)``, on whole seconds."""
    return sorted({start + (end - start) * k // (n + 1) for k in range(1, n + 1)})


def make_plan(args: argparse.Namespace, overrides: list[str]) -> Plan:
    """Check every argument and find the corpus's span; raises :class:`BadInput`."""
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        raise BadInput(
            f"--corpus {args.corpus!r}: not a directory (expected a corpus, docs/corpus.md)"
        )
    corpus = corpus.resolve()
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key in OWN_KEYS:
            raise BadInput(f"override {o!r}: {key} is set by {PROG} (use its options instead)")
    if args.cuts is not None and args.cuts < 1:
        raise BadInput(f"--cuts {args.cuts}: expected a whole number >= 1")
    try:
        cfg = compose_config([*backtest_overrides(str(corpus), "sqlite://"), *overrides])
        feed = build_loop(cfg, sessions=None).feed  # every component checked before a run
    except OverrideError as exc:
        raise BadInput(f"overrides {' '.join(overrides)!r}: {exc}") from None
    except CorpusError as exc:
        raise BadInput(f"--corpus {args.corpus!r}: {exc}") from None
    except ConfigError as exc:
        where = f"--corpus {args.corpus!r}" if exc.field.startswith("feed") else "configuration"
        raise BadInput(f"{where}: {exc}") from None
    except ImportError as exc:  # a _target_ that does not import
        raise BadInput(f"configuration: {' '.join(str(exc).split())}") from None
    start, end = int(feed.start_s), int(feed.end_s)
    if args.cut:
        cuts = sorted({parse_instant("--cut", c) for c in args.cut})
    else:
        cuts = even_cuts(start, end, args.cuts or DEFAULT_CUTS)
    for cut in cuts:
        if not start < cut < end:
            raise BadInput(
                f"--cut {iso(cut)}: expected a time inside the replayed span "
                f"{iso(start)}..{iso(end)} (after its first second, before its last)"
            )
    db_dir = None
    if args.db_dir is not None:
        db_dir = Path(args.db_dir)
        if db_dir.exists() and (not db_dir.is_dir() or any(db_dir.iterdir())):
            raise BadInput(
                f"--db-dir {args.db_dir!r}: not empty (expected a new or empty directory)"
            )
    return Plan(corpus, start, end, cuts, list(overrides), db_dir)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, overrides = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = _parser().parse_args(own)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        plan = make_plan(args, overrides)
    except BadInput as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with tempfile.TemporaryDirectory(prefix="edgeloop-lookahead-") as tmp:
        db_dir = plan.db_dir or Path(tmp) / "db"
        db_dir.mkdir(parents=True, exist_ok=True)
        try:
            comparisons = _run_all(plan, Path(tmp), db_dir)
        except _Failed as exc:
            print(
                f"{PROG}: {exc.what} failed (exit {exc.code}): see its message above",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT if exc.code == 2 else EXIT_BACKTEST_FAILED
        except CorpusError as exc:
            print(f"{PROG}: --corpus {str(plan.corpus)!r}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    print(report(plan, comparisons, db_dir if plan.db_dir else None))
    return EXIT_CHANGED if any(c.changes for c in comparisons) else 0


class _Failed(RuntimeError):
    def __init__(self, what: str, code: int) -> None:
        super().__init__(what)
        self.what, self.code = what, code


def _run_all(plan: Plan, tmp: Path, db_dir: Path) -> list[Comparison]:
    """The full backtest, then one per cut on its truncated corpus, compared as they finish."""
    bar = tqdm(total=1 + len(plan.cuts), desc="backtests", unit="run", file=sys.stderr)
    try:
        full = _backtest("the backtest of the whole corpus", plan, plan.corpus, db_dir / "full.db")
        bar.update(1)
        out = []
        for i, cut in enumerate(plan.cuts, start=1):
            corpus = tmp / f"corpus-cut-{i}"
            truncate_corpus(plan.corpus, corpus, cut)
            what = f"the backtest truncated at {iso(cut)}"
            truncated = _backtest(what, plan, corpus, db_dir / f"cut-{i}.db", end=cut)
            shutil.rmtree(corpus)
            out.append(compare(as_of(full, cut), as_of(truncated, cut)))
            bar.update(1)
        return out
    finally:
        bar.close()


def _backtest(
    what: str, plan: Plan, corpus: Path, db: Path, end: int | None = None
) -> LedgerDecisions:
    url = f"sqlite:///{db.resolve()}"
    cfg = compose_config([*backtest_overrides(str(corpus), url, end=end), *plan.overrides])
    code = run_quiet(cfg)
    if code:
        raise _Failed(what, code)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return read_decisions(session=session, run_id=find_run(session=session, ref="last").id)
    finally:
        engine.dispose()


# -- the report ------------------------------------------------------------------------------
def report(plan: Plan, comparisons: list[Comparison], db_dir: Path | None) -> str:
    """The tables per cut, then the verdict and the first changed decisions."""
    lines = [
        f"look-ahead check of {plan.corpus} ({iso(plan.start)}..{iso(plan.end)}), "
        f"{len(plan.cuts)} cut{'s' if len(plan.cuts) != 1 else ''}"
    ]
    if db_dir is not None:
        lines.append(f"ledgers: {db_dir}/full.db, {db_dir}/cut-<n>.db")
    for i, comp in enumerate(comparisons, start=1):
        changed = sum(c["changed"] for c in comp.counts.values())
        lines += [
            "",
            f"cut {i} at {iso(comp.cut)}: {comp.compared} signals before it, {changed} changed",
        ]
        lines += _table(comp)
    changes = [(comp.cut, ch) for comp in comparisons for ch in comp.changes]
    lines.append("")
    if not changes:
        lines.append("no decision before a cut changed: no look-ahead found")
        return "\n".join(lines)
    names = sorted({ch.strategy for _, ch in changes})
    lines.append(
        f"LOOK-AHEAD: {len(changes)} decisions before a cut changed without the data after it "
        f"(strategies: {', '.join(names)}); the first {min(len(changes), SHOWN_CHANGES)}:"
    )
    lines += [f"  {describe_change(cut, ch)}" for cut, ch in changes[:SHOWN_CHANGES]]
    return "\n".join(lines)


def _table(comp: Comparison) -> list[str]:
    if not comp.counts:
        return ["  (no decision before this cut)"]
    header = ("strategy", "signals", "orders", "fills", "changed")
    rows = [(s, *(str(c[k]) for k in header[1:])) for s, c in sorted(comp.counts.items())]
    totals = [sum(c[k] for c in comp.counts.values()) for k in header[1:]]
    rows.append(("total", *(str(t) for t in totals)))
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        return "  " + "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  " + "-" * (sum(widths) + 2 * (len(widths) - 1))
    return [fmt(header), rule, *(fmt(r) for r in rows[:-1]), rule, fmt(rows[-1])]


def describe_change(cut: float, change: Change) -> str:
    """``cut 00:22:30Z: signal peek|m|UP|t+00010s at ...: accepted stake 5.00 -> none``."""
    at = "" if change.ts != change.ts else f" at {iso(change.ts)}"
    return (
        f"cut {iso(cut)}: {change.what} {change.key}{at}: full run {_value(change.what, change.full)}, "
        f"truncated run {_value(change.what, change.truncated)}"
    )


def _value(what: str, row: tuple | None) -> str:
    if row is None:
        return "none"
    if what == "signal":
        _, status, reason, stake = row
        return f"{status}{f' ({reason})' if reason else ''} stake {stake:.2f}"
    if what == "order":
        status, reason = row
        return f"{status}{f' ({reason})' if reason else ''}"
    shares = sum(f[2] for f in row)
    return f"{len(row)} fills, {shares:.2f} shares"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} --corpus DIR [--cuts N | --cut ISO ...] [--db-dir DIR] [-- overrides...]",
        description=__doc__.split("\n")[0].split(": ", 1)[1],
        epilog="Hydra overrides after -- go to every run (mode, corpus, end and database are "
        "this command's). Exit codes: 0 no decision before a cut changed; 1 some did (the "
        "first are listed); 2 a bad argument; 3 a backtest failed (docs/backtest.md).",
    )
    p.add_argument(
        "--corpus", required=True, metavar="DIR", help="the corpus directory (docs/corpus.md)"
    )
    cuts = p.add_mutually_exclusive_group()
    cuts.add_argument(
        "--cuts",
        type=int,
        default=None,
        metavar="N",
        help="cuts evenly spaced in the span (default 3)",
    )
    cuts.add_argument(
        "--cut",
        action="append",
        metavar="ISO",
        help="a cut time (ISO UTC, a day or epoch seconds); repeatable",
    )
    p.add_argument(
        "--db-dir",
        default=None,
        metavar="DIR",
        help="keep each run's SQLite ledger here (default: a temporary one)",
    )
    return p


if __name__ == "__main__":
    raise SystemExit(main())
