"""Information events, leader wallets' trades and headlines: honest, deterministic, informative."""

from __future__ import annotations

import math
from collections import defaultdict, deque

import numpy as np
import pytest

from engine.core.types import Tick
from engine.sim import BEARISH_PHRASES, BULLISH_PHRASES, NEUTRAL_PHRASES, Leader, MarketSimulator
from tests.unit.sim.support import run, scenario, ticks_equal

EXTRA_PRICES = {"DOGEUSDT": 0.3, "XRPUSDT": 2.0, "ADAUSDT": 0.9}
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", *EXTRA_PRICES]
COINS = {s.removesuffix("USDT"): s for s in SYMBOLS}
LEADERS = [
    {"wallet": "0xskilled", "skill": 0.7, "delay_s": 3, "shares": 50.0},
    {"wallet": "0xnoise", "skill": 0.5, "delay_s": 3, "shares": 50.0},
]
# Three wallets of each skill triple the evidence per event at no cost in steps.
TEAMS = [
    {"wallet": f"{x['wallet']}{k}", "skill": x["skill"], "delay_s": k, "shares": 10.0 * k}
    for x in LEADERS
    for k in (1, 2, 3)
]
DELAY, HORIZON = 10, 120


def informed(seed: int = 0, **overrides) -> MarketSimulator:
    """Six symbols, frequent events, every leader in every event, a headline for each."""
    kwargs = dict(
        seed=seed,
        symbols=SYMBOLS,
        initial_prices=EXTRA_PRICES,
        windows=[300, 900],
        info_rate_per_hour=12.0,
        info_move=0.0025,
        info_horizon_s=HORIZON,
        info_delay_s=DELAY,
        leaders=LEADERS,
        leader_participation=1.0,
        leader_noise_per_hour=0.0,
        news_prob=1.0,
        news_lag_s=0,
        news_accuracy=0.8,
        news_noise_per_hour=3.0,
    )
    kwargs.update(overrides)
    return MarketSimulator(**kwargs)


def sentiment(text: str) -> int:
    phrase = text.split(": ", 1)[1]
    if phrase in BULLISH_PHRASES:
        return 1
    if phrase in BEARISH_PHRASES:
        return -1
    assert phrase in NEUTRAL_PHRASES
    return 0


class Run:
    """What a long run showed, kept small: log spot per second, trades, headlines."""

    def __init__(self, sim: MarketSimulator, n: int) -> None:
        self.sim = sim
        self.log_spot = {s: np.empty(n) for s in sim.symbols}
        self.trades, self.news, self.checked = [], [], 0
        recent: deque[Tick] = deque(maxlen=16)
        live = {}
        for k in range(n):
            tick = sim.step()
            recent.append(tick)
            for r in tick.resolved:
                del live[r.market_id]
            live.update((m.market_id, m) for m in tick.listed)
            for s, v in tick.spot.items():
                self.log_spot[s][k] = math.log(v)
            for t in tick.wallet_trades:
                self.check_trade(t, tick, recent, live)
            assert all(h.ts == tick.ts for h in tick.news)  # published when delivered
            self.trades += tick.wallet_trades
            self.news += tick.news

    def check_trade(self, t, tick, recent, live) -> None:
        """Delivered delay_s after the trade, at the then best ask of the token of the
        symbol's Up/Down market with the most time left (at least a minute)."""
        leader = next(x for x in self.sim.leaders if x.wallet == t.wallet)
        assert tick.ts == t.seen_ts == t.ts + leader.delay_s
        at = next(x for x in recent if x.ts == t.ts)
        m = live[t.market_id]
        assert t.token_id in (m.up_token, m.down_token) and m.kind == "updown"
        assert t.price == at.books[t.token_id].best_ask
        assert (t.side, t.shares) == ("BUY", leader.shares)
        then = [x for x in live.values() if x.symbol == m.symbol and x.start_ts <= t.ts]
        assert m.end_ts - t.ts == max(x.end_ts - t.ts for x in then) >= 60
        self.checked += 1

    def move(self, symbol: str, ts: float) -> float | None:
        """Log move of ``symbol`` from ``ts`` to the end of an event's drift begun at ``ts``."""
        i = int(ts - self.sim.start_ts)
        path = self.log_spot[symbol]
        return path[i + DELAY + HORIZON] - path[i] if i + DELAY + HORIZON < len(path) else None

    def direction(self, trade) -> int:
        return 1 if trade.token_id.endswith("-up") else -1

    def symbol(self, trade) -> str:
        coin = trade.market_id.removeprefix(self.sim.market_prefix).split("-")[0]
        return COINS[coin.upper()]


@pytest.fixture(scope="module")
def long_run() -> Run:
    """Four simulated hours: about 290 events, each traded by all six leaders."""
    return Run(informed(leaders=TEAMS), 4 * 3600 + DELAY + HORIZON + 10)


def hit_rate(r: Run, skill: float) -> tuple[float, int]:
    """How often leaders of ``skill`` bought the side the spot then moved to."""
    wallets = {x.wallet for x in r.sim.leaders if x.skill == skill}
    hits = [
        np.sign(m) == r.direction(t)
        for t in r.trades
        if t.wallet in wallets and (m := r.move(r.symbol(t), t.ts)) is not None
    ]
    return float(np.mean(hits)), len(hits)


# --- what the flows reveal -------------------------------------------------------------


def test_skilled_leaders_are_right_clearly_more_often_than_noise_leaders(long_run):
    skilled, n_skilled = hit_rate(long_run, 0.7)
    noise, n_noise = hit_rate(long_run, 0.5)
    assert n_skilled > 700 and n_noise > 700
    # Right about the drift with probability skill, and the drift (2.7 sd of the
    # diffusion over its horizon) sets the move's sign ~95% of the time: ~0.68 and 0.5.
    se = math.sqrt(0.25 / n_skilled)
    assert 0.62 < skilled < 0.74
    assert abs(noise - 0.5) < 3 * se
    assert skilled - noise > 0.1  # the expected gap is ~0.18, 0.1 is ~3 standard errors below


def test_headline_sentiment_predicts_the_following_drift_at_news_accuracy(long_run):
    r = long_run
    calls = [(h, sentiment(h.text)) for h in r.news]
    informed_ = [(h, s) for h, s in calls if s != 0]
    hits = [np.sign(m) == s for h, s in informed_ if (m := r.move(h.symbol, h.ts)) is not None]
    assert len(hits) > 200
    assert np.mean(hits) == pytest.approx(0.8, abs=0.08)
    # Neutral noise: 3 an hour per symbol, 6 symbols, 4 hours.
    assert 40 < len(calls) - len(informed_) < 110


def test_every_wallet_trade_was_checked_against_the_book_it_traded(long_run):
    assert long_run.checked == len(long_run.trades) > 400


def test_headlines_read_coin_colon_phrase(long_run):
    for h in long_run.news:
        coin, _ = h.text.split(": ", 1)
        assert COINS[coin] == h.symbol and h.source == "sim"
        sentiment(h.text)  # the phrase is from the lexicon
    assert len({h.text for h in long_run.news}) > 30


def test_lexicon_tuples_are_non_empty_and_disjoint():
    sets = [set(BULLISH_PHRASES), set(BEARISH_PHRASES), set(NEUTRAL_PHRASES)]
    assert all(len(s) >= 5 for s in sets)
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


# --- honesty ---------------------------------------------------------------------------


def test_a_tick_with_flows_does_not_depend_on_how_far_the_sim_runs():
    kw = dict(info_rate_per_hour=120.0, leader_noise_per_hour=30.0, news_lag_s=5)
    short = run(informed(seed=4, **kw), 600)
    long = run(informed(seed=4, **kw), 1500)
    assert sum(len(t.wallet_trades) for t in short) > 20 and any(t.news for t in short)
    assert all(x.seen_ts == t.ts > x.ts for t in short for x in t.wallet_trades)
    assert all(h.ts == t.ts for t in short for h in t.news)
    assert all(ticks_equal(x, y) for x, y in zip(short, long[:600], strict=True))


def test_same_seed_same_flows_and_another_seed_other_flows():
    a, b, c = (run(informed(seed=s, info_rate_per_hour=120.0), 900) for s in (5, 5, 6))
    assert all(ticks_equal(x, y) for x, y in zip(a, b, strict=True))
    assert [t.wallet_trades for t in a] != [t.wallet_trades for t in c]


def flat(**overrides) -> MarketSimulator:
    """Spot that moves only by information drifts; every headline tells the truth."""
    kw = dict(
        symbols=["BTCUSDT"],
        initial_prices=None,
        vol=0.0,
        mm_vol=0.45,
        drift=0.0,
        jump_rate_per_day=0.0,
        info_rate_per_hour=20.0,
        news_accuracy=1.0,
        news_noise_per_hour=0.0,
    )
    kw.update(overrides)
    return informed(seed=2, **kw)


def test_drift_starts_info_delay_after_the_event_and_totals_info_move():
    """Without diffusion, log spot is exactly the sum of the events' drift ramps."""
    ticks = run(flat(), 3600)
    log_s = np.log([t.spot["BTCUSDT"] for t in ticks])
    events = [(int(h.ts - ticks[0].ts), sentiment(h.text)) for t in ticks for h in t.news]
    assert len(events) > 10 and {d for _, d in events} == {-1, 1}
    n = np.arange(len(ticks))
    expected = np.full(len(ticks), math.log(95_000.0))
    for e, d in events:
        # The drift starts in second e + DELAY + 1 and is complete at e + DELAY + HORIZON.
        expected += d * 0.0025 * np.clip((n - e - DELAY) / HORIZON, 0.0, 1.0)
    np.testing.assert_allclose(log_s, expected, rtol=0, atol=1e-12)


def test_info_events_move_nothing_before_they_happen():
    """The same seed with and without information events: equal up to the first drift."""
    with_info = run(informed(seed=9), 1800)
    without = run(informed(seed=9, info_rate_per_hour=0.0), 1800)
    first = min(h.ts for t in with_info for h in t.news if sentiment(h.text) != 0)
    for x, y in zip(with_info, without, strict=True):
        if x.ts <= first + DELAY:
            assert x.spot == y.spot
    assert with_info[-1].spot != without[-1].spot


def strip(sim: MarketSimulator, tick: Tick) -> dict[str, tuple]:
    return {
        k.removeprefix(sim.market_prefix): (b.bids.tolist(), b.asks.tolist())
        for k, b in tick.books.items()
    }


def test_leader_trades_and_headlines_move_neither_spot_nor_books():
    a = informed(seed=12)
    b = informed(seed=12, leaders=[], news_prob=0.0, news_noise_per_hour=0.0)
    ta, tb = run(a, 1800), run(b, 1800)
    assert sum(len(t.wallet_trades) for t in ta) > 10
    assert not any(t.wallet_trades or t.news for t in tb)
    for x, y in zip(ta, tb, strict=True):
        assert x.spot == y.spot and strip(a, x) == strip(b, y)


def test_noise_trades_come_without_events_in_both_directions():
    sim = informed(
        seed=1,
        symbols=["BTCUSDT"],
        initial_prices=None,
        info_rate_per_hour=0.0,
        leader_noise_per_hour=120.0,
    )
    ticks = run(sim, 5400)
    trades = [t for tick in ticks for t in tick.wallet_trades]
    assert not any(tick.news and sentiment(tick.news[0].text) for tick in ticks)
    by_wallet = defaultdict(list)
    for t in trades:
        by_wallet[t.wallet].append(t.token_id.endswith("-up"))
    # 120 an hour per leader and symbol: about 180 per leader in 1.5 hours.
    for ups in by_wallet.values():
        assert 120 < len(ups) < 240 and 0.38 < np.mean(ups) < 0.62


def test_leaders_accept_mappings_or_leader_objects_and_keep_the_fingerprint():
    a = informed(seed=0)
    b = informed(seed=0, leaders=[Leader(**x) for x in LEADERS])
    assert a.leaders == b.leaders and isinstance(a.leaders[0], Leader)
    assert a.market_prefix == b.market_prefix
    assert informed(seed=0, leaders=LEADERS[:1]).market_prefix != a.market_prefix


def test_calm_scenario_has_all_flows():
    ticks = run(scenario("lagging_mm", seed=1), 3600)
    trades = [t for tick in ticks for t in tick.wallet_trades]
    assert {t.wallet for t in trades} == {"0xskilled", "0xnoise"}
    assert {sentiment(h.text) for tick in ticks for h in tick.news} == {-1, 0, 1}


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"info_rate_per_hour": -1}, r"sim\.info_rate_per_hour=-1 must be in \[0, 360\]"),
        ({"info_move": 0.5}, r"sim\.info_move=0\.5 must be in \[0, 0\.1\]"),
        ({"info_horizon_s": 0}, r"sim\.info_horizon_s=0 must be a whole number in \[1, 3600\]"),
        ({"info_delay_s": 1.5}, r"sim\.info_delay_s=1\.5 must be a whole number in \[0, 3600\]"),
        ({"news_lag_s": -2}, r"sim\.news_lag_s=-2 must be a whole number in \[0, 3600\]"),
        ({"leader_participation": 2}, r"sim\.leader_participation=2 must be in \[0, 1\]"),
        ({"leader_noise_per_hour": 1e4}, r"sim\.leader_noise_per_hour=10000\.0 must be in"),
        ({"news_prob": "often"}, r"sim\.news_prob='often' must be in \[0, 1\]"),
        ({"news_accuracy": -0.1}, r"sim\.news_accuracy=-0\.1 must be in \[0, 1\]"),
        ({"news_noise_per_hour": 400}, r"sim\.news_noise_per_hour=400 must be in \[0, 360\]"),
        ({"leaders": "0xabc"}, r"sim\.leaders='0xabc' must be a list of"),
        (
            {"leaders": [{"wallet": "a", "skill": 0.7}]},
            r"sim\.leaders\[0\]=.* must have exactly the keys wallet, skill, delay_s, shares",
        ),
        (
            {"leaders": [{"wallet": "a", "skill": 1.5, "delay_s": 3, "shares": 5}]},
            r"sim\.leaders\[0\]\.skill=1\.5 must be in \[0, 1\]",
        ),
        (
            {"leaders": [{"wallet": "", "skill": 0.5, "delay_s": 3, "shares": 5}]},
            r"sim\.leaders\[0\]\.wallet='' must be a non-empty string",
        ),
        (
            {"leaders": [{"wallet": "a", "skill": 0.5, "delay_s": -1, "shares": 5}]},
            r"sim\.leaders\[0\]\.delay_s=-1 must be a whole number in \[0, 3600\]",
        ),
        (
            {"leaders": [{"wallet": "a", "skill": 0.5, "delay_s": 1, "shares": 0}]},
            r"sim\.leaders\[0\]\.shares=0 must be in \(0, 1000000\]",
        ),
        ({"leaders": LEADERS[:1] * 2}, r"sim\.leaders wallets .* must be distinct"),
        (
            {"info_rate_per_hour": 360, "symbols": [f"S{k}USDT" for k in range(11)]},
            r"sim\.info_rate_per_hour=360\.0 times 11 symbols must be at most 3600",
        ),
        (
            {"leader_noise_per_hour": 300, "news_noise_per_hour": 300},
            r"sim\.leader_noise_per_hour=300\.0 and sim\.news_noise_per_hour=300\.0 make 5400",
        ),
    ],
)
def test_invalid_flow_parameters_name_the_field_value_and_range(kwargs, message):
    if "symbols" in kwargs and kwargs["symbols"][0].startswith("S"):
        kwargs["initial_prices"] = dict.fromkeys(kwargs["symbols"], 1.0)
    with pytest.raises(ValueError, match=message):
        informed(**kwargs)


# --- informed market makers (mm_informed) ------------------------------------------------


def ramp(n: np.ndarray | float, e: int) -> np.ndarray:
    """Share of an event at second ``e``'s drift that has reached spot by second ``n``."""
    return np.clip((np.asarray(n, dtype=float) - e - DELAY) / HORIZON, 0.0, 1.0)


def up_fair(S: float, K: float, T_s: float, sigma: float) -> float:
    T = T_s / (365.0 * 86400.0)
    d2 = (math.log(S / K) - 0.5 * sigma * sigma * T) / (sigma * math.sqrt(T))
    return 0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0)))


def test_informed_market_makers_quote_spot_plus_the_drift_due_before_the_market_ends():
    """mm_informed=1: from the second after an event, the UP mid is N(d2) at spot moved by
    the part of every known event's drift still to come before that market's end."""
    sim = flat(mm_informed=1.0, mm_noise=0.0, mm_lag_s=0, windows=[900])
    ticks = run(sim, 3600)
    events = [(int(h.ts - ticks[0].ts), sentiment(h.text)) for t in ticks for h in t.news]
    assert len(events) > 10
    market, checked, moved = None, 0, 0
    for n, tick in enumerate(ticks):
        market = tick.listed[0] if tick.listed else market
        end_n = int(market.end_ts - ticks[0].ts)
        pending = sum(d * 0.0025 * (ramp(end_n, e) - ramp(n, e)) for e, d in events if e < n)
        spot = tick.spot["BTCUSDT"]
        fair = up_fair(spot * math.exp(pending), market.strike, market.end_ts - tick.ts, 0.45)
        if n == 0 or not 0.05 < fair < 0.95:
            continue
        assert tick.books[market.up_token].mid == pytest.approx(fair, abs=0.005 + 1e-9)
        checked += 1
        moved += abs(fair - up_fair(spot, market.strike, market.end_ts - tick.ts, 0.45)) > 0.05
    assert checked > 1000 and moved > 100


def test_uninformed_and_informed_market_makers_share_spot_and_differ_only_while_drift_is_due():
    a, b = run(flat(mm_informed=0.0), 1800), run(flat(mm_informed=1.0), 1800)
    events = [int(h.ts - a[0].ts) for t in a for h in t.news]
    differ = [
        n for n, (x, y) in enumerate(zip(a, b, strict=True)) if strip_books(x) != strip_books(y)
    ]
    for x, y in zip(a, b, strict=True):
        assert x.spot == y.spot
        assert [(r.winner, r.end_price) for r in x.resolved] == [
            (r.winner, r.end_price) for r in y.resolved
        ]
    assert differ and all(any(e < n <= e + DELAY + HORIZON for e in events) for n in differ)


def strip_books(tick: Tick) -> list:
    return sorted((b.bids.tolist(), b.asks.tolist()) for b in tick.books.values())


def test_pending_drift_is_what_the_schedule_still_adds():
    sim = flat()
    flow = sim._state.flow
    assert flow.pending(0) is None
    ticks = run(sim, 1200)
    events = [(int(h.ts - ticks[0].ts), sentiment(h.text)) for t in ticks for h in t.news]
    n = len(ticks) - 1
    cum = flow.pending(n)
    live = [(e, d) for e, d in events if e + DELAY + HORIZON > n]
    if cum is None:
        assert not live
        return
    k = np.arange(cum.shape[0])
    expected = sum(d * 0.0025 * (ramp(n + 1 + k, e) - ramp(n, e)) for e, d in live)
    np.testing.assert_allclose(cum[:, 0], expected, atol=1e-15)
