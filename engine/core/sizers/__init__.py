"""Sizers: a chain of components that turn accepted candidates into USD stakes.

Each sizer's ``size(frame, stake, bankroll)`` takes the stake so far (the
first in the chain starts from zeros) and returns the new one. The pipeline
rejects rows whose stake ends at zero as ``sizer.<name>``. A stake is what
the shares cost at the limit price; the taker fee comes on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.core.fees import fee_per_share
from engine.core.frame import SignalFrame
from engine.core.validation import check_range


class Sizer(Protocol):
    def size(self, frame: SignalFrame, stake: np.ndarray, bankroll: float) -> np.ndarray: ...


def kelly_fraction_binary(p: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Kelly fraction of a binary bought at ``price`` that pays 1 with probability ``p``.

    ``f* = (p - P) / (1 - P)``; negative when the bet has no edge.
    """
    p = np.asarray(p, dtype=float)
    price = np.asarray(price, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(price < 1.0, (p - price) / (1.0 - price), -np.inf)


@dataclass(frozen=True)
class KellySizer:
    """Stake = bankroll x ``kelly_fraction`` x f*, with f* from the fee-inclusive price.

    Fractional Kelly (``kelly_fraction`` < 1) because ``fair`` is an estimate.
    """

    kelly_fraction: float = 0.25

    def __post_init__(self) -> None:
        check_range("kelly_fraction", self.kelly_fraction, 0.0, 1.0, lo_open=True)

    def size(self, frame: SignalFrame, stake: np.ndarray, bankroll: float) -> np.ndarray:
        effective_price = frame.price + fee_per_share(frame.price, frame.fee_rate)
        f = kelly_fraction_binary(frame.fair, effective_price)
        return np.maximum(f, 0.0) * self.kelly_fraction * max(bankroll, 0.0)


@dataclass(frozen=True)
class StakeCap:
    """Cap each stake at ``max_stake`` USD and at ``max_bankroll_fraction`` of the bankroll."""

    max_stake: float = 25.0
    max_bankroll_fraction: float = 0.05

    def __post_init__(self) -> None:
        check_range("max_stake", self.max_stake, 0.0, 1e7, lo_open=True)
        check_range("max_bankroll_fraction", self.max_bankroll_fraction, 0.0, 1.0, lo_open=True)

    def size(self, frame: SignalFrame, stake: np.ndarray, bankroll: float) -> np.ndarray:
        cap = min(self.max_stake, self.max_bankroll_fraction * max(bankroll, 0.0))
        return np.minimum(stake, cap)


def apply_sizers(frame: SignalFrame, sizers: dict[str, Sizer], bankroll: float) -> None:
    """Run the chain on accepted rows; a row whose stake ends at <= 0 is rejected."""
    stake = np.zeros(len(frame))
    for name, sizer in sizers.items():
        stake = np.where(frame.accepted, sizer.size(frame, stake, bankroll), 0.0)
        frame.reject(~(stake > 0.0), f"sizer.{name}", stake)
    frame.stake = np.where(frame.accepted, stake, 0.0)
