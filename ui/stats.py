"""Small statistics the dashboard shows beside the ledger's own numbers."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the two-sided 95 % quantile of the standard normal


def wilson_interval(wins: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a win rate ``wins / n`` (95 % by default).

    Unlike the normal approximation it stays inside [0, 1] and is honest at
    small ``n`` and at 0 or ``n`` wins; ``(nan, nan)`` when ``n`` is 0.
    """
    if n < 0 or wins < 0 or wins > n:
        raise ValueError(f"need 0 <= wins <= n, got wins={wins} n={n}")
    if n == 0:
        return math.nan, math.nan
    p = wins / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
