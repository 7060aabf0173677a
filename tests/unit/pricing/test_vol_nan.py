"""Implied vol at the strike of the deterministic price: no sigma > 0 gives it, so NaN (issue 15).

At ``S == K`` (``r == q``) every ``sigma > 0`` prices the call below ``exp(-rT)/2``; only the
tie rule at ``sigma == 0`` exactly (the forward equals the strike, Up wins ties) pays the full
``exp(-rT)``. That price is not reached as sigma falls (the limit from above is one half), so it
is no solution: the call at ``exp(-rT)`` and the put at 0 return NaN, like the other prices
without one. Off the strike the deterministic prices are the limit of small sigma and stay 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.core.pricing import MINUTES_PER_YEAR, implied_vol, price_greeks

T5 = 5 / MINUTES_PER_YEAR


@pytest.mark.parametrize("rq", [0.0, 0.03])
def test_the_full_payout_at_the_strike_has_no_implied_vol(rq):
    df = math.exp(-rq * T5)
    assert math.isnan(float(implied_vol(df, 100.0, 100.0, T5, rq, rq)))
    assert math.isnan(float(implied_vol(0.0, 100.0, 100.0, T5, rq, rq, "put")))
    # the two other ends were NaN already: the call at 0, the put at the full payout
    assert math.isnan(float(implied_vol(0.0, 100.0, 100.0, T5, rq, rq)))
    assert math.isnan(float(implied_vol(df, 100.0, 100.0, T5, rq, rq, "put")))


def test_no_positive_sigma_comes_near_the_full_payout_at_the_strike():
    """Why NaN and not 0: the call at the strike is under one half for every sigma > 0."""
    sigmas = np.geomspace(1e-12, 50.0, 200)
    prices = price_greeks(100.0, 100.0, T5, sigmas).price
    assert np.all(prices < 0.5)
    assert float(price_greeks(100.0, 100.0, T5, 0.0).price) == 1.0  # the tie rule alone


def test_mixed_arrays_and_the_strategy_mirror():
    """One element at the strike in an array; the put's mirrored call price (1 - ask) of a
    Down ask of 0 is the same NaN."""
    S = np.array([100.0, 101.0, 99.0, 100.0])
    price = np.array([1.0, 1.0, 0.0, 0.3])
    iv = implied_vol(price, S, 100.0, T5)
    assert math.isnan(iv[0])
    assert iv[1] == 0.0 and iv[2] == 0.0  # off the strike: the small-sigma limit, still 0
    assert np.isfinite(iv[3]) and iv[3] > 0.0
    down_ask = 0.0
    assert math.isnan(float(implied_vol(1.0 - down_ask, 100.0, 100.0, T5)))
