"""The breaker's equity peak (issue 15): the day's peak, since 00:00 UTC, restored bit for bit.

The drawdown rule measures equity against the highest equity since 00:00 UTC of the current
day, not against an all-time peak: at midnight the peak restarts at that moment's equity.
``edgeloop-breaker`` says so beside the number, the trip says which peak it fell from, and a
restart reads back exactly the float the engine stored.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from engine.core.adaptive.breaker import DAY, BreakerConfig, CircuitBreaker
from engine.core.adaptive.calibrator import CalibratorConfig
from engine.core.adaptive.regime import RegimeConfig
from engine.drivers.closed_loop import ClosedLoop
from engine.ledger import breaker_cli, runs
from engine.ledger.db import make_engine, make_sessionmaker
from engine.ledger.models import BreakerEventRow, BreakerStateRow

T0 = 1_767_571_200.0  # 2026-01-05T00:00:00Z
CFG = BreakerConfig(
    daily_loss_limit=1e6, max_consecutive_losses=1000, max_drawdown=0.02, max_feed_age_s=10.0
)
# A peak no short decimal writes: it must come back as this double, not as 1316.73.
PEAK = 1316.73 + 1e-10 / 3


def test_the_peak_is_the_highest_equity_since_00_00_utc():
    b = CircuitBreaker(CFG)
    b.check(T0 + DAY - 60, equity=PEAK, feed_age_s=0.0)  # 23:59:00 of 2026-01-05
    assert b.peak == PEAK and b.peak_since == T0
    # a fall of 3 % the same day trips, from that peak
    same_day = CircuitBreaker(CFG)
    same_day.restore(**b.state())
    (trip,) = same_day.check(T0 + DAY - 1, equity=PEAK * 0.97, feed_age_s=0.0)
    assert (trip.event, trip.cause) == ("trip", "drawdown")
    assert trip.value == pytest.approx(0.03)
    assert "below the equity peak since 00:00 UTC (1,316.73 USD)" in trip.detail
    # the same fall one second later, at 00:00 UTC of the next day, is a new day's first equity
    assert b.check(T0 + DAY, equity=PEAK * 0.97, feed_age_s=0.0) == []
    assert b.peak == PEAK * 0.97 and b.peak_since == T0 + DAY
    assert b.state()["day"] == int(T0 // DAY) + 1
    # and a rise after midnight is the new peak
    b.check(T0 + DAY + 60, equity=PEAK * 0.98, feed_age_s=0.0)
    assert b.peak == PEAK * 0.98


def test_no_peak_before_the_first_check():
    b = CircuitBreaker(CFG)
    assert np.isnan(b.peak) and np.isnan(b.peak_since)


def _run(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        run = runs.start_run(
            session=session, name=None, mode="paper", feed_identity={"kind": "test"},
            fingerprint="0" * 16, config={}, settings_version=0,
        )  # fmt: skip
        run_id = run.id
    engine.dispose()
    return run_id


def _tick(loop: ClosedLoop, sessions, now: float, equity: float) -> None:
    state = SimpleNamespace(ts=now, spot_ts_arr=np.array([now]), books={})
    with sessions.begin() as session:
        loop.on_tick(session, state, settled=[], equity=equity, strategies=[])


def test_a_restart_restores_the_exact_peak_and_trips_as_the_uninterrupted_run(sqlite_url):
    run_id = _run(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    path = [(T0 + 60, 1000.0), (T0 + 120, PEAK), (T0 + 180, PEAK * 0.99)]
    after = [(T0 + 240, PEAK * 0.985), (T0 + 300, PEAK * 0.979)]  # 2.1 % below: the trip

    def loop() -> ClosedLoop:
        return ClosedLoop(CalibratorConfig(enabled=False), RegimeConfig(), CFG, run_id=run_id)

    uninterrupted = loop()
    for now, equity in path + after:
        _tick(uninterrupted, sessions, now, equity)

    first = loop()
    for now, equity in path:
        _tick(first, sessions, now, equity)
    with sessions() as session:
        stored = session.get(BreakerStateRow, run_id)
        assert stored.peak.hex() == PEAK.hex()  # the double itself, not a rounding of it
        session.query(BreakerEventRow).delete()  # the uninterrupted run's trip: not yet here
        session.commit()
    resumed = loop()  # a new process after kill -9: everything from the ledger
    with sessions.begin() as session:
        resumed.restore(session, T0 + 180, PEAK * 0.99)
    assert resumed.breaker.peak.hex() == PEAK.hex()
    assert resumed.breaker.state() == first.breaker.state()
    for now, equity in after:
        _tick(resumed, sessions, now, equity)
    assert resumed.breaker.state() == uninterrupted.breaker.state()
    assert resumed.blocked and resumed.breaker.cause == "drawdown"
    with sessions() as session:
        (trip,) = session.query(BreakerEventRow).all()
    assert trip.value == pytest.approx((PEAK - PEAK * 0.979) / PEAK)
    assert (
        trip.detail
        == "equity 1,289.08 USD: 2.10 % below the equity peak since 00:00 UTC (1,316.73 USD)"
    )
    engine.dispose()


def test_edgeloop_breaker_says_the_peak_is_since_00_00_utc(sqlite_url, capsys):
    run_id = _run(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    loop = ClosedLoop(CalibratorConfig(enabled=False), RegimeConfig(), CFG, run_id=run_id)
    _tick(loop, sessions, T0 + 60, PEAK)
    engine.dispose()
    assert breaker_cli.main(["--db", sqlite_url]) == 0
    text = capsys.readouterr().out
    assert "equity peak 1,316.73 USD (peak since 00:00 UTC 2026-01-05" in text, text
    assert breaker_cli.main(["--db", sqlite_url, "--json"]) == 0
    counters = json.loads(capsys.readouterr().out)["counters"]
    assert counters["peak"] == PEAK  # JSON floats round-trip exactly
    assert counters["peak_since"] == "2026-01-05T00:00:00+00:00"
