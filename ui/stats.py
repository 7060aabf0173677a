"""Small statistics the dashboard shows beside the ledger's own numbers."""

from __future__ import annotations

from engine.core.stats import Z95, wilson_bounds


def wilson_interval(wins: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a win rate ``wins / n`` (95 % by default;
    :func:`engine.core.stats.wilson_bounds`): ``(nan, nan)`` when ``n`` is 0."""
    return wilson_bounds(wins, n, z)
