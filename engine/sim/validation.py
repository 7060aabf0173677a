"""Validation of :class:`~engine.sim.simulator.MarketSimulator`'s fields.

:func:`validate` checks every field and normalises it in place (containers to
tuples and dicts, numbers to their types); each error names ``sim.<field>``, the
value and the allowed range.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

from engine.sim.common import check, parse_start, whole, windows
from engine.sim.informed import parse_leaders

if TYPE_CHECKING:
    from engine.sim.simulator import MarketSimulator

DEFAULT_PRICES = {"BTCUSDT": 95_000.0, "ETHUSDT": 3_300.0, "SOLUSDT": 190.0}


def validate(sim: MarketSimulator) -> None:
    """Check every field; normalise containers to tuples/dicts and numbers to their types."""
    set_ = object.__setattr__
    seed_ok = isinstance(sim.seed, numbers.Integral) and not isinstance(sim.seed, bool)
    if not seed_ok or not 0 <= sim.seed < 2**63:
        raise ValueError(f"sim.seed={sim.seed!r} must be an int in [0, 2**63)")
    set_(sim, "seed", int(sim.seed))
    _calendar(sim)
    check("vol", sim.vol, 0.0, 5.0)
    check("drift", sim.drift, -100.0, 100.0)
    check("jump_rate_per_day", sim.jump_rate_per_day, 0.0, 86400.0)
    check("jump_std", sim.jump_std, 0.0, 0.5)
    check("chop", sim.chop, 0.0, 10.0)
    check("chop_half_life_s", sim.chop_half_life_s, 1.0, 3600.0)
    check("vol_regime_switch", sim.vol_regime_switch, 0.0, 60.0)
    check("vol_high_mult", sim.vol_high_mult, 1.0, 10.0)
    set_(sim, "mm_lag_s", whole("mm_lag_s", sim.mm_lag_s, 0, 600))
    check("mm_lag_min_move", sim.mm_lag_min_move, 0.0, 20.0)
    check("mm_noise", sim.mm_noise, 0.0, 0.5)
    set_(sim, "mm_informed", check("mm_informed", sim.mm_informed, 0.0, 1.0))
    set_(sim, "settle_noise", check("settle_noise", sim.settle_noise, 0.0, 0.05))
    check("half_spread", sim.half_spread, 0.0, 0.25, lo_open=True)
    set_(sim, "levels", whole("levels", sim.levels, 1, 50))
    check("level_size", sim.level_size, 0.0, 1e9, lo_open=True)
    check("fee_rate", sim.fee_rate, 0.0, 0.25)
    _flow(sim)
    if sim.mm_vol is None:
        total = effective_vol(sim)
        if total <= 0.0:
            raise ValueError(
                f"sim.mm_vol=None defaults to the process's total vol {total!r}, must be in (0, 5]"
            )
        set_(sim, "mm_vol", total)
    check("mm_vol", sim.mm_vol, 0.0, 5.0, lo_open=True)
    _negrisk(sim)


def effective_vol(sim: MarketSimulator) -> float:
    """The spot process's total annualised vol: diffusion, jumps and information drifts.

    Market makers who know the process quote with this (``mm_vol: null``); the
    high-vol regime and chop are left out (the first is hidden state, the second
    reverts within a minute).
    """
    variance = (
        sim.vol**2
        + sim.jump_rate_per_day * 365.0 * sim.jump_std**2
        + sim.info_rate_per_hour * 24.0 * 365.0 * sim.info_move**2
    )
    return math.sqrt(variance)


def _calendar(sim: MarketSimulator) -> None:
    """Symbols, their initial prices, windows and the start time."""
    set_ = object.__setattr__
    if isinstance(sim.symbols, str):
        raise ValueError(f"sim.symbols={sim.symbols!r} must be a list of symbols")
    symbols = tuple(str(s) for s in sim.symbols)
    if not symbols or len(set(symbols)) != len(symbols):
        raise ValueError(
            f"sim.symbols={list(symbols)!r} must be a non-empty list of distinct symbols"
        )
    set_(sim, "symbols", symbols)
    set_(sim, "windows", windows("windows", sim.windows, allow_empty=False))
    set_(
        sim,
        "negrisk_windows",
        windows("negrisk_windows", sim.negrisk_windows, allow_empty=True),
    )
    start_ts = parse_start(sim.start)
    for w in (*sim.windows, *sim.negrisk_windows):
        if start_ts % w:
            raise ValueError(f"sim.start={sim.start!r} must align to every window ({w} s)")
    prices = dict(DEFAULT_PRICES)
    prices.update({str(k): v for k, v in (sim.initial_prices or {}).items()})
    for s in symbols:
        if s not in prices:
            raise ValueError(f"sim.initial_prices lacks {s!r}: give a price for every symbol")
        check(f"initial_prices.{s}", prices[s], 0.0, 1e12, lo_open=True)
    set_(sim, "initial_prices", {s: float(prices[s]) for s in symbols})


def _flow(sim: MarketSimulator) -> None:
    """Information events, leaders and news; at most one event a second in all."""
    set_ = object.__setattr__
    for name, lo, hi in _FLOW_RANGES:
        set_(sim, name, check(name, getattr(sim, name), lo, hi))
    for name in ("info_horizon_s", "info_delay_s", "news_lag_s"):
        lo = 1 if name == "info_horizon_s" else 0
        set_(sim, name, whole(name, getattr(sim, name), lo, 3600))
    set_(sim, "leaders", parse_leaders(sim.leaders))
    n_sym = len(sim.symbols)
    if sim.info_rate_per_hour * n_sym > 3600.0:
        raise ValueError(
            f"sim.info_rate_per_hour={sim.info_rate_per_hour!r} times {n_sym} symbols"
            " must be at most 3600 (one event a second)"
        )
    noise = n_sym * (len(sim.leaders) * sim.leader_noise_per_hour + sim.news_noise_per_hour)
    if noise > 3600.0:
        raise ValueError(
            f"sim.leader_noise_per_hour={sim.leader_noise_per_hour!r} and"
            f" sim.news_noise_per_hour={sim.news_noise_per_hour!r} make {noise:g} noise"
            " events an hour, must be at most 3600 (one a second)"
        )


def _negrisk(sim: MarketSimulator) -> None:
    """Range events: outcomes, bucket width and the probabilities of their variants."""
    set_ = object.__setattr__
    set_(sim, "negrisk_outcomes", whole("negrisk_outcomes", sim.negrisk_outcomes, 2, 20))
    set_(
        sim,
        "negrisk_bucket_sigma",
        check("negrisk_bucket_sigma", sim.negrisk_bucket_sigma, 0.0, 10.0, lo_open=True),
    )
    for name in ("negrisk_augmented_prob", "negrisk_mispricing_prob"):
        set_(sim, name, check(name, getattr(sim, name), 0.0, 1.0))
    set_(
        sim,
        "negrisk_mispricing",
        check("negrisk_mispricing", sim.negrisk_mispricing, 0.0, 0.2),
    )


_FLOW_RANGES = (
    ("info_rate_per_hour", 0.0, 360.0),
    ("info_move", 0.0, 0.1),
    ("leader_participation", 0.0, 1.0),
    ("leader_noise_per_hour", 0.0, 360.0),
    ("news_prob", 0.0, 1.0),
    ("news_accuracy", 0.0, 1.0),
    ("news_noise_per_hour", 0.0, 360.0),
)
