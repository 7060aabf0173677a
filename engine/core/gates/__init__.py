"""Gates: vectorised pass/fail masks over a SignalFrame.

A gate's ``check(frame)`` returns ``(passed, value)``: a boolean mask and the
value it tested, per row. The pipeline records the first failing gate of each
rejected row as ``gate.<name>`` with that value, so every skip is visible.
Boundaries are inclusive on the passing side unless a docstring says otherwise,
with a tolerance of ``EPS`` so that values derived from tick prices (0.52 - 0.50
is 0.020000000000000018 in binary floating point) land where a person expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.core.frame import SignalFrame
from engine.core.validation import check_order, check_range

EPS = 1e-9


class Gate(Protocol):
    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class SigmaGate:
    """Fire only on statistically meaningful moves: ``|z| >= min_sigma``."""

    min_sigma: float = 1.5

    def __post_init__(self) -> None:
        check_range("min_sigma", self.min_sigma, 0.0, 10.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        value = np.abs(frame.z)
        return value >= self.min_sigma - EPS, value


@dataclass(frozen=True)
class DeadZoneGate:
    """Skip coin flips: entries priced within ``[low, high]`` (inclusive) are rejected."""

    low: float = 0.42
    high: float = 0.58

    def __post_init__(self) -> None:
        check_range("low", self.low, 0.0, 1.0)
        check_range("high", self.high, 0.0, 1.0)
        check_order("low", self.low, "high", self.high)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        p = frame.price
        return (p < self.low - EPS) | (p > self.high + EPS), p


@dataclass(frozen=True)
class MaxOddsGate:
    """A per-strategy cap on the entry price: pass when ``price <= max_price``."""

    max_price: float = 0.85

    def __post_init__(self) -> None:
        check_range("max_price", self.max_price, 0.0, 1.0, lo_open=True)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.price <= self.max_price + EPS, frame.price


@dataclass(frozen=True)
class MinOddsGate:
    """A per-strategy floor on the entry price: pass when ``price >= min_price``."""

    min_price: float = 0.05

    def __post_init__(self) -> None:
        check_range("min_price", self.min_price, 0.0, 1.0, hi_open=True)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.price >= self.min_price - EPS, frame.price


@dataclass(frozen=True)
class MinEdgeGate:
    """Pass when the edge after the taker fee, ``fair - price - fee``, is ``>= min_edge``."""

    min_edge: float = 0.02

    def __post_init__(self) -> None:
        check_range("min_edge", self.min_edge, -1.0, 1.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.edge >= self.min_edge - EPS, frame.edge


@dataclass(frozen=True)
class VolBandGate:
    """Pass when the implied-to-realized vol ratio IV/RV is within ``[low, high]``."""

    low: float = 0.5
    high: float = 2.0

    def __post_init__(self) -> None:
        check_range("low", self.low, 0.0, 100.0)
        check_range("high", self.high, 0.0, 100.0)
        check_order("low", self.low, "high", self.high)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = frame.iv_rv
        return (v >= self.low - EPS) & (v <= self.high + EPS), v


@dataclass(frozen=True)
class GammaLeashGate:
    """Pass when ``|gamma_1pct| <= cap``: no entries where a 1 % move flips the price most."""

    cap: float = 20.0

    def __post_init__(self) -> None:
        check_range("cap", self.cap, 0.0, 1e6, lo_open=True)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = np.abs(frame.gamma_1pct)
        return v <= self.cap + EPS, v


@dataclass(frozen=True)
class TimeToExpiryGate:
    """Pass when the fraction of the window already elapsed is within ``[min_elapsed, max_elapsed]``."""

    min_elapsed: float = 0.0
    max_elapsed: float = 1.0

    def __post_init__(self) -> None:
        check_range("min_elapsed", self.min_elapsed, 0.0, 1.0)
        check_range("max_elapsed", self.max_elapsed, 0.0, 1.0)
        check_order("min_elapsed", self.min_elapsed, "max_elapsed", self.max_elapsed)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = 1.0 - frame.t_remaining_s / frame.window_s
        return (v >= self.min_elapsed - EPS) & (v <= self.max_elapsed + EPS), v


@dataclass(frozen=True)
class LiquidityGate:
    """Pass when the book holds at least ``min_depth_usd`` within two ticks of the best ask."""

    min_depth_usd: float = 10.0

    def __post_init__(self) -> None:
        check_range("min_depth_usd", self.min_depth_usd, 0.0, 1e9)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.depth_usd >= self.min_depth_usd - EPS, frame.depth_usd


@dataclass(frozen=True)
class StalenessGate:
    """Pass when the token's book and the symbol's spot are at most this old (seconds)."""

    max_book_age_s: float = 5.0
    max_spot_age_s: float = 5.0

    def __post_init__(self) -> None:
        check_range("max_book_age_s", self.max_book_age_s, 0.0, 3600.0)
        check_range("max_spot_age_s", self.max_spot_age_s, 0.0, 3600.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        book, spot = frame.book_age_s, frame.spot_age_s
        ok = (book <= self.max_book_age_s + EPS) & (spot <= self.max_spot_age_s + EPS)
        return ok, np.fmax(book, spot)


@dataclass(frozen=True)
class SignalAgeGate:
    """Pass when an external signal (a leader's trade, a headline) is at most ``max_age_s`` old."""

    max_age_s: float = 10.0

    def __post_init__(self) -> None:
        check_range("max_age_s", self.max_age_s, 0.0, 86_400.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.age_s <= self.max_age_s + EPS, frame.age_s


@dataclass(frozen=True)
class SlippageGate:
    """Pass when the ask is at most ``max_slippage`` above the signal's price (the leader's fill)."""

    max_slippage: float = 0.02

    def __post_init__(self) -> None:
        check_range("max_slippage", self.max_slippage, 0.0, 1.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = frame.price - frame.ref_price
        return v <= self.max_slippage + EPS, v


@dataclass(frozen=True)
class ArbProfitGate:
    """Pass legs whose group's profit per share set, after fees, is at least ``min_profit``."""

    min_profit: float = 0.01

    def __post_init__(self) -> None:
        check_range("min_profit", self.min_profit, 0.0, 1.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.group_profit >= self.min_profit - EPS, frame.group_profit


def apply_gates(frame: SignalFrame, gates: dict[str, Gate]) -> None:
    """Run ``gates`` in order; each rejected row keeps its first failing gate.

    Legs of a group (``group_key``) stand or fall together: when one leg is
    rejected, its siblings are rejected with the same reason and value.
    """
    for name, gate in gates.items():
        if not frame.accepted.any():
            break
        passed, value = gate.check(frame)
        # NaN never passes a gate: a missing number is not evidence.
        frame.reject(~passed | np.isnan(value), f"gate.{name}", value)
    reject_broken_groups(frame)


def reject_broken_groups(frame: SignalFrame) -> None:
    """Reject every leg of a group one of whose legs is rejected (same reason and value)."""
    grouped, inverse, n = frame.groups()
    if not n:
        return
    bad = grouped & ~frame.accepted
    if not bad.any():
        return
    # The first rejected leg of each group carries the reason for its siblings.
    first = np.full(n, -1)
    rows = np.flatnonzero(bad)
    first[inverse[rows[::-1]]] = rows[::-1]
    victims = grouped & frame.accepted & (first[inverse] >= 0)
    if victims.any():
        src = first[np.where(victims, inverse, 0)]
        frame.reject(victims, frame.reason[src], frame.reason_value[src])


@dataclass(frozen=True)
class RealizedVolGate:
    """Pass when realized vol (annualised) is at most ``max_sigma``: entries that want stillness."""

    max_sigma: float = 0.8

    def __post_init__(self) -> None:
        check_range("max_sigma", self.max_sigma, 0.0, 10.0, lo_open=True)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.sigma <= self.max_sigma + EPS, frame.sigma


@dataclass(frozen=True)
class ConfidenceGate:
    """Pass when a classifier's confidence is at least ``min_confidence``."""

    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        check_range("min_confidence", self.min_confidence, 0.0, 1.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.confidence >= self.min_confidence - EPS, frame.confidence
