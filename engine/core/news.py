"""Headline classifiers: text -> (direction, confidence). Transparent by default.

``KeywordClassifier`` counts bullish and bearish keywords (case-insensitive
substring match, so "surges" matches "surge"). Direction is the sign of
bullish minus bearish hits; confidence grows with the net count,
``min(1, net * per_hit)``, and is 0 for a tie. An LLM classifier can replace
it later behind the same ``classify`` method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from engine.core.validation import ConfigError, check_declared, tunable

DEFAULT_BULLISH = [
    "inflow", "surge", "approve", "approval", "adopt", "record high", "rally", "accumulat",
    "partnership", "upgrade", "buyback", "bullish", "soar", "etf launch",
]  # fmt: skip
DEFAULT_BEARISH = [
    "outflow", "hack", "exploit", "outage", "halt", "ban", "lawsuit", "sues", "crash",
    "sell-off", "selloff", "liquidat", "plunge", "bearish", "delist", "insolven",
]  # fmt: skip


class Classifier(Protocol):
    def classify(self, text: str) -> tuple[int, float]:
        """``(direction, confidence)``: direction +1 bullish, -1 bearish, 0 neither."""
        ...


@dataclass(frozen=True)
class KeywordClassifier:
    bullish: list[str] = field(default_factory=lambda: list(DEFAULT_BULLISH))
    bearish: list[str] = field(default_factory=lambda: list(DEFAULT_BEARISH))
    per_hit: float = tunable(
        0.6,
        lo=0.0,
        hi=1.0,
        lo_open=True,
        unit="confidence",
        writers="governor",
        description="confidence per net keyword hit",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        overlap = {w.lower() for w in self.bullish} & {w.lower() for w in self.bearish}
        if overlap:
            raise ConfigError("bullish", sorted(overlap), "must not share words with bearish")

    def classify(self, text: str) -> tuple[int, float]:
        t = text.lower()
        net = sum(w.lower() in t for w in self.bullish) - sum(w.lower() in t for w in self.bearish)
        if net == 0:
            return 0, 0.0
        return (1 if net > 0 else -1), min(1.0, abs(net) * self.per_hit)
