"""ui.queries on the seeded ledger: typed frames, and the ledger's numbers are the CLI's."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from pandas.api import types as pt
from scipy.stats import binomtest

from engine.ledger.db import upgrade_to_head
from tests.helpers import query
from tests.ui.seed import cli_ledger
from ui import queries as q
from ui.frames import SCHEMAS
from ui.stats import wilson_interval

KINDS = {
    "str": pt.is_string_dtype,
    "int": pt.is_integer_dtype,
    "Int": pt.is_integer_dtype,
    "float": pt.is_float_dtype,
    "bool": pt.is_bool_dtype,
    "datetime": pt.is_datetime64_any_dtype,
}
ALL = None  # every run: the seeded ledger holds one
LEDGER_KEYS = ["strategy", "trades", "wins", "win_rate", "breakeven_win_rate", "pnl", "fees"]
PER_SHARE = ["win_rate_shares", "breakeven_win_rate_shares", "arb_trades", "arb_pnl", "verdict"]


def every_query(url: str) -> dict[str, pd.DataFrame]:
    return {
        "ledger_summary": q.ledger_summary(url, ALL),
        "trades": q.trades(url, ALL),
        "equity_curve": q.equity_curve(url, ALL),
        "ledger_notes": q.ledger_notes(url, ALL),
        "skip_mix": q.skip_mix(url, ALL),
        "strategies": q.strategies(url, ALL),
        "recent_signals": q.recent_signals(url, ALL),
        "live_status": q.live_status(url, ALL),
        "regime_history": q.regime_history(url, ALL),
        "breaker_events": q.breaker_events(url, ALL),
        "sigma_depth": q.sigma_depth(url, ALL),
        "iv_rv_outcomes": q.iv_rv_outcomes(url, ALL),
        "vol_band": q.vol_band(url, ALL),
        "centroids": q.centroids(url, ALL),
        "open_gamma": q.open_gamma(url, ALL),
        "fair_calibration": q.fair_calibration(url, ALL),
        "settings_table": q.settings_table(url),
        "settings_history": q.settings_history(url),
        "settings_diff": q.settings_diff(url, 0, 0),
        "runs_table": q.runs_table(url),
    }


def assert_schema(name: str, frame: pd.DataFrame) -> None:
    schema = SCHEMAS[name]
    assert list(frame.columns) == list(schema), name
    for col, kind in schema.items():
        assert KINDS[kind](frame[col].dtype), f"{name}.{col} is {frame[col].dtype}, not {kind}"


def test_every_schema_is_snake_case_and_every_query_has_one():
    for name, schema in SCHEMAS.items():
        for col in schema:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", col), f"{name}.{col} is not snake_case"


def test_every_query_returns_its_declared_columns_and_kinds(seeded_url):
    frames = every_query(seeded_url)
    assert set(frames) == set(SCHEMAS)
    for name, frame in frames.items():
        assert_schema(name, frame)


def test_an_empty_ledger_gives_the_same_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade_to_head(url)
    for name, frame in every_query(url).items():
        assert_schema(name, frame)
    assert q.live_status(url, ALL).iloc[0]["regime"] == "CALM"
    assert q.ledger_summary(url, ALL)["strategy"].tolist() == ["total"]


def test_ledger_summary_is_edgeloop_ledger_json(seeded_url):
    ui_rows = q.ledger_summary(seeded_url, ALL).to_dict("records")
    cli_rows = cli_ledger(seeded_url)
    assert [r["strategy"] for r in ui_rows] == [r["strategy"] for r in cli_rows]
    for ui, cli in zip(ui_rows, cli_rows, strict=True):
        for key in [*LEDGER_KEYS, *PER_SHARE]:
            assert ui[key] == cli[key], (cli["strategy"], key)
        # None in JSON, NaN in the frame: a strategy of arb groups only has no directional test.
        assert ui["p_value"] == cli["p_value"] or (
            cli["p_value"] is None and math.isnan(ui["p_value"])
        )
        lo, hi = wilson_interval(cli["wins"], cli["trades"])
        assert (ui["wr_low"], ui["wr_high"]) == (lo, hi)


def test_filtering_nothing_out_reproduces_the_ledger_from_the_trade_rows(seeded_url):
    """The trade table (CSV, date filters) groups legs exactly as the engine's ledger does."""
    names = tuple(q.strategies(seeded_url, ALL)["strategy"])
    trades = q.trades(seeded_url, ALL)
    first, last = trades["settled_at"].min().date(), trades["settled_at"].max().date()
    filtered = q.ledger_summary(seeded_url, ALL, names, first, last).to_dict("records")
    for ui, cli in zip(filtered, cli_ledger(seeded_url), strict=True):
        assert ui["strategy"] == cli["strategy"]
        for key in LEDGER_KEYS[1:]:
            assert ui[key] == pytest.approx(cli[key], rel=1e-12, abs=1e-9), (cli["strategy"], key)
        for key in PER_SHARE[:-1]:
            assert ui[key] == pytest.approx(cli[key], rel=1e-12, abs=1e-9), (cli["strategy"], key)
        assert ui["verdict"] == cli["verdict"]
        if cli["p_value"] is None:
            assert math.isnan(ui["p_value"])
        else:
            assert ui["p_value"] == pytest.approx(cli["p_value"], rel=1e-9)


def test_trades_and_equity_add_up_to_the_ledger(seeded_url):
    rows = cli_ledger(seeded_url)
    total = rows[-1]
    trades = q.trades(seeded_url, ALL)
    assert len(trades) == total["trades"]
    assert int(trades["won"].sum()) == total["wins"]
    assert trades["pnl"].sum() == pytest.approx(total["pnl"], abs=1e-6)
    equity = q.equity_curve(seeded_url, ALL)
    assert equity["equity"].iloc[-1] == pytest.approx(total["pnl"], abs=1e-6)
    per = equity.groupby("strategy")["strategy_equity"].last()
    for row in rows[:-1]:
        assert per[row["strategy"]] == pytest.approx(row["pnl"], abs=1e-6)


def test_one_strategy_filter_equals_that_strategys_row(seeded_url):
    by_name = {r["strategy"]: r for r in cli_ledger(seeded_url)}
    frame = q.ledger_summary(seeded_url, ALL, ("updown",))
    assert frame["strategy"].tolist() == ["updown", "total"]
    for row in frame.to_dict("records"):
        assert row["trades"] == by_name["updown"]["trades"]
        assert row["pnl"] == pytest.approx(by_name["updown"]["pnl"], abs=1e-9)


def test_skip_mix_and_live_status_are_the_databases(seeded_url):
    mix = q.skip_mix(seeded_url, ALL)
    assert (
        mix["count"].sum()
        == query(seeded_url, "SELECT count(*) FROM signals WHERE status = 'rejected'")[0][0]
    )
    assert mix["share"].sum() == pytest.approx(1.0)
    s = q.live_status(seeded_url, ALL).iloc[0]
    unresolved = "SELECT count(*) FROM markets m WHERE NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.market_id = m.market_id)"
    assert s["markets_tracked"] == query(seeded_url, unresolved)[0][0]
    assert s["signals"] == query(seeded_url, "SELECT count(*) FROM signals")[0][0]
    assert (
        s["accepted"]
        == query(seeded_url, "SELECT count(*) FROM signals WHERE status = 'accepted'")[0][0]
    )
    assert s["last_write"] == pd.Timestamp("2026-01-05T02:00:00Z")  # the run's end, engine time
    assert (s["signals_version"], s["store_version"]) == (0, 0)
    regime = query(
        seeded_url, "SELECT regime, flip_rate FROM regime_changes ORDER BY id DESC LIMIT 1"
    )
    assert s["regime"] == (regime[0][0] if regime else "CALM")
    trips = query(seeded_url, "SELECT event FROM breaker_events ORDER BY id DESC LIMIT 1")
    assert s["breaker"] == ("tripped" if trips and trips[0][0] == "trip" else "armed")


def test_fair_calibration_counts_every_resolved_single_leg_entry(seeded_url):
    cal = q.fair_calibration(seeded_url, ALL)
    sql = (
        "SELECT count(*) FROM signals s "
        "JOIN orders o ON o.run_id = s.run_id AND o.signal_key = s.key "
        "JOIN outcomes oc ON oc.market_id = s.market_id "
        "WHERE o.filled_shares > 0 AND s.group_key IS NULL AND s.fair IS NOT NULL"
    )
    assert cal["n"].sum() == query(seeded_url, sql)[0][0]
    assert (
        (cal["mean_fair"] >= cal["bucket_low"]) & (cal["mean_fair"] <= cal["bucket_high"])
    ).all()
    depth = q.sigma_depth(seeded_url, ALL)
    assert (
        depth["entries"].sum()
        == query(
            seeded_url, sql.replace("JOIN outcomes", "LEFT JOIN outcomes").replace("s.fair", "s.z")
        )[0][0]
    )


@pytest.mark.parametrize(
    ("wins", "n", "expected"),
    [(0, 10, (0.0, 0.2775)), (5, 10, (0.2366, 0.7634)), (10, 10, (0.7225, 1.0))],
)
def test_wilson_interval_known_values(wins, n, expected):
    lo, hi = wilson_interval(wins, n)
    assert (lo, hi) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(("wins", "n"), [(1, 3), (149, 207), (7, 8), (55, 61), (0, 1)])
def test_wilson_interval_matches_scipy(wins, n):
    ci = binomtest(wins, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(wins, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_interval_of_nothing_is_undefined():
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(3, 2)


def test_centroids_and_vol_band_come_from_the_calibrations(seeded_url):
    runs = query(seeded_url, "SELECT count(*) FROM calibrations")[0][0]
    cents = q.centroids(seeded_url, ALL)
    assert len(cents) == 2 * runs
    latest = cents[cents["latest"]].groupby("strategy").size()
    assert (latest == 2).all()  # one win and one loss centroid per strategy
    strategies = query(seeded_url, "SELECT count(DISTINCT strategy) FROM calibrations")[0][0]
    assert len(latest) == strategies
    banded = query(
        seeded_url, "SELECT DISTINCT strategy FROM calibrations WHERE after LIKE '%vol_band.low%'"
    )
    assert sorted(q.vol_band(seeded_url, ALL)["strategy"]) == sorted(r[0] for r in banded)
