"""Tests of win counts against the prices paid (pure numpy/scipy).

With no edge a binary entry bought at a fee-inclusive price ``p`` per share wins
with probability ``p``: its price is its break-even win probability. Trades
bought at different prices are not one binomial with their mean price (that
test mistakes a mix of 0.2 and 0.9 entries for a coin of 0.55); their win count
is Poisson-binomial, a sum of independent Bernoulli(``p_i``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

# Above this many trades the exact O(n^2) convolution gives way to the normal approximation
# (continuity-corrected): at n = 5,000 the exact tail takes about 0.03 s, and the normal is
# then within 1e-5 of it within three standard deviations of the mean (prices 0.05..0.95).
EXACT_MAX = 5_000


Z95 = 1.959963984540054  # the two-sided 95 % quantile of the standard normal


def wilson_bounds(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the rate ``successes / n`` (95 % by default).

    Unlike the normal approximation it stays inside [0, 1] and is honest at small ``n`` and
    at 0 or ``n`` successes (where an end is exactly 0 or 1). ``n`` may be fractional (an
    effective sample size); ``(nan, nan)`` when it is 0.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes} n={n}")
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def poisson_binomial_pmf(p: ArrayLike) -> np.ndarray:
    """P(X = k) for k = 0..n, X the number of successes of independent Bernoulli(``p_i``).

    Dynamic programming: the distribution is convolved with one trial at a time, O(n^2).
    """
    probs = _probabilities(p)
    pmf = np.zeros(probs.size + 1)
    pmf[0] = 1.0
    for i, q in enumerate(probs, start=1):
        # After i trials only k <= i is reachable; the right side is read before it is written.
        pmf[1 : i + 1] = pmf[1 : i + 1] * (1.0 - q) + pmf[:i] * q
        pmf[0] *= 1.0 - q
    return pmf


def poisson_binomial_sf(k: int, p: ArrayLike) -> float:
    """P(X >= k): the one-sided p-value of ``k`` wins when trade i wins with probability ``p_i``.

    Exact (:func:`poisson_binomial_pmf`) up to :data:`EXACT_MAX` trials; above, the normal
    approximation with mean ``sum p``, variance ``sum p (1 - p)`` and continuity correction,
    ``1 - Phi((k - 0.5 - mean) / sd)``.
    """
    probs = _probabilities(p)
    n = probs.size
    if k != int(k):
        raise ValueError(f"k must be an integer, got {k}")
    k = int(k)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if n <= EXACT_MAX:
        tail = float(poisson_binomial_pmf(probs)[k:].sum())
        return min(max(tail, 0.0), 1.0)
    mean = float(probs.sum())
    var = float((probs * (1.0 - probs)).sum())
    if var == 0.0:  # every p is 0 or 1: X is the number of ones
        return 1.0 if k <= round(mean) else 0.0
    return float(ndtr((mean - (k - 0.5)) / np.sqrt(var)))


def _probabilities(p: ArrayLike) -> np.ndarray:
    probs = np.asarray(p, dtype=float).ravel()
    if probs.size and not (np.all(np.isfinite(probs)) and probs.min() >= 0 and probs.max() <= 1):
        bad = probs[~(np.isfinite(probs) & (probs >= 0) & (probs <= 1))][0]
        raise ValueError(f"p must lie in [0, 1], got {bad}")
    return probs
