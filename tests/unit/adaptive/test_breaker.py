"""Each cause trips the breaker; each resets by its rule or by a human."""

import pytest

from engine.core.adaptive.breaker import BreakerConfig, CircuitBreaker
from engine.core.validation import ConfigError

T0 = 1_767_571_200.0  # 00:00 UTC
CFG = BreakerConfig(
    daily_loss_limit=100.0, max_consecutive_losses=3, max_drawdown=0.2, max_feed_age_s=10.0
)


def events(b, now, equity=1000.0, feed_age=0.0):
    return [(e.event, e.cause) for e in b.check(now, equity=equity, feed_age_s=feed_age)]


def test_daily_loss_trips_and_resets_next_utc_day():
    b = CircuitBreaker(CFG)
    assert events(b, T0) == []
    b.on_settled(T0 + 10, -60.0)
    b.on_settled(T0 + 20, +30.0)
    b.on_settled(T0 + 30, -80.0)
    assert events(b, T0 + 31) == [("trip", "daily_loss")]
    assert b.tripped and events(b, T0 + 3600) == []
    assert events(b, T0 + 86_400) == [("reset", "rule")]
    assert not b.tripped


def test_consecutive_losses_trip():
    b = CircuitBreaker(CFG)
    for i in range(3):
        b.on_settled(T0 + i, -1.0)
    assert events(b, T0 + 5) == [("trip", "consecutive_losses")]


def test_a_win_breaks_the_streak():
    b = CircuitBreaker(CFG)
    for pnl in (-1.0, -1.0, 2.0, -1.0, -1.0):
        b.on_settled(T0, pnl)
    assert events(b, T0 + 1) == []


def test_drawdown_from_peak_trips():
    b = CircuitBreaker(CFG)
    assert events(b, T0, equity=1200.0) == []
    assert events(b, T0 + 1, equity=970.0) == []  # 19.2 % below the peak
    assert events(b, T0 + 2, equity=960.0) == [("trip", "drawdown")]


def test_stale_feed_trips_and_resets_when_fresh():
    b = CircuitBreaker(CFG)
    assert events(b, T0, feed_age=11.0) == [("trip", "stale_feed")]
    assert events(b, T0 + 1, feed_age=12.0) == []
    assert events(b, T0 + 2, feed_age=1.0) == [("reset", "rule")]


def test_a_human_resets_any_cause():
    b = CircuitBreaker(CFG)
    b.on_settled(T0, -150.0)
    assert events(b, T0 + 1) == [("trip", "daily_loss")]
    e = b.human_reset(T0 + 2, "reviewed")
    assert (e.event, e.cause) == ("reset", "human") and not b.tripped
    assert events(b, T0 + 3) == []  # the counters started over


def test_restore_keeps_a_trip_across_a_restart():
    b = CircuitBreaker(CFG)
    b.restore(
        tripped=True,
        cause="daily_loss",
        day=int(T0 // 86_400),
        day_pnl=-150.0,
        streak=0,
        peak=1000.0,
    )
    assert events(b, T0 + 100) == []
    assert b.tripped


def test_bad_breaker_config():
    with pytest.raises(ConfigError, match="max_drawdown=0"):
        BreakerConfig(max_drawdown=0)


def test_a_streak_reaching_the_limit_trips_though_a_win_settles_after_it_in_the_tick():
    b = CircuitBreaker(CFG)
    for pnl in (-1.0, -1.0, -1.0, +5.0):  # one tick's settlements, in the order they came
        b.on_settled(T0 + 10, pnl)
    assert b.streak == 0
    assert events(b, T0 + 10) == [("trip", "consecutive_losses")]


def test_a_batch_is_a_run_of_trades_in_the_order_they_were_entered():
    b = CircuitBreaker(CFG)
    b.on_settled(T0, -1.0)
    assert events(b, T0) == []
    b.on_settled_batch(T0 + 300, [-1.0, -1.0, +3.0])  # 1 + 2 losses in a row: the limit, 3
    assert events(b, T0 + 300) == [("trip", "consecutive_losses")]
    assert b.streak == 0  # the tick's last trade won
    interleaved = CircuitBreaker(CFG)
    interleaved.on_settled(T0, -1.0)
    interleaved.on_settled_batch(T0 + 300, [+2.0, -1.0, +3.0, -1.0])  # no 3 in a row
    assert events(interleaved, T0 + 300) == []


def test_a_batch_under_the_limit_does_not_trip_and_the_next_check_forgets_it():
    b = CircuitBreaker(CFG)
    b.on_settled_batch(T0, [-1.0, -1.0, +1.0])
    assert events(b, T0) == []
    b.on_settled_batch(T0 + 300, [-1.0, -1.0])
    assert events(b, T0 + 300) == []  # 2 in a row since the win
    assert b.state()["streak"] == 2 and b.longest == 2


def test_the_closed_loop_trips_on_a_streak_that_a_win_of_the_same_tick_follows(sqlite_url):
    from types import SimpleNamespace

    import numpy as np

    from engine.core.adaptive.calibrator import CalibratorConfig
    from engine.core.adaptive.regime import RegimeConfig
    from engine.drivers.closed_loop import ClosedLoop
    from engine.ledger import runs
    from engine.ledger.db import make_engine, make_sessionmaker
    from engine.ledger.models import BreakerEventRow, BreakerStateRow
    from engine.timeutil import to_dt

    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        run = runs.start_run(
            session=session, name=None, mode="paper", feed_identity={"kind": "test"},
            fingerprint="0" * 16, config={}, settings_version=0,
        )  # fmt: skip
        run_id = run.id
    loop = ClosedLoop(CalibratorConfig(enabled=False), RegimeConfig(), CFG, run_id=run_id)
    now = T0 + 301.0  # off the minute: no human resets to read
    state = SimpleNamespace(ts=now, spot_ts_arr=np.array([now]), books={})
    # the ledger returns them in any order; entered: three losses, then the win, which resets
    # the streak before the check
    entered = [(-1.0, 10.0), (-1.0, 20.0), (-1.0, 30.0), (+4.0, 40.0)]
    settled = [
        SimpleNamespace(pnl=pnl, opened_at=to_dt(T0 + t), id=i)
        for i, (pnl, t) in enumerate(entered)
    ][::-1]
    with sessions.begin() as session:
        loop.on_tick(session, state, settled=settled, equity=1000.0, strategies=[])
    assert loop.blocked and loop.breaker.cause == "consecutive_losses"
    with sessions() as session:
        events = [(e.event, e.cause) for e in session.query(BreakerEventRow).all()]
        stored = session.get(BreakerStateRow, run_id)
    assert events == [("trip", "consecutive_losses")]
    assert stored.tripped and stored.cause == "consecutive_losses"  # what a restart reads
    engine.dispose()
