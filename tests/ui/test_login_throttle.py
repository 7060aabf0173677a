"""The sign-in lockout, on a fake clock: free failures, then a lockout that doubles, per key."""

from __future__ import annotations

import pytest

from ui.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_five_failures_lock_and_each_further_one_doubles_the_lockout(clock):
    throttle = LoginThrottle(clock=clock)
    keys = [("user", "alice")]
    assert [throttle.failed(keys) for _ in range(4)] == [0.0] * 4
    assert throttle.wait_s(keys) == 0.0
    assert throttle.failed(keys) == 30.0  # the 5th failure
    assert throttle.wait_s(keys) == 30.0
    clock.now += 29
    assert throttle.wait_s(keys) == pytest.approx(1.0)
    clock.now += 1
    assert throttle.wait_s(keys) == 0.0
    assert throttle.failed(keys) == 60.0  # the 6th
    clock.now += 60
    assert throttle.failed(keys) == 120.0  # the 7th


def test_the_lockout_is_capped(clock):
    throttle = LoginThrottle(clock=clock, max_s=100.0)
    keys = ["k"]
    spans = [throttle.failed(keys) for _ in range(40)]
    assert spans[4:7] == [30.0, 60.0, 100.0] and max(spans) == 100.0


def test_a_success_clears_and_keys_are_independent(clock):
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        throttle.failed([("user", "alice"), ("session", "s1")])
    assert throttle.wait_s([("user", "alice")]) == 30.0
    assert throttle.wait_s([("session", "s1")]) == 30.0
    assert throttle.wait_s([("user", "bob"), ("session", "s2")]) == 0.0
    assert throttle.wait_s([("user", "bob"), ("session", "s1")]) == 30.0  # any locked key holds
    throttle.succeeded([("user", "alice")])
    assert throttle.wait_s([("user", "alice")]) == 0.0
    assert throttle.failed([("user", "alice")]) == 0.0  # counting starts again


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="free=0"):
        LoginThrottle(free=0)
