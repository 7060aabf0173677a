"""``edgeloop-lookahead``: the shipped strategies decide nothing with data from after a cut, and
a strategy that does (a planted one, reading the corpus's Gamma outcome) is caught and named.

The corpus is synthetic (engine.adapters.corpus.synthetic) in the real layout, so the truncated
copies go through the real readers and checksums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from engine.adapters.corpus.gamma import read_market
from engine.adapters.corpus.layout import CorpusLayout
from engine.adapters.corpus.replay import ReplayFeed
from engine.adapters.corpus.synthetic import SyntheticCorpus
from engine.backtest import lookahead
from engine.backtest.decisions import LedgerDecisions, as_of, compare
from engine.backtest.truncate import truncate_corpus
from engine.core.frame import SignalFrame
from engine.core.state import MarketState
from engine.core.strategies.base import Held
from engine.core.strategies.common import eligible, not_held, price_rows, window_trigger
from engine.core.strategies.sample import SampleCheaperSide
from engine.core.types import UP, UPDOWN
from engine.timeutil import iso

pytestmark = pytest.mark.slow

START = 1777852800  # 2026-05-04T00:00:00Z, the synthetic corpus's first midnight
CUT = START + 1350  # 00:22:30Z: inside the 00:20-00:25 window


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    SyntheticCorpus(hours=1.5, edge_share=0.5, seed=23).write(root)
    return root


# -- the plant -------------------------------------------------------------------------------
_OUTCOMES: dict[tuple[str, str], str | None] = {}


def _outcome(corpus: str, slug: str) -> str | None:
    """The outcome the corpus's Gamma file gives ``slug`` (what no strategy may know)."""
    key = (corpus, slug)
    if key not in _OUTCOMES:
        path = CorpusLayout(corpus).market_path(slug)
        _OUTCOMES[key] = read_market(path).outcome if path.is_file() else None
    return _OUTCOMES[key]


@dataclass(frozen=True)
class Peek(SampleCheaperSide):
    """A planted look-ahead: in a window's first ``max_elapsed_s`` it buys the side that the
    market's Gamma file says won. Honest code never opens the corpus; this reads the future."""

    name: str = "peek"
    corpus: str = ""

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        rows = eligible(
            state,
            symbols=self.symbols,
            windows=self.windows,
            kind=UPDOWN,
            every_s=self.eval_every_s,
            min_elapsed_s=0,
            min_remaining_s=0,
        )
        rows &= (state.ts - state.live.start_ts) <= self.max_elapsed_s
        idx = np.flatnonzero(rows)
        if not len(idx):
            return SignalFrame.empty(self.name, state.ts)
        outcomes = [_outcome(self.corpus, m) for m in state.live.market_id[idx]]
        known = np.array([o is not None for o in outcomes], dtype=bool)
        up = np.array([o == UP for o in outcomes], dtype=bool)
        idx, up = idx[known], up[known]
        side = np.where(up, "UP", "DOWN").astype(object)
        keep = not_held(self.name, state.live.market_id[idx], side, held)
        idx, up = idx[keep], up[keep]
        return price_rows(state, self.name, idx, up, window_trigger(state, idx))


PEEK = [
    "+strategy@strategies.peek=sample",
    f"strategies.peek._target_={__name__}.Peek",
    "strategies.peek.name=peek",
    "+strategies.peek.corpus=${backtest.corpus}",
]


# -- the truncated copy ----------------------------------------------------------------------
def _tick_view(tick):
    books = {
        t: (b.ts, b.tick, b.bids.tolist(), b.asks.tolist()) for t, b in sorted(tick.books.items())
    }
    return (tick.ts, tick.spot, tick.listed, books, tick.resolved)


def test_a_truncated_corpus_replays_exactly_the_ticks_up_to_its_cut(corpus, tmp_path):
    summary = truncate_corpus(corpus, tmp_path / "cut", CUT)
    assert summary.klines_cut == 1 and summary.booktop_cut == 1
    # 00:20 and 00:25... windows: the one open at the cut loses its outcome, later ones go.
    assert summary.markets_unresolved == [f"btc-updown-5m-{START + 1200}"]
    assert f"btc-updown-5m-{START + 1500}" in summary.markets_removed
    assert read_market(CorpusLayout(tmp_path / "cut").market_path(f"btc-updown-5m-{START + 1200}"))
    full = ReplayFeed(str(corpus), end=CUT)
    cut = ReplayFeed(str(tmp_path / "cut"), end=CUT)  # checksums verified on the way
    assert cut.end_s == CUT and cut.start_s == full.start_s
    pairs = zip(full.ticks(), cut.ticks(), strict=True)
    assert all(_tick_view(a) == _tick_view(b) for a, b in pairs)
    assert ReplayFeed(str(tmp_path / "cut")).end_s == CUT  # no bar closes after the cut


# -- decisions as of a cut -------------------------------------------------------------------
def test_what_happens_to_an_order_after_the_cut_is_not_a_decision_before_it():
    """Orders decided before the cut, as the full run ends them (after it) and as the run
    truncated at the cut leaves them: the same decisions once read as of the cut."""
    cut = 100.0
    full = LedgerDecisions(
        signals=[
            ("s|m|UP|a", 90.0, "rejected", "exec.expired", 5.0),  # GTC, expired after the cut
            ("s|m|UP|b", 91.0, "accepted", None, 5.0),  # filled after the cut, then reverted
            ("s|m|UP|c", 92.0, "rejected", "exec.moved", 5.0),  # killed before the cut
            ("s|m|UP|d", 93.0, "rejected", "gate.sigma", 0.0),
            ("s|m|UP|e", 100.0, "accepted", None, 5.0),  # at the cut: not compared
        ],
        orders=[
            ("s|m|UP|a", 90.0, "unfilled", "exec.expired", 300.0),
            ("s|m|UP|b", 91.0, "reverted", None, 140.0),
            ("s|m|UP|c", 92.0, "unfilled", "exec.moved", 93.0),
            ("s|m|UP|e", 100.0, "filled", None, 101.0),
        ],
        fills=[("s|m|UP|b", 99.0, 0.5, 10.0, 0.1), ("s|m|UP|b", 101.0, 0.5, 10.0, 0.1)],
    )
    truncated = LedgerDecisions(
        signals=[
            ("s|m|UP|a", 90.0, "accepted", None, 5.0),
            ("s|m|UP|b", 91.0, "accepted", None, 5.0),
            ("s|m|UP|c", 92.0, "rejected", "exec.moved", 5.0),
            ("s|m|UP|d", 93.0, "rejected", "gate.sigma", 0.0),
        ],
        orders=[
            ("s|m|UP|a", 90.0, "accepted", "exec.moved", 90.0),
            ("s|m|UP|b", 91.0, "partial", None, 99.0),
            ("s|m|UP|c", 92.0, "unfilled", "exec.moved", 93.0),
        ],
        fills=[("s|m|UP|b", 99.0, 0.5, 10.0, 0.1)],
    )
    assert compare(as_of(full, cut), as_of(truncated, cut)).changes == []
    changed = compare(as_of(full, cut), as_of(LedgerDecisions(truncated.signals[1:], [], []), cut))
    assert [(c.what, c.key) for c in changed.changes] == [
        ("signal", "s|m|UP|a"),
        ("order", "s|m|UP|a"),
        ("order", "s|m|UP|b"),
        ("fills", "s|m|UP|b"),
        ("order", "s|m|UP|c"),
    ]  # in decision time order


# -- the command -----------------------------------------------------------------------------
def test_the_shipped_strategies_do_not_look_ahead(corpus, tmp_path, capsys):
    # Every strategy of the default config is enabled; those without markets here do nothing.
    code = lookahead.main(["--corpus", str(corpus), "--db-dir", str(tmp_path / "db")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("\ncut ") == 3
    assert "cut 1 at 2026-05-04T00:22:30Z" in out
    assert "no decision before a cut changed: no look-ahead found" in out
    assert "updown" in out and "itm" in out  # the strategies that trade here were compared
    assert sorted(p.name for p in (tmp_path / "db").iterdir()) == [
        "cut-1.db",
        "cut-2.db",
        "cut-3.db",
        "full.db",
    ]


def test_a_planted_look_ahead_is_caught_and_named(corpus, capsys):
    code = lookahead.main(["--corpus", str(corpus), "--cut", iso(CUT), "--", *PEEK])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "strategies: peek)" in out  # only the plant changed
    first = [line for line in out.splitlines() if line.startswith("  cut ")][0]
    assert f"signal peek|btc-updown-5m-{START + 1200}|" in first, first
    assert "truncated run none" in first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "/nonexistent/corpus"], "--corpus '/nonexistent/corpus': not a directory"),
        (["--cuts", "0"], "--cuts 0: expected a whole number >= 1"),
        (["--cut", "2026-05-05T00:00:00Z"], "--cut 2026-05-05T00:00:00Z: expected a time inside"),
        (["--cut", "yesterday"], "--cut 'yesterday': expected an ISO UTC time"),
        (["--", "db.url=sqlite:///x.db"], "override 'db.url=sqlite:///x.db': db.url is set by"),
        (["--", "strategies.updown.nope=1"], "overrides 'strategies.updown.nope=1': "),
    ],
)
def test_bad_input_is_one_line_and_exit_2(corpus, capsys, args, message):
    if "--corpus" not in args:
        args = ["--corpus", str(corpus), *args]
    assert lookahead.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"edgeloop-lookahead: {message}"), err
    assert "\n" not in err


def test_a_non_empty_db_dir_is_refused(corpus, tmp_path, capsys):
    (tmp_path / "full.db").write_text("")
    assert lookahead.main(["--corpus", str(corpus), "--db-dir", str(tmp_path)]) == 2
    assert "--db-dir" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["full.db"]
