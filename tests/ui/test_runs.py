"""Runs: every read takes the runs it covers, a run of a shared database reads exactly as that run
alone, and the sidebar's selector (latest run by default, another run, all runs) drives every page.

``two_runs_url`` holds run 1 (seed 7, 2 h) and run 2 'second' (seed 8, 1 h, with the closed
loop's rows); ``seeded_url`` holds run 1 alone, ``second_alone_url`` run 2 alone.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy.orm import Session

from engine.ledger import queries as lq
from engine.ledger.db import make_engine
from engine.ledger.runs import start_run
from tests.helpers import query
from tests.ui.conftest import PAGES, copy_db
from tests.ui.seed import cli_ledger, run_engine
from ui import queries as q
from ui.frames import SCHEMAS

SHARED = {"settings_table", "settings_history", "settings_diff", "runs_table"}  # no run's rows
LEDGER_KEYS = ["strategy", "trades", "wins", "win_rate", "breakeven_win_rate", "pnl", "fees"]
PG_RUN = ("run.duration=30m", "run.speed=max")
WALL_CLOCK = {"live_status": ["heartbeat_age_s"]}  # now minus the last tick: differs per call


def run_reads(url: str, runs: tuple[int, ...] | None) -> dict[str, pd.DataFrame]:
    """Every read of what runs wrote, for ``runs``."""
    return {name: getattr(q, name)(url, runs) for name in SCHEMAS if name not in SHARED}


def ledger_of(url: str, runs: list[int] | None) -> list[dict]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return [r.as_dict() for r in lq.ledger(session=s, runs=runs)]
    finally:
        engine.dispose()


def comparable(name: str, frame: pd.DataFrame, ids: bool) -> pd.DataFrame:
    """``frame`` without wall-clock columns and, unless ``ids``, without surrogate ids (a run's
    order ids depend on what the database held before it)."""
    drop = WALL_CLOCK.get(name, []) + ([] if ids else ["run_id", "trade_id"])
    return frame.drop(columns=[c for c in drop if c in frame.columns])


def test_every_read_of_a_runs_rows_takes_the_runs():
    for name in set(SCHEMAS) - SHARED:
        params = list(inspect.signature(getattr(q, name)).parameters)
        assert params[:2] == ["url", "runs"], (name, params)


def test_the_fixture_holds_two_runs_with_other_numbers(two_runs_url):
    runs = q.runs_table(two_runs_url)
    assert runs["id"].tolist() == [2, 1]  # newest first
    assert runs["seed"].tolist() == [8, 7]
    assert runs["name"].tolist()[0] == "second"
    assert (runs["status"] == "finished").all()
    assert ledger_of(two_runs_url, [2]) != ledger_of(two_runs_url, [1])
    assert cli_ledger(two_runs_url) == ledger_of(two_runs_url, [2])  # the CLI's default: latest


@pytest.mark.parametrize("run", [1, 2])
def test_a_run_of_a_shared_database_reads_as_that_run_alone(
    run, two_runs_url, seeded_url, second_alone_url
):
    alone_url = seeded_url if run == 1 else second_alone_url
    shared, alone = run_reads(two_runs_url, (run,)), run_reads(alone_url, (1,))
    for name, frame in shared.items():
        pd.testing.assert_frame_equal(
            comparable(name, frame, ids=run == 1),
            comparable(name, alone[name], ids=run == 1),
            obj=f"{name} of run {run}",
        )
    assert q.live_status(two_runs_url, (run,)).iloc[0]["heartbeat_age_s"] > 0


def test_each_read_returns_only_the_chosen_runs_rows(two_runs_url):
    one, two, every = (run_reads(two_runs_url, r) for r in [(1,), (2,), None])
    assert set(one["trades"]["run_id"]) == {1} and set(two["trades"]["run_id"]) == {2}
    assert set(one["recent_signals"]["run_id"]) == {1}
    assert set(two["recent_signals"]["run_id"]) == {2}
    for name in ["trades", "regime_history", "breaker_events", "centroids", "iv_rv_outcomes"]:
        assert len(every[name]) == len(one[name]) + len(two[name]), name
    assert one["regime_history"].empty and len(two["regime_history"]) == 1  # run 2's flip only
    s1, s2, s_all = (f["live_status"].iloc[0] for f in (one, two, every))
    signals = dict(query(two_runs_url, "SELECT run_id, count(*) FROM signals GROUP BY run_id"))
    assert (s1["signals"], s2["signals"], s_all["signals"]) == (
        signals[1],
        signals[2],
        signals[1] + signals[2],
    )
    assert (s1["breaker"], s2["breaker"]) == ("armed", "tripped")
    assert s1["last_write"] == pd.Timestamp("2026-01-05T02:00:00Z")  # each run's last_ts
    assert s2["last_write"] == pd.Timestamp("2026-01-05T01:00:00Z")
    assert s_all["last_write"] == s1["last_write"]
    markets = query(two_runs_url, "SELECT count(*) FROM markets m WHERE NOT EXISTS "
                    "(SELECT 1 FROM outcomes o WHERE o.market_id = m.market_id)")[0][0]  # fmt: skip
    assert s1["markets_tracked"] + s2["markets_tracked"] == s_all["markets_tracked"] == markets


def test_all_runs_is_the_union_of_the_runs(two_runs_url):
    summary = q.ledger_summary(two_runs_url, None)[LEDGER_KEYS].to_dict("records")
    assert summary == [{k: r[k] for k in LEDGER_KEYS} for r in ledger_of(two_runs_url, None)]
    total = {r["strategy"]: r for r in summary}["total"]
    assert total["trades"] == sum(ledger_of(two_runs_url, [r])[-1]["trades"] for r in (1, 2))


def shown_ledger(at) -> list[dict]:
    return at.dataframe[0].value[LEDGER_KEYS].to_dict("records")


def expected(url: str, runs: list[int] | None) -> list[dict]:
    return [{k: r[k] for k in LEDGER_KEYS} for r in ledger_of(url, runs)]


def test_the_selector_defaults_to_the_latest_run_and_drives_the_ledger(app, two_runs_url):
    at = app(two_runs_url, "Ledger")
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox(key="run")
    assert picker.value == 2
    assert picker.options == [
        "run 2 'second' · sim seed=8 · finished",
        "run 1 · sim seed=7 · finished",
        "all runs",
    ]
    assert shown_ledger(at) == expected(two_runs_url, [2]) != expected(two_runs_url, None)
    assert "Ledger of run 2 'second' · sim seed=8 · finished" in [c.value for c in at.caption]
    assert at.query_params["run"] == "2"

    at.selectbox(key="run").set_value(1).run()
    assert not at.exception
    assert shown_ledger(at) == expected(two_runs_url, [1])
    trades = next(d.value for d in at.dataframe if "trade_id" in d.value.columns)
    assert set(trades["run_id"]) == {1}

    at.selectbox(key="run").set_value("all").run()
    assert not at.exception
    assert shown_ledger(at) == expected(two_runs_url, None)
    runs = next(d.value for d in at.dataframe if "fingerprint" in d.value.columns)
    assert runs["id"].tolist() == [2, 1]


def test_the_choice_survives_a_page_switch_and_drives_every_page(app, two_runs_url):
    at = app(two_runs_url, "Ledger")
    at.selectbox(key="run").set_value(1).run()
    for page in PAGES:
        at.switch_page(PAGES[page]).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.selectbox(key="run").value == 1, page
    at.switch_page(PAGES["Live"]).run()
    markdown = "\n".join(m.value for m in at.markdown)
    assert "**Showing** run 1 · sim seed=7 · finished" in markdown
    assert "ARMED" in markdown and "CALM" in markdown  # run 2's trip and flip are not run 1's
    captions = "\n".join(c.value for c in at.caption)
    assert "last tick 2026-01-05 02:00:00 UTC" in captions


def test_live_shows_the_latest_run_and_its_last_tick(app, two_runs_url):
    at = app(two_runs_url, "Live")
    assert not at.exception
    markdown = "\n".join(m.value for m in at.markdown)
    assert "**Showing** run 2 'second' · sim seed=8 · finished" in markdown
    assert "TRIPPED" in markdown and "CHOPPY" in markdown
    assert "last tick 2026-01-05 01:00:00 UTC" in "\n".join(c.value for c in at.caption)
    signals = query(two_runs_url, "SELECT count(*) FROM signals WHERE run_id = 2")[0][0]
    assert {m.label: m.value for m in at.metric}["Signals"] == f"{signals:,}"


@pytest.mark.parametrize(("ref", "value"), [("1", 1), ("second", 2), ("all", "all"), ("9", 2)])
def test_the_address_picks_the_run(app, two_runs_url, ref, value):
    at = app(two_runs_url, "Ledger", query={"run": ref})
    assert not at.exception
    assert at.selectbox(key="run").value == value
    assert shown_ledger(at) == expected(two_runs_url, None if value == "all" else [value])


def test_the_address_names_an_unknown_run(app, two_runs_url):
    at = app(two_runs_url, "Live", query={"run": "nine"})
    assert not at.exception
    assert at.sidebar.warning[0].value == "No run 'nine' in this database: showing the latest."
    assert at.selectbox(key="run").value == 2


def test_a_new_run_is_followed_only_from_the_latest(app, two_runs_url, tmp_path):
    url = f"sqlite:///{copy_db(Path(two_runs_url.removeprefix('sqlite:///')), tmp_path)}"
    following, pinned = app(url, "Ledger"), app(url, "Ledger")
    pinned.selectbox(key="run").set_value(1).run()
    engine = make_engine(url)
    with Session(engine) as s, s.begin():  # what `edgeloop` writes first when it starts
        start_run(session=s, name="third", mode="paper", feed_identity={"kind": "sim", "seed": 9},
                  fingerprint="f", config={}, settings_version=0)  # fmt: skip
    engine.dispose()
    st.cache_data.clear()
    following.run()
    pinned.run()
    assert following.selectbox(key="run").value == 3
    assert following.selectbox(key="run").options[0] == "run 3 'third' · sim seed=9 · running"
    assert [(r["strategy"], r["trades"]) for r in shown_ledger(following)] == [("total", 0)]
    assert pinned.selectbox(key="run").value == 1


def test_a_database_without_a_run_shows_empty_pages(app, sqlite_url):
    for page in PAGES:
        at = app(sqlite_url, page)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not [s for s in at.selectbox if s.key == "run"]
        assert "No run in this database yet." in [c.value for c in at.sidebar.caption]


def test_on_postgresql_each_read_covers_the_chosen_runs(scratch_pg_url, tmp_path):
    """Two short runs of the real engine into PostgreSQL: every read filters there too."""
    for seed in (7, 8):
        run_engine(scratch_pg_url, tmp_path / f"run{seed}", PG_RUN + (f"seed={seed}",))
    one, two, every = (run_reads(scratch_pg_url, r) for r in [(1,), (2,), None])
    for name in ["trades", "iv_rv_outcomes", "centroids"]:
        assert len(one[name]) and len(two[name]), name
        assert len(every[name]) == len(one[name]) + len(two[name]), name
    assert (set(one["trades"]["run_id"]), set(two["trades"]["run_id"])) == ({1}, {2})
    for runs in ([1], [2], None):
        frame = q.ledger_summary(scratch_pg_url, None if runs is None else tuple(runs))
        assert frame[LEDGER_KEYS].to_dict("records") == expected(scratch_pg_url, runs)
    s1, s2, s_all = (f["live_status"].iloc[0] for f in (one, two, every))
    assert s1["signals"] + s2["signals"] == s_all["signals"]
    assert s1["markets_tracked"] + s2["markets_tracked"] == s_all["markets_tracked"]
