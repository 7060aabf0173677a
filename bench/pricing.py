"""Throughput of the binary pricer against QuantLib, a bare numpy floor, and brentq.

Run: ``.venv/bin/python bench/pricing.py`` (about 30 s). One run, one table:

* ``price_greeks`` on 1,000,000 random contracts (price + 4 Greeks);
* the same closed form written bare with ``scipy.special.ndtr`` and no
  validation or special cases: the floor any numpy version can reach;
* QuantLib's ``AnalyticEuropeanEngine`` in a per-contract Python loop on
  10,000 contracts, extrapolated to 1,000,000;
* ``implied_vol`` on 100,000 prices against a ``scipy.optimize.brentq`` loop
  timed on 2,000 and extrapolated.

Every timing is the best of a few repeats (CPU time on a shared box is noisy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from engine.core.pricing import SECONDS_PER_YEAR, implied_vol, price_greeks

N_VEC = 1_000_000
N_QL = 10_000
N_IV = 100_000
N_BRENT = 2_000
R = 0.05


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def contracts(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Up/Down-like books: spot within +-2 % of strike, 1 minute .. 1 day, sigma 20-150 %."""
    K = rng.uniform(20_000.0, 120_000.0, n)
    S = K * np.exp(rng.uniform(-0.02, 0.02, n))
    T = rng.uniform(60.0, 86_400.0, n) / SECONDS_PER_YEAR
    sigma = rng.uniform(0.2, 1.5, n)
    return S, K, T, sigma


def iv_contracts(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Contracts whose price pins sigma down: |d2| <= 4, on the documented branch (d1 < 0 if OTM).

    Built from (d2, w = sigma sqrt T): x = ln(F/K) = w d2 + w^2/2, and where x < 0
    with d1 = d2 + w > 0 (the upper branch) d2 is redrawn below -w.
    """
    K = rng.uniform(20_000.0, 120_000.0, n)
    T = rng.uniform(60.0, 86_400.0, n) / SECONDS_PER_YEAR
    sigma = rng.uniform(0.2, 1.5, n)
    w = sigma * np.sqrt(T)
    d2 = rng.uniform(-4.0, 4.0, n)
    upper = (w * d2 + 0.5 * w * w < 0.0) & (d2 + w > 0.0)
    d2 = np.where(upper, -w - rng.uniform(0.05, 3.0, n), d2)
    S = K * np.exp(w * d2 + 0.5 * w * w - R * T)
    return S, K, T, sigma


def floor_closed_form(S, K, T, sigma, r):
    """Textbook price + Greeks in bare numpy: no validation, no degenerate cases, q = 0."""
    w = sigma * np.sqrt(T)
    d2 = (np.log(S / K) + (r - 0.5 * sigma * sigma) * T) / w
    d1 = d2 + w
    disc = np.exp(-r * T)
    dpdf = disc * np.exp(-0.5 * d2 * d2) / math.sqrt(2.0 * math.pi)
    price = disc * ndtr(d2)
    delta = dpdf / (S * w)
    gamma = -dpdf * d1 / (S * S * w * w)
    vega = -dpdf * d1 / sigma
    theta = r * price + dpdf * (d1 / (2.0 * T) - r / w)
    return price, delta, gamma, vega, theta


def quantlib_loop(S, K, T, sigma, r) -> float:
    """Seconds for a per-contract QuantLib loop (quotes reused, one option per contract)."""
    import QuantLib as ql

    today = ql.Date(15, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot, vol = ql.SimpleQuote(100.0), ql.SimpleQuote(0.5)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    days = np.maximum(1, np.rint(T * 365.0)).astype(int)  # QuantLib dates are whole days
    t0 = time.perf_counter()
    for s, k, d, v in zip(S.tolist(), K.tolist(), days.tolist(), sigma.tolist(), strict=True):
        spot.setValue(s)
        vol.setValue(v)
        option = ql.VanillaOption(
            ql.CashOrNothingPayoff(ql.Option.Call, k, 1.0), ql.EuropeanExercise(today + d)
        )
        option.setPricingEngine(engine)
        option.NPV(), option.delta(), option.gamma(), option.vega(), option.theta()
    return time.perf_counter() - t0


def brentq_loop(prices, S, K, T, r) -> np.ndarray:
    """Scalar brentq on the documented branch, price from math.erfc."""
    out = np.empty(len(prices))
    for i, (p, s, k, t) in enumerate(zip(prices, S, K, T, strict=True)):
        sqrt_t = math.sqrt(t)
        x = math.log(s / k) + r * t
        disc = math.exp(-r * t)

        def f(sig, p=p, x=x, sqrt_t=sqrt_t, disc=disc):
            w = sig * sqrt_t
            return disc * 0.5 * math.erfc(-(x / w - 0.5 * w) / math.sqrt(2.0)) - p

        hi = math.sqrt(-2.0 * x) / sqrt_t if x < 0.0 else 20.0
        out[i] = brentq(f, 1e-6, hi, xtol=1e-12, rtol=1e-12)
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    S, K, T, sigma = contracts(N_VEC, rng)

    t_ours = best_of(lambda: price_greeks(S, K, T, sigma, R), 5)
    t_floor = best_of(lambda: floor_closed_form(S, K, T, sigma, R), 5)
    ours, floor = price_greeks(S, K, T, sigma, R), floor_closed_form(S, K, T, sigma, R)
    # largest difference in each output relative to that output's largest magnitude
    gap = max(
        float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(ours, floor, strict=True)
    )

    t_ql = quantlib_loop(S[:N_QL], K[:N_QL], T[:N_QL], sigma[:N_QL], R) * (N_VEC / N_QL)

    s_iv, k_iv, t_iv, sig_iv = iv_contracts(N_IV, rng)
    p_iv = price_greeks(s_iv, k_iv, t_iv, sig_iv, R).price
    t_iv_ours = best_of(lambda: implied_vol(p_iv, s_iv, k_iv, t_iv, R), 5)
    iv = implied_vol(p_iv, s_iv, k_iv, t_iv, R)
    t0 = time.perf_counter()
    iv_brent = brentq_loop(p_iv[:N_BRENT], s_iv[:N_BRENT], k_iv[:N_BRENT], t_iv[:N_BRENT], R)
    t_brent = (time.perf_counter() - t0) * (N_IV / N_BRENT)
    iv_gap = float(np.nanmax(np.abs(iv[:N_BRENT] - iv_brent)))
    iv_err = float(np.nanmax(np.abs(iv - sig_iv)))

    rows = [
        ("price_greeks (ours)", N_VEC, t_ours, "measured"),
        ("numpy floor (bare closed form)", N_VEC, t_floor, "measured"),
        ("QuantLib per-contract loop", N_VEC, t_ql, f"from {N_QL:,}"),
        ("implied_vol (ours, closed form)", N_IV, t_iv_ours, "measured"),
        ("brentq loop", N_IV, t_brent, f"from {N_BRENT:,}"),
    ]
    print(f"{'method':34} {'contracts':>10} {'seconds':>10} {'contracts/s':>14}  note")
    for name, n, t, note in rows:
        print(f"{name:34} {n:>10,} {t:>10.4f} {n / t:>14,.0f}  {note}")
    print()
    checks = [
        ("ours vs QuantLib speed-up", t_ql / t_ours, ">= 200x", t_ql / t_ours >= 200),
        ("ours / floor time", t_ours / t_floor, "<= 1.5x", t_ours / t_floor <= 1.5),
        (
            "implied_vol vs brentq speed-up",
            t_brent / t_iv_ours,
            ">= 100x",
            t_brent / t_iv_ours >= 100,
        ),
    ]
    for name, value, target, ok in checks:
        print(f"{name:34} {value:>10.2f}x  target {target:8}  {'met' if ok else 'MISSED'}")
    print()
    print(f"ours vs floor, max |difference| / max |value| over the 5 outputs: {gap:.1e}")
    print(f"implied_vol round trip max |error|: {iv_err:.1e}; vs brentq: {iv_gap:.1e}")


if __name__ == "__main__":
    main()
