"""``hold``: one position per market per strategy (issue 15).

Held keys are (strategy, market, side), so Up/Down Capture, seeing spot move up and then down in
one window, bought UP and later DOWN of the same market (35 % of its markets in a seeded run).
``hold: market`` (the default of updown and itm) refuses the second side; ``hold: side`` keeps
the old behaviour, one position per side.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.gates import DeadZoneGate, SigmaGate
from engine.core.pipeline import decide
from engine.core.sizers import FixedStake, SizingContext
from engine.core.state import MarketState, VolConfig
from engine.core.strategies.common import not_held
from engine.core.strategies.itm import ItmCapture
from engine.core.strategies.updown import UpDownCapture
from engine.core.types import Book, Market, Tick
from engine.core.validation import ConfigError

T0 = 1_767_571_200.0  # 2026-01-05T00:00:00Z
K = 100_000.0
MARKET = Market("m1", "BTCUSDT", 300, T0, T0 + 300, K, "m1-up", "m1-down", 0.07)
SIZERS = {"fixed": FixedStake(stake=10.0)}


def book(token: str, ask: float) -> Book:
    return Book(token, np.array([[ask - 0.02, 50.0]]), np.array([[ask, 50.0]]), ts=0.0)


class Window:
    """One market's window, ticked forward second by second; the books ask ``asks``."""

    def __init__(self, asks: dict[str, float]) -> None:
        self.state = MarketState(VolConfig(half_life_s=60, warmup_s=10))
        self.asks = asks
        self.i = 0

    def tick(self, prices: list[float]) -> MarketState:
        for p in prices:
            books = {t: book(t, a) for t, a in self.asks.items()}
            listed = [MARKET] if self.i == 0 else []
            self.state.apply(Tick(T0 + self.i, {"BTCUSDT": p}, listed, books))
            self.i += 1
        return self.state


def wiggle(n: int, level: float = K, scale: float = 5.0) -> list[float]:
    return [level + scale * (-1) ** i for i in range(n)]


def updown(**kw) -> UpDownCapture:
    return UpDownCapture(
        lookback_s=10, eval_every_s=5, min_elapsed_s=30, min_remaining_s=15,
        gates={"sigma": SigmaGate(1.5), "dead_zone": DeadZoneGate()}, sizers=SIZERS, **kw,
    )  # fmt: skip


def entries(strategy, window: Window, moves: list[list[float]]) -> list[tuple[str, str, str]]:
    """Each move ticked, then the strategy decides; every accepted candidate becomes held (it
    filled). The held keys at the end: the positions the strategy took."""
    held: set[tuple[str, str, str]] = set()
    for prices in moves:
        state = window.tick(prices)
        for frame in decide(state, [strategy], ctx=SizingContext(bankroll=1000.0), held=held):
            for i in np.flatnonzero(frame.accepted):
                held.add((strategy.name, frame.market_id[i], frame.side[i]))
    return sorted(held)


# an up-move at t = 40 s, then a down-move back through the strike at t = 60 s
UP_THEN_DOWN = [wiggle(40) + [K * 1.002], wiggle(19, K * 1.002) + [K * 0.997]]


def test_updown_holds_one_side_of_a_market_by_default():
    assert updown().hold == "market"
    window = Window({"m1-up": 0.30, "m1-down": 0.30})
    assert entries(updown(), window, UP_THEN_DOWN) == [("updown", "m1", "UP")]


def test_updown_hold_side_is_the_old_behaviour_both_sides():
    window = Window({"m1-up": 0.30, "m1-down": 0.30})
    assert entries(updown(hold="side"), window, UP_THEN_DOWN) == [
        ("updown", "m1", "DOWN"),
        ("updown", "m1", "UP"),
    ]


def test_updown_proposes_nothing_on_a_market_whose_other_side_it_holds():
    window = Window({"m1-up": 0.30, "m1-down": 0.30})
    state = window.tick(wiggle(40) + [K * 0.998])  # a down-move: DOWN would fire
    held = {("updown", "m1", "UP")}
    assert len(updown().propose(state, held)) == 0
    assert updown(hold="side").propose(state, held).side.tolist() == ["DOWN"]
    # another strategy's position in the market does not count
    assert updown().propose(state, {("itm", "m1", "UP")}).side.tolist() == ["DOWN"]


def test_itm_holds_one_side_of_a_market_by_default():
    """Spot above the strike late in the window (UP in the money, held), then below it."""
    window = Window({"m1-up": 0.90, "m1-down": 0.90})
    window.tick(wiggle(241, K * 1.002))
    state = window.tick(wiggle(9, K * 0.998) + [K * 0.998])  # t = 250 s, DOWN in the money
    held = {("itm", "m1", "UP")}
    itm = ItmCapture(sizers=SIZERS)
    assert itm.hold == "market"
    assert len(itm.propose(state, held)) == 0
    assert ItmCapture(sizers=SIZERS, hold="side").propose(state, held).side.tolist() == ["DOWN"]


def test_not_held_per_market_and_per_side():
    held = {("s", "m1", "UP"), ("other", "m2", "DOWN")}
    markets = np.array(["m1", "m1", "m2", "m3"], dtype=object)
    sides = np.array(["UP", "DOWN", "UP", "DOWN"], dtype=object)
    assert not_held("s", markets, sides, held).tolist() == [False, True, True, True]
    assert not_held("s", markets, sides, held, hold="market").tolist() == [
        False, False, True, True,
    ]  # fmt: skip
    assert not_held("s", markets, sides, set(), hold="market").all()


@pytest.mark.parametrize("cls", [UpDownCapture, ItmCapture])
@pytest.mark.parametrize("bad", ["both", "Market", "", None, 1])
def test_hold_is_validated(cls, bad):
    with pytest.raises(ConfigError, match=r"^hold=.* must be one of 'market', 'side'$") as err:
        cls(sizers=SIZERS, hold=bad)
    assert err.value.field == "hold" and err.value.value == bad
