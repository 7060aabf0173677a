"""The paper venue on hand-made books: latency, depletion, time in force, failure modes."""

import numpy as np
import pytest

from engine.core.types import (
    ACCEPTED,
    FILLED,
    PARTIAL,
    REJECTED,
    REVERTED,
    UNFILLED,
    Book,
    Order,
    Resolution,
    Tick,
)
from engine.core.validation import ConfigError
from engine.execution.paper import PaperVenue, walk_asks
from engine.ports import Venue

T0 = 1_767_571_200.0  # 2026-01-05T00:00:00Z


def book(asks, bids=((0.28, 100.0),), ts=T0, token="tok"):
    return Book(token, np.array(bids, dtype=float), np.array(asks, dtype=float), ts=ts)


def tick(ts, asks=None, token="tok", resolved=()):
    books = {} if asks is None else {token: book(asks, ts=ts, token=token)}
    return Tick(ts, {}, books=books, resolved=list(resolved))


def order(key="k1", ts=T0, price=0.30, stake=20.0, token="tok", end=T0 + 300):
    return Order(key, ts, "updown", "m1", token, "UP", price, stake, 0.07, end)


def exact(**kw) -> PaperVenue:
    """A venue with a fixed latency and no random failures."""
    return PaperVenue(**{"latency_ms": 250.0, "latency_tail_ms": 0.0, **kw})


def test_the_paper_venue_is_a_venue():
    assert isinstance(PaperVenue(), Venue)


def test_walk_takes_levels_best_first_up_to_the_limit():
    b = book([(0.30, 10.0), (0.31, 20.0), (0.33, 50.0)])
    fills = walk_asks(b, limit_price=0.31, stake=100.0, fee_rate=0.07)
    assert [(f.price, f.shares) for f in fills] == [(0.30, 10.0), (0.31, 20.0)]
    assert fills[0].fee == round(10 * 0.07 * 0.30 * 0.70, 5)
    assert fills[0].level_size == 10.0


def test_walk_stops_when_the_stake_is_spent():
    b = book([(0.30, 10.0), (0.31, 20.0)])
    fills = walk_asks(b, limit_price=0.31, stake=6.0, fee_rate=0.07)
    assert [(f.price, f.shares) for f in fills] == [(0.30, 10.0), (0.31, 9.67)]
    assert sum(f.price * f.shares for f in fills) <= 6.0


def test_an_order_fills_against_the_book_at_decision_plus_latency_not_the_decision_book():
    venue = exact()
    venue.poll(tick(T0, [(0.30, 100.0)]))  # the book the decision saw
    assert venue.submit(order(stake=6.0)).state == ACCEPTED
    # In flight during the decision's own tick: nothing yet.
    assert venue.poll(tick(T0, [(0.30, 100.0)])) == []
    # One second later the ask is 0.31 (inside the 1-tick slippage): that is the price paid.
    (report,) = venue.poll(tick(T0 + 1, [(0.31, 100.0)]))
    assert report.state == FILLED
    assert [(f.price, f.ts) for f in report.fills] == [(0.31, T0 + 1)]
    assert report.latency_s == pytest.approx(1.0)  # arrived at +0.25 s, next book at +1 s


def test_latency_beyond_a_tick_waits_for_the_book_after_arrival():
    venue = exact(latency_ms=1500.0)
    venue.submit(order(stake=6.0))
    assert venue.poll(tick(T0 + 1, [(0.30, 100.0)])) == []
    (report,) = venue.poll(tick(T0 + 2, [(0.30, 100.0)]))
    assert report.state == FILLED and report.fills[0].ts == T0 + 2


def test_a_move_that_runs_away_before_arrival_leaves_the_order_unfilled():
    venue = exact()
    venue.submit(order(price=0.30, stake=6.0))  # limit 0.31
    (report,) = venue.poll(tick(T0 + 1, [(0.36, 100.0)]))
    assert (report.state, report.reason, report.fills, report.done) == (
        UNFILLED,
        "exec.moved",
        (),
        True,
    )


def test_two_orders_in_one_tick_cannot_both_take_the_same_ten_shares():
    venue = exact()
    venue.submit(order("a", stake=3.0))
    venue.submit(order("b", stake=3.0))
    a, b = venue.poll(tick(T0 + 1, [(0.30, 10.0), (0.40, 100.0)]))  # limit 0.31
    assert (a.key, a.state, a.shares) == ("a", FILLED, 10.0)
    assert (b.key, b.state, b.reason) == ("b", UNFILLED, "exec.depleted")


def test_what_an_order_took_is_gone_until_the_feed_refreshes_the_level():
    venue = exact(refill_s=30.0)
    venue.submit(order("a", stake=3.0))
    venue.poll(tick(T0 + 1, [(0.30, 10.0)]))
    # Next second, the book still shows the same 10 shares at 0.30: they are the ones we took.
    venue.submit(order("b", ts=T0 + 1, stake=3.0))
    (b,) = venue.poll(tick(T0 + 2, [(0.30, 10.0)]))
    assert (b.state, b.reason) == (UNFILLED, "exec.depleted")
    # The feed now shows 25 shares there: the level was refreshed, all of it is available.
    venue.submit(order("c", ts=T0 + 2, stake=3.0))
    (c,) = venue.poll(tick(T0 + 3, [(0.30, 25.0)]))
    assert (c.state, c.shares) == (FILLED, 10.0)


def test_an_emptied_level_is_back_after_refill_s():
    venue = exact(refill_s=5.0)
    venue.submit(order("a", stake=3.0))
    venue.poll(tick(T0 + 1, [(0.30, 10.0)]))
    venue.submit(order("b", ts=T0 + 6, stake=3.0))
    (b,) = venue.poll(tick(T0 + 7, [(0.30, 10.0)]))
    assert (b.state, b.shares) == (FILLED, 10.0)


def test_fak_fills_partially_and_kills_the_rest():
    venue = exact()
    venue.submit(order(stake=20.0))
    (report,) = venue.poll(tick(T0 + 1, [(0.30, 10.0), (0.35, 100.0)]))
    assert (report.state, report.reason, report.done) == (PARTIAL, "exec.killed", True)
    assert report.limit_price == 0.31
    assert report.shares == 10.0
    assert report.cost == pytest.approx(3.0)
    assert report.fees == pytest.approx(0.147)


def test_fok_that_cannot_fill_whole_fills_nothing():
    venue = exact(order_type="FOK")
    venue.submit(order(stake=20.0))
    (report,) = venue.poll(tick(T0 + 1, [(0.30, 10.0)]))
    assert (report.state, report.reason, report.fills) == (UNFILLED, "exec.fok_unfilled", ())


def test_gtd_rests_fills_later_and_expires_at_the_window_end():
    venue = exact(order_type="GTD", slippage_ticks=0)
    venue.submit(order(stake=6.0, end=T0 + 10))
    (first,) = venue.poll(tick(T0 + 1, [(0.30, 10.0), (0.40, 100.0)]))
    assert (first.state, first.shares, first.done) == (PARTIAL, 10.0, False)
    assert venue.poll(tick(T0 + 2, [(0.40, 100.0)])) == []  # nothing at the limit: no news
    (later,) = venue.poll(tick(T0 + 3, [(0.29, 5.0)]))
    assert (later.state, later.shares) == (PARTIAL, 5.0)
    (end,) = venue.poll(tick(T0 + 10, [(0.40, 100.0)]))
    assert (end.state, end.reason, end.done) == (PARTIAL, "exec.expired", True)
    assert venue.working() == []


def test_gtc_is_cancelled_when_its_market_resolves():
    venue = exact(order_type="GTC", slippage_ticks=0)
    venue.submit(order(stake=6.0))
    (arrived,) = venue.poll(tick(T0 + 1, [(0.40, 100.0)]))
    assert (arrived.state, arrived.reason, arrived.done) == (ACCEPTED, "exec.moved", False)
    gone = Resolution("m1", "UP", 1.0, 1.0, T0 + 5)
    (end,) = venue.poll(tick(T0 + 5, [(0.40, 100.0)], resolved=[gone]))
    assert (end.state, end.reason) == (UNFILLED, "exec.market_closed")


def test_size_rules_refuse_at_submission_with_a_reason():
    refused = exact().submit(order(stake=0.99))
    assert (refused.state, refused.reason, refused.done) == (REJECTED, "exec.min_notional", True)
    resting = exact(order_type="GTC", slippage_ticks=0)
    assert resting.submit(order("a", price=0.50, stake=2.49)).reason == "exec.min_resting_shares"
    assert resting.submit(order("b", price=0.50, stake=2.50)).state == ACCEPTED


def test_an_empty_book_is_no_liquidity():
    venue = exact()
    venue.submit(order(stake=6.0))
    (report,) = venue.poll(tick(T0 + 1, []))
    assert report.reason == "exec.no_liquidity"


def test_limit_uses_the_fine_tick_near_the_edges_and_never_reaches_one():
    venue = PaperVenue(slippage_ticks=2)
    assert venue.limit_for(0.50) == 0.52
    assert venue.limit_for(0.97) == 0.972
    assert venue.limit_for(0.998) == 0.999


def test_latency_has_a_floor_and_a_tail_and_is_the_same_for_the_same_order():
    venue = PaperVenue(latency_ms=250.0, latency_tail_ms=100.0, latency_max_ms=2000.0, seed=3)
    draws = np.array([venue.latency_s(f"k{i}") for i in range(4000)])
    assert draws.min() >= 0.25
    assert draws.mean() == pytest.approx(0.35, abs=0.01)
    assert draws.max() <= 2.0
    assert venue.latency_s("k7") == PaperVenue(seed=3).latency_s("k7")
    assert venue.latency_s("k7") != PaperVenue(seed=4).latency_s("k7")


def test_rejects_near_the_window_end_at_the_configured_rate():
    venue = exact(reject_near_end_s=10.0, reject_near_end_rate=0.5)
    near = [venue.submit(order(f"n{i}", ts=T0 + 295)) for i in range(400)]
    far = [venue.submit(order(f"f{i}", ts=T0)) for i in range(100)]
    share = sum(r.reason == "exec.venue_reject" for r in near) / len(near)
    assert 0.4 < share < 0.6
    assert not any(r.state == REJECTED for r in far)


def test_reverted_fills_come_back_10_to_50_seconds_later():
    venue = exact(revert_rate=1.0)
    venue.submit(order(stake=3.0))
    (fill,) = venue.poll(tick(T0 + 1, [(0.30, 100.0)]))
    assert fill.state == FILLED
    reverts = []
    for s in range(2, 60):
        reverts += venue.poll(tick(T0 + s, [(0.30, 100.0)]))
    (revert,) = reverts
    assert (revert.state, revert.reason, revert.fills) == (REVERTED, "exec.reverted", fill.fills)
    assert 10 <= revert.ts - (T0 + 1) <= 51


def test_a_revert_due_after_the_market_ends_comes_before_its_resolution():
    venue = exact(revert_rate=1.0)
    venue.submit(order(stake=3.0, end=T0 + 5))
    venue.poll(tick(T0 + 1, [(0.30, 100.0)]))
    gone = Resolution("m1", "UP", 1.0, 1.0, T0 + 5)
    (revert,) = venue.poll(tick(T0 + 5, [(0.30, 100.0)], resolved=[gone]))
    assert revert.state == REVERTED


def test_restore_continues_exactly_where_a_killed_venue_stopped():
    def script(venue, start):
        out = []
        for s in range(start, 8):
            if s == 2:
                venue.submit(order("b", ts=T0 + 2, stake=3.0))
            out += venue.poll(tick(T0 + s, [(0.30, 10.0), (0.31, 10.0)]))
        return out

    whole = exact(order_type="GTC", refill_s=30.0)
    whole.submit(order("a", stake=6.0))
    reference = script(whole, 1)

    killed = exact(order_type="GTC", refill_s=30.0)
    killed.submit(order("a", stake=6.0))
    before = killed.poll(tick(T0 + 1, [(0.30, 10.0), (0.31, 10.0)]))
    fills = [("a", "m1", "tok", f) for r in before for f in r.fills]
    again = exact(order_type="GTC", refill_s=30.0)
    again.restore(T0 + 1, killed.working(), fills)
    assert before + script(again, 2) == reference


def test_adopt_keeps_working_orders_when_settings_rebuild_the_venue():
    old = exact()
    old.submit(order(stake=6.0))
    new = exact(slippage_ticks=3)
    new.adopt(old)
    assert [w.order.key for w in new.working()] == ["k1"]


def test_bad_venue_config():
    with pytest.raises(
        ConfigError, match=r"order_type='IOC' must be one of \['FAK', 'FOK', 'GTC', 'GTD'\]"
    ):
        PaperVenue(order_type="IOC")
    with pytest.raises(ConfigError, match=r"latency_ms=-5 must be in \[0.0, 60000.0\]"):
        PaperVenue(latency_ms=-5)
    with pytest.raises(ConfigError, match=r"revert_rate=2 must be in \[0.0, 1.0\]"):
        PaperVenue(revert_rate=2)


def test_books_of_ended_markets_are_forgotten():
    venue = exact()
    venue.poll(tick(T0, [(0.30, 10.0)], token="old"))
    gone = Resolution("m-old", "UP", 1.0, 1.0, T0 + 4000)
    venue.poll(tick(T0 + 4000, [(0.30, 10.0)], token="new", resolved=[gone]))
    venue.submit(order("a", ts=T0 + 4000, token="old", stake=3.0, end=T0 + 5000))
    (report,) = venue.poll(tick(T0 + 4001))
    assert report.reason == "exec.no_liquidity"
