"""Boundary tests of the gates beyond the foundation's four."""

import numpy as np
import pytest

from engine.core.gates import (
    ArbProfitGate,
    ConfidenceGate,
    GammaLeashGate,
    LiquidityGate,
    RealizedVolGate,
    SignalAgeGate,
    SlippageGate,
    StalenessGate,
    TimeToExpiryGate,
    VolBandGate,
    apply_gates,
)
from engine.core.validation import ConfigError
from tests.unit.core.frames import make_frame


def passed(gate, **cols):
    n = len(next(iter(cols.values())))
    return gate.check(make_frame(n, **cols))[0].tolist()


def test_vol_band_is_inclusive():
    assert passed(VolBandGate(0.8, 1.2), iv_rv=[0.79, 0.8, 1.0, 1.2, 1.21]) == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_gamma_leash_caps_the_absolute_scaled_gamma():
    assert passed(GammaLeashGate(cap=7.5), gamma_1pct=[-7.5, 7.5, -7.51, 7.51, 0.0]) == [
        True,
        True,
        False,
        False,
        True,
    ]


def test_time_to_expiry_uses_the_elapsed_fraction_of_the_window():
    gate = TimeToExpiryGate(min_elapsed=0.1, max_elapsed=0.9)
    # 300 s windows: remaining 270 -> 0.1 elapsed, 30 -> 0.9, 29 -> 0.9033
    assert passed(gate, window_s=[300.0] * 4, t_remaining_s=[271.0, 270.0, 30.0, 29.0]) == [
        False,
        True,
        True,
        False,
    ]


def test_liquidity_needs_depth_for_the_stake():
    assert passed(LiquidityGate(min_depth_usd=10.0), depth_usd=[9.99, 10.0, np.nan]) == [
        False,
        True,
        False,
    ]


def test_staleness_checks_book_and_spot_ages():
    gate = StalenessGate(max_book_age_s=5, max_spot_age_s=2)
    ok = passed(gate, book_age_s=[5.0, 5.1, 0.0, 0.0], spot_age_s=[2.0, 0.0, 2.1, 0.0])
    assert ok == [True, False, False, True]


def test_signal_age_and_slippage_for_follow_mirror():
    assert passed(SignalAgeGate(max_age_s=10), age_s=[10.0, 10.01]) == [True, False]
    gate = SlippageGate(max_slippage=0.02)
    assert passed(gate, price=[0.52, 0.5201, 0.40], ref_price=[0.50, 0.50, 0.50]) == [
        True,
        False,
        True,
    ]


def test_arb_profit_and_rv_and_confidence():
    assert passed(ArbProfitGate(0.01), group_profit=[0.0099, 0.01]) == [False, True]
    assert passed(RealizedVolGate(0.8), sigma=[0.8, 0.81]) == [True, False]
    assert passed(ConfidenceGate(0.5), confidence=[0.49, 0.5, np.nan]) == [False, True, False]


def test_legs_of_a_group_fall_together_with_the_first_reason():
    frame = make_frame(
        3, group_key=["g", "g", None], price=[0.30, 0.50, 0.50], group_profit=[0.02, 0.02, np.nan]
    )
    from engine.core.gates import DeadZoneGate

    apply_gates(frame, {"dead_zone": DeadZoneGate()})
    assert frame.reason.tolist() == ["gate.dead_zone", "gate.dead_zone", "gate.dead_zone"]
    assert frame.reason_value.tolist() == pytest.approx([0.50, 0.50, 0.50])


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: VolBandGate(low=1.5, high=1.2), "low=1.5 must be <= high=1.2"),
        (
            lambda: TimeToExpiryGate(min_elapsed=0.5, max_elapsed=0.4),
            "min_elapsed=0.5 must be <= max_elapsed=0.4",
        ),
        (lambda: GammaLeashGate(cap=0), "cap=0 must be in (0.0, 1000000.0]"),
        (lambda: StalenessGate(max_book_age_s=-1), "max_book_age_s=-1 must be in [0.0, 3600.0]"),
        (lambda: ConfidenceGate(min_confidence=1.5), "min_confidence=1.5 must be in [0.0, 1.0]"),
    ],
)
def test_bad_values(factory, message):
    with pytest.raises(ConfigError) as err:
        factory()
    assert str(err.value) == message
