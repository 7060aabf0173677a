"""``edgeloop-export-corpus``: a paper run on the simulator, exported as a corpus and backtested,
decides exactly what the paper run decided, at the same seconds.

Both runs get the same overrides; only the feed differs (the simulator, then the replay of its
export). Exact parity needs these settings, each for a reason the test names:

- ``sim.levels=1``: the corpus holds the top of book only (one level a side), the simulator
  quotes ``levels`` of them. With 5 levels its books are deeper: the liquidity gate (depth within
  2 ticks of the ask) passes in the simulator where the replay's one level fails it, and fills
  walk levels the replay does not have.
- ``sim.negrisk_windows=[]`` and either ``sim.windows=[300]`` or ``eval_every_s=1``: a strategy
  evaluates each market at its own phase of ``eval_every_s``, the phase being the market's rank
  in listing order (``MarketState._phase_of``). The simulator lists a second's markets window by
  window, symbol by symbol, and its range events take phases too; the replay lists Up/Down
  markets only, by slug (``btc-updown-15m`` before ``btc-updown-5m``). One window and no range
  events make the two orders the same (BTC, ETH, SOL); evaluating every second makes the phase
  irrelevant (the second setup keeps both windows; a second's rows then still come in another
  order, which would matter only if the exposure cap, filled row by row, bound within it).
- ``venue.latency_tail_ms=0``, ``venue.revert_rate=0``, ``venue.reject_near_end_rate=0``: the
  paper venue draws its randomness from a generator seeded with the signal's key, which holds
  the market id, and the corpus renames the markets (a Gamma slug ``btc-updown-5m-<epoch>`` has
  no room for the simulator's ``sim<seed>-<hash>-`` prefix): the same order would draw another
  latency tail, revert, or near-end refusal.
- only the updown strategy: follow and news trade on leader trades and headlines, which a corpus
  does not hold; negrisk on range markets, which the exporter skips.

The market ids are compared with the simulator's prefix removed (the exporter's slug rule).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from omegaconf import OmegaConf
from sqlalchemy import text

from engine.adapters.corpus.gamma import read_market
from engine.adapters.corpus.layout import CorpusLayout
from engine.backtest import export
from engine.backtest.runner import compose_config, run_quiet
from engine.execution.paper import PaperVenue
from engine.ledger.db import make_engine
from tests.helpers import BIN, ledger_snapshot, query

pytestmark = pytest.mark.slow

ONLY_UPDOWN = [f"strategies.{s}.enabled=false" for s in ("itm", "follow", "news", "negrisk")]
PARITY = [
    "sim=lagging_mm",
    "sim.levels=1",
    "venue.latency_tail_ms=0",
    "venue.revert_rate=0",
    "venue.reject_near_end_rate=0",
]
SETUPS = {
    "one-window": ["sim.windows=[300]", "sim.negrisk_windows=[]"],
    "every-second": ["sim.negrisk_windows=[]", "strategies.updown.eval_every_s=1"],
}


@pytest.fixture(scope="module", params=list(SETUPS))
def exported(request, tmp_path_factory):
    """A 30-minute paper run, its export, and the backtest of the export."""
    tmp = tmp_path_factory.mktemp(request.param)
    paper, backtest = f"sqlite:///{tmp / 'paper.db'}", f"sqlite:///{tmp / 'backtest.db'}"
    same = [*PARITY, *SETUPS[request.param], *ONLY_UPDOWN]
    run = ["run.duration=30m", "run.speed=max", "settings.enabled=false", f"db.url={paper}"]
    assert run_quiet(compose_config([*same, *run])) == 0
    corpus = tmp / "corpus"
    assert export.main(["--run", "1", "--db", paper, "--out", str(corpus)]) == 0
    replay = ["mode=backtest", f"backtest.corpus={corpus}", f"db.url={backtest}"]
    assert run_quiet(compose_config([*same, *replay, "run.progress=false"])) == 0
    prefix = query(paper, "SELECT feed_identity FROM runs")[0][0]
    return tmp, paper, backtest, corpus, json.loads(prefix)["market_prefix"], request.param


def _unprefixed(rows, prefix):
    return sorted(
        tuple(v.replace(prefix, "") if isinstance(v, str) else v for v in r) for r in rows
    )


def test_the_backtest_of_an_export_decides_what_the_paper_run_did(exported):
    _, paper, backtest, _, prefix, _ = exported
    sql = "SELECT key, ts, status, reason, round(CAST(stake AS numeric), 9) FROM signals"
    sim_signals = _unprefixed(query(paper, sql), prefix)
    replayed = _unprefixed(query(backtest, sql), "")
    assert sim_signals == replayed
    assert sum(s[2] == "accepted" for s in sim_signals) >= 5  # it traded: the test means something
    a, b = ledger_snapshot(paper, 1), ledger_snapshot(backtest, 1)
    for table in ("orders", "fills", "positions", "outcomes", "breaker_state"):
        assert _unprefixed(a[table], prefix) == _unprefixed(b[table], ""), table
    assert query(backtest, "SELECT first_ts, last_ts FROM runs") == query(
        paper, "SELECT first_ts, last_ts FROM runs"
    )


def test_the_export_is_a_corpus_in_the_layout(exported):
    _, paper, _, corpus, prefix, _ = exported
    layout = CorpusLayout(corpus)
    assert layout.kline_symbols() == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    # The first tick's spot is the close of the bar opening a second before it (the day before).
    assert [str(d) for d in layout.kline_days("BTCUSDT", "1s")] == ["2026-01-04", "2026-01-05"]
    markets = [read_market(layout.market_path(s)) for s in layout.market_slugs()]
    ledger = query(paper, "SELECT market_id FROM markets WHERE kind = 'updown'")
    assert sorted(m.slug for m in markets) == sorted(r[0].replace(prefix, "") for r in ledger)
    assert {(m.fee_rate, m.tick) for m in markets} == {(0.07, 0.01)}
    open_at_end = [m for m in markets if m.outcome is None]
    assert open_at_end and all(m.expiry_ts > 1767573000 for m in open_at_end)  # after 00:30
    assert all(len(m.up_token) == 77 and m.up_token.isdigit() for m in markets)


def test_the_export_notes_only_what_the_run_still_had(exported):
    paper, setup = exported[1], exported[5]
    notes = export.replay_notes(json.loads(query(paper, "SELECT config FROM runs")[0][0]))
    # One window: nothing left to note; every second keeps both windows: the phase note only.
    assert len(notes) == {"one-window": 0, "every-second": 1}[setup], notes
    assert all("phases of eval_every_s" in n for n in notes)
    default = OmegaConf.to_container(compose_config(["sim=lagging_mm"]), resolve=True)
    assert len(export.replay_notes(default)) == 4  # levels, phases, venue draws, follow/news


def test_the_venue_draws_depend_on_the_market_id():
    """Why the parity settings switch the venue's draws off: the same order under the
    simulator's market id and under the corpus's slug draws another latency."""
    venue = PaperVenue(latency_tail_ms=100.0)
    sim_key = "updown|sim0-0a1b2c-btc-updown-5m-1767571200|UP|t+00040s"
    assert venue.latency_s(sim_key) != venue.latency_s(sim_key.replace("sim0-0a1b2c-", ""))


# -- bad input -------------------------------------------------------------------------------
def _left_behind(parent, name):
    return [p.name for p in parent.iterdir() if p.name == name or p.name.startswith(f".{name}-")]


def test_an_unknown_run_a_replay_run_and_a_full_out_dir_are_refused(exported, capsys):
    tmp, paper, backtest, corpus, _, _ = exported
    out = tmp / "again"
    cases = [
        (["--run", "99", "--db", paper], "--run 99: no run '99' in this database (latest: run 1"),
        (["--run", "1", "--db", backtest], "--run 1: run 1 ran on feed 'replay', expected a run"),
    ]
    for args, message in cases:
        assert export.main([*args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"edgeloop-export-corpus: {message}"), err
        assert "\n" not in err
        assert _left_behind(tmp, "again") == []  # nothing half-written
    assert export.main(["--run", "1", "--db", paper, "--out", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"edgeloop-export-corpus: --out {str(corpus)!r}: not empty (expected a new or empty directory)\n"
    )


def test_a_ledger_the_simulator_no_longer_replays_is_refused_and_nothing_is_written(
    exported, capsys
):
    tmp = exported[0]
    changed = tmp / "changed.db"
    shutil.copy(tmp / "paper.db", changed)
    url = f"sqlite:///{changed}"
    (last,) = query(url, "SELECT market_id FROM markets ORDER BY start_ts DESC LIMIT 1")[0]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE markets SET strike = strike + 1 WHERE market_id = :m"), {"m": last}
        )
    engine.dispose()
    assert export.main(["--run", "1", "--db", url, "--out", str(tmp / "tampered")]) == 2
    assert "the simulator no longer replays this run" in capsys.readouterr().err
    assert _left_behind(tmp, "tampered") == []


def test_the_console_script_names_a_missing_database(tmp_path):
    done = subprocess.run(
        [
            str(BIN / "edgeloop-export-corpus"),
            "--run",
            "1",
            "--db",
            f"sqlite:///{tmp_path / 'none.db'}",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 4, done.stderr
    assert done.stderr.startswith("edgeloop-export-corpus: database ")
    assert not (tmp_path / "out").exists()
