"""Slow scalar reference for ``engine.core.pricing.binary``: plain ``math``, one contract at a time.

Written independently of the fast path: the normal CDF from ``math.erfc``,
each Greek from its own textbook formula, and the implied vol by bisection
on ``w = sigma sqrt(T)`` inside the documented branch instead of the closed
form. Units as in the fast module: T in 365-day years, vega per 1.00 of
sigma, theta = -dV/dT per year.
"""

from __future__ import annotations

import math

SQRT2 = math.sqrt(2.0)
SQRT2PI = math.sqrt(2.0 * math.pi)


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / SQRT2)


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / SQRT2PI


def _sign(kind: str) -> int:
    if kind not in ("call", "put"):
        raise ValueError(f"kind={kind!r} must be 'call' or 'put'")
    return 1 if kind == "call" else -1


def d1_d2(
    S: float, K: float, T: float, sigma: float, r: float = 0.0, q: float = 0.0
) -> tuple[float, float]:
    v = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / v
    return d1, d1 - v


def price(
    S: float,
    K: float,
    T: float,
    sigma: float,
    r: float = 0.0,
    q: float = 0.0,
    kind: str = "call",
) -> float:
    s = _sign(kind)
    if any(math.isnan(a) for a in (S, K, T, sigma, r, q)):
        return math.nan
    if T <= 0.0:
        up = S >= K
        return float(up if s > 0 else not up)
    if sigma == 0.0:
        up = math.log(S / K) + (r - q) * T >= 0.0
        return math.exp(-r * T) * float(up if s > 0 else not up)
    _, d2 = d1_d2(S, K, T, sigma, r, q)
    return math.exp(-r * T) * norm_cdf(s * d2)


def greeks(
    S: float,
    K: float,
    T: float,
    sigma: float,
    r: float = 0.0,
    q: float = 0.0,
    kind: str = "call",
) -> tuple[float, float, float, float, float]:
    """(price, delta, gamma, vega, theta) of one contract."""
    s = _sign(kind)
    p = price(S, K, T, sigma, r, q, kind)
    if math.isnan(p):
        return (math.nan,) * 5
    if T <= 0.0 or sigma == 0.0:
        return p, 0.0, 0.0, 0.0, 0.0
    d1, d2 = d1_d2(S, K, T, sigma, r, q)
    sqrt_t = math.sqrt(T)
    df = math.exp(-r * T)
    n2 = norm_pdf(d2)
    delta = s * df * n2 / (S * sigma * sqrt_t)
    gamma = -s * df * n2 * d1 / (S * S * sigma * sigma * T)
    vega = -s * df * n2 * d1 / sigma
    # dd2/dT = -d1/(2T) + (r - q)/(sigma sqrt T); theta = -dV/dT
    dd2_dt = -d1 / (2.0 * T) + (r - q) / (sigma * sqrt_t)
    theta = r * p - s * df * n2 * dd2_dt
    return p, delta, gamma, vega, theta


def implied_vol(
    p: float,
    S: float,
    K: float,
    T: float,
    r: float = 0.0,
    q: float = 0.0,
    kind: str = "call",
) -> float:
    """Bisection on w = sigma sqrt(T) over the branch w < sqrt(2|ln(F/K)|) (if ln(F/K) < 0)."""
    s = _sign(kind)
    if any(math.isnan(a) for a in (p, S, K, T, r, q)) or T <= 0.0:
        return math.nan
    df = math.exp(-r * T)
    x = math.log(S / K) + (r - q) * T

    def f(w: float) -> float:
        if w == 0.0:
            return df * float((x >= 0.0) == (s > 0))
        return df * norm_cdf(s * (x / w - 0.5 * w))

    if x < 0.0:
        lo, hi = 0.0, math.sqrt(-2.0 * x)
    else:
        lo, hi = 0.0, 1.0
        while (f(hi) - p) * (f(lo) - p) > 0.0 and hi < 1e3:
            hi *= 2.0
    flo, fhi = f(lo) - p, f(hi) - p
    if flo == 0.0:
        return 0.0
    if flo * fhi > 0.0:
        return math.nan
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        fm = f(mid) - p
        if (fm > 0.0) == (flo > 0.0):
            lo, flo = mid, fm
        else:
            hi = mid
    return 0.5 * (lo + hi) / math.sqrt(T)
