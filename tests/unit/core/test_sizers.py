import numpy as np
import pytest

from engine.core.fees import fee_per_share
from engine.core.sizers import (
    KellySizer,
    SizingContext,
    StakeCap,
    apply_sizers,
    kelly_fraction_binary,
)
from engine.core.validation import ConfigError
from tests.unit.core.frames import make_frame


def test_kelly_fraction_of_a_binary():
    # f* = (p - P) / (1 - P): p=0.6 at P=0.5 -> 0.2; no edge -> 0; negative edge -> negative
    assert kelly_fraction_binary(0.6, 0.5) == pytest.approx(0.2)
    assert kelly_fraction_binary(0.5, 0.5) == pytest.approx(0.0)
    assert kelly_fraction_binary(0.3, 0.4) == pytest.approx(-1 / 6)
    assert kelly_fraction_binary(np.array([0.9]), np.array([0.8])) == pytest.approx([0.5])


def test_kelly_sizer_prices_in_the_taker_fee():
    frame = make_frame(1, fair=[0.40], price=[0.30], fee_rate=[0.07])
    stake = KellySizer(kelly_fraction=0.5).size(frame, np.zeros(1), SizingContext(bankroll=1000.0))
    p_eff = 0.30 + 0.07 * 0.30 * 0.70
    expected = 1000.0 * 0.5 * (0.40 - p_eff) / (1 - p_eff)
    assert stake[0] == pytest.approx(expected)
    assert fee_per_share(0.30, 0.07) == pytest.approx(0.0147)


def test_stake_cap_takes_the_lower_of_usd_cap_and_bankroll_fraction():
    frame = make_frame(3)
    cap = StakeCap(max_stake=25.0, max_bankroll_fraction=0.01)
    out = cap.size(frame, np.array([10.0, 30.0, 5.0]), SizingContext(bankroll=1000.0))
    assert out.tolist() == [10.0, 10.0, 5.0]


def test_chain_rejects_rows_without_edge_and_records_the_sizer():
    frame = make_frame(2, fair=[0.40, 0.20], price=[0.30, 0.30])
    apply_sizers(
        frame,
        {"kelly": KellySizer(0.25), "cap": StakeCap(25.0, 0.05)},
        SizingContext(bankroll=1000.0),
    )
    assert frame.reason.tolist() == [None, "sizer.kelly"]
    assert frame.stake[0] == pytest.approx(25.0)
    assert frame.stake[1] == 0.0


def test_bad_sizer_config():
    with pytest.raises(ConfigError, match=r"kelly_fraction=0 must be in \(0.0, 1.0\]"):
        KellySizer(kelly_fraction=0)
    with pytest.raises(ConfigError, match="max_stake=-5"):
        StakeCap(max_stake=-5)
