"""Arb groups under the same limits as directional entries: all legs or none, equal shares.

The negrisk chain is ``arb`` (ArbSizer: depth, max_stake, bankroll fraction, what is left of
the bankroll, open exposure per market and per strategy) then ``venue_rounding``
(ArbVenueRounding: the venue's share step and minimums, checked on every leg of a group
before any leg is kept). Frames are real SignalFrames; stakes are checked by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.components import build
from engine.core.pipeline import decide
from engine.core.sizers import (
    ArbSizer,
    ArbVenueRounding,
    SizingContext,
    VenueRounding,
    apply_sizers,
)
from engine.core.validation import ConfigError
from tests.unit.core.frames import make_frame
from tests.unit.core.test_strategies import event, run
from tests.unit.test_configs import cfg

ARB = ArbSizer(
    max_stake=50.0, max_bankroll_fraction=0.05, max_per_market=50.0, max_per_strategy=250.0
)
VENUE = ArbVenueRounding(min_notional=1.0, min_shares=0.0)


def chain(arb: ArbSizer = ARB, venue: ArbVenueRounding = VENUE) -> dict:
    return {"arb": arb, "venue_rounding": venue}


def arb_frame(prices, groups=None, markets=None, ask_size=100.0):
    """One row per leg; every leg in group ``g`` unless ``groups`` says otherwise."""
    n = len(prices)
    return make_frame(
        n,
        price=prices,
        group_key=groups or ["g"] * n,
        market_id=markets or [f"m{i}" for i in range(n)],
        ask_size=ask_size if np.ndim(ask_size) else [ask_size] * n,
    )


def shares(frame):
    return frame.stake / frame.price


@pytest.mark.parametrize("bankroll", [0.0, -25.0])
def test_no_arb_without_a_bankroll(bankroll):
    """Today's sizer staked 50 USD per group whatever the bankroll: now nothing, as sizer.arb."""
    frame = arb_frame([0.30, 0.30, 0.35])
    apply_sizers(frame, chain(), SizingContext(bankroll=bankroll))
    assert frame.reason.tolist() == ["sizer.arb"] * 3
    assert frame.stake.tolist() == [0.0] * 3


@pytest.mark.parametrize(
    ("bankroll", "per_leg"),
    [
        (1e6, 52.63),  # max_stake 50 / cost 0.95 = 52.63 shares
        (200.0, 10.52),  # 0.05 x 200 = 10 USD / 0.95 = 10.52 shares
        (1000.0, 52.63),  # 0.05 x 1000 = 50: both caps agree
    ],
)
def test_the_lower_of_max_stake_and_the_bankroll_fraction_caps_the_whole_group(bankroll, per_leg):
    frame = arb_frame([0.30, 0.30, 0.35])
    apply_sizers(frame, chain(), SizingContext(bankroll=bankroll))
    assert frame.accepted.all()
    assert shares(frame) == pytest.approx([per_leg] * 3)  # one share count on every leg
    assert frame.stake.sum() <= min(50.0, 0.05 * bankroll) + 1e-9


def test_groups_share_what_is_left_of_the_bankroll():
    """Fraction 1: the first group may take all of a 30 USD bankroll, the second gets nothing."""
    arb = ArbSizer(max_stake=50.0, max_bankroll_fraction=1.0)
    frame = arb_frame([0.45, 0.45, 0.45, 0.45], groups=["a", "a", "b", "b"])
    apply_sizers(frame, chain(arb), SizingContext(bankroll=30.0))
    assert frame.reason.tolist() == [None, None, "sizer.arb", "sizer.arb"]
    assert shares(frame)[:2] == pytest.approx([33.33, 33.33])  # 30 / 0.90
    assert frame.stake.sum() <= 30.0


def test_open_exposure_per_strategy_scales_the_group_and_later_groups_share_the_room():
    frame = arb_frame([0.30, 0.30, 0.35, 0.30, 0.30, 0.35], groups=["a"] * 3 + ["b"] * 3)
    ctx = SizingContext(bankroll=1e6, exposure_by_strategy={"test": 240.0})
    apply_sizers(frame, chain(), ctx)
    assert frame.reason.tolist() == [None] * 3 + ["sizer.arb"] * 3
    assert shares(frame)[:3] == pytest.approx([10.52] * 3)  # room 10 USD / 0.95


def test_open_exposure_per_market_counts_every_leg_the_group_has_there():
    """A pair's Up and Down legs are one market: 10 USD of room there buys 10 / 0.95 sets."""
    pair = arb_frame([0.45, 0.50], markets=["m", "m"])
    apply_sizers(pair, chain(), SizingContext(bankroll=1e6, exposure_by_market={"m": 40.0}))
    assert pair.accepted.all()
    assert shares(pair) == pytest.approx([10.52, 10.52])
    # An event whose one leg's market is already full: no leg is bought, not even the others.
    full = arb_frame([0.30, 0.30, 0.35], markets=["a", "b", "c"])
    apply_sizers(full, chain(), SizingContext(bankroll=1e6, exposure_by_market={"b": 50.0}))
    assert full.reason.tolist() == ["sizer.arb"] * 3


def test_depth_still_bounds_every_leg():
    frame = arb_frame([0.30, 0.30, 0.35], ask_size=[100.0, 40.0, 100.0])
    apply_sizers(frame, chain(), SizingContext(bankroll=1e6))
    assert frame.stake.tolist() == pytest.approx([12.0, 12.0, 14.0])  # 40 shares per leg


def test_a_cap_that_leaves_a_group_under_min_shares_rejects_every_leg():
    venue = ArbVenueRounding(min_notional=1.0, min_shares=5.0)
    frame = arb_frame([0.30, 0.30, 0.35])
    apply_sizers(frame, chain(venue=venue), SizingContext(bankroll=80.0))  # 4 USD: 4.21 shares
    assert frame.reason.tolist() == ["sizer.venue_rounding"] * 3
    assert frame.stake.tolist() == [0.0] * 3
    ok = arb_frame([0.30, 0.30, 0.35])
    apply_sizers(ok, chain(venue=venue), SizingContext(bankroll=200.0))  # 10.52 shares
    assert ok.accepted.all()


def test_one_leg_under_min_notional_rejects_the_group_before_any_leg_is_kept():
    """21.73 shares: 0.43 USD on the 0.02 leg is under $1; the 0.45 legs alone would pass."""
    frame = arb_frame([0.02, 0.45, 0.45])
    stake = ARB.size(frame, np.zeros(3), SizingContext(bankroll=400.0))
    assert stake / frame.price == pytest.approx([21.73] * 3)
    assert VenueRounding().size(frame, stake, SizingContext(400.0))[1:].all()  # per leg: kept
    assert VENUE.size(frame, stake, SizingContext(400.0)).tolist() == [0.0] * 3  # group: none
    apply_sizers(frame, chain(), SizingContext(bankroll=400.0))
    assert frame.reason.tolist() == ["sizer.venue_rounding"] * 3


def test_a_group_rounds_to_one_share_count_even_where_per_leg_rounding_would_split_it():
    """846653.47 shares x 0.17 / 0.17 comes back a hair under (x 0.01 / 0.01 does not):
    per-leg flooring loses a cent of shares on one leg only. The group form keeps one count."""
    big = ArbSizer(
        max_stake=1e7, max_bankroll_fraction=1.0, max_per_market=1e9, max_per_strategy=1e9
    )
    frame = arb_frame([0.01, 0.17], ask_size=846653.47)
    stake = big.size(frame, np.zeros(2), SizingContext(bankroll=1e7))
    per_leg = VenueRounding().size(frame, stake, SizingContext(1e7)) / frame.price
    assert np.round(per_leg * 100).tolist() == [84665347.0, 84665346.0]
    apply_sizers(frame, chain(big), SizingContext(bankroll=1e7))
    cents = np.round(shares(frame) * 100)
    assert cents.tolist() == [84665347.0, 84665347.0]


def test_a_leg_another_sizer_trimmed_brings_the_group_down_to_its_count():
    frame = arb_frame([0.30, 0.50])
    out = VENUE.size(frame, np.array([3.0, 2.0]), SizingContext(1.0))  # 10 and 4 shares
    assert (out / frame.price).tolist() == pytest.approx([4.0, 4.0])


def test_bad_arb_config_names_the_field_the_value_and_the_range():
    with pytest.raises(ConfigError, match=r"max_bankroll_fraction=1.5 must be in \(0.0, 1.0\]"):
        ArbSizer(max_bankroll_fraction=1.5)
    with pytest.raises(ConfigError, match=r"max_per_market=0 must be in \(0.0, 1000000000.0\]"):
        ArbSizer(max_per_market=0)
    with pytest.raises(ConfigError, match=r"max_per_strategy=-1 must be in"):
        ArbSizer(max_per_strategy=-1)
    with pytest.raises(ConfigError, match=r"min_shares=-1 must be in \[0.0, 1000000.0\]"):
        ArbVenueRounding(min_shares=-1)


def test_the_composed_negrisk_strategy_takes_no_arb_without_a_bankroll():
    node = cfg("strategies.negrisk.eval_every_s=1", "strategies.negrisk.updown_pairs=false")
    strategy = build(node.strategies.negrisk, "strategies.negrisk")
    assert list(strategy.sizers) == ["arb", "venue_rounding"]
    assert isinstance(strategy.sizers["arb"], ArbSizer)
    assert isinstance(strategy.sizers["venue_rounding"], ArbVenueRounding)
    asks = {"e-o0-yes": 0.10, "e-o1-yes": 0.35, "e-o2-yes": 0.35, "e-o3-yes": 0.10}
    state = run(61, event(), asks)
    (broke,) = decide(state, [strategy], ctx=SizingContext(bankroll=0.0), held=set())
    assert broke.reason.tolist() == ["sizer.arb"] * 4 and not broke.stake.any()
    (funded,) = decide(state, [strategy], ctx=SizingContext(bankroll=1000.0), held=set())
    assert funded.accepted.all()
    assert shares(funded) == pytest.approx([50.0] * 4)  # the books' depth; cost 45 < 50


def test_the_arb_limits_are_configurable():
    node = cfg(
        "strategies.negrisk.sizers.arb.max_bankroll_fraction=0.02",
        "strategies.negrisk.sizers.arb.max_per_strategy=100",
        "strategies.negrisk.sizers.venue_rounding.min_shares=5",
    )
    strategy = build(node.strategies.negrisk, "strategies.negrisk")
    assert strategy.sizers["arb"].max_bankroll_fraction == 0.02
    assert strategy.sizers["arb"].max_per_strategy == 100.0
    assert strategy.sizers["venue_rounding"].min_shares == 5.0
    # The arb's venue minimums are venue_rounding's: one place to change them.
    shared = node.strategies.updown.sizers.venue_rounding.min_notional
    assert strategy.sizers["venue_rounding"].min_notional == shared
    with pytest.raises(ConfigError, match=r"strategies.negrisk.sizers.arb.max_bankroll_fraction=2"):
        build(
            cfg("strategies.negrisk.sizers.arb.max_bankroll_fraction=2").strategies.negrisk,
            "strategies.negrisk",
        )


# --- properties ----------------------------------------------------------------------

prices = st.floats(0.01, 0.99).map(lambda p: round(p, 2))


@st.composite
def arb_cases(draw):
    n_groups = draw(st.integers(1, 4))
    legs = [draw(st.integers(2, 5)) for _ in range(n_groups)]
    n = sum(legs)
    groups = [f"g{k}" for k, m in enumerate(legs) for _ in range(m)]
    markets = [draw(st.sampled_from(["a", "b", "c", "d", "e", "f"])) for _ in range(n)]
    frame = arb_frame(
        [draw(prices) for _ in range(n)],
        groups=groups,
        markets=markets,
        ask_size=[draw(st.floats(0.0, 1e6)) for _ in range(n)],
    )
    arb = ArbSizer(
        max_stake=draw(st.floats(0.01, 1e6)),
        max_bankroll_fraction=draw(st.floats(0.001, 1.0)),
        max_per_market=draw(st.floats(0.01, 1e6)),
        max_per_strategy=draw(st.floats(0.01, 1e6)),
    )
    venue = ArbVenueRounding(
        min_notional=draw(st.sampled_from([0.0, 1.0, 5.0])),
        min_shares=draw(st.sampled_from([0.0, 5.0, 100.0])),
    )
    ctx = SizingContext(
        bankroll=draw(st.floats(-1e3, 1e7)),
        exposure_by_market={m: draw(st.floats(0.0, 1e5)) for m in ("a", "b", "c")},
        exposure_by_strategy={"test": draw(st.floats(0.0, 1e5))},
    )
    return frame, arb, venue, ctx


@settings(max_examples=300, deadline=None)
@given(arb_cases())
def test_every_group_is_all_legs_or_none_on_one_share_count_within_every_limit(case):
    frame, arb, venue, ctx = case
    apply_sizers(frame, chain(arb, venue), ctx)
    _grouped, inverse, n = frame.groups()
    bankroll = max(ctx.bankroll, 0.0)
    tol = 1e-9
    spent = 0.0
    by_market: dict[str, float] = {}
    for g in range(n):
        legs = inverse == g
        ok = frame.accepted[legs]
        assert ok.all() or not ok.any()  # all legs or none
        if not ok.any():
            assert not frame.stake[legs].any()
            continue
        s = shares(frame)[legs]
        assert s == pytest.approx(np.full(len(s), s[0]), rel=1e-12)  # one share count
        assert abs(s[0] * 100 - round(s[0] * 100)) < 1e-6  # on the venue's 0.01 step
        assert s[0] >= max(venue.min_shares, 0.01) - tol
        assert (frame.stake[legs] >= venue.min_notional - tol).all()
        assert s[0] <= frame.ask_size[legs].min() * (1 + 1e-12) + tol  # within every leg's depth
        cost = frame.stake[legs].sum()
        assert cost <= min(arb.max_stake, arb.max_bankroll_fraction * bankroll) * (1 + 1e-12) + tol
        spent += cost
        for m, usd in zip(frame.market_id[legs], frame.stake[legs], strict=True):
            by_market[m] = by_market.get(m, 0.0) + usd
    assert spent <= bankroll * (1 + 1e-12) + tol
    assert (
        spent
        <= max(arb.max_per_strategy - ctx.exposure_by_strategy["test"], 0.0) * (1 + 1e-12) + tol
    )
    for m, usd in by_market.items():
        room = arb.max_per_market - ctx.exposure_by_market.get(m, 0.0)
        assert usd <= max(room, 0.0) * (1 + 1e-12) + tol
    if bankroll <= 0.0:
        assert not frame.accepted.any()
