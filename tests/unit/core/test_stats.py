"""The Poisson-binomial tail against slow references: enumeration, the binomial, the normal."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom, norm

from engine.core import stats
from engine.core.stats import poisson_binomial_pmf, poisson_binomial_sf


def brute_sf(k: int, p: list[float]) -> float:
    """P(X >= k) by summing over every win/loss pattern (2^n of them)."""
    total = 0.0
    for pattern in itertools.product((0, 1), repeat=len(p)):
        if sum(pattern) >= k:
            total += math.prod(q if w else 1.0 - q for w, q in zip(pattern, p, strict=True))
    return total


def test_matches_enumeration_for_small_sets():
    rng = np.random.default_rng(15)
    for _ in range(200):
        n = int(rng.integers(0, 11))
        p = rng.uniform(0, 1, n).tolist()
        for k in range(n + 2):
            assert poisson_binomial_sf(k, p) == pytest.approx(brute_sf(k, p), abs=1e-12)


def test_equal_probabilities_are_the_binomial():
    for n, q in [(1, 0.5), (10, 0.85), (100, 0.3), (1_000, 0.51), (3_000, 0.97)]:
        for k in sorted({0, 1, n // 3, int(n * q), int(n * q) + 5, n - 1, n}):
            assert poisson_binomial_sf(k, [q] * n) == pytest.approx(
                binom.sf(k - 1, n, q), rel=1e-9, abs=1e-14
            ), (n, q, k)


def test_pmf_is_a_distribution_with_the_right_mean():
    p = np.random.default_rng(1).uniform(0, 1, 400)
    pmf = poisson_binomial_pmf(p)
    assert pmf.shape == (401,) and pmf.min() >= 0
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert (np.arange(401) * pmf).sum() == pytest.approx(p.sum(), rel=1e-12)


def test_edges_and_certain_trials():
    assert poisson_binomial_sf(0, []) == 1.0
    assert poisson_binomial_sf(1, []) == 0.0
    assert poisson_binomial_sf(2, [1.0, 1.0, 0.0]) == 1.0
    assert poisson_binomial_sf(3, [1.0, 1.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match="p must lie in"):
        poisson_binomial_sf(1, [0.5, 1.2])
    with pytest.raises(ValueError, match="integer"):
        poisson_binomial_sf(1.5, [0.5])


def test_above_the_exact_limit_it_is_the_corrected_normal(monkeypatch):
    p = np.random.default_rng(2).uniform(0.05, 0.95, 2_000)
    mean, sd = p.sum(), math.sqrt((p * (1 - p)).sum())
    ks = range(int(mean - 3 * sd), int(mean + 3 * sd))
    exact = [poisson_binomial_sf(k, p) for k in ks]
    monkeypatch.setattr(stats, "EXACT_MAX", 1_000)
    approx = [poisson_binomial_sf(k, p) for k in ks]
    assert approx == pytest.approx([norm.sf((k - 0.5 - mean) / sd) for k in ks], rel=1e-12)
    assert np.abs(np.subtract(exact, approx)).max() < 1e-4
