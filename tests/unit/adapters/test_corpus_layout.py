"""The corpus directory layout: the paths are a contract shared with the live recorder."""

from __future__ import annotations

from datetime import date

from engine.adapters.corpus.layout import (
    CorpusLayout,
    checksum_path,
    day_start_us,
    days_between,
    parse_aggtrades_name,
    parse_kline_name,
    parse_series_name,
)

D = date(2026, 3, 12)


def test_paths_follow_the_documented_layout(tmp_path):
    c = CorpusLayout(tmp_path)
    rel = lambda p: p.relative_to(tmp_path).as_posix()  # noqa: E731
    assert rel(c.kline_path("BTCUSDT", "1s", D)) == (
        "binance/data/spot/daily/klines/BTCUSDT/1s/BTCUSDT-1s-2026-03-12.zip"
    )
    assert rel(checksum_path(c.kline_path("BTCUSDT", "1s", D))).endswith(
        "BTCUSDT-1s-2026-03-12.zip.CHECKSUM"
    )
    assert rel(c.aggtrades_path("BTCUSDT", D)) == (
        "binance/data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2026-03-12.zip"
    )
    assert rel(c.market_path("btc-updown-5m-1773307200")) == (
        "polymarket/gamma/markets/btc-updown-5m-1773307200.json"
    )
    assert rel(c.booktop_path("btc-updown-5m", D)) == (
        "polymarket/clob/book-top/btc-updown-5m-2026-03-12.csv.gz"
    )
    assert rel(c.prices_history_path("btc-updown-5m", D)) == (
        "polymarket/clob/prices-history/btc-updown-5m-2026-03-12.zip"
    )


def test_file_names_parse_back():
    k = parse_kline_name(CorpusLayout("/c").kline_path("ETHUSDT", "15m", D))
    assert (k.symbol, k.interval, k.day) == ("ETHUSDT", "15m", D)
    a = parse_aggtrades_name(CorpusLayout("/c").aggtrades_path("ETHUSDT", D))
    assert (a.symbol, a.day) == ("ETHUSDT", D)
    s = parse_series_name(CorpusLayout("/c").booktop_path("eth-updown-15m", D))
    assert (s.series, s.day) == ("eth-updown-15m", D)
    assert parse_kline_name("BTCUSDT-1m-2026-03-12.csv") is None
    assert parse_series_name("notes.txt") is None


def test_listings_skip_stray_files_and_an_empty_corpus_lists_nothing(tmp_path):
    c = CorpusLayout(tmp_path)
    assert c.kline_symbols() == [] and c.market_slugs() == [] and c.booktop_series() == []
    for day in (date(2026, 3, 13), D):
        p = c.booktop_path("btc-updown-5m", day)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    (c.booktop_dir / "README.txt").write_text("stray")
    p = c.prices_history_path("btc-updown-5m", D)
    p.parent.mkdir(parents=True)
    p.write_bytes(b"")
    assert c.booktop_series() == ["btc-updown-5m"]
    assert c.booktop_days("btc-updown-5m") == [D, date(2026, 3, 13)]
    assert c.prices_history_series() == ["btc-updown-5m"]
    assert c.prices_history_days("btc-updown-5m") == [D]


def test_days_and_their_start():
    assert list(days_between(date(2024, 12, 31), date(2025, 1, 2))) == [
        date(2024, 12, 31),
        date(2025, 1, 1),
        date(2025, 1, 2),
    ]
    assert day_start_us(date(2025, 1, 1)) == 1_735_689_600 * 1_000_000
