"""The top-of-book CSV.gz: writer and reader of one format, on tops of real CLOB books."""

from __future__ import annotations

import gzip
import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from engine.adapters.corpus.booktop import (
    HEADER_LINE,
    BookTop,
    BookTopWriter,
    iter_booktop,
    read_booktop,
    write_booktop,
)
from engine.adapters.corpus.errors import GAP_DAY, CorpusError
from engine.adapters.corpus.layout import CorpusLayout

FORMATS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "formats"
DAY = date(2026, 8, 14)  # the day of the captured books
SERIES = "btc-updown-5m"


def top_of(snapshot: str) -> BookTop:
    """The top of a captured CLOB book (levels arrive worst to best: sort, never take [0])."""
    book = json.loads((FORMATS / snapshot).read_text())
    bid = max(book["bids"], key=lambda lv: float(lv["price"]))
    ask = min(book["asks"], key=lambda lv: float(lv["price"]))
    return BookTop(
        int(book["timestamp"]),
        book["asset_id"],
        float(bid["price"]),
        float(ask["price"]),
        float(bid["size"]),
        float(ask["size"]),
    )


REST = top_of("clob_book_rest.json")  # 17:23:18.766, bid 0.001 x 28195.33, ask 0.999 x 231.08
WS = top_of("clob_ws_book.json")  # 17:27:12.337, bid 0.004 x 100, ask 0.009 x 25


@pytest.fixture
def layout(tmp_path):
    return CorpusLayout(tmp_path)


def gz(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()))
    return path


def read_rows(path, **kw):
    return [r for chunk in read_booktop(path, **kw) for r in chunk.rows()]


def test_tops_of_real_books_round_trip(layout):
    path = layout.booktop_path(SERIES, DAY)
    path.parent.mkdir(parents=True)
    assert write_booktop(path, [REST, WS]) == 2
    assert read_rows(path) == [REST, WS]
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert lines == [
        "ts,token_id,best_bid,best_ask,bid_size,ask_size",
        f"1786728198766,{REST.token_id},0.001,0.999,28195.33,231.08",
        f"1786728432337,{WS.token_id},0.004,0.009,100,25",
    ]
    assert layout.booktop_series() == [SERIES] and layout.booktop_days(SERIES) == [DAY]


def test_an_empty_field_is_an_empty_side_not_zero(layout):
    path = gz(
        layout.booktop_path(SERIES, DAY),
        f"{HEADER_LINE}\n"
        f"1786728198766,{REST.token_id},,0.999,,231.08\n"
        f"1786728198900,{REST.token_id},0.001,,28195.33,\n",
    )
    (chunk,) = read_booktop(path)
    assert chunk.token_id.tolist() == [REST.token_id] * 2
    assert np.isnan(chunk.best_bid[0]) and np.isnan(chunk.bid_size[0])
    assert np.isnan(chunk.best_ask[1]) and np.isnan(chunk.ask_size[1])
    assert chunk.best_ask[0] == 0.999 and chunk.ts[0] == 1786728198.766


def test_the_writer_drops_unchanged_tops_and_writes_none_as_empty(tmp_path):
    path = tmp_path / f"{SERIES}-2026-08-14.csv.gz"
    with BookTopWriter(path) as w:
        assert w.write(WS.ts_ms, WS.token_id, 0.004, 0.009, 100, 25)
        assert not w.write(WS.ts_ms + 5, WS.token_id, 0.004, 0.009, 100.0, 25.0)  # unchanged
        assert w.write(WS.ts_ms + 9, WS.token_id, None, 0.009, None, 25)
        assert w.write(WS.ts_ms + 9, REST.token_id, 0.004, 0.009, 100, 25)  # another token
    rows = read_rows(path)
    assert [r.ts_ms - WS.ts_ms for r in rows] == [0, 9, 9]
    assert math.isnan(rows[1].best_bid) and rows[1].best_ask == 0.009


def test_equal_rows_give_equal_bytes(tmp_path):
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    write_booktop(a, [REST, WS])
    write_booktop(b, [REST, WS])
    assert a.read_bytes() == b.read_bytes()  # no timestamp nor name in the gzip header


def test_the_writer_refuses_bad_rows_and_existing_files(tmp_path):
    path = tmp_path / "t.csv.gz"
    with BookTopWriter(path) as w:
        with pytest.raises(ValueError, match="best_bid/best_ask: best_bid < best_ask"):
            w.write(WS.ts_ms, WS.token_id, 0.5, 0.4, 10, 10)
        with pytest.raises(ValueError, match="best_bid/bid_size: a price and a size"):
            w.write(WS.ts_ms, WS.token_id, 0.5, None, None, None)
        w.write(WS.ts_ms, WS.token_id, 0.4, 0.5, 10, 10)
        with pytest.raises(ValueError, match="before the previous row"):
            w.write(WS.ts_ms - 1, WS.token_id, 0.4, 0.5, 10, 11)
    with pytest.raises(FileExistsError):
        BookTopWriter(path)


def test_chunks_keep_time_order(layout):
    path = layout.booktop_path(SERIES, DAY)
    path.parent.mkdir(parents=True)
    rows = [BookTop(WS.ts_ms + k, WS.token_id, 0.004, 0.009, 100 + k, 25) for k in range(7)]
    write_booktop(path, rows)
    chunks = list(read_booktop(path, chunk_rows=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert np.concatenate([c.ts_ms for c in chunks]).tolist() == [r.ts_ms for r in rows]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "1786728198766,{tok},0.0O1,0.999,1,1",
            "line 3, field best_bid: got '0.0O1', expected a decimal number or empty",
        ),
        (
            "1786728198766,{tok},0.001,0.999,,1",
            "line 3, field best_bid/bid_size: got .*expected a price and a size, or both empty",
        ),
        (
            "1786728198766,{tok},0.001,1.2,1,1",
            "line 3, field best_ask: got '1.2', expected a price in \\(0, 1\\) or empty",
        ),
        (
            "1786728198766,{tok},0.001,0.999,1,-3",
            "line 3, field ask_size: got '-3', expected a size in shares > 0",
        ),
        (
            "1786728198766,{tok},0.5,0.4,1,1",
            "line 3, field best_bid/best_ask: .*best_bid < best_ask",
        ),
        (
            "1786728198,{tok},0.001,0.999,1,1",
            "line 3, field ts: got '1786728198', expected epoch milliseconds",
        ),
        (
            "1786728198765,{tok},0.001,0.999,1,1",
            "line 3, field ts: got 1786728198765, expected ts >= 1786728198766",
        ),
        (
            "1786800000000,{tok},0.001,0.999,1,1",
            "line 3, field ts: .*inside the file's day 2026-08-14",
        ),
        (
            "1786728198766,0x{tok},0.001,0.999,1,1",
            "line 3, field token_id: got '0x.*expected a decimal token id",
        ),
        ("1786728198766,{tok},0.001,0.999,1", "line 3: .*expected 6 fields"),
    ],
)
def test_a_bad_row_names_file_line_field_and_value(layout, line, message):
    first = f"1786728198766,{REST.token_id},0.001,0.999,28195.33,231.08"
    path = gz(
        layout.booktop_path(SERIES, DAY),
        f"{HEADER_LINE}\n{first}\n{line.format(tok=REST.token_id)}\n",
    )
    with pytest.raises(CorpusError, match=rf"btc-updown-5m-2026-08-14\.csv\.gz: {message}"):
        read_rows(path)


def test_a_wrong_header_or_a_corrupt_gzip_is_refused(layout):
    path = gz(layout.booktop_path(SERIES, DAY), "ts,token,bid,ask\n")
    with pytest.raises(
        CorpusError, match="line 1: got 'ts,token,bid,ask', expected the header ts,token_id"
    ):
        read_rows(path)
    write_booktop(path.with_name("x.csv.gz"), [REST, WS])
    path.write_bytes(path.with_name("x.csv.gz").read_bytes()[:-12])  # truncated
    with pytest.raises(CorpusError, match="expected a readable gzip file"):
        read_rows(path)
    path.write_bytes(b"not a gzip file")
    with pytest.raises(CorpusError, match="BadGzipFile"):
        read_rows(path)


def test_a_missing_day_is_a_reported_gap(layout):
    path = layout.booktop_path(SERIES, DAY)
    path.parent.mkdir(parents=True)
    write_booktop(path, [REST, WS])
    gaps = []
    rows = [
        r for c in iter_booktop(layout, SERIES, DAY, date(2026, 8, 15), gaps=gaps) for r in c.rows()
    ]
    assert rows == [REST, WS]
    assert [(g.kind, g.path.name, g.missing) for g in gaps] == [
        (GAP_DAY, f"{SERIES}-2026-08-15.csv.gz", 1)
    ]
