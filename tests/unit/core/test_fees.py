import pytest

from engine.core.fees import floor_shares, taker_fee, tick_for


@pytest.mark.parametrize(
    ("shares", "price", "rate", "fee"),
    [
        (100, 0.50, 0.07, 1.75),  # 100 * 0.07 * 0.25
        (10, 0.62, 0.07, 0.16492),  # 0.164920 exactly at 5 decimals
        (3.33, 0.37, 0.07, 0.05434),  # 0.05433561 rounds half-up at the 5th decimal
        (1, 0.99, 0.07, 0.00069),  # 0.000693
        (5, 0.30, 0.0, 0.0),  # fee-free market
    ],
)
def test_taker_fee_rounds_to_5_decimals(shares, price, rate, fee):
    assert taker_fee(shares, price, rate) == fee


def test_fee_exponent_general_form():
    assert taker_fee(100, 0.5, 0.1, exponent=2) == pytest.approx(100 * 0.1 * 0.0625)


@pytest.mark.parametrize(
    ("price", "tick"),
    [(0.5, 0.01), (0.96, 0.01), (0.961, 0.001), (0.04, 0.01), (0.039, 0.001), (0.999, 0.001)],
)
def test_tick_is_fine_beyond_096_and_004(price, tick):
    assert tick_for(price) == tick


def test_floor_shares_never_rounds_up():
    assert floor_shares(12.3499) == 12.34
    assert floor_shares(5.0) == 5.0
    assert floor_shares(0.009) == 0.0
