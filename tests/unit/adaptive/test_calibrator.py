"""The calibrator: floors are never loosened, small samples shrink to the floor, the seed's case."""

from __future__ import annotations

import json

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
    DeltaPrior,
    Outcomes,
    calibrate,
    evidence_bar,
    log_wealth,
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


def test_the_seed_case_losers_at_gamma_12_winners_at_5_leashes_between_them():
    won = [True] * 3000 + [False] * 3000
    out = calibrate(outcomes(won, [5.0] * 3000 + [12.0] * 3000), FLOORS, CFG)
    assert out.applied
    assert (out.centroids["win_gamma"], out.centroids["loss_gamma"]) == (5.0, 12.0)
    # the loosest cap on the grid (20 x 0.75^k) that drops every loser: 11.25, reached with
    # weight 6000 / 6030 from the floor 20
    assert out.after[GAMMA_CAP] == pytest.approx(20 + 6000 / 6030 * (11.25 - 20))


def test_under_the_minimum_sample_nothing_adapts():
    out = calibrate(outcomes([True] * 10 + [False] * 10, [5.0] * 10 + [12.0] * 10), FLOORS, CFG)
    assert not out.applied
    assert out.after == FLOORS


def test_small_samples_shrink_toward_the_floor():
    won = [True, False] * 60
    out = calibrate(outcomes(won, [5.0, 12.0] * 60), FLOORS, CFG)
    weight = 120 / 150
    assert out.after[GAMMA_CAP] == pytest.approx(20.0 + weight * (11.25 - 20.0))


def test_twenty_losers_in_a_row_are_not_yet_beyond_doubt_for_a_family_of_58():
    """Twenty losers at 0.6 grow a bet on their losing to e^4.5, short of 58 / 0.05 = e^7.1."""
    won = [True, False] * 20
    out = calibrate(outcomes(won, [5.0, 12.0] * 20), FLOORS, CFG)
    assert log_wealth(np.full(20, 0.6)) < evidence_bar(0.05, 58)
    assert out.applied and out.after[GAMMA_CAP] == 20.0


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


def test_the_delta_prior_sizes_up_deltas_like_the_winners_and_down_like_the_losers():
    """At one price winning more is more edge: the winners' |delta| up, the losers' down."""
    rng = np.random.default_rng(3)
    n = 400
    won = rng.random(n) < 0.5
    delta = np.where(won, rng.normal(2.0, 0.3, n), rng.normal(4.0, 0.3, n))
    out = calibrate(outcomes(won, None, delta=delta), FLOORS, CalibratorConfig())
    mult = out.delta_prior.multiplier(np.array([2.0, 3.0, 4.0, -2.0, np.nan]))
    assert mult[0] > 1.4 and mult[2] < 0.6 and mult.min() >= 0.5 and mult.max() <= 1.5
    assert mult[3] == mult[0]  # |delta|: the side does not matter
    assert mult[4] == 1.0  # no delta, no evidence


def shuffled(o: Outcomes, seed: int = 0) -> Outcomes:
    """The same entries in a random resolution order (the delta buckets come from the first
    ``min_samples`` to resolve; a history built sorted by |delta| would not be one)."""
    p = np.random.default_rng(seed).permutation(len(o))
    return Outcomes(o.won[p], o.cost[p], o.gamma[p], o.delta[p], o.iv_rv[p], o.z[p])


def favourites_and_underdogs(n: int = 1000) -> Outcomes:
    """Low |delta| favourites bought at 0.85 win 75 % (edge -0.10 a share); high |delta|
    underdogs bought at 0.30 win 40 % (+0.10): the winners sit at low |delta|."""
    i = np.arange(n)
    return shuffled(
        outcomes(
            np.concatenate([i % 4 != 0, i % 5 < 2]),
            None,
            delta=np.concatenate([np.linspace(1.0, 1.5, n), np.linspace(4.0, 4.5, n)]),
            cost=np.concatenate([np.full(n, 0.85), np.full(n, 0.30)]),
        )
    )


def test_the_delta_prior_follows_edge_per_share_not_the_win_rate():
    out = calibrate(favourites_and_underdogs(2500), FLOORS, CalibratorConfig())
    # quintile buckets: two of favourites, one mixed (edge about 0: 1.0), two of underdogs
    mult = out.delta_prior.multiplier(np.array([1.0, 1.2, 1.3, 4.2, 4.4, 4.5]))
    assert np.all(mult[:3] < 1.0)  # they win more often and still lose money
    assert np.all(mult[3:] > 1.0)
    # 1 + 0.5 x edge / delta_edge_scale, clipped to [0.5, 1.5], shrunk by 5000 / 5030
    assert mult[0] == pytest.approx(1 - 0.5 * 5000 / 5030)
    assert mult[-1] == pytest.approx(1 + 0.5 * 5000 / 5030)
    assert out.delta_prior.edge[0] == pytest.approx(-0.10, abs=0.01)


def test_a_positive_edge_bucket_is_never_sized_down():
    """Winners and losers at the same |delta| (no win-rate signal), the top bucket bought
    cheaper: it alone has evidence of edge, and only it moves, upward."""
    n = 4000
    i = np.arange(n)
    delta = np.linspace(1.0, 5.0, n)
    cost = np.where(delta > 4.2, 0.35, 0.5)
    data = shuffled(outcomes(i % 2 == 0, None, delta=delta, cost=cost))
    out = calibrate(data, FLOORS, CalibratorConfig())
    mult = out.delta_prior.multiplier(delta)
    assert np.all(mult >= 1.0)
    assert np.all(mult[delta > 4.3] > 1.0) and np.all(mult[delta < 3.0] == 1.0)


def test_no_delta_prior_without_evidence_of_edge():
    """Every bucket wins exactly at its break-even price: no prior, every multiplier 1."""
    n = 1000
    i = np.arange(n)
    delta = np.linspace(0.5, 5.0, n)
    cost = np.where(delta < 2.0, 0.75, 0.25)
    won = np.where(delta < 2.0, i % 4 != 0, i % 4 == 0)
    out = calibrate(
        shuffled(outcomes(won, None, delta=delta, cost=cost)), FLOORS, CalibratorConfig()
    )
    assert out.applied and out.delta_prior is None


def test_a_bucket_under_the_minimum_sample_stays_at_one():
    prior = calibrate(
        favourites_and_underdogs(), FLOORS, CalibratorConfig(min_band_samples=2001)
    ).delta_prior
    assert prior is None  # 2000 entries in all: no bucket has the sample


def test_the_delta_prior_round_trips_and_old_rows_load_as_none():
    prior = calibrate(favourites_and_underdogs(), FLOORS, CalibratorConfig()).delta_prior
    stored = json.loads(json.dumps({**FLOORS, **prior.to_dict()}))  # calibrations.after
    assert DeltaPrior.from_dict(stored) == prior
    version_1 = {
        **FLOORS,
        "delta_prior.win_mean": 2.0, "delta_prior.win_std": 0.3, "delta_prior.loss_mean": 4.0,
        "delta_prior.loss_std": 0.3, "delta_prior.base_rate": 0.5, "delta_prior.weight": 0.9,
    }  # fmt: skip
    assert DeltaPrior.from_dict(version_1) is None
    assert DeltaPrior.from_dict(FLOORS) is None
    assert DeltaPrior.from_dict({"delta_prior.version": 2.0, "delta_prior.mults.0": 1.2}) is None


def test_a_few_cheap_entries_losing_in_a_row_is_not_evidence():
    """17 underdogs at 0.3 with one win: a t-test says t = -4.7, the wins against their
    break-even prices say p = 0.05 before correcting for the cuts tried: no cut."""
    rng = np.random.default_rng(2)
    n = 600
    iv = np.concatenate([rng.uniform(0.2, 0.5, 17), rng.uniform(0.9, 2.0, n)])
    cost = np.concatenate([np.full(17, 0.3), np.full(n, 0.6)])
    won = np.concatenate([np.arange(17) == 0, rng.random(n) < 0.6])
    edge = won[:17] - cost[:17]
    assert edge.mean() / (edge.std(ddof=1) / np.sqrt(17)) < -4.0  # what a t-test would say
    floors = {BAND_LOW: 0.1, BAND_HIGH: 10.0}
    out = calibrate(outcomes(won, None, iv_rv=iv, cost=cost), floors, CalibratorConfig())
    assert out.applied and out.after == floors


def test_cheap_entries_that_keep_losing_do_move_the_band():
    rng = np.random.default_rng(5)
    n = 600
    iv = np.concatenate([rng.uniform(0.2, 0.5, 200), rng.uniform(0.9, 2.0, n)])
    cost = np.concatenate([np.full(200, 0.3), np.full(n, 0.6)])
    won = np.concatenate([rng.random(200) < 0.1, rng.random(n) < 0.6])
    floors = {BAND_LOW: 0.1, BAND_HIGH: 10.0}
    out = calibrate(outcomes(won, None, iv_rv=iv, cost=cost), floors, CalibratorConfig())
    assert 0.4 < out.after[BAND_LOW] < 0.95 and out.after[BAND_HIGH] == 10.0


def test_the_bar_grows_with_the_family():
    """Low-|z| entries that lose: a cut for a family of one, none for a family 100 x as large."""
    rng = np.random.default_rng(8)
    n = 400
    z = np.where(np.arange(2 * n) % 2 == 0, 1.2, 3.0)
    cost = np.full(2 * n, 0.5)
    won = np.where(z < 2.0, rng.random(2 * n) < 0.38, rng.random(2 * n) < 0.5)
    wealth = np.exp(log_wealth(cost[z < 2.0] - won[z < 2.0]))
    small, large = int(wealth * 0.05 / 2), int(wealth * 0.05 * 50)
    assert small >= 1
    data = outcomes(won, None, z=z, cost=cost)
    cfg = CalibratorConfig(sigma_step=2.0, sigma_max_raise=2.0)  # a single cut-off: 3.0
    assert calibrate(data, {SIGMA: 1.0}, cfg, family=small).after[SIGMA] > 1.0
    assert calibrate(data, {SIGMA: 1.0}, cfg, family=large).after[SIGMA] == 1.0
