"""Realized-vol estimators on simulated paths with a known sigma."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.core.pricing import (
    SECONDS_PER_YEAR,
    EwmaVol,
    garman_klass,
    iv_rv_ratio,
    parkinson,
    sigma_move,
)

SIGMA = 0.6


def _gbm_log_returns(rng, dt_s, sigma=SIGMA):
    """Log returns of GBM over steps of dt_s seconds (array), annualised sigma."""
    dt = np.asarray(dt_s, dtype=float) / SECONDS_PER_YEAR
    return sigma * np.sqrt(dt) * rng.standard_normal(dt.shape) - 0.5 * sigma**2 * dt


def test_ewma_recovers_sigma_on_one_second_path():
    rng = np.random.default_rng(1)
    n = 200_000
    prices = 100_000.0 * np.exp(np.cumsum(_gbm_log_returns(rng, np.ones(n))))
    est = EwmaVol(half_life_s=3600.0)
    for ts, px in enumerate(prices.tolist()):
        est.update(float(ts), px)
    # ~10,000 effective returns: standard error ~0.7 % of sigma
    assert est.sigma == pytest.approx(SIGMA, rel=0.03)


def test_ewma_scales_irregular_spacing_per_second():
    rng = np.random.default_rng(2)
    dt = rng.choice([1.0, 2.0, 5.0, 30.0], 60_000)
    ts = np.cumsum(dt)
    prices = 50.0 * np.exp(np.cumsum(_gbm_log_returns(rng, dt)))
    est = EwmaVol(half_life_s=7200.0)
    for t, px in zip(ts.tolist(), prices.tolist(), strict=True):
        est.update(t, px)
    assert est.sigma == pytest.approx(SIGMA, rel=0.05)


def test_ewma_warmup_ties_and_order():
    est = EwmaVol(half_life_s=60.0)
    assert math.isnan(est.sigma)
    assert math.isnan(est.update(0.0, 100.0))
    est.update(0.0, 101.0)  # same second: replaces the price, no return yet
    assert math.isnan(est.sigma)
    sigma = est.update(1.0, 101.0 * math.exp(0.001))
    # one return of 0.001 over one second: variance 1e-6 per second, unbiased by warm-up
    assert sigma == pytest.approx(math.sqrt(1e-6 * SECONDS_PER_YEAR), rel=1e-9)
    assert est.variance_per_second == pytest.approx(1e-6, rel=1e-9)
    with pytest.raises(ValueError, match=r"ts=0.5 must be >= the previous ts=1.0"):
        est.update(0.5, 100.0)
    with pytest.raises(ValueError, match=r"price=-1.0 must be"):
        est.update(2.0, -1.0)
    with pytest.raises(ValueError, match=r"ts=nan must be finite"):
        est.update(math.nan, 100.0)


@pytest.mark.parametrize("bad", [0.0, -5.0, math.inf, math.nan, "60", True, None])
def test_ewma_half_life_validation(bad):
    with pytest.raises(ValueError, match=r"half_life_s=.* must be a finite number in \(0, inf\)"):
        EwmaVol(half_life_s=bad)


def test_ewma_half_life_weights_halve():
    """After one half-life of zero returns the variance halves its weight share."""
    est = EwmaVol(half_life_s=10.0)
    est.update(0.0, 100.0)
    est.update(10.0, 100.0 * math.exp(0.01))  # weight 1/2 on variance 1e-5 per second
    est.update(20.0, 100.0 * math.exp(0.01))  # a flat return, same weight 1/2
    # weights: first 1/2 * 1/2 = 1/4, second 1/2 -> mean = (1/4 * 1e-5) / (3/4)
    assert est.variance_per_second == pytest.approx(1e-5 / 3, rel=1e-12)


def _klines(rng, n_bars, sub, bar_s, sigma=SIGMA):
    """OHLC bars cut from a GBM path sampled `sub` times per bar, no gaps between bars."""
    steps = _gbm_log_returns(rng, np.full(n_bars * sub, bar_s / sub), sigma)
    x = np.concatenate([[0.0], np.cumsum(steps)])
    opens = x[:-1:sub]
    body = np.lib.stride_tricks.sliding_window_view(x, sub + 1)[::sub]
    logs = (opens, body.max(axis=1), body.min(axis=1), x[sub::sub])
    return tuple(30_000.0 * np.exp(a) for a in logs)


def test_parkinson_and_garman_klass_on_simulated_klines():
    rng = np.random.default_rng(3)
    o, h, lo, c = _klines(rng, n_bars=2000, sub=1800, bar_s=60.0)
    # Discrete sampling of the high/low reads a little low (~1-2 % at 1800 samples a bar).
    assert parkinson(h, lo, 60.0) == pytest.approx(SIGMA, rel=0.05)
    assert garman_klass(o, h, lo, c, 60.0) == pytest.approx(SIGMA, rel=0.05)


def test_parkinson_exact_and_vectorised():
    a = 0.002  # every bar has ln(high/low) = a
    high = np.full((3, 50), 100.0 * math.exp(a))
    low = np.full((3, 50), 100.0)
    expected = a / math.sqrt(4 * math.log(2)) * math.sqrt(SECONDS_PER_YEAR / 300.0)
    out = parkinson(high, low, 300.0)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # Garman-Klass with close == open reduces to sqrt(0.5) ln(H/L) per bar
    gk = garman_klass(low, high, low, low, 300.0)
    np.testing.assert_allclose(gk, a * math.sqrt(0.5 * SECONDS_PER_YEAR / 300.0), rtol=1e-12)


def test_kline_validation():
    with pytest.raises(ValueError, match=r"high\[1\]=99.0 must be >= low"):
        parkinson([101.0, 99.0], [100.0, 100.0], 60.0)
    with pytest.raises(ValueError, match=r"low\[0\]=0.0 must be > 0"):
        parkinson([101.0], [0.0], 60.0)
    with pytest.raises(ValueError, match=r"dt_seconds=0.0 must be"):
        parkinson([101.0], [100.0], 0.0)
    with pytest.raises(ValueError, match=r"close\[0\]=102.0 must be within \[low, high\]"):
        garman_klass([100.5], [101.0], [100.0], [102.0], 60.0)


def test_sigma_move():
    dt = 300.0 / SECONDS_PER_YEAR
    z = sigma_move(100_500.0, 100_000.0, 0.5, dt)
    assert float(z) == pytest.approx(math.log(1.005) / (0.5 * math.sqrt(dt)), rel=1e-15)
    np.testing.assert_allclose(
        sigma_move([101.0, 99.0], 100.0, 0.5, dt),
        [math.log(1.01), math.log(0.99)] / (0.5 * np.sqrt(dt)),
    )
    assert float(sigma_move(101.0, 100.0, 0.0, dt)) == math.inf
    with pytest.raises(ValueError, match=r"S_ref=-1.0 must be > 0"):
        sigma_move(100.0, -1.0, 0.5, dt)


def test_iv_rv_ratio():
    np.testing.assert_array_equal(
        iv_rv_ratio([0.6, 0.6, 0.6, np.nan], [0.5, 0.0, np.nan, 0.5]), [1.2, np.nan, np.nan, np.nan]
    )
