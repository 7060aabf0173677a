"""Binance dump readers on real kline and aggTrade rows (zips built by the fixture builder)."""

from __future__ import annotations

import copy
import zipfile
from datetime import date

import numpy as np
import pytest

from engine.adapters.corpus.binance import (
    MS,
    US,
    interval_seconds,
    iter_aggtrades,
    iter_klines,
    kline_gaps,
    read_aggtrades_file,
    read_kline_file,
    time_unit,
    verify_checksum,
    write_checksum,
)
from engine.adapters.corpus.errors import (
    GAP_AGG_IDS,
    GAP_BARS,
    GAP_DAY,
    CorpusError,
    CorpusGapWarning,
)
from engine.adapters.corpus.layout import CorpusLayout, day_start_us
from tests.fixtures.corpus.build import (
    AGGTRADE_TIME_COLUMNS,
    KLINE_TIME_COLUMNS,
    csv_text,
    rest_klines,
    write_dump,
    ws_aggtrade_row,
)

DAY = date(2021, 10, 22)  # the day of the real REST klines (23:03-23:12 UTC)
AGG_DAY = date(2021, 8, 14)  # the day of the real WS aggTrade


def kline_dump(layout: CorpusLayout, rows, *, unit=MS, interval="1m", day=DAY, **kw):
    path = layout.kline_path("BTCUSDT", interval, day)
    return write_dump(path, csv_text(rows, KLINE_TIME_COLUMNS, unit), **kw)


def read_all(path, **kw):
    kw.setdefault("gaps", [])
    return list(read_kline_file(path, **kw))


@pytest.fixture
def layout(tmp_path):
    return CorpusLayout(tmp_path)


# -- values and units ----------------------------------------------------------------------
def test_ms_dump_reads_the_real_rows_exactly(layout):
    rows = rest_klines()
    (chunk,) = read_all(kline_dump(layout, rows))
    assert chunk.unit == MS and (chunk.symbol, chunk.interval) == ("BTCUSDT", "1m")
    assert chunk.open_time_us.tolist() == [r[0] * 1000 for r in rows]
    assert chunk.close_time_us.tolist() == [r[6] * 1000 for r in rows]
    assert chunk.open.tolist() == [float(r[1]) for r in rows]
    assert chunk.close.tolist() == [float(r[4]) for r in rows]
    assert chunk.taker_buy_quote.tolist() == [float(r[10]) for r in rows]
    assert chunk.trades.dtype == np.int64 and chunk.trades.tolist() == [r[8] for r in rows]
    assert chunk.open_ts[0] == 1634943780.0


def test_us_dump_gives_the_same_arrays_as_the_ms_dump(tmp_path):
    rows = rest_klines()
    (ms,) = read_all(kline_dump(CorpusLayout(tmp_path / "ms"), rows, unit=MS))
    (us,) = read_all(kline_dump(CorpusLayout(tmp_path / "us"), rows, unit=US))
    assert us.unit == US and ms.unit == MS
    for col in ("open_time_us", "close_time_us", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(us, col), getattr(ms, col))


def test_time_unit_is_told_by_magnitude():
    assert time_unit(1634943780000) == MS
    assert time_unit(1634943780000 * 1000) == US
    assert time_unit(1634943780) is None  # seconds: neither, refused rather than guessed
    assert time_unit(1634943780000 * 1_000_000) is None  # nanoseconds


def test_a_file_mixing_ms_and_us_is_refused(layout):
    rows = rest_klines()
    rows[3][0] *= 1000  # one open time in µs in a ms file
    with pytest.raises(CorpusError, match=r"line 4, column open_time.*milliseconds"):
        read_all(kline_dump(layout, rows))


def test_a_header_row_is_sniffed_and_skipped(layout):
    rows = rest_klines()
    header = (
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
        "taker_buy_volume,taker_buy_quote_volume,ignore\n"
    )
    path = layout.kline_path("BTCUSDT", "1m", DAY)
    write_dump(path, header + csv_text(rows, KLINE_TIME_COLUMNS))
    (chunk,) = read_all(path)
    assert len(chunk) == len(rows) and chunk.open_time_us[0] == rows[0][0] * 1000


def test_chunks_stream_in_time_order_and_join_to_the_whole_file(layout):
    path = kline_dump(layout, rest_klines())
    (whole,) = read_all(path)
    chunks = read_all(path, chunk_rows=3)
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    np.testing.assert_array_equal(
        np.concatenate([c.open_time_us for c in chunks]), whole.open_time_us
    )


def test_interval_seconds():
    assert [interval_seconds(i) for i in ("1s", "1m", "15m", "4h", "1d")] == [
        1,
        60,
        900,
        14400,
        86400,
    ]
    with pytest.raises(ValueError, match="7m"):
        interval_seconds("7m")  # does not divide a day: no daily dump


# -- checksums and corrupt files -------------------------------------------------------------
def test_checksum_file_is_in_the_published_format_and_verifies(layout):
    path = kline_dump(layout, rest_klines())
    digest, name = (path.parent / (path.name + ".CHECKSUM")).read_text().split()
    assert name == "BTCUSDT-1m-2021-10-22.zip" and len(digest) == 64
    assert verify_checksum(path) == digest


def test_a_bad_checksum_names_the_file_and_both_digests(layout):
    path = kline_dump(layout, rest_klines())
    checksum = path.parent / (path.name + ".CHECKSUM")
    checksum.write_text("0" * 64 + "  " + path.name + "\n")
    with pytest.raises(
        CorpusError, match=r"BTCUSDT-1m-2021-10-22\.zip: sha256: got '[0-9a-f]{64}', expected 0{64}"
    ):
        read_all(path)
    read_all(path, verify=False)  # the bytes themselves are fine


def test_a_missing_or_foreign_checksum_is_refused(layout):
    path = kline_dump(layout, rest_klines(), checksum=False)
    with pytest.raises(CorpusError, match=r"\.CHECKSUM: got 'no such file'"):
        read_all(path)
    checksum = write_checksum(path)
    checksum.write_text(checksum.read_text().replace(path.name, "ETHUSDT-1m-2021-10-22.zip"))
    with pytest.raises(CorpusError, match="file name: got 'ETHUSDT-1m-2021-10-22.zip'"):
        read_all(path)


def test_a_corrupt_zip_is_refused_with_its_name(layout):
    path = kline_dump(layout, rest_klines())
    path.write_bytes(path.read_bytes()[:40])  # truncated download
    write_checksum(path)  # even with a matching checksum
    with pytest.raises(
        CorpusError, match=r"BTCUSDT-1m-2021-10-22\.zip: got 'BadZipFile.*expected a readable zip"
    ):
        read_all(path)


def test_a_flipped_byte_fails_the_checksum(layout):
    path = kline_dump(layout, rest_klines())
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match="sha256"):
        read_all(path)
    with pytest.raises(CorpusError, match="readable zip"):
        read_all(path, verify=False)  # the zip's own CRC catches it too


def test_a_zip_with_two_members_is_refused(layout):
    path = kline_dump(layout, rest_klines())
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("extra.csv", "")
    write_checksum(path)
    with pytest.raises(CorpusError, match="exactly one .csv file"):
        read_all(path)


def test_a_bad_number_names_line_column_and_value(layout):
    rows = rest_klines()
    rows[6][4] = "60776.6x"
    with pytest.raises(
        CorpusError, match=r"line 7, column close: got '60776\.6x', expected a decimal number"
    ):
        read_all(kline_dump(layout, rows))


def test_a_short_row_is_refused(layout):
    rows = rest_klines()
    rows[2] = rows[2][:11]
    with pytest.raises(CorpusError, match="line 3: .*expected 12 comma-separated columns"):
        read_all(kline_dump(layout, rows))


def test_rows_out_of_order_or_outside_the_day_are_refused(tmp_path):
    rows = rest_klines()
    swapped = [rows[1], rows[0], *rows[2:]]
    with pytest.raises(CorpusError, match="line 2, column open_time.*strictly increasing"):
        read_all(kline_dump(CorpusLayout(tmp_path / "a"), swapped))
    with pytest.raises(CorpusError, match="line 1, column open_time.*inside the file's UTC day"):
        read_all(kline_dump(CorpusLayout(tmp_path / "b"), rows, day=date(2021, 10, 21)))


def test_high_below_close_is_refused(layout):
    rows = rest_klines()
    rows[0][2] = "60000.00000000"  # high below open and close
    with pytest.raises(CorpusError, match="line 1, column high/low"):
        read_all(kline_dump(layout, rows))


# -- gaps ----------------------------------------------------------------------------------
def test_missing_minutes_of_the_day_are_reported_not_filled(layout):
    rows = rest_klines()
    del rows[4]  # 23:07 missing
    gaps = kline_gaps(kline_dump(layout, rows))
    day0 = day_start_us(DAY)
    t = lambda hh, mm: day0 + (hh * 3600 + mm * 60) * 1_000_000  # noqa: E731
    assert [(g.kind, g.start_us, g.end_us, g.missing) for g in gaps] == [
        (GAP_BARS, day0, t(23, 3), 23 * 60 + 3),  # the day before the first real row
        (GAP_BARS, t(23, 7), t(23, 8), 1),
        (GAP_BARS, t(23, 13), day0 + 86_400_000_000, 47),  # after the last
    ]
    assert "1 bar(s) missing in [2021-10-22T23:07:00" in str(gaps[1])


def test_a_gap_across_a_chunk_boundary_is_found(layout):
    rows = rest_klines()
    del rows[3]
    gaps = []
    chunks = list(read_kline_file(kline_dump(layout, rows), chunk_rows=3, gaps=gaps))
    assert sum(len(c) for c in chunks) == 9
    assert [g.missing for g in gaps] == [1383, 1, 47]


def test_missing_seconds_of_a_1s_day_are_reported(layout):
    # 1s rows: the real 1m rows' values re-stamped at consecutive seconds from 23:03:00.
    real = rest_klines()
    rows = []
    for k, r in enumerate(real):
        r = copy.copy(r)
        r[0] = real[0][0] + k * 1000
        r[6] = r[0] + 999
        rows.append(r)
    del rows[5:7]  # 23:03:05 and 23:03:06 missing
    path = kline_dump(layout, rows, interval="1s")
    gaps = kline_gaps(path)
    assert [g.missing for g in gaps] == [23 * 3600 + 3 * 60, 2, 86400 - (23 * 3600 + 3 * 60 + 10)]
    assert gaps[1].start_us == rows[4][0] * 1000 + 1_000_000
    assert gaps[1].series == "klines BTCUSDT 1s" and gaps[1].path == path


def test_gaps_warn_when_no_list_is_given(layout):
    path = kline_dump(layout, rest_klines())
    with pytest.warns(CorpusGapWarning) as caught:
        list(read_kline_file(path))
    assert [w.message.gap.missing for w in caught] == [1383, 47]


def test_a_missing_day_is_a_reported_gap(layout):
    rows = rest_klines()
    before = [[r[0] - 2 * 86_400_000, *r[1:6], r[6] - 2 * 86_400_000, *r[7:]] for r in rows]
    kline_dump(layout, before, day=date(2021, 10, 20))
    kline_dump(layout, rows)  # 2021-10-21 is missing
    gaps = []
    chunks = list(
        iter_klines(layout, "BTCUSDT", "1m", date(2021, 10, 20), date(2021, 10, 23), gaps=gaps)
    )
    assert [len(c) for c in chunks] == [10, 10]
    days = [(g.path.name, g.missing) for g in gaps if g.kind == GAP_DAY]
    assert days == [("BTCUSDT-1m-2021-10-21.zip", 1), ("BTCUSDT-1m-2021-10-23.zip", 1)]
    assert layout.kline_symbols() == ["BTCUSDT"] and layout.kline_intervals("BTCUSDT") == ["1m"]
    assert layout.kline_days("BTCUSDT", "1m") == [date(2021, 10, 20), DAY]


# -- aggTrades -----------------------------------------------------------------------------
def agg_rows():
    """The real trade, then three more derived from it (ids +1, +2, +5: ids 3-4 skipped)."""
    a, p, q, f, last, t, m, mm = ws_aggtrade_row()
    derived = [
        [a + k, p, q, f + k, last + k, t + 10 * k, not m if k % 2 else m, mm] for k in (1, 2, 5)
    ]
    return [[a, p, q, f, last, t, m, mm], *derived]


def agg_dump(layout, rows, *, unit=MS, day=AGG_DAY):
    path = layout.aggtrades_path("FTMUSDT", day)
    return write_dump(path, csv_text(rows, AGGTRADE_TIME_COLUMNS, unit))


@pytest.mark.parametrize("unit", [MS, US])
def test_aggtrades_read_the_real_trade(layout, unit):
    gaps = []
    (chunk,) = read_aggtrades_file(agg_dump(layout, agg_rows(), unit=unit), gaps=gaps)
    assert chunk.unit == unit and chunk.symbol == "FTMUSDT"
    assert chunk.agg_id[0] == 31718372 and chunk.price[0] == 0.33993 and chunk.qty[0] == 99.9
    assert chunk.first_trade_id[0] == chunk.last_trade_id[0] == 38248910
    assert chunk.time_us[0] == 1628952396572 * 1000
    assert chunk.is_buyer_maker.tolist() == [True, False, True, False]
    assert chunk.is_best_match.all()
    assert [(g.kind, g.missing) for g in gaps] == [(GAP_AGG_IDS, 2)]
    assert (gaps[0].start_us, gaps[0].end_us) == (chunk.time_us[2], chunk.time_us[3])


def test_aggtrades_bad_boolean_names_the_column(layout):
    text = csv_text(agg_rows(), AGGTRADE_TIME_COLUMNS).replace("True,True\n", "yes,True\n", 1)
    path = write_dump(layout.aggtrades_path("FTMUSDT", AGG_DAY), text)
    with pytest.raises(
        CorpusError, match="line 1, column is_buyer_maker: got 'yes', expected True or False"
    ):
        list(read_aggtrades_file(path, gaps=[]))


def test_aggtrade_ids_continue_across_days(layout):
    rows = agg_rows()[:2]
    agg_dump(layout, rows)
    a, p, q, f, last, t, m, mm = rows[-1]
    nxt = date(2021, 8, 15)
    t_next = day_start_us(nxt) // 1000 + 5
    agg_dump(layout, [[a + 4, p, q, f + 4, last + 4, t_next, m, mm]], day=nxt)
    gaps = []
    chunks = list(iter_aggtrades(layout, "FTMUSDT", AGG_DAY, nxt, gaps=gaps))
    assert [len(c) for c in chunks] == [2, 1]
    assert [(g.kind, g.missing, g.end_us) for g in gaps] == [(GAP_AGG_IDS, 3, t_next * 1000)]
    assert layout.aggtrades_days("FTMUSDT") == [AGG_DAY, nxt]
