"""The regime detector: CHOPPY when too many fresh entries flip against us, CALM otherwise.

A flip is a filled position whose token mid is worse than its entry by more
than ``tolerance`` 60 s after the fill. The flip rate is measured over the
flips observed in the last ``window_s`` seconds (at least ``min_sample`` of
them, else the regime holds). Above ``choppy_above`` by ``z_margin`` standard
errors (``sqrt(r (1 - r) / n)``) the regime turns CHOPPY;
it returns to CALM only below ``calm_below`` (hysteresis, so it does not flap).
While CHOPPY, stakes are multiplied by ``stake_factor`` and the sigma and edge
gates tighten by ``sigma_factor`` and ``edge_add``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from engine.core.validation import check_order, check_range

CALM = "CALM"
CHOPPY = "CHOPPY"


@dataclass(frozen=True)
class RegimeConfig:
    """``strategies``: whose entries measure the regime (empty = all). Copy-trading and news
    entries flip for reasons of their own; the model-driven entries measure the market."""

    strategies: list[str] = field(default_factory=lambda: ["updown", "itm"])
    window_s: float = 1800.0
    min_sample: int = 8
    choppy_above: float = 0.35
    calm_below: float = 0.25
    tolerance: float = 0.01
    mark_after_s: int = 60
    stake_factor: float = 0.5
    sigma_factor: float = 1.25
    edge_add: float = 0.01
    z_margin: float = 1.0

    def __post_init__(self) -> None:
        check_range("window_s", self.window_s, 60.0, 86_400.0 * 30)
        check_range("min_sample", self.min_sample, 1, 100_000)
        check_range("choppy_above", self.choppy_above, 0.0, 1.0)
        check_range("calm_below", self.calm_below, 0.0, 1.0)
        check_order("calm_below", self.calm_below, "choppy_above", self.choppy_above)
        check_range("tolerance", self.tolerance, 0.0, 0.5)
        check_range("mark_after_s", self.mark_after_s, 1, 3600)
        check_range("stake_factor", self.stake_factor, 0.0, 1.0)
        check_range("sigma_factor", self.sigma_factor, 1.0, 5.0)
        check_range("edge_add", self.edge_add, 0.0, 0.5)
        check_range("z_margin", self.z_margin, 0.0, 5.0)


@dataclass(frozen=True)
class RegimeChange:
    ts: float
    regime: str
    flip_rate: float
    sample: int


class RegimeDetector:
    """Feed it ``observe(ts, flipped)``; ``update(now)`` returns a change when the regime switches."""

    def __init__(self, config: RegimeConfig, regime: str = CALM) -> None:
        self.config = config
        self.regime = regime
        self._flips: deque[tuple[float, bool]] = deque()

    def observe(self, ts: float, flipped: bool) -> None:
        self._flips.append((ts, bool(flipped)))

    def _prune(self, now: float) -> None:
        while self._flips and self._flips[0][0] < now - self.config.window_s:
            self._flips.popleft()

    @property
    def sample(self) -> int:
        return len(self._flips)

    @property
    def flip_rate(self) -> float:
        """Share of flips among the marks in the window (NaN with none)."""
        if not self._flips:
            return float("nan")
        return sum(f for _, f in self._flips) / len(self._flips)

    def update(self, now: float) -> RegimeChange | None:
        self._prune(now)
        if self.sample < self.config.min_sample:
            return None
        rate = self.flip_rate
        # Enter CHOPPY only when the rate is above the threshold by z_margin standard errors:
        # a handful of unlucky marks in a calm market is not evidence.
        stderr = (rate * (1.0 - rate) / self.sample) ** 0.5
        new = self.regime
        if self.regime == CALM and rate - self.config.z_margin * stderr > self.config.choppy_above:
            new = CHOPPY
        elif self.regime == CHOPPY and rate < self.config.calm_below:
            new = CALM
        if new == self.regime:
            return None
        self.regime = new
        return RegimeChange(now, new, rate, self.sample)

    @property
    def stake_factor(self) -> float:
        return self.config.stake_factor if self.regime == CHOPPY else 1.0
