"""The calibrator: floors are never loosened, small samples shrink to the floor, the seed's case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.adaptive.calibrator import (
    BAND_HIGH,
    BAND_LOW,
    GAMMA_CAP,
    SIGMA,
    CalibratorConfig,
    Outcomes,
    calibrate,
    tighten,
)
from engine.core.validation import ConfigError

FLOORS = {SIGMA: 1.5, BAND_LOW: 0.5, BAND_HIGH: 2.0, GAMMA_CAP: 20.0}
CFG = CalibratorConfig(min_samples=30, shrink_n=30.0)


def outcomes(won, gamma, delta=None, iv_rv=None, z=None, cost=None) -> Outcomes:
    n = len(won)
    fill = lambda x, v: np.asarray(x if x is not None else [v] * n, dtype=float)  # noqa: E731
    return Outcomes(
        won=np.asarray(won, dtype=bool),
        cost=fill(cost, 0.6),
        gamma=fill(gamma, 5.0),
        delta=fill(delta, 1.0),
        iv_rv=fill(iv_rv, 1.0),
        z=fill(z, 2.0),
    )


def test_the_seed_case_losers_at_gamma_12_winners_at_5_caps_at_7_5():
    won = [True] * 3000 + [False] * 3000
    out = calibrate(outcomes(won, [5.0] * 3000 + [12.0] * 3000), FLOORS, CFG)
    assert out.applied
    assert (out.centroids["win_gamma"], out.centroids["loss_gamma"]) == (5.0, 12.0)
    # 1.5 x 5 = 7.5, reached with weight 6000 / 6030 from the floor 20
    assert out.after[GAMMA_CAP] == pytest.approx(20 + 6000 / 6030 * (7.5 - 20))
    assert out.after[GAMMA_CAP] == pytest.approx(7.5, abs=0.1)


def test_under_the_minimum_sample_nothing_adapts():
    out = calibrate(outcomes([True] * 10 + [False] * 10, [5.0] * 10 + [12.0] * 10), FLOORS, CFG)
    assert not out.applied
    assert out.after == FLOORS


def test_small_samples_shrink_toward_the_floor():
    won = [True] * 20 + [False] * 20
    out = calibrate(outcomes(won, [5.0] * 20 + [12.0] * 20), FLOORS, CFG)
    weight = 40 / 70
    assert out.after[GAMMA_CAP] == pytest.approx(20.0 + weight * (7.5 - 20.0))


def test_low_sigma_entries_that_lose_raise_min_sigma():
    rng = np.random.default_rng(0)
    z = rng.uniform(1.5, 3.5, 2000)
    won = np.where(z < 2.0, rng.random(2000) < 0.4, rng.random(2000) < 0.8)  # cost 0.6
    out = calibrate(outcomes(won, [5.0] * 2000, z=z), {SIGMA: 1.5}, CFG)
    assert out.after[SIGMA] == pytest.approx(2.0, abs=0.05)


def test_the_vol_band_moves_to_where_winners_cluster():
    rng = np.random.default_rng(1)
    iv = rng.uniform(0.3, 3.0, 3000)
    won = (iv > 0.9) & (iv < 1.4) | (rng.random(3000) < 0.02)
    out = calibrate(outcomes(won, [5.0] * 3000, iv_rv=iv), {BAND_LOW: 0.5, BAND_HIGH: 2.0}, CFG)
    assert 0.5 < out.after[BAND_LOW] < 1.0 and 1.3 < out.after[BAND_HIGH] < 2.0


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
    floors=st.fixed_dictionaries(
        {
            SIGMA: st.floats(0.0, 5.0),
            BAND_LOW: st.floats(0.0, 2.0),
            BAND_HIGH: st.floats(2.0, 10.0),
            GAMMA_CAP: st.floats(0.1, 100.0),
        }
    ),
    min_samples=st.integers(1, 50),
)
def test_no_calibrated_threshold_is_ever_looser_than_its_floor(n, seed, floors, min_samples):
    rng = np.random.default_rng(seed)
    data = Outcomes(
        won=rng.random(n) < rng.random(),
        cost=rng.uniform(0.05, 0.99, n),
        gamma=rng.normal(0, 30, n),
        delta=rng.normal(0, 3, n),
        iv_rv=np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(0, 1, n)),
        z=rng.normal(0, 3, n),
    )
    out = calibrate(data, floors, CalibratorConfig(min_samples=min_samples))
    assert out.after[SIGMA] >= floors[SIGMA]
    assert out.after[BAND_LOW] >= floors[BAND_LOW]
    assert out.after[BAND_HIGH] <= floors[BAND_HIGH]
    assert out.after[BAND_LOW] <= out.after[BAND_HIGH]
    assert out.after[GAMMA_CAP] <= floors[GAMMA_CAP]
    if out.delta_prior is not None:
        mult = out.delta_prior.multiplier(rng.normal(0, 5, 500))
        assert np.all((mult >= 0.5) & (mult <= 1.5))


@given(floors=st.floats(0.0, 5.0), calibrated=st.floats(-10.0, 10.0))
def test_retightening_against_a_new_floor_never_loosens(floors, calibrated):
    assert tighten({SIGMA: floors}, {SIGMA: calibrated})[SIGMA] >= floors
    assert tighten({GAMMA_CAP: floors + 0.1}, {GAMMA_CAP: calibrated})[GAMMA_CAP] <= floors + 0.1


def test_bad_calibrator_config():
    with pytest.raises(ConfigError, match="min_samples=0"):
        CalibratorConfig(min_samples=0)
