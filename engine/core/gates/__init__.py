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
from engine.core.validation import check_declared, check_order, tunable

EPS = 1e-9


class Gate(Protocol):
    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class SigmaGate:
    """Fire only on statistically meaningful moves: ``|z| >= min_sigma``."""

    min_sigma: float = tunable(
        1.5,
        lo=0.0,
        hi=10.0,
        unit="sigma",
        writers="all",
        description="fire only when |z| >= min_sigma",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        value = np.abs(frame.z)
        return value >= self.min_sigma - EPS, value


@dataclass(frozen=True)
class DeadZoneGate:
    """Skip coin flips: entries priced within ``[low, high]`` (inclusive) are rejected."""

    low: float = tunable(
        0.42,
        lo=0.0,
        hi=1.0,
        unit="probability",
        writers="all",
        description="skip entries priced in [low, high]",
    )
    high: float = tunable(
        0.58,
        lo=0.0,
        hi=1.0,
        unit="probability",
        writers="all",
        description="skip entries priced in [low, high]",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        check_order("low", self.low, "high", self.high)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        p = frame.price
        return (p < self.low - EPS) | (p > self.high + EPS), p


@dataclass(frozen=True)
class MaxOddsGate:
    """A per-strategy cap on the entry price: pass when ``price <= max_price``."""

    max_price: float = tunable(
        0.85,
        lo=0.0,
        hi=1.0,
        lo_open=True,
        unit="probability",
        writers="all",
        description="no entry priced above max_price",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.price <= self.max_price + EPS, frame.price


@dataclass(frozen=True)
class MinOddsGate:
    """A per-strategy floor on the entry price: pass when ``price >= min_price``."""

    min_price: float = tunable(
        0.05,
        lo=0.0,
        hi=1.0,
        hi_open=True,
        unit="probability",
        writers="all",
        description="no entry priced below min_price",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.price >= self.min_price - EPS, frame.price


@dataclass(frozen=True)
class MinEdgeGate:
    """Pass when the edge after the taker fee, ``fair - price - fee``, is ``>= min_edge``."""

    min_edge: float = tunable(
        0.02,
        lo=-1.0,
        hi=1.0,
        unit="probability",
        writers="all",
        description="fair - ask - taker fee per share must reach min_edge",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.edge >= self.min_edge - EPS, frame.edge


@dataclass(frozen=True)
class VolBandGate:
    """Pass when the implied-to-realized vol ratio IV/RV is within ``[low, high]``."""

    low: float = tunable(
        0.5,
        lo=0.0,
        hi=100.0,
        unit="ratio",
        writers="all",
        description="IV/RV must be within [low, high]",
    )
    high: float = tunable(
        2.0,
        lo=0.0,
        hi=100.0,
        unit="ratio",
        writers="all",
        description="IV/RV must be within [low, high]",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        check_order("low", self.low, "high", self.high)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = frame.iv_rv
        return (v >= self.low - EPS) & (v <= self.high + EPS), v


@dataclass(frozen=True)
class GammaLeashGate:
    """Pass when ``|gamma_1pct| <= cap``: no entries where a 1 % move flips the price most."""

    cap: float = tunable(
        20.0,
        lo=0.0,
        hi=1e6,
        lo_open=True,
        unit="per 1% move",
        writers="all",
        description="|gamma_1pct| <= cap",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = np.abs(frame.gamma_1pct)
        return v <= self.cap + EPS, v


@dataclass(frozen=True)
class TimeToExpiryGate:
    """Pass when the fraction of the window already elapsed is within ``[min_elapsed, max_elapsed]``."""

    min_elapsed: float = tunable(
        0.0,
        lo=0.0,
        hi=1.0,
        unit="fraction",
        writers="all",
        description="elapsed fraction of the window within [min_elapsed, max_elapsed]",
    )
    max_elapsed: float = tunable(
        1.0,
        lo=0.0,
        hi=1.0,
        unit="fraction",
        writers="all",
        description="elapsed fraction of the window within [min_elapsed, max_elapsed]",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        check_order("min_elapsed", self.min_elapsed, "max_elapsed", self.max_elapsed)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = 1.0 - frame.t_remaining_s / frame.window_s
        return (v >= self.min_elapsed - EPS) & (v <= self.max_elapsed + EPS), v


@dataclass(frozen=True)
class LiquidityGate:
    """Pass when the book holds at least ``min_depth_usd`` within two ticks of the best ask."""

    min_depth_usd: float = tunable(
        10.0,
        lo=0.0,
        hi=1e9,
        unit="USD",
        writers="all",
        description="USD of asks within two ticks of the best ask",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.depth_usd >= self.min_depth_usd - EPS, frame.depth_usd


@dataclass(frozen=True)
class StalenessGate:
    """Pass when the token's book and the symbol's spot are at most this old (seconds)."""

    max_book_age_s: float = tunable(
        5.0,
        lo=0.0,
        hi=3600.0,
        unit="s",
        writers="all",
        description="the book must be at most this old",
    )
    max_spot_age_s: float = tunable(
        5.0,
        lo=0.0,
        hi=3600.0,
        unit="s",
        writers="all",
        description="spot must be at most this old",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        book, spot = frame.book_age_s, frame.spot_age_s
        ok = (book <= self.max_book_age_s + EPS) & (spot <= self.max_spot_age_s + EPS)
        return ok, np.fmax(book, spot)


@dataclass(frozen=True)
class SignalAgeGate:
    """Pass when an external signal (a leader's trade, a headline) is at most ``max_age_s`` old."""

    max_age_s: float = tunable(
        10.0,
        lo=0.0,
        hi=86400.0,
        unit="s",
        writers="all",
        description="an external signal must be at most this old",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.age_s <= self.max_age_s + EPS, frame.age_s


@dataclass(frozen=True)
class SlippageGate:
    """Pass when the ask is at most ``max_slippage`` above the signal's price (the leader's fill)."""

    max_slippage: float = tunable(
        0.02,
        lo=0.0,
        hi=1.0,
        unit="probability",
        writers="all",
        description="ask - signal price <= max_slippage",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        v = frame.price - frame.ref_price
        return v <= self.max_slippage + EPS, v


@dataclass(frozen=True)
class ArbProfitGate:
    """Pass legs whose group's profit per share set, after fees, is at least ``min_profit``."""

    min_profit: float = tunable(
        0.01,
        lo=0.0,
        hi=1.0,
        unit="USD per share set",
        writers="all",
        description="1 - sum(ask + fee) must reach min_profit",
    )

    def __post_init__(self) -> None:
        check_declared(self)

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

    max_sigma: float = tunable(
        0.8,
        lo=0.0,
        hi=10.0,
        lo_open=True,
        unit="annualised",
        writers="all",
        description="realized vol at most max_sigma",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.sigma <= self.max_sigma + EPS, frame.sigma


@dataclass(frozen=True)
class ConfidenceGate:
    """Pass when a classifier's confidence is at least ``min_confidence``."""

    min_confidence: float = tunable(
        0.5,
        lo=0.0,
        hi=1.0,
        unit="probability",
        writers="all",
        description="classifier confidence at least min_confidence",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def check(self, frame: SignalFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame.confidence >= self.min_confidence - EPS, frame.confidence
