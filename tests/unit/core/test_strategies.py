"""ITM Capture, Follow Mirror, News Trader and Negrisk Arb on hand-built market states."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.gates import (
    ArbProfitGate,
    ConfidenceGate,
    SignalAgeGate,
    SlippageGate,
    apply_gates,
)
from engine.core.news import KeywordClassifier
from engine.core.pipeline import decide
from engine.core.sizers import ArbSizer, FixedStake, SizingContext
from engine.core.state import MarketState, VolConfig
from engine.core.strategies.follow import FollowMirror, match_leader_trades
from engine.core.strategies.itm import ItmCapture
from engine.core.strategies.negrisk import NegriskArb
from engine.core.strategies.news import NewsTrader
from engine.core.types import RANGE, Book, Headline, Market, Tick, WalletTrade
from engine.core.validation import ConfigError

T0 = 1_767_571_200.0
K = 100_000.0
UPDOWN_5M = Market("m1", "BTCUSDT", 300, T0, T0 + 300, K, "m1-up", "m1-down", 0.07)
SIZERS = {"fixed": FixedStake(stake=10.0)}


def book(token: str, ask: float, size: float = 50.0, ts: float = 0.0) -> Book:
    return Book(token, np.array([[max(ask - 0.02, 0.01), size]]), np.array([[ask, size]]), ts=ts)


def run(
    n, markets, asks, *, price=lambda i: K + 5.0 * (-1) ** i, trades=None, news=None
) -> MarketState:
    """n ticks from T0; ``asks`` maps token -> best ask; extras arrive on the last tick."""
    state = MarketState(VolConfig(half_life_s=60, warmup_s=10))
    for i in range(n):
        ts = T0 + i
        books = {t: book(t, a, ts=ts) for t, a in asks.items()}
        last = i == n - 1
        state.apply(
            Tick(
                ts,
                {"BTCUSDT": price(i)},
                list(markets) if i == 0 else [],
                books,
                wallet_trades=(trades or []) if last else [],
                news=(news or []) if last else [],
            )
        )
    return state


# --- ITM Capture ---------------------------------------------------------------------


def test_itm_proposes_the_in_the_money_side_late_in_the_window():
    state = run(
        241,
        [UPDOWN_5M],
        {"m1-up": 0.90, "m1-down": 0.12},
        price=lambda i: K * 1.002 + 5.0 * (-1) ** i,
    )
    frame = ItmCapture(sizers=SIZERS).propose(state, held=set())
    assert frame.side.tolist() == ["UP"]  # spot above strike: Up is in the money
    assert frame.t_remaining_s.tolist() == [60.0]
    assert frame.fair[0] > 0.9 and frame.gamma_1pct[0] < 0  # ITM binary: concave
    assert frame.theta_1min[0] > 0  # and it earns as time passes


def test_itm_is_silent_early_in_the_window_and_picks_down_below_the_strike():
    assert (
        len(ItmCapture(sizers=SIZERS).propose(run(100, [UPDOWN_5M], {"m1-up": 0.9}), held=set()))
        == 0
    )
    state = run(
        241,
        [UPDOWN_5M],
        {"m1-up": 0.10, "m1-down": 0.90},
        price=lambda i: K * 0.998 + 5.0 * (-1) ** i,
    )
    assert ItmCapture(sizers=SIZERS).propose(state, held=set()).side.tolist() == ["DOWN"]


def test_itm_config_checks_its_window():
    with pytest.raises(ConfigError, match="min_remaining_s=200 must be <= max_remaining_s=120"):
        ItmCapture(min_remaining_s=200, sizers=SIZERS)


# --- Follow Mirror ---------------------------------------------------------------------


def trade(wallet="0xlead", ts=T0 + 50, outcome="up", price=0.50, market="m1", side="BUY"):
    """The leader's ``side`` (BUY/SELL, as the feed sends it) of ``market``'s ``outcome`` token."""
    return WalletTrade(wallet, ts, T0 + 59, market, f"{market}-{outcome}", side, price, 50.0)


def test_follow_proposes_the_leaders_token_with_age_and_reference_price():
    state = run(60, [UPDOWN_5M], {"m1-up": 0.51, "m1-down": 0.50}, trades=[trade()])
    frame = FollowMirror(leaders=["0xlead"], sizers=SIZERS).propose(state, held=set())
    assert frame.token_id.tolist() == ["m1-up"]
    assert frame.age_s.tolist() == [9.0] and frame.ref_price.tolist() == [0.50]
    assert frame.trigger.tolist() == [f"0xlead@{int(T0 + 50)}"]
    apply_gates(
        frame, {"age": SignalAgeGate(max_age_s=10), "slip": SlippageGate(max_slippage=0.02)}
    )
    assert frame.accepted.tolist() == [True]


def test_follow_refuses_stale_or_run_away_signals_and_ignores_strangers():
    state = run(
        60, [UPDOWN_5M], {"m1-up": 0.55}, trades=[trade(ts=T0 + 40), trade(wallet="0xstranger")]
    )
    frame = FollowMirror(leaders=["0xlead"], sizers=SIZERS).propose(state, held=set())
    assert len(frame) == 1  # the stranger is not followed
    apply_gates(
        frame, {"age": SignalAgeGate(max_age_s=10), "slip": SlippageGate(max_slippage=0.02)}
    )
    assert frame.reason.tolist() == ["gate.age"]
    state = run(60, [UPDOWN_5M], {"m1-up": 0.55}, trades=[trade()])
    frame = FollowMirror(leaders=["0xlead"], sizers=SIZERS).propose(state, held=set())
    apply_gates(
        frame, {"age": SignalAgeGate(max_age_s=10), "slip": SlippageGate(max_slippage=0.02)}
    )
    assert frame.reason.tolist() == ["gate.slip"]
    assert frame.reason_value[0] == pytest.approx(0.05)


def test_follow_needs_leaders():
    with pytest.raises(ConfigError, match="leaders"):
        FollowMirror(leaders=[], sizers=SIZERS)


def test_follow_buys_the_token_the_leader_bought_whichever_outcome_it_is():
    asks = {"m1-up": 0.51, "m1-down": 0.50}
    state = run(60, [UPDOWN_5M], asks, trades=[trade(outcome="down"), trade(wallet="0xb")])
    frame = FollowMirror(leaders=["0xlead", "0xb"], sizers=SIZERS).propose(state, held=set())
    assert frame.side.tolist() == ["DOWN", "UP"]
    assert frame.token_id.tolist() == ["m1-down", "m1-up"] and frame.accepted.all()
    # A side already held is not proposed again; the other one still is.
    held = {("follow", "m1", "DOWN")}
    frame = FollowMirror(leaders=["0xlead", "0xb"], sizers=SIZERS).propose(state, held=held)
    assert frame.side.tolist() == ["UP"]


def test_follow_never_copies_a_leader_exit_and_skips_unknown_tokens():
    trades = [
        trade(side="SELL"),  # the leader leaves Up: not a buy of Up, nor of Down
        trade(outcome="up", wallet="0xb"),  # same token, same second: its own row and key
        trade(market="m9"),  # a market we do not know
        WalletTrade("0xlead", T0 + 50, T0 + 59, "m2", "m1-down", "BUY", 0.5, 50.0),  # wrong market
    ]
    state = run(60, [UPDOWN_5M], {"m1-up": 0.51, "m1-down": 0.50}, trades=trades)
    frame = FollowMirror(leaders=["0xlead", "0xb"], sizers=SIZERS).propose(state, held=set())
    assert frame.side.tolist() == ["UP", "UP"] and frame.token_id.tolist() == ["m1-up"] * 2
    assert frame.reason.tolist() == ["strategy.leader_exit", None]
    assert len(set(frame.keys())) == 2
    assert match_leader_trades(trades, state.live)[2].tolist() == [
        "strategy.leader_exit",
        None,
        "strategy.unknown_token",
        "strategy.unknown_token",
    ]
    only_exit = run(60, [UPDOWN_5M], {"m1-up": 0.51}, trades=[trade(side="SELL")])
    frame = decide(
        only_exit,
        [FollowMirror(leaders=["0xlead"], sizers=SIZERS)],
        ctx=SizingContext(bankroll=1000.0),
        held=set(),
    )[0]
    assert not frame.accepted.any() and frame.stake.tolist() == [0.0]


# --- News Trader ---------------------------------------------------------------------


def test_keyword_classifier_is_transparent():
    c = KeywordClassifier()
    assert c.classify("Bitcoin: spot ETF inflows surge") == (1, 1.0)
    assert c.classify("Exchange hack halts withdrawals") == (-1, 1.0)
    assert c.classify("Solana outage") == (-1, 0.6)
    assert c.classify("Market update: analysts split") == (0, 0.0)
    with pytest.raises(ConfigError, match="must not share words"):
        KeywordClassifier(bullish=["surge"], bearish=["surge"])


def test_news_trades_the_direction_on_every_live_market_of_the_symbol():
    m15 = Market("m2", "BTCUSDT", 900, T0, T0 + 900, K, "m2-up", "m2-down", 0.07)
    eth = Market("m3", "ETHUSDT", 300, T0, T0 + 300, 3300.0, "m3-up", "m3-down", 0.07)
    asks = {t: 0.5 for t in ("m1-up", "m1-down", "m2-up", "m2-down", "m3-up", "m3-down")}
    news = [Headline(T0 + 59, "BTCUSDT", "Bitcoin: exchange hack halts withdrawals")]
    state = run(60, [UPDOWN_5M, m15, eth], asks, news=news)
    frame = NewsTrader(sizers=SIZERS).propose(state, held=set())
    assert sorted(frame.token_id.tolist()) == ["m1-down", "m2-down"]
    assert frame.confidence.tolist() == [1.0, 1.0]
    assert len(set(frame.keys())) == 2


def test_news_neutral_headline_is_recorded_and_rejected_by_confidence():
    news = [Headline(T0 + 59, "BTCUSDT", "Market update")]
    state = run(60, [UPDOWN_5M], {"m1-up": 0.5, "m1-down": 0.5}, news=news)
    strategy = NewsTrader(
        gates={"confidence": ConfidenceGate(0.5)}, sizers={"fixed": FixedStake(by_confidence=True)}
    )
    (frame,) = decide(state, [strategy], ctx=SizingContext(bankroll=1000.0), held=set())
    assert frame.reason.tolist() == ["gate.confidence"]


# --- Negrisk Arb ---------------------------------------------------------------------


def event(augmented=False):
    edges = [0.0, 99_000.0, 100_000.0, 101_000.0, float("inf")]
    return [
        Market(
            f"e-o{i}",
            "BTCUSDT",
            900,
            T0,
            T0 + 900,
            K,
            f"e-o{i}-yes",
            f"e-o{i}-no",
            0.07,
            kind=RANGE,
            event_id="e",
            low=lo,
            high=hi,
            label="Other" if augmented and i == 3 else f"b{i}",
            augmented=augmented,
        )  # fmt: skip
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]


def test_negrisk_buys_every_leg_when_the_set_is_cheap():
    asks = {"e-o0-yes": 0.10, "e-o1-yes": 0.35, "e-o2-yes": 0.35, "e-o3-yes": 0.10}  # sum 0.90
    state = run(61, event(), asks)
    strategy = NegriskArb(
        updown_pairs=False,
        eval_every_s=1,
        gates={"arb": ArbProfitGate(0.01)},
        sizers={"arb": ArbSizer(50.0)},
    )
    (frame,) = decide(state, [strategy], ctx=SizingContext(bankroll=1000.0), held=set())
    fees = sum(0.07 * a * (1 - a) for a in asks.values())
    assert frame.group_profit.tolist() == pytest.approx([1 - 0.90 - fees] * 4)
    assert frame.accepted.all()
    shares = frame.stake / frame.price
    assert shares == pytest.approx(np.full(4, shares[0]))  # equal shares per leg
    assert len(set(frame.group_key.tolist())) == 1


def test_negrisk_rejects_expensive_sets_and_augmented_events():
    expensive = {"e-o0-yes": 0.10, "e-o1-yes": 0.45, "e-o2-yes": 0.45, "e-o3-yes": 0.10}
    # A set that costs more than $1 is no candidate at all: the scanner proposes nothing.
    strategy = NegriskArb(updown_pairs=False, eval_every_s=1, sizers={"arb": ArbSizer(50.0)})
    assert len(strategy.propose(run(61, event(), expensive), held=set())) == 0
    near_miss = {
        "e-o0-yes": 0.10,
        "e-o1-yes": 0.37,
        "e-o2-yes": 0.38,
        "e-o3-yes": 0.10,
    }  # 0.95 + 0.045 fees
    strategy = NegriskArb(
        updown_pairs=False,
        eval_every_s=1,
        gates={"arb": ArbProfitGate(0.01)},
        sizers={"arb": ArbSizer(50.0)},
    )
    (frame,) = decide(
        run(61, event(), near_miss), [strategy], ctx=SizingContext(bankroll=1000.0), held=set()
    )
    assert set(frame.reason.tolist()) == {"gate.arb"}  # a near miss: profit under min_profit
    cheap = {"e-o0-yes": 0.10, "e-o1-yes": 0.35, "e-o2-yes": 0.35, "e-o3-yes": 0.10}
    (frame,) = decide(
        run(61, event(augmented=True), cheap),
        [strategy],
        ctx=SizingContext(bankroll=1000.0),
        held=set(),
    )
    assert set(frame.reason.tolist()) == {"strategy.augmented_event"}


def test_negrisk_updown_pair_form():
    state = run(61, [UPDOWN_5M], {"m1-up": 0.45, "m1-down": 0.45})
    strategy = NegriskArb(
        eval_every_s=1, gates={"arb": ArbProfitGate(0.01)}, sizers={"arb": ArbSizer(50.0)}
    )
    (frame,) = decide(state, [strategy], ctx=SizingContext(bankroll=1000.0), held=set())
    assert sorted(frame.side.tolist()) == ["DOWN", "UP"]
    assert frame.group_profit[0] == pytest.approx(1 - 0.9 - 2 * 0.07 * 0.45 * 0.55)
    assert frame.accepted.all()
