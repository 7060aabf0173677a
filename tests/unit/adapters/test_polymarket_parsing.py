"""Polymarket frames (CLOB WS and REST, RTDS, Gamma) -> events, on the real bytes in
tests/fixtures/formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from engine.adapters.polymarket.parsing import (
    CHAINLINK_GE_START,
    UNSUPPORTED,
    BestBidAsk,
    BookSnapshot,
    LastTradePrice,
    LevelChange,
    MarketResolved,
    NewMarket,
    OraclePrice,
    PriceChange,
    TickSizeChange,
    closed_time,
    parse_book_rest,
    parse_clob_market,
    parse_gamma_market,
    parse_market_frame,
    parse_rtds_frame,
    resolution_rule,
)
from engine.adapters.wire import WireError

FORMATS = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
NVDA = "0x311d0c4b6671ab54af4970c06fcf58662516f5168997bdda209ec3db5aa6b0c1"
NVDA_YES = "76043073756653678226373981964075571318267289248134717369284518995922789326425"
BTC_UP = "104239898038807136052399800151408521467737075933964991162589336683346093173875"


def text(name: str) -> str:
    return (FORMATS / name).read_text()


def obj(name: str):
    return json.loads(text(name))


def one(name: str):
    events = parse_market_frame(text(name))
    assert len(events) == 1
    return events[0]


# -- CLOB market channel -------------------------------------------------------------------
def test_ws_book_levels_arrive_worst_first_and_are_sorted_best_first():
    b = one("clob_ws_book.json")
    assert isinstance(b, BookSnapshot)
    assert (
        b.asset_id
        == "63691357964355397861776339416833450653158434687925250159757815624217137833471"
    )
    assert b.market == "0x5dacb3919e3eb6372770cba85c42e0f980ddf18b1a767751de700ee272269233"
    np.testing.assert_array_equal(b.bids, [[0.004, 100.0], [0.001, 2200.8]])
    np.testing.assert_array_equal(b.asks, [[0.009, 25.0], [0.999, 50.0]])
    assert (b.ts, b.tick_size, b.hash) == (
        1786728432.337,
        0.001,
        "924ec9bc1c6dd89f5db9b7b2b68cdab458cc2dc6",
    )
    assert b.min_order_size is None  # optional: absent here


def test_the_doc_book_has_a_placeholder_time_and_leading_dot_prices():
    with pytest.raises(WireError, match=r"book: field timestamp: got '123456789000'") as info:
        parse_market_frame(text("clob_ws_book_doc.json"))
    assert info.value.field == "timestamp"
    doc = obj("clob_ws_book_doc.json")
    doc["timestamp"] = "1757908892351"
    b = parse_market_frame(json.dumps(doc))[0]
    assert b.bids[0].tolist() == [0.5, 15.0] and b.asks[0].tolist() == [0.52, 25.0]
    assert b.tick_size is None  # older captures send no tick_size


def test_rest_book_is_the_same_snapshot_with_optional_fields():
    b = parse_book_rest(text("clob_book_rest.json"))
    assert b.asset_id.startswith("2714695665287794455") and len(b.asset_id) == 77
    assert b.bids.tolist() == [[0.001, 28195.33]] and b.asks.tolist() == [[0.999, 231.08]]
    assert (b.tick_size, b.min_order_size, b.ts) == (0.001, 5.0, 1786728198.766)
    assert parse_book_rest(obj("clob_book_rest.json")).hash == b.hash


def test_price_change_covers_both_tokens_with_new_totals():
    pc = one("clob_ws_price_change.json")
    assert isinstance(pc, PriceChange) and pc.ts == 1786728438.403
    up, down = pc.changes
    assert up == LevelChange(
        "40600137944982070120020561148201046074034528738262880058756488608210871246278",
        0.06,
        "BUY",
        374.34,
        0.07,
        0.08,
        "f3285de052f887d0ce2847581636a69c1046178d",
    )
    assert (down.side, down.price, down.size, down.best_bid, down.best_ask) == (
        "SELL",
        0.94,
        0.0,
        0.92,
        0.93,
    )
    doc = one("clob_ws_price_change_doc.json")
    assert [(c.side, c.best_bid, c.best_ask) for c in doc.changes] == [
        ("BUY", 0.5, 1.0),
        ("SELL", 0.0, 0.5),
    ]


def test_trade_tick_change_and_top_events():
    t = one("clob_ws_last_trade_price.json")
    assert t == LastTradePrice(
        "72710166409980712002774407052535905861151156175854323762835102340552522606004",
        "0x12dc2b61723b2a54fc1947a307389b5f32038e7a29a0e936ad1fe410b969d06a",
        0.585,
        2.46,
        "SELL",
        1786728467.101,
    )
    assert not hasattr(t, "fee_rate_bps")  # "0" even on fee markets: never a fee
    assert one("clob_ws_last_trade_price_doc.json").side == "BUY"
    tick = one("clob_ws_tick_size_change.json")
    assert isinstance(tick, TickSizeChange) and (tick.old_tick, tick.new_tick) == (0.01, 0.001)
    top = one("clob_ws_best_bid_ask.json")
    assert isinstance(top, BestBidAsk) and (top.best_bid, top.best_ask) == (0.585, 0.587)


def test_new_market_and_market_resolved():
    new = one("clob_ws_new_market.json")
    assert isinstance(new, NewMarket) and new.market == NVDA and new.id == "1031769"
    assert new.asset_ids[0] == NVDA_YES and new.outcomes == ("Yes", "No") and new.tick == 0.01
    done = one("clob_ws_market_resolved.json")
    assert done == MarketResolved(NVDA, "1031769", new.asset_ids, NVDA_YES, "Yes", ts=1766790415.55)


def test_a_frame_may_be_an_array_of_objects():
    names = ["clob_ws_book.json", "clob_ws_price_change.json", "clob_ws_market_resolved.json"]
    events = parse_market_frame(json.dumps([obj(n) for n in names]))
    assert [type(e) for e in events] == [BookSnapshot, PriceChange, MarketResolved]
    assert parse_market_frame("[]") == []


def test_a_bad_element_of_an_array_is_kept_apart_when_errors_are_collected():
    frame = json.dumps([obj("clob_ws_book.json"), {"event_type": "book"}, 7])
    with pytest.raises(WireError, match=r"field \[1\]\.asset_id"):
        parse_market_frame(frame)
    errors: list[WireError] = []
    assert [type(e) for e in parse_market_frame(frame, errors)] == [BookSnapshot]
    assert [e.field for e in errors] == ["[1].asset_id", "[2]"]


def test_the_heartbeat_reply_is_no_event():
    assert parse_market_frame("PONG") == parse_market_frame(b"PONG\n") == []


@pytest.mark.parametrize(
    ("mutate", "field", "value"),
    [
        (lambda o: o.update(event_type="book_v2"), "event_type", "book_v2"),
        (lambda o: o.pop("event_type"), "event_type", None),
        (lambda o: o.update(asset_id="0xabc"), "asset_id", "0xabc"),
        (lambda o: o["bids"][0].update(price="1.5"), "bids.0.price", "1.5"),
        (lambda o: o["asks"][1].update(size="-3"), "asks.1.size", "-3"),
        (lambda o: o["asks"][1].update(size="lots"), "asks.1.size", "lots"),
        (lambda o: o.update(timestamp="1786728432"), "timestamp", "1786728432"),  # seconds
    ],
)
def test_bad_book_fields_raise_wire_errors_naming_field_and_value(mutate, field, value):
    book = obj("clob_ws_book.json")
    mutate(book)
    with pytest.raises(WireError) as info:
        parse_market_frame(json.dumps(book))
    assert info.value.field == field
    if value is not None:
        assert info.value.value == value


@pytest.mark.parametrize("frame", ["garbage", '{"event_type": "book", "asset_id": "1', "", "  "])
def test_non_json_and_truncated_frames_raise_wire_errors(frame):
    with pytest.raises(WireError, match="expected valid JSON"):
        parse_market_frame(frame)


def test_token_ids_stay_exact_strings_even_when_sent_as_numbers():
    book = text("clob_ws_book.json")
    token = obj("clob_ws_book.json")["asset_id"]
    as_number = book.replace(f'"asset_id":"{token}"', f'"asset_id":{token}')
    assert as_number != book
    assert parse_market_frame(as_number)[0].asset_id == token


def test_clob_market_after_resolution_names_the_winner():
    r = parse_clob_market(text("clob_market_resolved.json"), recv_ts=1.0)
    assert r.winning_asset_id.startswith("2297879322307189") and r.winning_outcome == "Yes"
    assert len(r.asset_ids) == 2 and r.ts == 1.0
    open_market = obj("clob_market_resolved.json")
    for token in open_market["tokens"]:
        token["winner"] = False
    assert parse_clob_market(open_market, 1.0) is None


# -- RTDS ----------------------------------------------------------------------------------
def test_rtds_update_and_subscribe_history_use_json_numbers():
    assert parse_rtds_frame(text("rtds_crypto_prices_update.json")) == [
        OraclePrice("btcusdt", 61035.86, 1780730269.0, "binance")
    ]
    history = parse_rtds_frame(text("rtds_crypto_prices_subscribe.json"))
    assert [(p.ts, p.value) for p in history] == [
        (1780726209.0, 61164.12),
        (1780726210.0, 61161.07),
        (1780726211.0, 61150.89),
    ]


def test_rtds_chainlink_topic_and_bad_frames():
    update = obj("rtds_crypto_prices_update.json")
    update.update(topic="crypto_prices_chainlink")
    update["payload"]["symbol"] = "btc/usd"
    assert parse_rtds_frame(json.dumps(update))[0].source == "chainlink"
    update.update(topic="equity_prices")
    with pytest.raises(WireError, match=r"field topic: got 'equity_prices'"):
        parse_rtds_frame(json.dumps(update))
    update.update(topic="crypto_prices")
    update["payload"]["value"] = "n/a"
    with pytest.raises(WireError, match=r"field payload\.value: got 'n/a'"):
        parse_rtds_frame(json.dumps(update))
    assert parse_rtds_frame("") == []


# -- Gamma ---------------------------------------------------------------------------------
def test_gamma_market_reuses_the_corpus_reader_and_reads_the_rule():
    g = parse_gamma_market(text("gamma_market_btc_updown_5m.json"))
    assert g.market.slug == "btc-updown-5m-1773307200" and g.market.up_token == BTC_UP
    assert (g.market.strike_ts, g.market.expiry_ts) == (1773307200.0, 1773307500.0)
    assert g.resolution_source == "https://data.chain.link/streams/btc-usd"
    assert "greater than or equal to" in g.description
    assert g.rule.kind == CHAINLINK_GE_START and g.rule.source == "chainlink" and g.rule.supported
    assert g.closed_ts is None


def test_gamma_real_arrays_are_accepted_like_encoded_strings():
    raw = obj("gamma_market_btc_updown_5m.json")
    for key in ("outcomes", "outcomePrices", "clobTokenIds"):
        raw[key] = json.loads(raw[key])
    assert parse_gamma_market(raw).market.up_token == BTC_UP


def test_gamma_closed_time_is_not_iso_but_is_read():
    g = parse_gamma_market(text("gamma_market_resolved_yes.json"))
    assert g.closed_ts == datetime(2026, 5, 9, 2, 7, 1, tzinfo=UTC).timestamp()
    assert g.market.outcome == "UP"  # the corpus reader's Yes
    with pytest.raises(WireError, match="closedTime"):
        closed_time({"closedTime": "yesterday"})


def test_gamma_errors_of_the_corpus_reader_become_wire_errors():
    raw = obj("gamma_market_btc_updown_5m.json")
    raw["clobTokenIds"] = "[1, 2"
    with pytest.raises(WireError) as info:
        parse_gamma_market(raw)
    assert info.value.field == "clobTokenIds" and info.value.value == "[1, 2"


def test_a_60_second_twap_rule_is_unsupported():
    raw = obj("gamma_market_btc_updown_5m.json")
    twap = "the 60-second TWAP of the Bitcoin price"
    raw["description"] = raw["description"].replace("the Bitcoin price", twap)
    assert twap in raw["description"]
    rule = resolution_rule(raw)
    assert rule.kind == UNSUPPORTED and not rule.supported and "twap" in rule.reason
    assert parse_gamma_market(raw).rule == rule


def test_a_strict_or_sourceless_rule_is_unsupported():
    raw = obj("gamma_market_btc_updown_5m.json")
    strict = dict(raw, description=raw["description"].replace(" or equal to", ""))
    assert "strictly greater" in resolution_rule(strict).reason
    sourceless = dict(
        raw,
        resolutionSource="",
        description=raw["description"].split("\n")[0],  # only the >= sentence, no source
    )
    assert "no Chainlink or Binance" in resolution_rule(sourceless).reason
    binance = dict(sourceless, resolutionSource="https://www.binance.com/en/trade/BTC_USDT")
    assert resolution_rule(binance).source == "binance"


def test_non_price_markets_are_unsupported():
    for name in ("gamma_market_resolved_yes.json", "gamma_market_sports_fee_schedule.json"):
        assert resolution_rule(obj(name)).kind == UNSUPPORTED
    markets = [m for event in obj("gamma_events_negrisk.json") for m in event["markets"]]
    assert markets and all(resolution_rule(m).kind == UNSUPPORTED for m in markets)
