"""Binance spot frames -> spot events, on the real bytes in tests/fixtures/formats."""

from __future__ import annotations

import doctest
import json
from collections import Counter
from pathlib import Path

import pytest

from engine.adapters.binance.parsing import (
    ControlReply,
    ServerShutdown,
    SpotKline,
    SpotQuote,
    SpotTrade,
    StaleFilter,
    parse_frame,
    parse_klines_rest,
)
from engine.adapters.wire import UnsupportedStream, WireError, epoch_seconds

FORMATS = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "live_data.md"
RECV = 1_628_952_400.5


def text(name: str) -> str:
    return (FORMATS / name).read_text()


def stream_lines() -> list[str]:
    return text("binance_combined_stream.jsonl").splitlines()


def test_all_200_frames_of_the_live_combined_stream_parse_or_count_as_unsupported():
    kinds: Counter[str] = Counter()
    for i, line in enumerate(stream_lines()):
        try:
            kinds[type(parse_frame(line, RECV + i)).__name__] += 1
        except UnsupportedStream as exc:
            assert exc.value.endswith("@depth@100ms")  # the only stream we do not consume here
            kinds["unsupported"] += 1
    assert sum(kinds.values()) == 200
    assert kinds == {"SpotQuote": 94, "unsupported": 101, "SpotTrade": 3, "SpotKline": 2}


def test_bookticker_has_no_time_so_it_is_stamped_with_the_receive_time():
    q = parse_frame(text("binance_bookticker.json"), RECV)
    assert q == SpotQuote("FTMUSDT", 0.33989, 1565.6, 0.34012, 703.0, 800360982, RECV)


def test_bytes_frames_parse_like_text():
    raw = (FORMATS / "binance_bookticker.json").read_bytes()
    assert parse_frame(raw, RECV) == parse_frame(raw.decode(), RECV)


def test_aggtrade_times_are_epoch_seconds_and_numbers_come_from_strings():
    t = parse_frame(text("binance_aggtrade.json"), RECV)
    assert t == SpotTrade("FTMUSDT", 0.33993, 99.9, 1628952396.572, 31718372, True)


def test_microsecond_times_are_detected_by_magnitude():
    obj = json.loads(text("binance_aggtrade.json"))
    obj["data"]["T"] *= 1000  # as sent with timeUnit=MICROSECOND
    obj["data"]["E"] *= 1000
    t = parse_frame(json.dumps(obj), RECV)
    assert t.ts == pytest.approx(1628952396.572, abs=1e-6)
    obj["data"]["T"] += 123
    assert parse_frame(json.dumps(obj), RECV).ts == pytest.approx(1628952396.572123, abs=1e-6)


@pytest.mark.parametrize("value", [1628952396, 1628952396572000000, -1, True, "12a", 1.5e12])
def test_times_that_are_neither_ms_nor_us_are_refused(value):
    with pytest.raises(ValueError):
        epoch_seconds(value)


def test_a_kline_is_final_only_when_x_is_true():
    open_bar = parse_frame(text("binance_kline_1m_open.json"), RECV)
    closed_bar = parse_frame(text("binance_kline_1m_closed.json"), RECV)
    assert isinstance(open_bar, SpotKline) and not open_bar.closed
    assert closed_bar.closed and closed_bar.close == 0.33964 and closed_bar.volume == 209224.3
    assert (closed_bar.open_ts, closed_bar.close_ts) == (1628952360.0, 1628952419.999)
    assert (closed_bar.symbol, closed_bar.interval) == ("FTMUSDT", "1m")


def test_kline_1s_has_the_same_schema():
    obj = json.loads(text("binance_kline_1m_closed.json"))
    obj["stream"] = "ftmusdt@kline_1s"
    obj["data"]["k"]["i"] = "1s"
    assert parse_frame(json.dumps(obj), RECV).interval == "1s"
    obj["data"]["k"]["i"] = "1m"  # the payload disagrees with the stream name
    with pytest.raises(WireError, match=r"field data\.k\.i: got '1m'"):
        parse_frame(json.dumps(obj), RECV)


def test_rest_klines_rows_and_the_still_forming_last_bar():
    payload = text("binance_klines_rest.json")
    bars = parse_klines_rest(payload, "BTCUSDT", "1m", recv_ts=1634944330.0)
    assert len(bars) == 10
    first = bars[0]
    assert (first.open_ts, first.close_ts, first.open, first.close) == (
        1634943780.0,
        1634943839.999,
        60685.22,
        60719.27,
    )
    assert [b.closed for b in bars] == [True] * 9 + [False]  # received mid-way through the last
    assert all(b.closed for b in parse_klines_rest(payload, "BTCUSDT", "1m", 1634944380.0))
    assert parse_klines_rest(json.loads(payload), "BTCUSDT", "1m", 1634944330.0) == bars


def test_rest_klines_out_of_order_or_short_rows_are_refused():
    rows = json.loads(text("binance_klines_rest.json"))
    with pytest.raises(WireError, match=r"row 2\.open_time.*strictly increasing"):
        parse_klines_rest(rows[:2] + rows[:1], "BTCUSDT", "1m", 0.0)
    with pytest.raises(WireError, match=r"row 0: got \[1634943780000"):
        parse_klines_rest([rows[0][:6]], "BTCUSDT", "1m", 0.0)
    with pytest.raises(WireError, match=r"row 0\.close: got '6x'"):
        parse_klines_rest([rows[0][:4] + ["6x"] + rows[0][5:]], "BTCUSDT", "1m", 0.0)


def test_stale_filter_drops_old_and_repeated_update_ids_per_symbol():
    quotes = [parse_frame(line, RECV) for line in stream_lines() if "@bookTicker" in line]
    f = StaleFilter()
    assert all(f.accept(q) for q in quotes)  # the live capture is in order
    assert f.dropped == 0 and f.last_update_id("FTMUSDT") == max(
        q.update_id for q in quotes if q.symbol == "FTMUSDT"
    )
    assert not f.accept(quotes[0]) and not f.accept(quotes[-1])  # late and duplicate
    assert f.dropped == 2
    ftm = [q for q in quotes if q.symbol == "FTMUSDT"]
    xmr = [q for q in quotes if q.symbol == "XMRBTC"]
    per_symbol = StaleFilter()
    assert per_symbol.accept(ftm[-1]) and per_symbol.accept(xmr[0])  # symbols are independent
    assert not per_symbol.accept(ftm[0])


@pytest.mark.parametrize(
    ("frame", "field", "value"),
    [
        ("not json", "frame", "not json"),
        ('{"stream":"ftmusdt@bookTicker","data":{"u":8', "frame", None),  # truncated
        (b"\xff\xfe", "frame", b"\xff\xfe"),
        ("[1, 2]", "frame", [1, 2]),
        ('{"data": {}}', "stream", None),
        ('{"stream":"ftmusdt@bookTicker","data":[]}', "data", []),
        ('{"stream":"ftmusdt@whatever","data":{}}', "stream", "ftmusdt@whatever"),
        ('{"stream":"ftmusdt@bookTicker","data":{"u":1,"s":"FTMUSDT"}}', "data.b", None),
        (
            '{"stream":"ftmusdt@bookTicker","data":{"u":1,"s":"FTMUSDT","b":"0.3x",'
            '"B":"1","a":"0.4","A":"1"}}',
            "data.b",
            "0.3x",
        ),
        (
            '{"stream":"ftmusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1",'
            '"B":"1","a":"1","A":"1"}}',
            "data.s",
            "BTCUSDT",
        ),
        ('{"code": -1121, "msg": "Invalid symbol."}', "code", -1121),
    ],
)
def test_garbage_raises_one_wire_error_naming_field_and_value(frame, field, value):
    with pytest.raises(WireError) as info:
        parse_frame(frame, RECV)
    err = info.value
    assert not isinstance(err, UnsupportedStream)
    assert err.field == field
    if value is not None:
        assert err.value == value
    assert f"field {field}" in str(err) and "expected" in str(err)


def test_truncated_real_frames_are_wire_errors():
    for line in stream_lines()[:20]:
        with pytest.raises(WireError, match="valid JSON"):
            parse_frame(line[: len(line) // 2], RECV)


def test_server_shutdown_and_control_replies():
    shutdown = ServerShutdown(ts=1770123456.789)
    bare = '{"e": "serverShutdown", "E": 1770123456789}'
    assert parse_frame(bare, RECV) == shutdown
    assert parse_frame(f'{{"event": {bare}}}', RECV) == shutdown
    assert parse_frame(f'{{"stream": "btcusdt@bookTicker", "data": {bare}}}', RECV) == shutdown
    assert parse_frame('{"result": null, "id": 7}', RECV) == ControlReply(id=7, result=None)


def test_the_live_data_doc_examples_run():
    failures, tried = doctest.testfile(str(DOCS), module_relative=False, verbose=False)
    assert tried >= 8 and failures == 0
