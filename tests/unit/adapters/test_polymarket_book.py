"""Local CLOB books rebuilt from the market channel, against references built by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adapters.polymarket.book import BookRegistry, LocalBook
from engine.adapters.polymarket.parsing import (
    LevelChange,
    MarketResolved,
    NewMarket,
    TickSizeChange,
    parse_market_frame,
)
from engine.core.types import Book

FORMATS = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
PC = json.loads((FORMATS / "clob_ws_price_change.json").read_text())
UP, DOWN = (c["asset_id"] for c in PC["price_changes"])  # the two tokens of one market
T0 = 1786728438.403


def obj(name: str):
    return json.loads((FORMATS / name).read_text())


def book_frame(token: str, bids: dict, asks: dict, ts: float, **extra) -> str:
    """The real WS book object with this token and these levels (worst first, as the venue)."""
    b = obj("clob_ws_book.json")
    b.update(asset_id=token, market=PC["market"], timestamp=str(round(ts * 1000)), **extra)
    b["bids"] = [{"price": str(p), "size": str(s)} for p, s in sorted(bids.items())]
    b["asks"] = [{"price": str(p), "size": str(s)} for p, s in sorted(asks.items(), reverse=True)]
    return json.dumps(b)


def top(bids: dict, asks: dict) -> tuple[str, str]:
    """The venue's best_bid/best_ask of a reference book (0 / 1 for an empty side)."""
    return str(max(bids, default=0)), str(min(asks, default=1))


def change_frame(entries: list[dict], ts: float) -> str:
    """The real price_change frame with these entries (fields as the venue names them)."""
    return json.dumps(dict(PC, price_changes=entries, timestamp=str(round(ts * 1000))))


def levels(side: dict, best_first_desc: bool) -> list[list[float]]:
    return [[p, s] for p, s in sorted(side.items(), reverse=best_first_desc)]


def test_snapshot_replaces_and_is_sorted_best_first():
    local = LocalBook("t")
    local.apply_snapshot(parse_market_frame((FORMATS / "clob_ws_book.json").read_text())[0])
    assert local.valid and (local.best_bid, local.best_ask, local.tick) == (0.004, 0.009, 0.001)
    book = local.to_engine_book()
    assert isinstance(book, Book) and book.ts == 1786728432.337 and book.tick == 0.001
    assert book.bids.tolist() == [[0.004, 100.0], [0.001, 2200.8]]
    assert book.asks.tolist() == [[0.009, 25.0], [0.999, 50.0]]
    assert (book.best_bid, book.best_ask, book.ask_size) == (0.004, 0.009, 25.0)
    assert local.to_engine_book(ts=5.0).ts == 5.0


def test_the_real_price_change_frame_updates_both_tokens():
    reg = BookRegistry()
    up_bids, up_asks = {0.07: 10.0, 0.05: 3.0}, {0.08: 20.0}
    down_bids, down_asks = {0.92: 20.0}, {0.93: 10.0, 0.94: 7.0}
    reg.feed(book_frame(UP, up_bids, up_asks, T0 - 1))
    reg.feed(book_frame(DOWN, down_bids, down_asks, T0 - 1))
    applied = reg.feed(json.dumps(PC))
    assert applied.changed == {UP, DOWN} and applied.events == []
    assert reg.book(UP).bids.tolist() == [[0.07, 10.0], [0.06, 374.34], [0.05, 3.0]]
    assert reg.book(DOWN).asks.tolist() == [[0.93, 10.0]]  # size "0" removed 0.94
    assert reg.counts["desync"] == 0 and reg.counts["garbage"] == 0


def test_a_price_change_sequence_rebuilds_the_reference_book():
    bids, asks = {0.40: 100.0, 0.38: 50.0}, {0.42: 80.0, 0.45: 10.0}
    reg = BookRegistry([UP])
    reg.feed(book_frame(UP, bids, asks, T0))
    steps = [
        ("BUY", 0.41, 30.0),
        ("SELL", 0.42, 0.0),
        ("SELL", 0.43, 12.5),
        ("BUY", 0.40, 0.0),
        ("BUY", 0.39, 7.0),
        ("SELL", 0.45, 11.0),
        ("BUY", 0.41, 31.0),
    ]
    for i, (side, price, size) in enumerate(steps):
        ref = bids if side == "BUY" else asks  # the reference: plain dicts, by hand
        if size:
            ref[price] = size
        else:
            del ref[price]
        best_bid, best_ask = top(bids, asks)
        entry = dict(PC["price_changes"][0], asset_id=UP, price=str(price), size=str(size))
        entry.update(side=side, best_bid=best_bid, best_ask=best_ask)
        assert reg.feed(change_frame([entry], T0 + i + 1)).changed == {UP}
    book = reg.book(UP)
    assert book.bids.tolist() == levels(bids, True) == [[0.41, 31.0], [0.39, 7.0], [0.38, 50.0]]
    assert book.asks.tolist() == levels(asks, False) == [[0.43, 12.5], [0.45, 11.0]]
    assert reg.counts["desync"] == 0


def test_tick_size_change_voids_the_book_until_the_next_snapshot():
    reg = BookRegistry()
    tick = obj("clob_ws_tick_size_change.json")
    token = tick["asset_id"]
    reg.feed(book_frame(token, {0.95: 10.0}, {0.96: 5.0}, 1739068000.0, tick_size="0.01"))
    assert reg.book(token).tick == 0.01
    applied = reg.feed(json.dumps(tick))
    assert applied.changed == {token} and isinstance(applied.events[0], TickSizeChange)
    assert not reg.books[token].valid and reg.book(token) is None
    assert reg.books[token].to_engine_book() is None
    entry = dict(PC["price_changes"][0], asset_id=token, price="0.955", size="4")
    entry.pop("best_bid"), entry.pop("best_ask")
    assert reg.feed(change_frame([entry], 1739068042.0)).changed == set()
    assert reg.counts["void"] == 1
    snap = json.loads(book_frame(token, {0.961: 3.0}, {0.962: 1.0}, 1739068043.0))
    del snap["tick_size"]  # the new tick stays until a snapshot says otherwise
    reg.feed(json.dumps(snap))
    book = reg.book(token)
    assert book is not None and book.tick == 0.001 and book.best_bid == 0.961


def test_a_top_that_disagrees_voids_the_book():
    reg = BookRegistry()
    reg.feed(book_frame(UP, {0.07: 1.0}, {0.09: 1.0}, T0 - 1))  # the venue's top says 0.08
    reg.feed(book_frame(DOWN, {0.92: 1.0}, {0.93: 1.0, 0.94: 1.0}, T0 - 1))
    applied = reg.feed(json.dumps(PC))
    assert applied.changed == {UP, DOWN} and reg.counts["desync"] == 1
    assert reg.book(UP) is None and reg.book(DOWN) is not None


def test_duplicates_stale_events_and_garbage_are_counted_not_applied():
    reg = BookRegistry([UP])
    first = book_frame(UP, {0.5: 1.0}, {0.6: 1.0}, T0, hash="h1")
    assert reg.feed(first).changed == {UP}
    assert reg.feed(first).changed == set()  # same hash, nothing changed since
    older = book_frame(UP, {0.4: 1.0}, {0.7: 1.0}, T0 - 5, hash="h0")
    assert reg.feed(older).changed == set() and reg.book(UP).best_bid == 0.5
    assert reg.feed(book_frame(DOWN, {0.5: 1.0}, {0.6: 1.0}, T0)).changed == set()
    assert reg.feed("not json").changed == set()
    assert reg.feed('{"event_type": "book", "asset_id": "1').changed == set()
    assert dict(reg.counts) == {
        "frames": 6,
        "duplicate": 1,
        "stale": 1,
        "ignored": 1,
        "garbage": 2,
    }
    assert [e.field for e in reg.errors] == ["frame", "frame"]


def test_repeated_new_market_and_market_resolved_pass_once():
    reg = BookRegistry()
    new = (FORMATS / "clob_ws_new_market.json").read_text()
    done = (FORMATS / "clob_ws_market_resolved.json").read_text()
    assert [type(e) for e in reg.feed(new).events] == [NewMarket]
    assert reg.feed(new).events == []
    array = json.dumps([json.loads(done), json.loads(done), json.loads(new)])
    assert [type(e) for e in reg.feed(array).events] == [MarketResolved]
    assert reg.counts["duplicate"] == 3


def test_an_array_frame_of_snapshots_fills_many_books():
    frames = [json.loads(book_frame(t, {0.3: 1.0}, {0.7: 2.0}, T0)) for t in (UP, DOWN)]
    applied = BookRegistry().feed(json.dumps(frames))
    assert applied.changed == {UP, DOWN}


# -- property: any sequence of changes equals a dict reference ----------------------------
PRICES = st.integers(min_value=1, max_value=99).map(lambda c: c / 100)
CHANGES = st.lists(
    st.tuples(st.sampled_from(["BUY", "SELL"]), PRICES, st.sampled_from([0.0, 1.0, 2.5, 100.0])),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(CHANGES)
def test_random_price_changes_equal_a_dict_reference(changes):
    local = LocalBook("t")
    local.apply_snapshot(parse_market_frame(book_frame("1", {0.2: 5.0}, {0.8: 5.0}, T0))[0])
    ref = {"BUY": {0.2: 5.0}, "SELL": {0.8: 5.0}}
    for i, (side, price, size) in enumerate(changes):
        assert local.apply_change(LevelChange("t", price, side, size), T0 + i)
        if size:
            ref[side][price] = size
        else:
            ref[side].pop(price, None)
    assert (local.bids, local.asks) == (ref["BUY"], ref["SELL"])
    book = local.to_engine_book()
    np.testing.assert_array_equal(
        book.bids.reshape(-1, 2), np.array(levels(ref["BUY"], True)).reshape(-1, 2)
    )
    np.testing.assert_array_equal(
        book.asks.reshape(-1, 2), np.array(levels(ref["SELL"], False)).reshape(-1, 2)
    )
