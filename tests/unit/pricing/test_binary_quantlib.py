"""Table tests of ``price_greeks`` against QuantLib and a high-precision mpmath closed form.

QuantLib 1.44: ``VanillaOption(CashOrNothingPayoff(type, K, 1.0), EuropeanExercise)``
priced by ``AnalyticEuropeanEngine`` on a ``BlackScholesMertonProcess`` with
flat curves and ``Actual365Fixed``. Its conventions, which match ours (checked
in ``test_quantlib_conventions``):

* ``delta()`` per 1 unit of spot, ``gamma()`` per unit spot squared;
* ``vega()`` per 1.00 of volatility (not per vol point);
* ``theta()`` per year and equal to ``-dV/dT``: the value change as calendar
  time passes (``thetaPerDay() = theta() / 365``).

QuantLib dates are whole days, so it covers maturities of 1..30 whole days.
Maturities below a day (1 second .. 6 hours) and fractional days are checked
against the closed form evaluated in mpmath at 50 digits, with the Greeks
taken by mpmath's numerical differentiation of that price (not from our
Greek formulas). Tolerance everywhere: 1e-9 absolute or 1e-7 relative.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest
import QuantLib as ql  # a dev dependency (pyproject [dev]): a missing QuantLib fails, never skips

from engine.core.pricing import SECONDS_PER_YEAR, price_greeks

RTOL = 1e-7
ATOL = 1e-9
TODAY = ql.Date(15, 1, 2024)

MONEYNESS = (0.5, 0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.1, 2.0)  # S/K, 0.5 and 2.0 deep
QL_DAYS = (1, 7, 30)
SIGMAS = (0.05, 0.5, 3.0)
RATES = (0.0, 0.05)
DIVS = (0.0, 0.02)
KINDS = ("call", "put")

QL_CASES = list(itertools.product(MONEYNESS, QL_DAYS, SIGMAS, RATES, DIVS, KINDS))
assert len(QL_CASES) >= 300


def _ql_option(S, K, days, sigma, r, q, kind, *, moving=False):
    """A QuantLib binary and the quotes it prices from.

    ``moving=True`` anchors curves to the evaluation date so that moving the
    date forward shortens the maturity (used to check the theta sign).
    """
    dc = ql.Actual365Fixed()
    spot, vol = ql.SimpleQuote(S), ql.SimpleQuote(sigma)
    if moving:
        cal = ql.NullCalendar()
        r_ts = ql.FlatForward(0, cal, r, dc)
        q_ts = ql.FlatForward(0, cal, q, dc)
        v_ts = ql.BlackConstantVol(0, cal, ql.QuoteHandle(vol), dc)
    else:
        r_ts = ql.FlatForward(TODAY, r, dc)
        q_ts = ql.FlatForward(TODAY, q, dc)
        v_ts = ql.BlackConstantVol(TODAY, ql.NullCalendar(), ql.QuoteHandle(vol), dc)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(q_ts),
        ql.YieldTermStructureHandle(r_ts),
        ql.BlackVolTermStructureHandle(v_ts),
    )
    option_type = ql.Option.Call if kind == "call" else ql.Option.Put
    option = ql.VanillaOption(
        ql.CashOrNothingPayoff(option_type, K, 1.0), ql.EuropeanExercise(TODAY + days)
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option, spot, vol


@pytest.fixture(autouse=True)
def _evaluation_date():
    ql.Settings.instance().evaluationDate = TODAY
    yield
    ql.Settings.instance().evaluationDate = TODAY


def _assert_close(ours, ref, label):
    names = ("price", "delta", "gamma", "vega", "theta")
    for name, a, b in zip(names, ours, ref, strict=True):
        assert np.isclose(float(a), float(b), rtol=RTOL, atol=ATOL), (
            f"{label}: {name} ours={float(a)!r} ref={float(b)!r}"
        )


@pytest.mark.parametrize(("m", "days", "sigma", "r", "q", "kind"), QL_CASES)
def test_matches_quantlib(m, days, sigma, r, q, kind):
    K = 100.0
    S = m * K
    option, _, _ = _ql_option(S, K, days, sigma, r, q, kind)
    ref = (option.NPV(), option.delta(), option.gamma(), option.vega(), option.theta())
    ours = price_greeks(S, K, days / 365.0, sigma, r, q, kind)
    _assert_close(ours, ref, f"S={S} K={K} days={days} sigma={sigma} r={r} q={q} {kind}")


@pytest.mark.parametrize("K", [1.0, 100_000.0])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_quantlib_other_scales(K, kind):
    """A BTC-sized and a unit strike: delta scales as 1/K and gamma as 1/K**2."""
    for m, days, sigma in itertools.product((0.97, 1.0, 1.005), (1, 3), (0.3, 0.8)):
        option, _, _ = _ql_option(m * K, K, days, sigma, 0.05, 0.02, kind)
        ref = (option.NPV(), option.delta(), option.gamma(), option.vega(), option.theta())
        ours = price_greeks(m * K, K, days / 365.0, sigma, 0.05, 0.02, kind)
        # relative check on each Greek: absolute 1e-9 would be vacuous for gamma at K=1e5
        for a, b in zip(ours, ref, strict=True):
            assert np.isclose(float(a), b, rtol=RTOL, atol=1e-15)


def test_quantlib_conventions():
    """QuantLib's vega is per 1.00 of vol and its theta per year with the -dV/dT sign."""
    S, K, days, sigma, r, q = 101.0, 100.0, 30, 0.4, 0.05, 0.02
    option, _, vol = _ql_option(S, K, days, sigma, r, q, "call", moving=True)
    v0, vega, theta = option.NPV(), option.vega(), option.theta()
    assert option.thetaPerDay() == pytest.approx(theta / 365.0)

    h = 1e-5
    vol.setValue(sigma + h)
    up = option.NPV()
    vol.setValue(sigma - h)
    down = option.NPV()
    vol.setValue(sigma)
    assert vega == pytest.approx((up - down) / (2 * h), rel=1e-6)

    # One calendar day later the maturity is one day shorter.
    ql.Settings.instance().evaluationDate = TODAY + 1
    v1 = option.NPV()
    assert theta == pytest.approx((v1 - v0) * 365.0, rel=0.05)
    assert price_greeks(S, K, days / 365.0, sigma, r, q).theta == pytest.approx(theta, rel=1e-9)


# ---- sub-day and fractional-day maturities: mpmath closed form at 50 digits -------------

MP_SECONDS = (1, 60, 300, 900, 3600, 6 * 3600, 36 * 3600, 54 * 3600)  # last two: 1.5 d, 2.25 d
MP_MONEYNESS = (0.9, 0.99, 0.999, 1.0, 1.001, 1.01, 1.1)


def _mp_price(S, K, T, sigma, r, q, s):
    w = sigma * mp.sqrt(T)
    d2 = (mp.log(S / K) + (r - q - sigma**2 / 2) * T) / w
    return mp.exp(-r * T) * mp.ncdf(s * d2)


def _mp_greeks(S, K, T, sigma, r, q, kind):
    """Price and Greeks at 50 digits; derivatives in relative steps so T never crosses 0."""
    s = 1 if kind == "call" else -1
    S, K, T, sigma, r, q = (mp.mpf(a) for a in (S, K, T, sigma, r, q))
    v = _mp_price(S, K, T, sigma, r, q, s)
    dS = mp.diff(lambda e: _mp_price(S * mp.exp(e), K, T, sigma, r, q, s), 0, 1)
    d2S = mp.diff(lambda e: _mp_price(S * mp.exp(e), K, T, sigma, r, q, s), 0, 2)
    dsig = mp.diff(lambda e: _mp_price(S, K, T, sigma * mp.exp(e), r, q, s), 0)
    dT = mp.diff(lambda e: _mp_price(S, K, T * mp.exp(e), sigma, r, q, s), 0)
    # f(e) = V(S e^e): f' = S V_S, f'' = S V_S + S^2 V_SS
    delta = dS / S
    gamma = (d2S - dS) / S**2
    return v, delta, gamma, dsig / sigma, -dT / T


MP_CASES = list(itertools.product(MP_SECONDS, MP_MONEYNESS, SIGMAS, RATES, DIVS, KINDS))


@pytest.mark.parametrize(("secs", "m", "sigma", "r", "q", "kind"), MP_CASES)
def test_sub_day_matches_mpmath(secs, m, sigma, r, q, kind):
    """Maturities QuantLib's whole-day dates cannot express: mpmath closed form instead."""
    K = 100.0
    S = m * K
    T = secs / SECONDS_PER_YEAR
    with mp.workdps(50):
        ref = _mp_greeks(S, K, T, sigma, r, q, kind)
    ours = price_greeks(S, K, T, sigma, r, q, kind)
    _assert_close(ours, ref, f"S={S} secs={secs} sigma={sigma} r={r} q={q} {kind}")
