"""Every page under AppTest on the seeded ledger: no exception, and the figures are the database's."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine.ledger.db import make_engine
from engine.ledger.models import BreakerEventRow, CalibrationRow, RegimeChangeRow
from tests.helpers import query
from tests.ui.conftest import PAGES
from tests.ui.seed import cli_ledger, closed_loop_rows


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame_with(at, column: str):
    """The one table on the page with ``column`` (``trade_id``: the trades)."""
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_without_an_exception(app, seeded_url, page):
    at = app(seeded_url, page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == page
    assert not at.error, texts(at.error)


def test_ledger_page_shows_the_clis_numbers(app, seeded_url):
    at = app(seeded_url, "Ledger")
    cli = cli_ledger(seeded_url)
    table = at.dataframe[0].value
    for key in [
        "strategy",
        "trades",
        "wins",
        "win_rate",
        "breakeven_win_rate",
        "win_rate_shares",
        "breakeven_win_rate_shares",
        "pnl",
        "fees",
        "p_value",
        "arb_trades",
        "arb_pnl",
        "verdict",
    ]:
        # NaN in the frame is None in JSON (no directional trade: no p-value).
        assert table[key].astype(object).where(table[key].notna(), None).tolist() == [
            row[key] for row in cli
        ], key
    total = cli[-1]
    shown = metrics(at)
    assert shown["Trades"] == str(total["trades"])
    assert shown["Win rate per share"] == f"{100 * total['win_rate_shares']:.1f}%"
    assert shown["Break-even per share"] == f"{100 * total['breakeven_win_rate_shares']:.1f}%"
    assert shown["P&L after fees"] == f"{total['pnl']:+,.2f} $"
    assert shown["p-value"] == f"{total['p_value']:.3g}"
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]
    trades = frame_with(at, "trade_id")
    assert len(trades) == total["trades"]


def test_ledger_page_verdict_follows_pnl_not_the_per_trade_win_rate(app, seeded_url, monkeypatch):
    """87 wins of 10 shares and 13 losses of 100 at 0.85: WR 87 % beats break-even 85.9 % per
    trade, yet the run lost 994 USD; the headline says below break-even, beside both pairs."""
    from engine.ledger import queries as lq
    from tests.unit.ledger.test_summary import small_wins_big_losses

    monkeypatch.setattr(lq, "resolved_trades", lambda **_: small_wins_big_losses())
    at = app(seeded_url, "Ledger")
    assert not at.exception
    (warning,) = at.warning
    assert "40.1% vs break-even 85.9%" in warning.value and "lost 994.03 USD" in warning.value
    assert not at.success
    shown = metrics(at)
    assert shown["Win rate per share"] == "40.1%" and shown["P&L after fees"] == "-994.03 $"
    (delta,) = [m.proto.delta for m in at.metric if m.label == "Win rate per share"]
    assert delta.startswith("-45.8 pp")
    total = at.dataframe[0].value.iloc[-1]
    assert total["win_rate"] == 0.87 and total["breakeven_win_rate"] == pytest.approx(0.859)


def test_ledger_page_filters_by_strategy(app, seeded_url):
    at = app(seeded_url, "Ledger")
    at.multiselect[0].set_value(["updown"]).run()
    assert not at.exception
    row = next(r for r in cli_ledger(seeded_url) if r["strategy"] == "updown")
    table = at.dataframe[0].value
    assert table["strategy"].tolist() == ["updown", "total"]
    assert table["trades"].tolist() == [row["trades"], row["trades"]]
    assert metrics(at)["P&L after fees"] == f"{row['pnl']:+,.2f} $"
    assert set(frame_with(at, "trade_id")["strategy"]) == {"updown"}


def test_live_page_shows_the_databases_state(app, seeded_url):
    at = app(seeded_url, "Live")
    shown = metrics(at)
    unresolved = "SELECT count(*) FROM markets m WHERE NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.market_id = m.market_id)"
    assert shown["Markets tracked"] == str(query(seeded_url, unresolved)[0][0])
    assert shown["Signals"] == f"{query(seeded_url, 'SELECT count(*) FROM signals')[0][0]:,}"
    assert shown["Open positions"] == "0"
    assert shown["Settings version in force"] == "v0"
    regime = query(seeded_url, "SELECT regime FROM regime_changes ORDER BY id DESC LIMIT 1")
    breaker = query(seeded_url, "SELECT event FROM breaker_events ORDER BY id DESC LIMIT 1")
    assert (regime[0][0] if regime else "CALM") in texts(at.markdown)
    tripped = bool(breaker) and breaker[0][0] == "trip"
    assert ("TRIPPED" if tripped else "ARMED") in texts(at.markdown)
    assert "last tick 2026-01-05 02:00:00 UTC" in texts(at.caption)  # the run's last_ts
    signals = at.dataframe[0].value
    newest = query(
        seeded_url, "SELECT strategy, price FROM signals ORDER BY ts DESC, id DESC LIMIT 1"
    )[0]
    assert (signals["strategy"].iloc[0], signals["price"].iloc[0]) == newest


def test_closed_loop_rows_show_on_live_and_greeks(app, ledger_url):
    closed_loop_rows(ledger_url)
    at = app(ledger_url, "Live")
    assert not at.exception
    assert "CHOPPY" in texts(at.markdown) and "TRIPPED" in texts(at.markdown)
    assert "flip rate 41.0%" in texts(at.caption)
    assert "cause daily_loss" in texts(at.caption)
    at.switch_page(PAGES["Greeks"]).run()
    assert not at.exception
    assert not any("No calibration yet" in i.value for i in at.info)
    assert "Outlined: the calibrated IV/RV band" in texts(at.caption)
    assert len(at.get("vega_lite_chart")) == 6  # depth x2, IV/RV, centroids x2, N(d2)


def test_greeks_page_without_calibrations_says_so(app, ledger_url):
    engine = make_engine(ledger_url)
    with Session(engine) as s, s.begin():
        for model in (CalibrationRow, RegimeChangeRow, BreakerEventRow):
            s.execute(delete(model))
    engine.dispose()
    at = app(ledger_url, "Greeks")
    assert any("No calibration yet" in i.value for i in at.info)
    assert "No open position." in texts(at.caption)
    assert len(at.get("vega_lite_chart")) == 4
    at.selectbox(key="greeks_period").set_value("15 min").run()
    assert not at.exception


def test_a_missing_ledger_says_how_to_make_one(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'nothing.db'}"
    for page in PAGES:
        at = app(url, page)
        assert not at.exception
        assert at.warning and at.warning[0].value.startswith(("No ledger at", "No database at"))
