"""Tests of the embedded market simulator: determinism, honesty, market calendar, books."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from engine.core.types import DOWN, UP, Book, Tick
from engine.sim import MarketSimulator
from engine.sim.books import build_ladders, level_sizes
from tests.unit.sim.support import (
    CONF,
    EPS,
    START,
    YEAR,
    assert_book_valid,
    run,
    scenario,
    ticks_equal,
)

SCENARIOS = sorted(p.stem for p in CONF.glob("*.yaml"))


def ref_fair(S: float, K: float, T_s: float, sigma: float) -> float:
    """Slow scalar N(d2) in plain math, the reference for the simulator's quotes."""
    T = T_s / YEAR
    d2 = (math.log(S / K) - 0.5 * sigma * sigma * T) / (sigma * math.sqrt(T))
    return 0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0)))


@pytest.fixture(scope="module")
def hour() -> list[Tick]:
    """One simulated hour plus one second of the default simulator."""
    return run(MarketSimulator(seed=11), 3601)


# --- determinism and honesty ---------------------------------------------------------


def test_same_seed_gives_identical_ticks():
    a, b = run(MarketSimulator(seed=5), 400), run(MarketSimulator(seed=5), 400)
    assert all(ticks_equal(x, y) for x, y in zip(a, b, strict=True))


def test_different_seeds_give_different_paths():
    a, b = run(MarketSimulator(seed=1), 50), run(MarketSimulator(seed=2), 50)
    assert a[-1].spot != b[-1].spot
    assert a[0].listed[0].market_id.startswith("sim1-")
    assert (
        a[0]
        .listed[0]
        .market_id.removeprefix(MarketSimulator(seed=1).market_prefix)
        .startswith("btc-updown-5m-")
    )
    assert b[0].listed[0].market_id.startswith("sim2-")


def test_market_prefix_changes_with_the_market():
    base = MarketSimulator(seed=1).market_prefix
    assert MarketSimulator(seed=1).market_prefix == base
    assert MarketSimulator(seed=1, vol=0.8).market_prefix != base
    assert MarketSimulator(seed=2).market_prefix.startswith("sim2-")


def test_a_tick_does_not_depend_on_how_far_the_sim_runs():
    short = run(MarketSimulator(seed=3), 350)
    long = run(MarketSimulator(seed=3), 1200)
    assert all(ticks_equal(x, y) for x, y in zip(short, long[:350], strict=True))


def test_published_books_are_read_only(hour):
    book = next(iter(hour[10].books.values()))
    with pytest.raises(ValueError):
        book.bids[0, 0] = 0.5


def test_clock_starts_at_start_and_moves_one_second():
    sim = MarketSimulator(seed=0)
    assert sim.now == START - 1
    ticks = run(sim, 3)
    assert [t.ts for t in ticks] == [START, START + 1, START + 2]
    assert sim.now == START + 2 == sim.start_ts + 2


# --- market calendar and resolution ---------------------------------------------------


def test_markets_are_back_to_back_for_every_symbol_and_window(hour):
    series = defaultdict(list)
    for tick in hour:
        for m in tick.listed:
            assert m.start_ts == tick.ts
            series[m.symbol, m.window_s].append(m)
    assert set(series) == {(s, w) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT") for w in (300, 900)}
    for (_, w), markets in series.items():
        assert markets[0].start_ts == START
        assert len(markets) == 3600 // w + 1
        for prev, nxt in zip(markets, markets[1:], strict=False):
            assert prev.end_ts == nxt.start_ts == prev.start_ts + w
    m = series["ETHUSDT", 900][1]
    assert m.market_id == f"{MarketSimulator(seed=11).market_prefix}eth-updown-15m-{START + 900}"
    assert (m.up_token, m.down_token) == (m.market_id + "-up", m.market_id + "-down")
    assert m.fee_rate == 0.07


def test_every_live_market_has_books_and_only_live_ones(hour):
    live = {}
    for tick in hour:
        for r in tick.resolved:
            del live[r.market_id]
        for m in tick.listed:
            live[m.market_id] = m
        tokens = {t for m in live.values() for t in (m.up_token, m.down_token)}
        assert set(tick.books) == tokens
        assert all(m.start_ts <= tick.ts < m.end_ts for m in live.values())
        assert len(tick.books) == 12


def test_listed_strike_is_spot_at_window_start(hour):
    for tick in hour:
        for m in tick.listed:
            assert m.strike == tick.spot[m.symbol]


def test_resolution_uses_spot_at_end_and_ties_go_up(hour):
    markets = {m.market_id: m for t in hour for m in t.listed}
    n = 0
    for tick in hour:
        for r in tick.resolved:
            m = markets[r.market_id]
            assert r.ts == m.end_ts == tick.ts
            assert r.start_price == m.strike
            assert r.end_price == tick.spot[m.symbol]
            assert r.winner == (UP if r.end_price >= r.start_price else DOWN)
            n += 1
    assert n == 3 * (12 + 4)


def test_flat_spot_resolves_every_market_up():
    sim = MarketSimulator(seed=0, vol=0.0, drift=0.0, jump_rate_per_day=0.0, mm_vol=0.45)
    resolved = [r for t in run(sim, 901) for r in t.resolved]
    assert len(resolved) == 3 * 4
    assert all(r.winner == UP and r.end_price == r.start_price for r in resolved)


# --- books ---------------------------------------------------------------------------


def test_books_are_valid_and_down_mirrors_up(hour):
    fine = 0
    for tick in hour:
        assert all(b.ts == tick.ts for b in tick.books.values())
        for tid, up in tick.books.items():
            if not tid.endswith("-up"):
                continue
            down = tick.books[tid[:-3] + "-down"]
            assert_book_valid(up)
            assert_book_valid(down)
            assert up.tick == down.tick
            assert np.allclose(down.bids[:, 0], 1 - up.asks[: len(down.bids), 0])
            assert np.allclose(down.asks[:, 0], 1 - up.bids[: len(down.asks), 0])
            if up.tick == 0.001:
                fine += 1
                assert up.mid > 0.95 or up.mid < 0.05
            else:
                assert 0.03 < up.mid < 0.97
    assert fine > 100  # near expiry most markets price beyond 0.96 / 0.04


def test_published_books_equal_books_built_by_their_constructor():
    """The simulator builds Books without Book.__init__ (speed): same fields and values."""
    names = [f.name for f in dataclasses.fields(Book)]
    for tick in run(scenario("lagging_mm", seed=6), 400)[::9]:
        for b in tick.books.values():
            ref = Book(b.token_id, b.bids, b.asks, b.ts, b.tick)
            for name in names:
                x, y = getattr(b, name), getattr(ref, name)
                assert type(x) is type(y)
                if isinstance(x, np.ndarray):
                    assert x is y
                elif name == "depth_usd":  # np.dot may sum in another order
                    assert x == pytest.approx(y, rel=1e-12)
                else:
                    assert x == y or (math.isnan(x) and math.isnan(y))


@settings(max_examples=300, deadline=None)
@given(
    mid=st.floats(0.0, 1.0),
    half_spread=st.floats(0.0005, 0.25),
    levels=st.integers(1, 8),
)
def test_ladders_are_valid_for_any_mid(mid, half_spread, levels):
    lad = build_ladders(np.array([mid]), half_spread, level_sizes(levels, 10.0))
    for k in (0, 1):
        book = Book(
            "x", lad.bids[k, : lad.n_bids[k]], lad.asks[k, : lad.n_asks[k]], 0.0, lad.tick[k]
        )
        assert_book_valid(book)
    fine = mid > 0.96 or mid < 0.04
    assert lad.tick[0] == (0.001 if fine else 0.01)


def test_up_mid_is_fair_value_of_spot_lagged_by_mm_lag_s():
    lag, vol = 5, 0.45
    sim = MarketSimulator(
        seed=4, symbols=["BTCUSDT"], windows=[900], mm_lag_s=lag, mm_noise=0.0, mm_vol=vol
    )
    ticks = run(sim, 1800)
    spots = [t.spot["BTCUSDT"] for t in ticks]
    err = np.zeros(13)
    n = 0
    market = None
    for i, tick in enumerate(ticks):
        market = tick.listed[0] if tick.listed else market
        if i < 15:
            continue
        mid = tick.books[market.up_token].mid
        fair = [
            ref_fair(spots[i - L], market.strike, market.end_ts - tick.ts, vol) for L in range(13)
        ]
        if not 0.05 < fair[lag] < 0.95:
            continue
        # Quotes are the floor/ceil of fair -/+ half_spread on the 0.01 grid: mid within half a tick.
        assert abs(mid - fair[lag]) <= 0.005 + EPS
        err += (mid - np.array(fair)) ** 2
        n += 1
    assert n > 500
    assert int(np.argmin(err)) == lag


def test_mm_noise_moves_the_mid_around_fair_value():
    quiet = run(MarketSimulator(seed=8, symbols=["BTCUSDT"], windows=[900], mm_noise=0.0), 300)
    noisy = run(MarketSimulator(seed=8, symbols=["BTCUSDT"], windows=[900], mm_noise=0.05), 300)
    # Different mm_noise means different market ids (the prefix fingerprints the config).
    q_tok, n_tok = quiet[0].listed[0].up_token, noisy[0].listed[0].up_token
    diff = np.array(
        [n.books[n_tok].mid - q.books[q_tok].mid for q, n in zip(quiet, noisy, strict=True)]
    )
    assert 0.03 < diff.std() < 0.07


# --- spot dynamics of the scenarios ----------------------------------------------------


def log_returns(name: str, n: int, every: int, seed: int = 0) -> np.ndarray:
    # Range events, leaders and headlines never move spot (test_informed, test_negrisk
    # check it): off here, to save time.
    sim = scenario(
        name,
        seed,
        symbols=["BTCUSDT"],
        windows=[900],
        negrisk_windows=[],
        leaders=[],
        news_noise_per_hour=0.0,
    )
    s = np.array([sim.step().spot["BTCUSDT"] for _ in range(n)])
    return np.diff(np.log(s[::every]))


def test_calm_realized_vol_is_near_vol():
    r = log_returns("lagging_mm", 20_000, 1)
    assert r.std() * math.sqrt(YEAR) == pytest.approx(0.45, rel=0.07)


def lag1_autocorr(x: np.ndarray) -> float:
    return float(np.corrcoef(x[:-1], x[1:])[0, 1])


def test_choppy_reverses_within_a_minute_calm_does_not():
    calm = lag1_autocorr(log_returns("lagging_mm", 20_000, 30))
    choppy = lag1_autocorr(log_returns("choppy", 20_000, 30))
    assert choppy < -0.12
    assert choppy < calm - 0.1


def test_trending_drifts_up_over_two_hours():
    moves = [log_returns("trending", 7201, 7200, seed)[0] for seed in range(3)]
    assert np.mean(moves) > 0.005


def test_jumpy_has_fat_tails():
    r = log_returns("jumpy", 20_000, 1)
    kurt = np.mean((r - r.mean()) ** 4) / r.var() ** 2
    assert kurt > 10


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_yaml_builds_a_simulator_with_every_field_explicit(name):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    assert OmegaConf.to_container(cfg)["seed"] == "${seed}"
    init_fields = {f.name for f in dataclasses.fields(MarketSimulator) if f.init}
    assert set(cfg) - {"_target_"} == init_fields
    sim = scenario(name, seed=42)
    tick = sim.step()
    updown = [m for m in tick.listed if m.kind == "updown"]
    ranges = [m for m in tick.listed if m.kind == "range"]
    assert tick.ts == START and len(updown) == 6
    assert len(ranges) == 3 * len(sim.negrisk_windows) * sim.negrisk_outcomes
    assert len(tick.books) == 2 * len(tick.listed)


def test_scenarios_are_the_four_documented_ones():
    assert SCENARIOS == ["choppy", "efficient", "jumpy", "lagging_mm", "trending"]


def test_omegaconf_containers_are_accepted():
    sim = MarketSimulator(
        seed=1,
        symbols=OmegaConf.create(["BTCUSDT", "DOGEUSDT"]),
        windows=OmegaConf.create([300]),
        initial_prices=OmegaConf.create({"DOGEUSDT": 0.3}),
    )
    tick = sim.step()
    assert sim.symbols == ("BTCUSDT", "DOGEUSDT") and sim.windows == (300,)
    assert tick.spot == {"BTCUSDT": 95_000.0, "DOGEUSDT": 0.3}
    assert tick.listed[1].market_id == f"{sim.market_prefix}doge-updown-5m-{START}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vol": -0.1}, r"sim\.vol=-0\.1 must be in \[0, 5\]"),
        ({"drift": 1e3}, r"sim\.drift=1000\.0 must be in \[-100, 100\]"),
        ({"mm_lag_s": 2.5}, r"sim\.mm_lag_s=2\.5 must be a whole number in \[0, 600\]"),
        ({"mm_noise": -1}, r"sim\.mm_noise=-1 must be in \[0, 0\.5\]"),
        ({"mm_informed": 1.5}, r"sim\.mm_informed=1\.5 must be in \[0, 1\]"),
        ({"mm_informed": "yes"}, r"sim\.mm_informed='yes' must be in \[0, 1\]"),
        ({"settle_noise": 0.1}, r"sim\.settle_noise=0\.1 must be in \[0, 0\.05\]"),
        ({"settle_noise": -0.001}, r"sim\.settle_noise=-0\.001 must be in \[0, 0\.05\]"),
        ({"half_spread": 0.0}, r"sim\.half_spread=0\.0 must be in \(0, 0\.25\]"),
        ({"levels": 0}, r"sim\.levels=0 must be a whole number in \[1, 50\]"),
        ({"fee_rate": 0.5}, r"sim\.fee_rate=0\.5 must be in \[0, 0\.25\]"),
        ({"jump_std": "big"}, r"sim\.jump_std='big' must be in \[0, 0\.5\]"),
        (
            {"vol": 0.0, "jump_rate_per_day": 0.0},
            r"sim\.mm_vol=None defaults to the process.s total vol 0\.0, must be in \(0, 5\]",
        ),
        ({"start": "2026-01-05T00:05:00Z"}, r"sim\.start='2026-01-05T00:05:00Z' must align"),
        ({"start": "2026-01-05T00:00:00"}, r"sim\.start=.* must be in UTC"),
        ({"start": "monday"}, r"sim\.start='monday' must be an ISO-8601 UTC time"),
        (
            {"windows": [90]},
            r"sim\.windows=\[90\] must be distinct multiples of 60 in \[60, 86400\]",
        ),
        ({"windows": [30]}, r"sim\.windows\[\]=30 must be a whole number in \[60, 86400\]"),
        ({"symbols": "BTCUSDT"}, r"sim\.symbols='BTCUSDT' must be a list of symbols"),
        ({"symbols": ["XRPUSDT"]}, r"sim\.initial_prices lacks 'XRPUSDT'"),
        ({"symbols": []}, r"sim\.symbols=\[\] must be a non-empty list"),
        ({"seed": -1}, r"sim\.seed=-1 must be an int in \[0, 2\*\*63\)"),
    ],
)
def test_invalid_parameters_name_the_field_value_and_range(kwargs, message):
    kwargs.setdefault("seed", 0)
    with pytest.raises(ValueError, match=message):
        MarketSimulator(**kwargs)


def test_config_fields_are_frozen():
    sim = MarketSimulator(seed=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim.vol = 1.0


def test_mm_lag_min_move_lags_only_fast_moves():
    lag, vol, k = 5, 0.45, 1.0
    sim = MarketSimulator(
        seed=4,
        symbols=["BTCUSDT"],
        windows=[900],
        mm_lag_s=lag,
        mm_noise=0.0,
        mm_vol=vol,
        mm_lag_min_move=k,
    )
    ticks = run(sim, 900)
    spots = [t.spot["BTCUSDT"] for t in ticks]
    scale = vol * math.sqrt(lag / YEAR)
    market, fast_seen, slow_seen = None, 0, 0
    for i, tick in enumerate(ticks):
        market = tick.listed[0] if tick.listed else market
        if i < 15:
            continue
        fast = abs(math.log(spots[i] / spots[i - lag])) > k * scale
        quoted = spots[i - lag] if fast else spots[i]
        fair = ref_fair(quoted, market.strike, market.end_ts - tick.ts, vol)
        if not 0.05 < fair < 0.95:
            continue
        assert abs(tick.books[market.up_token].mid - fair) <= 0.005 + EPS
        fast_seen += fast
        slow_seen += not fast
    assert fast_seen > 20 and slow_seen > 20


# --- the oracle price (settle_noise) -----------------------------------------------------


def test_markets_strike_and_resolve_on_a_noisy_oracle_price_not_on_spot():
    noisy = run(MarketSimulator(seed=8, settle_noise=0.0005, windows=[300]), 3 * 3600 + 1)
    plain = run(MarketSimulator(seed=8, windows=[300]), 3 * 3600 + 1)
    # Spot and every draw it uses are untouched: the oracle has a generator of its own.
    assert all(x.spot == y.spot for x, y in zip(noisy, plain, strict=True))
    for ticks, noise in ((noisy, 0.0005), (plain, 0.0)):
        symbol_of, gaps, resolved = {}, [], 0
        for t in ticks:
            for r in t.resolved:
                gaps.append(math.log(r.end_price / t.spot[symbol_of[r.market_id]]))
                assert (r.winner == UP) == (r.end_price >= r.start_price)
                resolved += 1
            for m in t.listed:
                symbol_of[m.market_id] = m.symbol
                gaps.append(math.log(m.strike / t.spot[m.symbol]))
        assert resolved > 100
        # The next window strikes on the price the last one resolved on, as on Polymarket.
        assert np.std(gaps) == pytest.approx(noise, rel=0.1, abs=0.0)


def test_market_makers_price_the_oracle_noise_in():
    """Near expiry the quote is N(d2) with variance sigma^2 T + settle_noise^2: less sure."""
    sim = MarketSimulator(
        seed=3, symbols=["BTCUSDT"], windows=[300], mm_lag_s=0, mm_noise=0.0, mm_vol=0.45,
        settle_noise=0.001,
    )  # fmt: skip
    ticks = run(sim, 1200)
    market, checked = None, 0
    for tick in ticks:
        market = tick.listed[0] if tick.listed else market
        T = (market.end_ts - tick.ts) / YEAR
        var = 0.45**2 * T + 0.001**2
        d2 = (math.log(tick.spot["BTCUSDT"] / market.strike) - 0.5 * var) / math.sqrt(var)
        fair = 0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0)))
        if 0.05 < fair < 0.95:
            assert tick.books[market.up_token].mid == pytest.approx(fair, abs=0.005 + 1e-9)
            checked += 1
    assert checked > 500
