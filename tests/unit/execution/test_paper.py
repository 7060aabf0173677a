import numpy as np
import pytest

from engine.core.types import Book
from engine.core.validation import ConfigError
from engine.execution.paper import PaperVenue, walk_asks


def book(asks, bids=((0.28, 100.0),)):
    return Book("tok", np.array(bids, dtype=float), np.array(asks, dtype=float), ts=0.0)


def test_walk_takes_levels_best_first_up_to_the_limit():
    b = book([(0.30, 10.0), (0.31, 20.0), (0.33, 50.0)])
    fills = walk_asks(b, limit_price=0.31, stake=100.0, fee_rate=0.07)
    assert [(f.price, f.shares) for f in fills] == [(0.30, 10.0), (0.31, 20.0)]
    assert fills[0].fee == round(10 * 0.07 * 0.30 * 0.70, 5)


def test_walk_stops_when_the_stake_is_spent():
    b = book([(0.30, 10.0), (0.31, 20.0)])
    fills = walk_asks(b, limit_price=0.31, stake=6.0, fee_rate=0.07)
    assert [(f.price, f.shares) for f in fills] == [(0.30, 10.0), (0.31, 9.67)]
    assert sum(f.price * f.shares for f in fills) <= 6.0


def test_fak_fills_partially_and_kills_the_rest():
    venue = PaperVenue(order_type="FAK", slippage_ticks=1)
    report = venue.execute(
        book=book([(0.30, 10.0), (0.35, 100.0)]), price=0.30, stake=20.0, fee_rate=0.07
    )
    assert report.status == "partial"
    assert report.limit_price == 0.31
    assert report.shares == 10.0
    assert report.cost == pytest.approx(3.0)
    assert report.fees == pytest.approx(0.147)


def test_fak_full_fill():
    venue = PaperVenue()
    report = venue.execute(book=book([(0.30, 100.0)]), price=0.30, stake=12.0, fee_rate=0.07)
    assert report.status == "filled"
    assert report.shares == 40.0


def test_marketable_order_under_one_dollar_is_refused_with_reason():
    report = PaperVenue().execute(book=book([(0.30, 100.0)]), price=0.30, stake=0.99, fee_rate=0.07)
    assert (report.status, report.reason, report.fills) == ("rejected", "exec.min_notional", ())


def test_resting_order_under_five_shares_is_refused_with_reason():
    venue = PaperVenue(order_type="GTC", slippage_ticks=0)
    report = venue.execute(book=book([(0.50, 100.0)]), price=0.50, stake=2.49, fee_rate=0.07)
    assert report.reason == "exec.min_resting_shares"
    ok = venue.execute(book=book([(0.50, 100.0)]), price=0.50, stake=2.50, fee_rate=0.07)
    assert ok.status == "filled" and ok.shares == 5.0


def test_no_ask_within_the_limit_is_no_liquidity():
    report = PaperVenue(slippage_ticks=0).execute(
        book=book([(0.40, 100.0)]), price=0.30, stake=10.0, fee_rate=0.07
    )
    assert report.reason == "exec.no_liquidity"


def test_limit_uses_the_fine_tick_near_the_edges_and_never_reaches_one():
    venue = PaperVenue(slippage_ticks=2)
    assert venue.limit_for(0.50) == 0.52
    assert venue.limit_for(0.97) == 0.972
    assert venue.limit_for(0.998) == 0.999


def test_fok_that_cannot_fill_whole_is_refused():
    venue = PaperVenue(order_type="FOK", slippage_ticks=0)
    report = venue.execute(book=book([(0.30, 10.0)]), price=0.30, stake=20.0, fee_rate=0.07)
    assert report.reason == "exec.fok_unfilled"


def test_bad_venue_config():
    with pytest.raises(
        ConfigError, match=r"order_type='IOC' must be one of \['FAK', 'FOK', 'GTC'\]"
    ):
        PaperVenue(order_type="IOC")
