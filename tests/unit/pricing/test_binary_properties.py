"""Properties of the binary pricer: parity, bounds, signs, finite differences, implied vol,
validation, degenerate inputs, and agreement with the scalar reference in ``ref_math``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from engine.core.pricing import (
    MINUTES_PER_YEAR,
    SECONDS_PER_YEAR,
    Greeks,
    gamma_norm,
    implied_vol,
    price_greeks,
    scaled_greeks,
)

from . import ref_math

PROPS = settings(max_examples=300, deadline=None)

# Markets the engine prices: spot within a factor 2 of strike, 1 second .. 30 days.
moneyness = st.floats(0.5, 2.0)
seconds = st.floats(1.0, 30 * 86400.0)
sigmas = st.floats(0.05, 3.0)
rates = st.floats(0.0, 0.1)
divs = st.floats(0.0, 0.05)
kinds = st.sampled_from(["call", "put"])


def _d1_d2(S, K, T, sigma, r, q):
    w = sigma * math.sqrt(T)
    d2 = (math.log(S / K) + (r - q) * T) / w - 0.5 * w
    return d2 + w, d2


@PROPS
@given(m=moneyness, secs=seconds, sigma=sigmas, r=rates, q=divs)
def test_parity_and_bounds(m, secs, sigma, r, q):
    """call + put = exp(-rT), each price in [0, exp(-rT)], the Greeks cancel pairwise."""
    T = secs / SECONDS_PER_YEAR
    c = price_greeks(100.0 * m, 100.0, T, sigma, r, q, "call")
    p = price_greeks(100.0 * m, 100.0, T, sigma, r, q, "put")
    df = math.exp(-r * T)
    assert float(c.price + p.price) == pytest.approx(df, abs=1e-15)
    for g in (c, p):  # numpy's exp may differ from math.exp in the last bit
        assert 0.0 <= float(g.price) <= df * (1.0 + 4e-16)
    for name in ("delta", "gamma", "vega"):
        a, b = float(getattr(c, name)), float(getattr(p, name))
        assert a == pytest.approx(-b, rel=1e-12, abs=1e-300)
    # d/dT exp(-rT) = -r exp(-rT), so theta_call + theta_put = r exp(-rT)
    assert float(c.theta + p.theta) == pytest.approx(r * df, abs=1e-9 * (1 + abs(float(c.theta))))
    assert float(c.delta) >= 0.0


@PROPS
@given(m=moneyness, secs=seconds, sigma=sigmas, r=rates, q=divs)
def test_gamma_and_theta_signs(m, secs, sigma, r, q):
    """Call gamma < 0 exactly where d1 > 0; theta - rV has the sign of d1 - 2(r-q)sqrt(T)/sigma.

    From gamma = -D phi(d2) d1 / (S sigma)^2 T and theta = rV + D phi(d2) (d1/2T - (r-q)/w).
    """
    S, K, T = 100.0 * m, 100.0, secs / SECONDS_PER_YEAR
    d1, d2 = _d1_d2(S, K, T, sigma, r, q)
    assume(abs(d2) < 30.0)  # beyond that phi(d2) underflows and every Greek is 0
    c = price_greeks(S, K, T, sigma, r, q)
    if abs(d1) > 1e-9:
        assert (float(c.gamma) < 0.0) == (d1 > 0.0)
        assert (float(c.vega) < 0.0) == (d1 > 0.0)
    tilt = d1 - 2.0 * (r - q) * math.sqrt(T) / sigma
    # the sign is only observable where the phi term is not lost next to rV in rounding
    if abs(tilt) > 1e-6 and math.exp(-0.5 * d2 * d2) * abs(tilt) / T > 1e-10:
        assert (float(c.theta - r * c.price) > 0.0) == (tilt > 0.0)
        p = price_greeks(S, K, T, sigma, r, q, "put")
        assert (float(p.theta - r * p.price) > 0.0) == (tilt < 0.0)


def test_gamma_sign_table_btc():
    """BTC 5-minute window, spot $500 above the strike: ITM (d1 > 0) so gamma < 0."""
    S, K, T, sigma = 100_500.0, 100_000.0, 5 / MINUTES_PER_YEAR, 0.5
    d1, d2 = _d1_d2(S, K, T, sigma, 0.0, 0.0)
    assert d1 == pytest.approx(3.2349139009, abs=1e-9)
    assert d2 == pytest.approx(3.2333717483, abs=1e-9)
    up = price_greeks(S, K, T, sigma)
    expected = (
        0.999388308735,
        1.38168475456e-5,
        -2.88388741492e-7,
        -0.0138546346378,
        364.099798282,
    )
    for got, want in zip(up, expected, strict=True):
        assert float(got) == pytest.approx(want, rel=1e-10)
    sc = scaled_greeks(up, S)
    assert float(sc.delta_1pct) == pytest.approx(0.01388593178, rel=1e-9)
    assert float(sc.gamma_1pct) == pytest.approx(-0.2912798386, rel=1e-9)
    assert float(sc.vega_1pt) == pytest.approx(-1.38546346378e-4, rel=1e-9)
    assert float(sc.theta_1min) == pytest.approx(6.927317319e-4, rel=1e-9)
    assert float(gamma_norm(sc.gamma_1pct)) == pytest.approx(0.01456399193, rel=1e-9)
    down = price_greeks(S, K, T, sigma, kind="put")
    assert float(down.price) == pytest.approx(6.11691264598e-4, rel=1e-9)
    assert float(down.gamma) > 0.0
    # The mirror: spot $500 below the strike, d1 < 0, the Up token has positive gamma.
    assert float(price_greeks(99_500.0, K, T, sigma).gamma) > 0.0


def _three_point(f, x, rel):
    """First and second derivative of f at x from x(1 +- rel).

    The steps are the exact differences of the rounded grid points and enter the
    non-uniform three-point formulas, so rounding of x(1 +- rel) adds no error.
    """
    x_up, x_dn = x * (1.0 + rel), x * (1.0 - rel)
    hp, hm = x_up - x, x - x_dn
    up, mid, dn = f(x_up), f(x), f(x_dn)
    span = hp * hm * (hp + hm)
    return (hm * hm * (up - mid) + hp * hp * (mid - dn)) / span, 2.0 * (
        hm * (up - mid) - hp * (mid - dn)
    ) / span


@PROPS
@given(m=moneyness, secs=seconds, sigma=sigmas, r=rates, q=divs, kind=kinds)
def test_finite_differences(m, secs, sigma, r, q, kind):
    """Central differences in S, log sigma and log T match the analytic Greeks.

    Each comparison is made in natural units (S delta ~ 1/w, S^2 gamma ~ 1/w^2,
    sigma*vega and T*theta ~ 1) with tolerance 1e-6 of that scale.
    """
    S, K, T = 100.0 * m, 100.0, secs / SECONDS_PER_YEAR
    d1, d2 = _d1_d2(S, K, T, sigma, r, q)
    assume(abs(d2) < 8.0)
    w = sigma * math.sqrt(T)
    g = price_greeks(S, K, T, sigma, r, q, kind)

    def v(S=S, T=T, sigma=sigma):
        return float(price_greeks(S, K, T, sigma, r, q, kind).price)

    # V is rough at the ulp level of S (dV/dlnS ~ 1/w), so gamma needs a wider step.
    d_s, _ = _three_point(lambda s: v(S=s), S, 1e-4 * w)
    _, d2_s = _three_point(lambda s: v(S=s), S, 5e-3 * w)
    assert S * d_s == pytest.approx(S * float(g.delta), abs=1e-6 / w)
    assert S * S * d2_s == pytest.approx(S * S * float(g.gamma), abs=1e-5 / w**2)
    h = 1e-5
    scale = 1.0 + abs(d1)
    d_sig = (v(sigma=sigma * math.exp(h)) - v(sigma=sigma * math.exp(-h))) / (2 * h)
    assert d_sig == pytest.approx(sigma * float(g.vega), abs=1e-6 * scale)
    d_t = (v(T=T * math.exp(h)) - v(T=T * math.exp(-h))) / (2 * h)
    assert -d_t == pytest.approx(T * float(g.theta), abs=1e-6 * scale)


@PROPS
@given(m=moneyness, secs=seconds, sigma=sigmas, r=rates, q=divs, kind=kinds)
def test_matches_scalar_reference(m, secs, sigma, r, q, kind):
    S, K, T = 100.0 * m, 100.0, secs / SECONDS_PER_YEAR
    ours = price_greeks(S, K, T, sigma, r, q, kind)
    ref = ref_math.greeks(S, K, T, sigma, r, q, kind)
    for a, b in zip(ours, ref, strict=True):
        assert float(a) == pytest.approx(b, rel=1e-9, abs=1e-12)


@PROPS
@given(m=moneyness, secs=seconds, sigma=sigmas, r=rates, q=divs, kind=kinds)
def test_implied_vol_matches_reference_bisection(m, secs, sigma, r, q, kind):
    S, K, T = 100.0 * m, 100.0, secs / SECONDS_PER_YEAR
    d1, d2 = _d1_d2(S, K, T, sigma, r, q)
    assume(abs(d2) < 6.0 and abs(d1) > 1e-2)
    p = ref_math.price(S, K, T, sigma, r, q, kind)
    ours = float(implied_vol(p, S, K, T, r, q, kind))
    ref = ref_math.implied_vol(p, S, K, T, r, q, kind)
    assert ours == pytest.approx(ref, rel=1e-6)
    x = math.log(S / K) + (r - q) * T
    if x >= 0.0 or d1 < 0.0:  # sigma lies on the documented branch
        assert ours == pytest.approx(sigma, rel=1e-6)


def _branch_sample(rng, n):
    """n contracts on the documented branch, built in (d2, w = sigma sqrt T) space.

    ln(F/K) = w d2 + w^2/2. Draws that land on the upper branch (ln(F/K) < 0
    with d1 > 0) get a new d2 below -w, which puts them on the documented branch.
    """
    T = np.exp(rng.uniform(np.log(1.0), np.log(30 * 86400.0), n)) / SECONDS_PER_YEAR
    sigma = np.exp(rng.uniform(np.log(0.05), np.log(3.0), n))
    r = rng.choice([0.0, 0.05], n)
    q = rng.choice([0.0, 0.02], n)
    w = sigma * np.sqrt(T)
    d2 = rng.uniform(-5.0, 5.0, n)
    upper = (w * d2 + 0.5 * w * w < 0) & (d2 + w > 0)
    d2 = np.where(upper, -w - rng.uniform(0.01, 4.0, n), d2)
    S = 100.0 * np.exp(w * d2 + 0.5 * w * w - (r - q) * T)
    return S, 100.0, T, sigma, r, q


@pytest.mark.parametrize(("kind", "seed"), [("call", 7), ("put", 8)])
def test_implied_vol_round_trip_100k(kind, seed):
    """100,000 random contracts, one vectorised call: sigma back within 1e-6 (abs and rel).

    Every contract is on the documented branch (d1 < 0 wherever ln(F/K) < 0).
    """
    n = 100_000
    S, K, T, sigma, r, q = _branch_sample(np.random.default_rng(seed), n)
    price = price_greeks(S, K, T, sigma, r, q, kind).price
    iv = implied_vol(price, S, K, T, r, q, kind)
    x = np.log(S / K) + (r - q) * T
    assert not ((x < 0) & (x / sigma / np.sqrt(T) + 0.5 * sigma * np.sqrt(T) > 0)).any()
    # |d2| <= 5 keeps each price informative: its ~1e-16 rounding moves sigma by about
    # 1e-16 / (phi(d2) |d1|) relative, far below the tolerance.
    err = np.abs(iv - sigma)
    assert not np.isnan(err).any()
    assert np.all(err <= 1e-6 * np.minimum(sigma, 1.0)), err.max()


def test_implied_vol_nan_exactly_where_no_root():
    """OTM (ln F/K < 0): roots up to the maximum price exp(-rT) N(-sqrt(2|x|)), none above.

    At the money (x = 0) a call needs price < exp(-rT)/2; in the money every
    price in (0, exp(-rT)) has a root. Prices outside [0, exp(-rT)] never do.
    """
    rng = np.random.default_rng(11)
    n = 20_000
    T = np.exp(rng.uniform(np.log(60.0), np.log(30 * 86400.0), n)) / SECONDS_PER_YEAR
    r = rng.choice([0.0, 0.05], n)
    q = rng.choice([0.0, 0.02], n)
    x = rng.uniform(-0.2, -1e-4, n)  # OTM call / ITM put
    S = 100.0 * np.exp(x - (r - q) * T)
    x = np.log(S / 100.0) + (r - q) * T  # as the code will see it
    df = np.exp(-r * T)
    cap = df * ndtr(-np.sqrt(-2.0 * x))  # max call price
    frac = rng.uniform(0.0, 1.0, n)
    below = cap * (0.01 + 0.98 * frac)
    above = cap + (df - cap) * (0.01 + 0.98 * frac)
    iv_below = implied_vol(below, S, 100.0, T, r, q)
    iv_above = implied_vol(above, S, 100.0, T, r, q)
    assert np.isfinite(iv_below).all()
    assert np.isnan(iv_above).all()
    # below the cap the returned sigma reprices and sits on the lower branch
    assert np.allclose(price_greeks(S, 100.0, T, iv_below, r, q).price, below, rtol=1e-8)
    assert np.all(iv_below * np.sqrt(T) < np.sqrt(-2.0 * x))
    # the put with the same x (ITM put) has a minimum df - cap
    assert np.isfinite(implied_vol(df - below, S, 100.0, T, r, q, "put")).all()
    assert np.isnan(implied_vol(df - above, S, 100.0, T, r, q, "put")).all()

    # at the money: S == K, r == q
    T1 = 5 / MINUTES_PER_YEAR
    for rr in (0.0, 0.03):
        df1 = math.exp(-rr * T1)
        p = df1 * np.array([0.01, 0.3, 0.4999, 0.5, 0.7, 0.999])
        iv = implied_vol(p, 100.0, 100.0, T1, rr, rr)
        assert np.isfinite(iv[:3]).all() and np.isnan(iv[3:]).all()
        # the put is worth more than half at the money: (1/2, 1) has roots, 1/2 has none
        iv = implied_vol(p, 100.0, 100.0, T1, rr, rr, "put")
        assert np.isnan(iv[:4]).all() and np.isfinite(iv[4:]).all()
    # in the money: every interior price has a root
    p = np.linspace(0.001, 0.999, 999)
    assert np.isfinite(implied_vol(p, 101.0, 100.0, T1)).all()
    # outside [0, exp(-rT)], expired, NaN
    assert np.isnan(implied_vol([-0.1, 1.1, np.nan], 101.0, 100.0, T1)).all()
    assert np.isnan(implied_vol(0.99, 101.0, 100.0, [0.0, -1.0, np.nan])).all()
    # only sigma = 0 reproduces the deterministic prices
    assert float(implied_vol(1.0, 101.0, 100.0, T1)) == 0.0
    assert float(implied_vol(0.0, 99.0, 100.0, T1)) == 0.0


def test_kind_must_be_call_or_put():
    with pytest.raises(ValueError, match="kind='up' must be 'call' or 'put'"):
        price_greeks(100.0, 100.0, 0.01, 0.5, kind="up")
    with pytest.raises(ValueError, match="kind"):
        implied_vol(0.5, 100.0, 100.0, 0.01, kind="Call")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1.0, 2.0, 3.0, -1.0], 1.0, 1.0, 0.5), r"S\[3\]=-1.0 must be > 0"),
        ((1.0, [1.0, 0.0], 1.0, 0.5), r"K\[1\]=0.0 must be > 0"),
        ((1.0, 1.0, 1.0, [[0.2, 0.3], [-0.1, 0.4]]), r"sigma\[1, 0\]=-0.1 must be >= 0"),
        ((0.0, 1.0, 1.0, 0.5), r"^S=0.0 must be > 0"),
    ],
)
def test_validation_names_argument_and_index(args, message):
    with pytest.raises(ValueError, match=message):
        price_greeks(*args)


def test_implied_vol_validates_spot_and_strike():
    with pytest.raises(ValueError, match=r"S\[1\]=-5.0 must be > 0"):
        implied_vol(0.5, [1.0, -5.0], 1.0, 0.1)


def test_nan_passes_through():
    nan = np.nan
    cases = [
        (nan, 100.0, 0.01, 0.5, 0.0, 0.0),
        (100.0, nan, 0.01, 0.5, 0.0, 0.0),
        (100.0, 100.0, nan, 0.5, 0.0, 0.0),
        (100.0, 100.0, 0.01, nan, 0.0, 0.0),
        (100.0, 100.0, 0.01, 0.5, nan, 0.0),
        (100.0, 100.0, 0.01, 0.5, 0.0, nan),
        (nan, 100.0, 0.0, 0.5, 0.0, 0.0),  # expired
        (100.0, 100.0, 0.01, 0.0, nan, 0.0),  # zero vol
        (100.0, 100.0, -1.0, nan, 0.0, 0.0),
    ]
    cols = [np.array(c) for c in zip(*cases, strict=True)]
    for kind in ("call", "put"):
        g = price_greeks(*cols, kind=kind)
        for arr in g:
            assert np.isnan(arr).all()
    # and NaN leaves its neighbours alone
    g = price_greeks([nan, 101.0], 100.0, 0.01, 0.5)
    assert np.isnan(g.price[0]) and 0.5 < g.price[1] < 1.0


def test_expiry_payoff_and_ties():
    S = np.array([99.0, 100.0, 101.0])
    for T in (0.0, -0.001):
        up = price_greeks(S, 100.0, T, 0.5, 0.05, 0.02)
        down = price_greeks(S, 100.0, T, 0.5, 0.05, 0.02, "put")
        np.testing.assert_array_equal(up.price, [0.0, 1.0, 1.0])  # Up wins the tie
        np.testing.assert_array_equal(down.price, [1.0, 0.0, 0.0])
        for g in (up, down):
            for arr in g[1:]:
                np.testing.assert_array_equal(arr, 0.0)


def test_zero_vol_is_deterministic_forward():
    T = 30 / 365
    df = math.exp(-0.05 * T)
    # forward = S exp((r - q) T): with r - q = 0.03 a spot a little under K still finishes above
    S = np.array([100.0 * math.exp(-0.03 * T) * 0.999, 100.0 * math.exp(-0.03 * T) * 1.001])
    up = price_greeks(S, 100.0, T, 0.0, 0.05, 0.02)
    np.testing.assert_allclose(up.price, [0.0, df], rtol=1e-15)
    down = price_greeks(S, 100.0, T, 0.0, 0.05, 0.02, "put")
    np.testing.assert_allclose(down.price, [df, 0.0], rtol=1e-15)
    assert float(price_greeks(100.0, 100.0, T, 0.0).price) == 1.0  # forward == K: Up wins
    for arr in up[1:]:
        np.testing.assert_array_equal(arr, 0.0)


def test_broadcasting_and_types():
    g = price_greeks(np.array([[99.0], [100.0], [101.0]]), 100.0, [0.0, 1e-4, 1e-3, 1e-2], 0.5)
    assert isinstance(g, Greeks)
    for arr in g:
        assert isinstance(arr, np.ndarray) and arr.shape == (3, 4) and arr.dtype == np.float64
    scalar = price_greeks(101.0, 100.0, 0.01, 0.5)
    assert all(isinstance(a, np.ndarray) and a.shape == () for a in scalar)
    # an array of zero rates still sets the output shape
    g = price_greeks(101.0, 100.0, 0.01, 0.5, r=np.zeros(5))
    assert g.price.shape == (5,) and np.all(g.price == scalar.price)
    assert implied_vol(0.4, 100.0, 100.0, [0.01, 0.02]).shape == (2,)


def test_scaled_greeks_units():
    g = price_greeks(np.array([100.0, 200.0]), 150.0, 0.01, 0.6, 0.01)
    sc = scaled_greeks(g, [100.0, 200.0])
    np.testing.assert_allclose(sc.delta_1pct, g.delta * [1.0, 2.0])
    np.testing.assert_allclose(sc.gamma_1pct, g.gamma * [1.0, 4.0])
    np.testing.assert_allclose(sc.vega_1pt, g.vega / 100)
    np.testing.assert_allclose(sc.theta_1min, g.theta / 525_600)
    np.testing.assert_array_equal(gamma_norm([-10.0, 20.0, 100.0, np.nan]), [0.5, 1.0, 2.0, np.nan])
