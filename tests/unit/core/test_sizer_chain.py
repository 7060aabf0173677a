"""The sizer chain against hand-computed stakes, component by component."""

import numpy as np
import pytest

from engine.core.sizers import (
    ArbSizer,
    DeltaPrior,
    ExposureCap,
    FixedStake,
    FlipRiskTax,
    KellySizer,
    RegimeFactor,
    SizingContext,
    StakeCap,
    VenueRounding,
    apply_sizers,
)
from engine.core.validation import ConfigError
from tests.unit.core.frames import make_frame

CHAIN = {
    "kelly": KellySizer(kelly_fraction=0.25),
    "delta_prior": DeltaPrior(),
    "flip_risk_tax": FlipRiskTax(),
    "regime_factor": RegimeFactor(),
    "stake_cap": StakeCap(max_stake=25.0, max_bankroll_fraction=0.05),
    "venue_rounding": VenueRounding(min_notional=1.0),
}


def by_hand(p, price, gamma, bankroll, regime, rate=0.07):
    p_eff = price + rate * price * (1 - price)
    f = (p - p_eff) / (1 - p_eff)
    stake = max(f, 0) * 0.25 * bankroll
    stake /= 1 + min(abs(gamma) / 20, 2)
    stake *= regime
    stake = min(stake, 25.0, 0.05 * bankroll)
    shares = np.floor(stake / price * 100 + 1e-9) / 100
    return shares * price if shares * price >= 1.0 else 0.0


@pytest.mark.parametrize(
    ("p", "price", "gamma", "bankroll", "regime"),
    [
        (0.40, 0.30, 0.0, 1000.0, 1.0),  # Kelly 0.1267 x 0.25 x 1000 = 31.7 -> capped at 25
        (0.40, 0.30, 10.0, 1000.0, 1.0),  # flip tax / 1.5 before the cap: 21.1
        (0.40, 0.30, 60.0, 1000.0, 0.5),  # gamma_norm capped at 2 (/3), CHOPPY halves: 5.28
        (0.62, 0.55, -25.0, 200.0, 1.0),  # negative gamma taxes too; bankroll cap 10
        (0.33, 0.30, 0.0, 10.0, 1.0),  # tiny stake: 0.056 USD -> under $1, skipped
        (0.25, 0.30, 0.0, 1000.0, 1.0),  # no edge: Kelly 0
        (0.97, 0.93, 5.0, 1000.0, 1.0),
    ],
)
def test_chain_matches_the_hand_computation(p, price, gamma, bankroll, regime):
    frame = make_frame(1, fair=[p], price=[price], gamma_1pct=[gamma])
    apply_sizers(frame, CHAIN, SizingContext(bankroll=bankroll, regime_factor=regime))
    expected = by_hand(p, price, gamma, bankroll, regime)
    assert frame.stake[0] == pytest.approx(expected, abs=1e-9)
    assert (frame.reason[0] is None) == (expected > 0)


def test_the_skip_names_the_sizer_that_zeroed_it():
    frame = make_frame(2, fair=[0.25, 0.33], price=[0.30, 0.30])
    apply_sizers(frame, CHAIN, SizingContext(bankroll=10.0))
    assert frame.reason.tolist() == ["sizer.kelly", "sizer.venue_rounding"]


def test_delta_prior_multiplier_is_clipped_to_its_band():
    frame = make_frame(3)
    ctx = SizingContext(bankroll=1.0, delta_prior=lambda f: np.array([0.1, 1.2, 9.0]))
    assert DeltaPrior().size(frame, np.full(3, 10.0), ctx).tolist() == pytest.approx(
        [5.0, 12.0, 15.0]
    )
    assert (
        DeltaPrior().size(frame, np.full(3, 10.0), SizingContext(bankroll=1.0)).tolist()
        == [10.0] * 3
    )


def test_exposure_cap_counts_open_positions_and_earlier_rows():
    frame = make_frame(3, market_id=["a", "a", "b"])
    ctx = SizingContext(
        bankroll=1e6, exposure_by_market={"a": 30.0}, exposure_by_strategy={"test": 200.0}
    )
    out = ExposureCap(max_per_market=50.0, max_per_strategy=250.0).size(
        frame, np.array([15.0, 15.0, 40.0]), ctx
    )
    assert out.tolist() == [15.0, 5.0, 30.0]


def test_fixed_stake_by_confidence():
    frame = make_frame(2, confidence=[0.6, 1.0])
    assert FixedStake(stake=15.0, by_confidence=True).size(
        frame, np.zeros(2), SizingContext(1.0)
    ).tolist() == [9.0, 15.0]


def test_arb_sizer_buys_equal_shares_within_every_legs_depth():
    frame = make_frame(
        3, group_key=["g", "g", "g"], price=[0.30, 0.30, 0.35], ask_size=[100.0, 40.0, 100.0]
    )
    out = ArbSizer(max_stake=50.0).size(frame, np.zeros(3), SizingContext(1000.0))
    # min(depth 40, 50 / 0.95 = 52.6) = 40 shares per leg
    assert out.tolist() == pytest.approx([12.0, 12.0, 14.0])


def test_venue_rounding_minimum_shares_for_resting_orders():
    frame = make_frame(2, price=[0.50, 0.50])
    out = VenueRounding(min_notional=0.0, min_shares=5.0).size(
        frame, np.array([2.49, 2.5]), SizingContext(1.0)
    )
    assert out.tolist() == [0.0, 2.5]


def test_delta_prior_band_must_hold_one():
    """A band above (or below) 1 would move stakes without evidence: refused."""
    with pytest.raises(ConfigError, match=r"min_mult=1.2 must be in \[0.5, 1.0\]"):
        DeltaPrior(min_mult=1.2)
    with pytest.raises(ConfigError, match=r"max_mult=0.8 must be in \[1.0, 1.5\]"):
        DeltaPrior(min_mult=0.5, max_mult=0.8)
    frame = make_frame(2)
    band = DeltaPrior(min_mult=1.0, max_mult=1.0)
    assert band.size(frame, np.full(2, 10.0), SizingContext(bankroll=1.0)).tolist() == [10.0] * 2


def test_bad_sizer_values():
    with pytest.raises(ConfigError, match=r"min_mult=0.4 must be in \[0.5, 1.0\]"):
        DeltaPrior(min_mult=0.4)
    with pytest.raises(ConfigError, match=r"max_per_market=0 must be in"):
        ExposureCap(max_per_market=0)
