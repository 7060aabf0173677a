"""Up/Down Capture on hand-built market states: which token, which numbers, which keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.core.gates import DeadZoneGate, SigmaGate
from engine.core.pipeline import decide
from engine.core.pricing import SECONDS_PER_YEAR, price_greeks
from engine.core.sizers import KellySizer, SizingContext, StakeCap
from engine.core.state import MarketState, VolConfig
from engine.core.strategies.updown import UpDownCapture
from engine.core.types import Book, Market, Tick
from engine.core.validation import ConfigError

T0 = 1_767_571_200.0  # 2026-01-05T00:00:00Z
K = 100_000.0
MARKET = Market("m1", "BTCUSDT", 300, T0, T0 + 300, K, "m1-up", "m1-down", 0.07)


def book(token: str, ask: float) -> Book:
    return Book(token, np.array([[ask - 0.02, 50.0]]), np.array([[ask, 50.0]]), ts=0.0)


def drive(prices: list[float], up_ask: float = 0.30, down_ask: float = 0.30) -> MarketState:
    """Apply one tick per price from T0; the market is listed at T0."""
    state = MarketState(VolConfig(half_life_s=60, warmup_s=10))
    for i, p in enumerate(prices):
        books = {"m1-up": book("m1-up", up_ask), "m1-down": book("m1-down", down_ask)}
        state.apply(Tick(T0 + i, {"BTCUSDT": p}, [MARKET] if i == 0 else [], books))
    return state


def wiggle(n: int, scale: float = 5.0) -> list[float]:
    return [K + scale * (-1) ** i for i in range(n)]


def strategy(**kw) -> UpDownCapture:
    defaults = dict(
        lookback_s=10,
        eval_every_s=5,
        min_elapsed_s=30,
        min_remaining_s=15,
        gates={"sigma": SigmaGate(1.5), "dead_zone": DeadZoneGate()},
        sizers={"kelly": KellySizer(0.25), "cap": StakeCap(25, 0.05)},
    )
    defaults.update(kw)
    return UpDownCapture(**defaults)


def test_spot_history_and_vol_warmup():
    state = MarketState(VolConfig(half_life_s=60, warmup_s=10), history_s=5)
    for i in range(8):
        state.apply(Tick(T0 + i, {"BTCUSDT": 100.0 + i}))
        if i < 10:
            assert math.isnan(state.sigma("BTCUSDT"))
    assert state.spot_ago("BTCUSDT", 0) == 107.0
    assert state.spot_ago("BTCUSDT", 4) == 103.0
    with pytest.raises(ValueError, match="seconds=5"):
        state.spot_ago("BTCUSDT", 5)


def test_an_up_move_proposes_the_up_token_priced_by_n_d2():
    prices = wiggle(40) + [K * 1.002]  # a sharp up-move at t = 40 s
    state = drive(prices)
    frame = strategy().propose(state, held=set())
    assert len(frame) == 1
    assert frame.side[0] == "UP" and frame.token_id[0] == "m1-up"
    assert frame.trigger[0] == "t+00040s"
    sigma = state.sigma("BTCUSDT")
    expected_z = math.log(prices[-1] / prices[-11]) / (sigma * math.sqrt(10 / SECONDS_PER_YEAR))
    assert frame.z[0] == pytest.approx(expected_z)
    fair = price_greeks(prices[-1], K, 260 / SECONDS_PER_YEAR, sigma).price
    assert frame.fair[0] == pytest.approx(float(fair))
    assert frame.edge[0] == pytest.approx(frame.fair[0] - 0.30 - 0.07 * 0.30 * 0.70)
    assert frame.t_remaining_s[0] == 260
    assert frame.keys() == ["updown|m1|UP|t+00040s"]


def test_a_down_move_proposes_the_down_token():
    state = drive(wiggle(40) + [K * 0.998])
    frame = strategy().propose(state, held=set())
    assert frame.side.tolist() == ["DOWN"] and frame.token_id.tolist() == ["m1-down"]
    assert frame.z[0] < 0
    assert frame.fair[0] > 0.5


def test_only_on_eval_ticks_after_min_elapsed_and_not_when_held():
    assert (
        len(strategy().propose(drive(wiggle(41) + [K]), held=set())) == 0
    )  # t=41: not an eval tick
    assert len(strategy().propose(drive(wiggle(26)), held=set())) == 0  # t=25 < min_elapsed
    held = {("updown", "m1", "UP")}
    assert len(strategy().propose(drive(wiggle(40) + [K * 1.002]), held=held)) == 0


def test_pipeline_gates_then_sizes():
    state = drive(wiggle(40) + [K * 1.002], up_ask=0.30)
    (frame,) = decide(state, [strategy()], ctx=SizingContext(bankroll=1000.0), held=set())
    assert frame.accepted.all()
    assert 0 < frame.stake[0] <= 25.0
    quiet = drive(wiggle(41))
    (frame,) = decide(quiet, [strategy()], ctx=SizingContext(bankroll=1000.0), held=set())
    assert frame.reason.tolist() == ["gate.sigma"]
    assert frame.stake.tolist() == [0.0]


def test_bad_strategy_config():
    with pytest.raises(ConfigError, match="lookback_s=0 must be in"):
        strategy(lookback_s=0)
    with pytest.raises(ConfigError, match="sizers"):
        strategy(sizers={})
