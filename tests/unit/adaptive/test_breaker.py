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
