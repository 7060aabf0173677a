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
from engine.core.validation import check_declared, tunable


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

    kelly_fraction: float = tunable(
        0.25,
        lo=0.0,
        hi=1.0,
        lo_open=True,
        unit="fraction",
        writers="governor",
        description="stake = bankroll x kelly_fraction x f*",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        effective_price = frame.price + fee_per_share(frame.price, frame.fee_rate)
        f = kelly_fraction_binary(frame.fair, effective_price)
        return np.maximum(f, 0.0) * self.kelly_fraction * max(ctx.bankroll, 0.0)


@dataclass(frozen=True)
class FixedStake:
    """A fixed USD stake per candidate, scaled by ``confidence`` when ``by_confidence``."""

    stake: float = tunable(
        10.0,
        lo=0.0,
        hi=1e7,
        lo_open=True,
        unit="USD",
        writers="governor",
        description="a fixed stake per candidate",
    )
    by_confidence: bool = False

    def __post_init__(self) -> None:
        check_declared(self)

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

    min_mult: float = tunable(
        0.5,
        lo=0.5,
        hi=1.0,
        unit="multiplier",
        writers="governor",
        description="lowest delta-prior multiplier",
    )
    max_mult: float = tunable(
        1.5,
        lo=1.0,
        hi=1.5,
        unit="multiplier",
        writers="governor",
        description="highest delta-prior multiplier",
    )

    def __post_init__(self) -> None:
        check_declared(self)

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

    max_stake: float = tunable(
        25.0,
        lo=0.0,
        hi=1e7,
        lo_open=True,
        unit="USD",
        writers="governor",
        description="cap on one stake",
    )
    max_bankroll_fraction: float = tunable(
        0.05,
        lo=0.0,
        hi=1.0,
        lo_open=True,
        unit="fraction",
        writers="governor",
        description="cap on one stake as a fraction of the bankroll",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        cap = min(self.max_stake, self.max_bankroll_fraction * max(ctx.bankroll, 0.0))
        return np.minimum(stake, cap)


@dataclass(frozen=True)
class ExposureCap:
    """Keep open exposure within ``max_per_market`` and ``max_per_strategy`` USD.

    Rows are filled in order, so two candidates on one market share its room.
    """

    max_per_market: float = tunable(
        50.0,
        lo=0.0,
        hi=1e9,
        lo_open=True,
        unit="USD",
        writers="governor",
        description="open exposure per market",
    )
    max_per_strategy: float = tunable(
        250.0,
        lo=0.0,
        hi=1e9,
        lo_open=True,
        unit="USD",
        writers="governor",
        description="open exposure per strategy",
    )

    def __post_init__(self) -> None:
        check_declared(self)

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

    min_notional: float = tunable(
        1.0,
        lo=0.0,
        hi=1e6,
        unit="USD",
        writers="human",
        description="the venue's minimum marketable order",
    )
    min_shares: float = tunable(
        0.0,
        lo=0.0,
        hi=1e6,
        unit="shares",
        writers="human",
        description="the venue's minimum order size",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.floor(stake / frame.price * 100 + 1e-9) / 100
        shares = np.nan_to_num(shares)
        rounded = shares * frame.price
        ok = (rounded >= self.min_notional) & (shares >= max(self.min_shares, 0.01))
        return np.where(ok, rounded, 0.0)


@dataclass(frozen=True)
class ArbSizer:
    """One share count for every leg of a group: the most the group's every limit allows.

    Shares per leg = the lowest of: the best-ask size of every leg; ``max_stake`` and
    ``max_bankroll_fraction`` x bankroll over the group's cost (sum of the legs' asks), as
    StakeCap caps one stake; what is left of the bankroll; and the open-exposure room of
    ExposureCap: ``max_per_strategy`` for the group's cost, ``max_per_market`` for the legs
    the group has in each market (both legs of an Up/Down pair are one market). Groups are
    filled in row order and share the bankroll and the rooms, as ExposureCap's rows do. A
    limit scales the whole group: a group that cannot buy 0.01 share of every leg gets
    nothing (``sizer.arb``), and no group at all on a bankroll <= 0. Each leg's stake is
    those shares at its ask (fees on top, as everywhere). The stake so far is not read:
    this sizer starts the chain.
    """

    max_stake: float = tunable(
        50.0,
        lo=0.0,
        hi=1e7,
        lo_open=True,
        unit="USD",
        writers="governor",
        description="cap on the cost of one arb",
    )
    max_bankroll_fraction: float = tunable(
        0.05,
        lo=0.0,
        hi=1.0,
        lo_open=True,
        unit="fraction",
        writers="governor",
        description="cap on the cost of one arb as a fraction of the bankroll",
    )
    max_per_market: float = tunable(
        50.0,
        lo=0.0,
        hi=1e9,
        lo_open=True,
        unit="USD",
        writers="governor",
        description="open exposure per market, with the arb's legs there",
    )
    max_per_strategy: float = tunable(
        250.0,
        lo=0.0,
        hi=1e9,
        lo_open=True,
        unit="USD",
        writers="governor",
        description="open exposure per strategy, with the whole arb",
    )

    def __post_init__(self) -> None:
        check_declared(self)

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        out = np.zeros(len(frame))
        bankroll = max(ctx.bankroll, 0.0)
        grouped, inverse, n = frame.groups()
        live = grouped & frame.accepted
        if bankroll <= 0.0 or not live.any():
            return out
        rows = np.flatnonzero(live)
        g = inverse[rows]
        cost = np.bincount(g, weights=frame.price[rows], minlength=n)
        depth = np.full(n, np.inf)
        np.minimum.at(depth, g, frame.ask_size[rows])
        cap = min(self.max_stake, self.max_bankroll_fraction * bankroll)
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = np.minimum(depth, cap / cost)  # per group, before the shared rooms
        # Each group's legs (row order), groups taken in the order of their first leg.
        order = rows[np.argsort(g, kind="stable")]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(g, minlength=n))])
        present, first = np.unique(g, return_index=True)
        used_market = dict(ctx.exposure_by_market)
        room_strategy = self.max_per_strategy - ctx.exposure_by_strategy.get(frame.strategy, 0.0)
        room_bankroll = bankroll
        for k in present[np.argsort(first)].tolist():
            if not cost[k] > 0.0:  # NaN or no price: nothing to size on
                continue
            legs = order[bounds[k] : bounds[k + 1]]
            in_market: dict[str, float] = {}
            for m, p in zip(
                frame.market_id[legs].tolist(), frame.price[legs].tolist(), strict=True
            ):
                in_market[m] = in_market.get(m, 0.0) + p
            shares = min(limit[k], room_strategy / cost[k], room_bankroll / cost[k])
            for m, p in in_market.items():
                shares = min(shares, (self.max_per_market - used_market.get(m, 0.0)) / p)
            shares = float(_floor_cents(np.nan_to_num(np.float64(shares), posinf=0.0)))
            if not shares > 0.0:
                continue
            out[legs] = shares * frame.price[legs]
            for m, p in in_market.items():
                used_market[m] = used_market.get(m, 0.0) + shares * p
            room_strategy -= shares * cost[k]
            room_bankroll -= shares * cost[k]
        return out


@dataclass(frozen=True)
class ArbVenueRounding(VenueRounding):
    """VenueRounding for arb groups: one 0.01-share count per group, every leg at the minimums.

    A group's count is the lowest over its legs of the whole 0.01 shares its stake buys (the
    count ArbSizer gave every leg; lower only where a sizer after it trimmed one leg), so the
    legs never drift apart by a rounding. If any leg is rejected or, at that count, is under
    ``min_shares`` or ``min_notional``, every leg of the group gets 0: the venue's minimums
    are checked on the whole set before any leg is submitted. Rows outside a group are
    rounded as VenueRounding rounds them.
    """

    def size(self, frame: SignalFrame, stake: np.ndarray, ctx: SizingContext) -> np.ndarray:
        out = super().size(frame, stake, ctx)
        grouped, inverse, n = frame.groups()
        if not n:
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            leg_shares = _floor_cents(np.nan_to_num(stake / frame.price, posinf=0.0, neginf=0.0))
        live = grouped & frame.accepted & (stake > 0.0)
        g = inverse[grouped]
        count = np.full(n, np.inf)
        np.minimum.at(count, g, np.where(live, leg_shares, 0.0)[grouped])
        shares = np.where(grouped, count[inverse], 0.0)
        rounded = shares * frame.price
        leg_ok = live & (rounded >= self.min_notional) & (shares >= max(self.min_shares, 0.01))
        bad = np.bincount(g, weights=(~leg_ok[grouped]).astype(float), minlength=n) > 0
        return np.where(grouped, np.where(bad[inverse], 0.0, rounded), out)


def _floor_cents(shares: np.ndarray) -> np.ndarray:
    """Whole 0.01 shares at or under ``shares``, forgiving the floating-point error of a
    price multiplied in and divided out again (relative, so large orders keep their count)."""
    cents = np.asarray(shares, dtype=float) * 100
    return np.floor(cents + 1e-9 + np.abs(cents) * 1e-12) / 100


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
