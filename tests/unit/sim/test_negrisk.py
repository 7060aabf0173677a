"""Neg-risk range events: buckets, labels, books, mispricing and resolution."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.types import DOWN, RANGE, UP
from engine.sim import MarketSimulator
from engine.sim.negrisk import bucket_edges, nice_step
from tests.unit.sim.support import START, YEAR, assert_book_valid, run, scenario

OUTCOMES = 5


def ranged(seed: int = 3, **overrides) -> MarketSimulator:
    kwargs = dict(
        seed=seed,
        windows=[300],
        negrisk_windows=[900],
        negrisk_outcomes=OUTCOMES,
        negrisk_augmented_prob=0.3,
        negrisk_mispricing_prob=0.5,
    )
    kwargs.update(overrides)
    return MarketSimulator(**kwargs)


class Run:
    """Two simulated hours of range events, seen tick by tick (only what the tests need)."""

    def __init__(self, sim: MarketSimulator, n: int, *, check_every: int = 0) -> None:
        self.sim = sim
        self.events: dict[str, list] = defaultdict(list)
        self.resolutions = {}
        self.spot = {}
        self.yes_sums = []  # (sum of best Yes asks, sum of their taker fees per share)
        live, current = {}, {}
        for k in range(n):
            tick = sim.step()
            self.spot[tick.ts] = tick.spot
            for r in tick.resolved:
                del live[r.market_id]
                self.resolutions[r.market_id] = r
            for m in tick.listed:
                assert m.start_ts == tick.ts
                live[m.market_id] = m
                if m.kind == RANGE:
                    self.events[m.event_id].append(m)
                    current[m.symbol, m.window_s] = self.events[m.event_id]
            assert set(tick.books) == {t for m in live.values() for t in (m.up_token, m.down_token)}
            for ms in current.values():
                asks = [tick.books[m.up_token].best_ask for m in ms]
                fees = sum(m.fee_rate * a * (1 - a) for m, a in zip(ms, asks, strict=True))
                self.yes_sums.append((sum(asks), fees))
            if check_every and k % check_every == 0:
                self.check_books(tick, live)

    @staticmethod
    def check_books(tick, live) -> None:
        for m in live.values():
            if m.kind != RANGE:
                continue
            yes, no = tick.books[m.up_token], tick.books[m.down_token]
            assert_book_valid(yes)
            assert_book_valid(no)
            assert yes.tick == no.tick and yes.ts == no.ts == tick.ts
            assert np.allclose(no.bids[:, 0], 1 - yes.asks[: len(no.bids), 0])
            assert np.allclose(no.asks[:, 0], 1 - yes.bids[: len(no.asks), 0])


@pytest.fixture(scope="module")
def two_hours() -> Run:
    return Run(ranged(), 2 * 3600 + 1, check_every=20)


def test_events_are_listed_back_to_back_per_symbol(two_hours):
    starts = defaultdict(list)
    for eid, ms in two_hours.events.items():
        assert len(ms) == OUTCOMES
        assert {(m.symbol, m.window_s, m.start_ts, m.end_ts, m.strike) for m in ms} == {
            (ms[0].symbol, 900, ms[0].start_ts, ms[0].start_ts + 900, ms[0].strike)
        }
        assert all(m.kind == RANGE and m.event_id == eid for m in ms)
        assert ms[0].strike == two_hours.spot[ms[0].start_ts][ms[0].symbol]
        starts[ms[0].symbol].append(ms[0].start_ts)
    assert sorted(starts) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert all(v == [START + 900 * k for k in range(9)] for v in starts.values())


def test_buckets_cover_zero_to_infinity_without_gaps_around_the_strike(two_hours):
    for ms in two_hours.events.values():
        assert ms[0].low == 0.0 and ms[-1].high == math.inf
        for a, b in zip(ms, ms[1:], strict=False):
            assert a.low < a.high == b.low < b.high
        mid = ms[OUTCOMES // 2]
        assert mid.low <= mid.strike < mid.high


def test_exactly_one_outcome_resolves_yes_per_event(two_hours):
    done = 0
    for ms in two_hours.events.values():
        rs = [two_hours.resolutions.get(m.market_id) for m in ms]
        if rs[0] is None:
            assert ms[0].end_ts > START + 7200 and not any(rs)
            continue
        end = two_hours.spot[ms[0].end_ts][ms[0].symbol]
        assert [r.winner for r in rs].count(UP) == 1
        for m, r in zip(ms, rs, strict=True):
            assert (r.start_price, r.end_price, r.ts) == (m.strike, end, m.end_ts)
            assert r.winner == (UP if m.low <= end < m.high else DOWN)
        done += 1
    assert done == 3 * 8


def test_labels_and_the_augmented_other_outcome(two_hours):
    kinds = set()
    for ms in two_hours.events.values():
        coin = ms[0].symbol.removesuffix("USDT")
        augmented = ms[0].augmented
        kinds.add(augmented)
        assert all(m.augmented == augmented for m in ms)
        assert ms[0].label == f"{coin} < {ms[0].high:,.{decimals(ms[0].label)}f}"
        assert all("–" in m.label for m in ms[1:-1])
        assert [m.label == "Other" for m in ms].count(True) == int(augmented)
        if augmented:
            assert ms[-1].label == "Other" and ms[-1].market_id.endswith("-other")
            assert ms[-1].high == math.inf  # the catch-all still says what it covers
        else:
            assert ms[-1].label.startswith("≥ ")
    assert kinds == {False, True}


def decimals(label: str) -> int:
    number = label.split()[-1]
    return len(number.split(".")[1]) if "." in number else 0


def test_ids_are_prefixed_unique_stable_and_without_spaces(two_hours):
    sim = two_hours.sim
    ids = [m.market_id for ms in two_hours.events.values() for m in ms]
    tokens = [t for ms in two_hours.events.values() for m in ms for t in (m.up_token, m.down_token)]
    assert len(set(ids)) == len(ids) and len(set(tokens)) == len(tokens)
    assert all(i.startswith(sim.market_prefix) and " " not in i for i in ids)
    first = [m for m in ranged().step().listed if m.kind == RANGE]
    assert [m.market_id for m in first] == ids[: len(first)]
    btc = first[0].market_id.removeprefix(sim.market_prefix)
    assert btc.startswith(f"btc-range-15m-{START}-lt")
    assert first[0].up_token == first[0].market_id + "-yes"
    assert first[0].down_token == first[0].market_id + "-no"


def test_mispricing_makes_the_yes_asks_sum_below_one_sometimes(two_hours):
    sums = np.array([s for s, _ in two_hours.yes_sums])
    assert 0.0 < np.mean(sums < 1.0) < 0.3


def test_after_fees_arbitrage_needs_mispricing_and_noise():
    """Shading 5 x 0.02 alone leaves the asks' sum just above 1 - fees; with quote noise
    it sometimes dips below."""
    noisy = Run(ranged(seed=1, negrisk_mispricing_prob=1.0, mm_noise=0.01), 3600)
    assert any(s + f < 1.0 for s, f in noisy.yes_sums)
    quiet = Run(ranged(seed=1, negrisk_mispricing_prob=1.0, mm_noise=0.0), 3600)
    assert any(s < 1.0 for s, _ in quiet.yes_sums)
    assert not any(s + f < 1.0 for s, f in quiet.yes_sums)


def test_without_mispricing_or_noise_the_yes_asks_sum_above_one():
    """Each ask is at least its mid + half_spread, except one clamped at 0.999 when its
    mid is above 0.96; the mids sum to 1, so the asks sum to >= 1 + (n - 1) * half_spread - 0.001."""
    r = Run(ranged(seed=2, negrisk_mispricing_prob=0.0, mm_noise=0.0), 3600)
    sums = np.array([s for s, _ in r.yes_sums])
    assert sums.min() >= 1.0 + (OUTCOMES - 1) * 0.01 - 0.001 - 1e-9


def ref_bucket(S: float, lo: float, hi: float, T_s: float, sigma: float) -> float:
    """Slow scalar P(lo <= S_T < hi), S_T lognormal with the N(d2) convention."""

    def above(K: float) -> float:
        if K == 0.0:
            return 1.0
        if math.isinf(K):
            return 0.0
        s = sigma * math.sqrt(T_s / YEAR)
        d2 = (math.log(S / K) - 0.5 * s * s) / s
        return 0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0)))

    return above(lo) - above(hi)


def test_yes_mid_is_the_bucket_probability_of_lagged_spot():
    lag = 5
    sim = ranged(seed=4, symbols=["BTCUSDT"], mm_noise=0.0, negrisk_mispricing_prob=0.0)
    vol = sim.mm_vol  # null in the YAML: the process's total vol
    ticks = run(sim, 1800)
    checked = 0
    event = []
    for i, tick in enumerate(ticks):
        event = [m for m in tick.listed if m.kind == RANGE] or event
        if i < lag:
            continue
        S = ticks[i - lag].spot["BTCUSDT"]
        fair = [ref_bucket(S, m.low, m.high, m.end_ts - tick.ts, vol) for m in event]
        assert sum(fair) == pytest.approx(1.0, abs=1e-12)
        for m, p in zip(event, fair, strict=True):
            if 0.05 < p < 0.95:
                assert abs(tick.books[m.up_token].mid - p) <= 0.005 + 1e-9
                checked += 1
    assert checked > 1500


def test_range_events_move_neither_spot_nor_up_down_books():
    a, b = ranged(seed=7), ranged(seed=7, negrisk_windows=[])
    for x, y in zip(run(a, 1000), run(b, 1000), strict=True):
        assert x.spot == y.spot
        up_down = {
            k.removeprefix(a.market_prefix): v.asks.tolist()
            for k, v in x.books.items()
            if "-updown-" in k
        }
        assert up_down == {
            k.removeprefix(b.market_prefix): v.asks.tolist() for k, v in y.books.items()
        }


def test_calm_lists_range_events_every_15_minutes():
    sim = scenario("lagging_mm", seed=5)
    ticks = run(sim, 901)
    ranges = [[m for m in t.listed if m.kind == RANGE] for t in (ticks[0], ticks[900])]
    assert [len(x) for x in ranges] == [15, 15]
    assert sum(r.market_id.startswith(sim.market_prefix) for r in ticks[900].resolved) == 6 + 15


# --- bucket edges ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    strike=st.floats(1e-3, 1e9),
    n=st.integers(2, 20),
    width=st.floats(1e-5, 2.0),
)
def test_rounded_edges_increase_stay_positive_and_near_the_log_grid(strike, n, width):
    edges, dec = bucket_edges(strike, n, width)
    raw = [strike * math.exp((j - 0.5 * (n - 2)) * width) for j in range(n - 1)]
    assert len(edges) == n - 1 and edges[0] > 0
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False))
    gaps = [b - a for a, b in zip(raw, raw[1:], strict=False)] or [raw[0]]
    for e, x in zip(edges, raw, strict=True):
        # An eighth of the smallest gap, plus float rounding of e's decimals.
        assert abs(e - x) <= min([raw[0], *gaps]) / 8 + 1e-15 * x
        assert round(e, dec) == e  # so a label prints it exactly


@pytest.mark.parametrize(
    ("x", "step"), [(1.0, 1.0), (4.9, 2.0), (5.0, 5.0), (9.99, 5.0), (42.8, 20.0), (0.085, 0.05)]
)
def test_nice_step_is_the_largest_1_2_5_step_not_above_x(x, step):
    assert nice_step(x) == pytest.approx(step)


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"negrisk_windows": [90]}, r"sim\.negrisk_windows=\[90\] must be distinct multiples"),
        ({"negrisk_windows": [30]}, r"sim\.negrisk_windows\[\]=30 must be a whole number"),
        ({"negrisk_windows": 900}, r"sim\.negrisk_windows=900 must be a list of window lengths"),
        ({"negrisk_windows": [7200]}, r"sim\.start=.* must align to every window \(7200 s\)"),
        ({"negrisk_outcomes": 1}, r"sim\.negrisk_outcomes=1 must be a whole number in \[2, 20\]"),
        ({"negrisk_bucket_sigma": 0}, r"sim\.negrisk_bucket_sigma=0 must be in \(0, 10\]"),
        ({"negrisk_augmented_prob": 1.5}, r"sim\.negrisk_augmented_prob=1\.5 must be in \[0, 1\]"),
        ({"negrisk_mispricing_prob": -1}, r"sim\.negrisk_mispricing_prob=-1 must be in \[0, 1\]"),
        ({"negrisk_mispricing": 0.3}, r"sim\.negrisk_mispricing=0\.3 must be in \[0, 0\.2\]"),
    ],
)
def test_invalid_negrisk_parameters_name_the_field_value_and_range(kwargs, message):
    start = {"start": "2026-01-05T01:00:00Z"} if "7200" in str(kwargs) else {}
    with pytest.raises(ValueError, match=message):
        MarketSimulator(seed=0, **start, **kwargs)
