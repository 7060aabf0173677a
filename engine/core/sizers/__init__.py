"""Sizers: a chain of components that turn accepted candidates into USD stakes.

Each sizer's ``size(frame, stake, ctx)`` takes the stake so far (the first in
the chain starts from zeros) and returns the new one; ``ctx`` carries the
bankroll, current exposures and the adaptive multipliers. The pipeline
rejects rows whose stake ends at zero as ``sizer.<name>``. A stake is what
the shares cost at the ask; the taker fee comes on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from engine.core.fees import fee_per_share
from engine.core.frame import SignalFrame
from engine.core.gates import reject_broken_groups
from engine.core.pricing import gamma_norm
from engine.core.validation import check_range


@dataclass(frozen=True)
class SizingContext:
    """What sizers may read besides the frame.

    ``exposure_by_market`` / ``exposure_by_strategy``: USD already at stake in
    open positions. ``regime_factor``: 1.0 CALM, lower when CHOPPY (the
    adaptive loop sets it). ``delta_prior``: per-row multipliers from the
    calibrator, or None (then 1.0).
    """

    bankroll: float
    exposure_by_market: Mapping[str, float] = field(default_factory=dict)
    exposure_by_strategy: Mapping[str, float] = field(default_factory=dict)
    regime_factor: float = 1.0
    delta_prior: Callable[[SignalFrame], np.ndarray] | None = None


class Sizer(Protocol):
    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray: ...


def kelly_fraction_binary(p: np.ndarray | float, price: np.ndarray | float) -> np.ndarray:
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

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        effective_price = frame.price + fee_per_share(frame.price, frame.fee_rate)
        f = kelly_fraction_binary(frame.fair, effective_price)
        return np.maximum(f, 0.0) * self.kelly_fraction * max(ctx.bankroll, 0.0)


@dataclass(frozen=True)
class FixedStake:
    """A fixed USD stake per candidate, scaled by ``confidence`` when ``by_confidence``."""

    stake: float = 10.0
    by_confidence: bool = False

    def __post_init__(self) -> None:
        check_range("stake", self.stake, 0.0, 1e7, lo_open=True)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        base = np.full(len(frame), self.stake)
        if self.by_confidence:
            base = base * np.clip(np.nan_to_num(frame.confidence), 0.0, 1.0)
        return base


@dataclass(frozen=True)
class DeltaPrior:
    """Multiply by the calibrator's delta prior (each |delta| bucket's realised edge per share),
    clipped to ``[min_mult, max_mult]``; the stake unchanged without one.

    ``min_mult <= 1 <= max_mult``: the band only limits how far evidence moves a stake, so
    a row without evidence (multiplier 1) keeps its stake whatever the band.
    """

    min_mult: float = 0.5
    max_mult: float = 1.5

    def __post_init__(self) -> None:
        check_range("min_mult", self.min_mult, 0.5, 1.0)
        check_range("max_mult", self.max_mult, 1.0, 1.5)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        if ctx.delta_prior is None:
            return stake
        return stake * np.clip(ctx.delta_prior(frame), self.min_mult, self.max_mult)


@dataclass(frozen=True)
class FlipRiskTax:
    """Divide by ``1 + gamma_norm``, ``gamma_norm = min(|gamma_1pct| / 20, 2)``: the flip-risk tax."""

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        g = gamma_norm(np.nan_to_num(frame.gamma_1pct))
        return stake / (1.0 + g)


@dataclass(frozen=True)
class RegimeFactor:
    """Multiply by the regime factor the adaptive loop publishes (1.0 CALM, 0.5 CHOPPY)."""

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        return stake * ctx.regime_factor


@dataclass(frozen=True)
class StakeCap:
    """Cap each stake at ``max_stake`` USD and at ``max_bankroll_fraction`` of the bankroll."""

    max_stake: float = 25.0
    max_bankroll_fraction: float = 0.05

    def __post_init__(self) -> None:
        check_range("max_stake", self.max_stake, 0.0, 1e7, lo_open=True)
        check_range("max_bankroll_fraction", self.max_bankroll_fraction, 0.0, 1.0, lo_open=True)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        cap = min(self.max_stake, self.max_bankroll_fraction * max(ctx.bankroll, 0.0))
        return np.minimum(stake, cap)


@dataclass(frozen=True)
class ExposureCap:
    """Keep open exposure within ``max_per_market`` and ``max_per_strategy`` USD.

    Rows are filled in order, so two candidates on one market share its room.
    """

    max_per_market: float = 50.0
    max_per_strategy: float = 250.0

    def __post_init__(self) -> None:
        check_range("max_per_market", self.max_per_market, 0.0, 1e9, lo_open=True)
        check_range("max_per_strategy", self.max_per_strategy, 0.0, 1e9, lo_open=True)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        out = np.zeros(len(frame))
        used_market = dict(ctx.exposure_by_market)
        room_strategy = self.max_per_strategy - ctx.exposure_by_strategy.get(frame.strategy, 0.0)
        for i in np.flatnonzero(stake > 0):
            m = frame.market_id[i]
            room = min(self.max_per_market - used_market.get(m, 0.0), room_strategy)
            out[i] = max(0.0, min(stake[i], room))
            used_market[m] = used_market.get(m, 0.0) + out[i]
            room_strategy -= out[i]
        return out


@dataclass(frozen=True)
class VenueRounding:
    """Round to whole 0.01 shares at the ask; a stake under the venue's minimum becomes 0.

    ``min_notional``: USD a marketable order must reach ($1 on Polymarket);
    ``min_shares``: shares an order must reach (5 for resting orders).
    """

    min_notional: float = 1.0
    min_shares: float = 0.0

    def __post_init__(self) -> None:
        check_range("min_notional", self.min_notional, 0.0, 1e6)
        check_range("min_shares", self.min_shares, 0.0, 1e6)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.floor(stake / frame.price * 100 + 1e-9) / 100
        shares = np.nan_to_num(shares)
        rounded = shares * frame.price
        ok = (rounded >= self.min_notional) & (shares >= max(self.min_shares, 0.01))
        return np.where(ok, rounded, 0.0)


@dataclass(frozen=True)
class ArbSizer:
    """Equal shares on every leg of a group, within the best-level depth of every leg.

    Shares per leg = min(best-ask size over the legs, ``max_stake`` / sum of the
    legs' asks); each leg's stake is those shares at its ask.
    """

    max_stake: float = 50.0

    def __post_init__(self) -> None:
        check_range("max_stake", self.max_stake, 0.0, 1e7, lo_open=True)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        grouped, inverse, n = frame.groups()
        live = grouped & frame.accepted
        if not live.any():
            return np.zeros(len(frame))
        cost = np.bincount(inverse[live], weights=frame.price[live], minlength=n)
        depth = np.full(n, np.inf)
        np.minimum.at(depth, inverse[live], frame.ask_size[live])
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.minimum(depth, self.max_stake / cost)
        shares = np.floor(np.nan_to_num(shares, posinf=0.0) * 100 + 1e-9) / 100
        return np.where(live, shares[inverse] * frame.price, 0.0)


def apply_sizers(frame: SignalFrame, sizers: dict[str, Sizer], ctx: SizingContext) -> None:
    """Run the chain on accepted rows; a row whose stake ends at <= 0 is rejected."""
    stake = np.zeros(len(frame))
    ok = frame._ok  # updated in place by reject()
    for name, sizer in sizers.items():
        stake = np.where(ok, sizer.size(frame, stake, ctx), 0.0)
        frame.reject(~(stake > 0.0), _SIZER_REASON.get(name) or _reason(name), stake)
    reject_broken_groups(frame)
    frame.stake = np.where(ok, stake, 0.0)


_SIZER_REASON: dict[str, str] = {}


def _reason(name: str) -> str:
    _SIZER_REASON[name] = f"sizer.{name}"
    return _SIZER_REASON[name]
