"""Gates: vectorised pass/fail masks over a SignalFrame.

A gate's ``check(frame)`` returns ``(passed, value)``: a boolean mask and the
value it tested, per row. The pipeline records the first failing gate of each
rejected row as ``gate.<name>`` with that value, so every skip is visible.
Boundaries are inclusive on the passing side unless a docstring says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.core.frame import SignalFrame
from engine.core.validation import check_order, check_range


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
        return value >= self.min_sigma, value


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
        return (p < self.low) | (p > self.high), p


@dataclass(frozen=True)
class MaxOddsGate:
    """A per-strategy cap on the entry price: pass when ``price <= max_price``."""

    max_price: float = 0.85

    def __post_init__(self) -> None:
        check_range("max_price", self.max_price, 0.0, 1.0, lo_open=True)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.price <= self.max_price, frame.price


@dataclass(frozen=True)
class MinOddsGate:
    """A per-strategy floor on the entry price: pass when ``price >= min_price``."""

    min_price: float = 0.05

    def __post_init__(self) -> None:
        check_range("min_price", self.min_price, 0.0, 1.0, hi_open=True)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.price >= self.min_price, frame.price


@dataclass(frozen=True)
class MinEdgeGate:
    """Pass when the edge after the taker fee, ``fair - price - fee``, is ``>= min_edge``."""

    min_edge: float = 0.02

    def __post_init__(self) -> None:
        check_range("min_edge", self.min_edge, -1.0, 1.0)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.edge >= self.min_edge, frame.edge


def apply_gates(frame: SignalFrame, gates: dict[str, Gate]) -> None:
    """Run ``gates`` in order; each rejected row keeps its first failing gate."""
    for name, gate in gates.items():
        if not frame.accepted.any():
            return
        passed, value = gate.check(frame)
        # NaN never passes a gate: a missing number is not evidence.
        frame.reject(~passed | np.isnan(value), f"gate.{name}", value)
