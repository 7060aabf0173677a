"""Negrisk Arb: buy every outcome when the whole set costs less than the $1 it surely pays.

In a neg-risk event exactly one outcome resolves Yes, so one Yes share of each
outcome pays exactly $1. When the best Yes asks plus taker fees sum below
``1 - min_profit`` (the ``arb_profit`` gate), buying equal shares of every leg
locks the difference. Events with an unnamed catch-all outcome ("Other",
augmented events) are refused: the listed legs do not cover every case. The
Up/Down pair form does the same with a market's Up and Down tokens.

Every leg is a row; legs share a ``group_key`` and stand or fall together at
the gates and sizers. ``group_profit`` = 1 - sum(ask + fee per share). Only
sets that cost less than $1 after fees are candidates at all (a scanner that
finds no arb proposes nothing); the ``arb_profit`` gate then records the
near misses whose profit is under ``min_profit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.core.fees import fee_per_share
from engine.core.frame import SignalFrame
from engine.core.gates import Gate
from engine.core.sizers import Sizer
from engine.core.state import MarketState
from engine.core.strategies.base import Held, check_common, eval_every, min_remaining
from engine.core.strategies.common import eligible, price_rows, window_trigger
from engine.core.types import RANGE, UPDOWN
from engine.core.validation import check_declared


@dataclass(frozen=True)
class NegriskArb:
    name: str = "negrisk"
    enabled: bool = True
    symbols: list[str] = field(default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    windows: list[int] = field(default_factory=lambda: [300, 900])
    updown_pairs: bool = True
    eval_every_s: int = eval_every(5, "event")
    min_remaining_s: int = min_remaining(30, "no arb with less than this left")
    gates: dict[str, Gate] = field(default_factory=dict)
    sizers: dict[str, Sizer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_common(self)
        check_declared(self)

    def _rows(self, state: MarketState, kind: str) -> np.ndarray:
        return np.flatnonzero(
            eligible(
                state,
                symbols=self.symbols,
                windows=self.windows,
                kind=kind,
                every_s=self.eval_every_s,
                min_elapsed_s=0,
                min_remaining_s=self.min_remaining_s,
            )
        )

    def propose(self, state: MarketState, held: Held) -> SignalFrame:
        held_markets = {m for (s, m, _side) in held if s == self.name}
        frames = [self._events(state, held_markets)]
        if self.updown_pairs:
            frames.append(self._pairs(state, held_markets))
        return SignalFrame.concat(self.name, state.ts, frames)

    def _events(self, state: MarketState, held_markets: set[str]) -> SignalFrame:
        live = state.live
        idx = self._rows(state, RANGE)
        if not len(idx):
            return SignalFrame.empty(self.name, state.ts)
        legs: dict[str, list[int]] = {}
        for r, e in zip(idx.tolist(), live.event_id[idx].tolist(), strict=True):
            legs.setdefault(e, []).append(r)
        keep: list[int] = []
        for e, rows in legs.items():
            complete = len(rows) == int((live.event_id == e).sum())  # every leg still live
            held = any(live.market_id[r] in held_markets for r in rows)
            if (
                complete
                and not held
                and _set_cost(state, live.up_token[rows], live.fee_rate[rows]) < 1.0
            ):
                keep.extend(rows)
        if not keep:
            return SignalFrame.empty(self.name, state.ts)
        idx = np.array(keep, dtype=int)
        trigger = window_trigger(state, idx)
        frame = price_rows(
            state,
            self.name,
            idx,
            np.ones(len(idx), dtype=bool),
            trigger,
            model=False,
            group_key=np.array(
                [f"{e}|{t}" for e, t in zip(live.event_id[idx], trigger, strict=True)], dtype=object
            ),
        )
        self._group_profit(frame)
        frame.reject(live.augmented[idx], "strategy.augmented_event", 1.0)
        return frame

    def _pairs(self, state: MarketState, held_markets: set[str]) -> SignalFrame:
        live = state.live
        idx = self._rows(state, UPDOWN)
        if not len(idx):
            return SignalFrame.empty(self.name, state.ts)
        cost = _leg_cost(state, live.up_token[idx], live.fee_rate[idx]) + _leg_cost(
            state, live.down_token[idx], live.fee_rate[idx]
        )
        idx = idx[cost < 1.0]
        idx = idx[[m not in held_markets for m in live.market_id[idx]]]
        if not len(idx):
            return SignalFrame.empty(self.name, state.ts)
        both = np.concatenate([idx, idx])
        up = np.concatenate([np.ones(len(idx), bool), np.zeros(len(idx), bool)])
        trigger = window_trigger(state, both)
        group = np.array(
            [f"{m}|pair|{t}" for m, t in zip(live.market_id[both], trigger, strict=True)],
            dtype=object,
        )
        frame = price_rows(state, self.name, both, up, trigger, model=False, group_key=group)
        self._group_profit(frame)
        return frame

    @staticmethod
    def _group_profit(frame: SignalFrame) -> None:
        cost = frame.price + fee_per_share(frame.price, frame.fee_rate)
        _grouped, inverse, n = frame.groups()
        frame.group_profit = 1.0 - np.bincount(inverse, weights=cost, minlength=n)[inverse]


def _leg_cost(state: MarketState, tokens: np.ndarray, fee_rate: np.ndarray) -> np.ndarray:
    """Best ask plus taker fee per share of each token (NaN without a book)."""
    books = state.books
    ask = np.array(
        [b.best_ask if (b := books.get(t)) is not None else np.nan for t in tokens.tolist()]
    )
    return ask + fee_per_share(ask, fee_rate)


def _set_cost(state: MarketState, tokens: np.ndarray, fee_rate: np.ndarray) -> float:
    return float(_leg_cost(state, tokens, fee_rate).sum())
