"""The recorder: raw frames kept as received, and a normalized corpus that replays.

The market is the real Gamma object ``btc-updown-5m-1773307200`` (09:20-09:25 UTC on
2026-03-12, open when captured); its resolved answer is the same object with ``closed`` and
``outcomePrices`` set as Gamma sends them after the window. The raw frames are the real Binance
and CLOB payloads of ``tests/fixtures/formats``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from engine.adapters.corpus.booktop import read_booktop
from engine.adapters.corpus.replay import ReplayFeed
from engine.adapters.recorder import CorpusRecorder, RawRecorder
from engine.core.types import UP, Book

FORMATS = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
SLUG = "btc-updown-5m-1773307200"
T0 = 1773307200  # the window's start, 2026-03-12T09:20:00Z


def market() -> dict:
    return json.loads((FORMATS / "gamma_market_btc_updown_5m.json").read_text())


def book(bid: float, ask: float, size: float = 50.0) -> Book:
    return Book("t", np.array([[bid, size]]), np.array([[ask, size]]), ts=0.0)


def read_raw(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_raw_frames_are_kept_as_received_in_hourly_files(tmp_path):
    rec = RawRecorder(tmp_path)
    frames = (FORMATS / "binance_combined_stream.jsonl").read_text().splitlines()[:3]
    for i, frame in enumerate(frames):
        rec.write("binance", T0 - 2 + i, "binance stream", frame)  # 09:19:58 .. 09:20:00
    body = (FORMATS / "clob_book_rest.json").read_bytes()
    rec.write("polymarket", T0 + 1.5, "GET /book", body, kind="http")
    rec.close()
    day = tmp_path / "record" / "binance" / "2026-03-12"
    assert sorted(p.name for p in day.iterdir()) == ["09.jsonl.gz"]
    lines = read_raw(day / "09.jsonl.gz")
    assert [line["payload"] for line in lines] == frames  # byte for byte
    assert [line["recv_ts"] for line in lines] == [T0 - 2, T0 - 1, T0]
    (http,) = read_raw(tmp_path / "record" / "polymarket" / "2026-03-12" / "09.jsonl.gz")
    assert http["kind"] == "http" and http["payload"] == body.decode()


def test_a_restart_inside_the_hour_appends_to_its_file(tmp_path):
    for i in range(2):
        rec = RawRecorder(tmp_path)
        rec.write("binance", T0 + i, "s", f"frame {i}")
        rec.close()
    path = tmp_path / "record" / "binance" / "2026-03-12" / "09.jsonl.gz"
    assert [line["payload"] for line in read_raw(path)] == ["frame 0", "frame 1"]


def record_session(root: Path, resolved: bool) -> CorpusRecorder:
    """Ten minutes of closed 1 s bars (09:18-09:28), the market, and its two tokens' tops."""
    rec = CorpusRecorder(root)
    up, down = json.loads(market()["clobTokenIds"])
    raw = market()
    rec.market(raw)
    for s in range(T0 - 120, T0 + 480):
        price = 70_000.0 + (s - T0) * 0.5
        rec.kline("BTCUSDT", s, price - 0.5, price, price - 0.5, price, 1.0)
        ts = s + 1  # the bar's close is known at s + 1; the book is seen then too
        if T0 <= ts < T0 + 300:
            p = min(0.5 + (ts - T0) / 1000, 0.98)
            rec.book("btc-updown-5m", up, book(round(p - 0.01, 2), round(p + 0.01, 2)), ts)
            rec.book("btc-updown-5m", down, book(round(0.99 - p, 2), round(1.01 - p, 2)), ts)
    if resolved:
        rec.market(raw | {"closed": True, "outcomePrices": '["1", "0"]'})
    rec.close()
    return rec


def test_the_normalized_corpus_replays_what_was_recorded(tmp_path):
    rec = record_session(tmp_path, resolved=True)
    assert rec.counts["kline_days"] == 1 and rec.counts["markets"] == 2
    # Unchanged tops are still written once a second (the format's heartbeat): 2 tokens x 300 s.
    assert rec.counts["book_rows"] == 600
    feed = ReplayFeed(corpus=str(tmp_path / "corpus"))
    ticks = {t.ts: t for t in feed.ticks()}
    assert feed.skipped == [] and feed.unresolved == []
    # A session records part of a day: the rest of it is reported missing, never filled in.
    recorded = ((T0 - 120) * 1_000_000, (T0 + 480) * 1_000_000)
    assert feed.gaps and all(
        g.end_us <= recorded[0] or g.start_us >= recorded[1] for g in feed.gaps
    )
    listed = ticks[float(T0)].listed
    assert [m.market_id for m in listed] == [SLUG] and listed[
        0
    ].strike == 69_999.5  # the bar closing at T0
    up, _ = json.loads(market()["clobTokenIds"])
    assert ticks[float(T0 + 10)].books[up].best_ask == pytest.approx(0.52)
    (resolution,) = ticks[float(T0 + 300)].resolved
    assert resolution.winner == UP and resolution.end_price == 70_149.5


def test_an_open_market_stays_unresolved_and_a_second_session_appends(tmp_path):
    record_session(tmp_path, resolved=False)
    feed = ReplayFeed(corpus=str(tmp_path / "corpus"))
    list(feed.ticks())
    assert feed.unresolved == [SLUG]  # never guessed
    # A second session the same day: later tops join the day's file, still in time order.
    rec = CorpusRecorder(tmp_path)
    rec.book("btc-updown-5m", "123", book(0.40, 0.45), T0 + 400)
    rec.close()
    path = (
        tmp_path / "corpus" / "polymarket" / "clob" / "book-top" / "btc-updown-5m-2026-03-12.csv.gz"
    )
    rows = np.concatenate([c.ts_ms for c in read_booktop(path)])
    assert len(rows) == 601 and rows[-1] == (T0 + 400) * 1000 and (np.diff(rows) >= 0).all()


def test_a_repeated_or_older_bar_is_ignored(tmp_path):
    rec = CorpusRecorder(tmp_path)
    rec.kline("BTCUSDT", T0, 1.0, 1.0, 1.0, 1.0)
    rec.kline("BTCUSDT", T0, 2.0, 2.0, 2.0, 2.0)  # the same bar again (a reconnect)
    rec.kline("BTCUSDT", T0 - 1, 3.0, 3.0, 3.0, 3.0)
    rec.close()
    assert rec.counts["klines"] == 1
