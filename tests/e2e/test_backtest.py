"""``edgeloop mode=backtest``: a corpus through the same loop, core and paper venue, written at the end.

The corpus is synthetic (engine.adapters.corpus.synthetic) in the real layout: real readers,
real checksums, real Gamma-shaped JSON. A backtest must write exactly the rows a paper run on
the same replay writes, as one run with ``runs.mode = backtest``, on both stores.
"""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from engine import app
from engine.adapters.corpus.synthetic import SyntheticCorpus
from engine.app import CONF_DIR
from engine.ledger import staging
from tests.helpers import ledger_snapshot, query, run_edgeloop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    SyntheticCorpus(hours=1.0, edge_share=0.5, lag_s=40, seed=11).write(root)
    return root


def backtest(corpus, url, *extra):
    return run_edgeloop("mode=backtest", f"backtest.corpus={corpus}", f"db.url={url}", *extra)


RUN_TABLES = ("signals", "orders", "fills", "positions", "breaker_events", "breaker_state")


def test_a_backtest_writes_exactly_the_rows_of_a_paper_replay(corpus, db_url):
    paper = run_edgeloop(
        "feed=replay",
        f"feed.corpus={corpus}",
        "run.speed=max",
        "settings.enabled=false",
        f"db.url={db_url}",
    )
    assert paper.returncode == 0, paper.stderr[-2000:]
    done = backtest(corpus, db_url)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "feed time" in done.stderr  # the progress bar of a long backtest
    assert "backtest run 2 written" in done.stderr
    runs = query(db_url, "SELECT id, mode, feed, status FROM runs ORDER BY id")
    assert runs == [(1, "paper", "replay", "finished"), (2, "backtest", "replay", "finished")]
    first, second = ledger_snapshot(db_url, 1), ledger_snapshot(db_url, 2)
    for table in RUN_TABLES:
        assert first[table] == second[table], table
    assert second["fills"], "the corpus must make some trades for this test to mean anything"
    span = query(db_url, "SELECT first_ts, last_ts FROM runs ORDER BY id")
    assert span[0] == span[1]


def test_a_backtest_is_never_resumed_and_needs_a_corpus(corpus, sqlite_url):
    again = backtest(corpus, sqlite_url, "run.resume=last")
    assert again.returncode == 2
    assert "run.resume='last' a backtest is never resumed" in again.stderr
    missing = run_edgeloop("mode=backtest", f"db.url={sqlite_url}")
    assert missing.returncode == 2
    assert "backtest.corpus is not set (give it: `backtest.corpus=...`)" in missing.stderr
    bad = backtest(corpus, sqlite_url, "backtest.batch_rows=0")
    assert bad.returncode == 2
    assert "backtest.batch_rows=0 must be" in bad.stderr and "1" in bad.stderr
    assert query(sqlite_url, "SELECT count(*) FROM runs") == [(0,)]


def test_a_failed_publish_writes_nothing_of_the_run(corpus, sqlite_url, monkeypatch, capsys):
    """The run's rows reach the database in one transaction: a failure on the last table
    (fills) leaves none of the others behind, and the run is marked failed."""
    real_insert = staging._insert

    def failing(session, table, rows, batch):
        if table.__tablename__ == "fills":
            raise OSError("disk full")
        return real_insert(session, table, rows, batch)

    monkeypatch.setattr(staging, "_insert", failing)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=["mode=backtest", f"backtest.corpus={corpus}", f"db.url={sqlite_url}"],
        )
    assert app.run(cfg) == 1
    assert query(sqlite_url, "SELECT id, mode, status FROM runs") == [(1, "backtest", "failed")]
    for table in (*RUN_TABLES, "markets", "outcomes"):
        assert query(sqlite_url, f"SELECT count(*) FROM {table}") == [(0,)], table
