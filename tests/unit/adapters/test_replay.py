"""``ReplayFeed``: a tiny corpus in ``tmp_path`` replayed tick by tick, then through the loop.

The corpus is built from real bytes: 1-second kline dumps from the real REST kline rows
(``tests/fixtures/corpus/build.py``; only their times are moved onto the replayed seconds, and
their closes where a test needs distinct ones), book-top files written by ``BookTopWriter``,
and the real Gamma object ``btc-updown-5m-1773307200`` (09:20-09:25 UTC on 2026-03-12, open:
no outcome). Its resolved neighbour ``btc-updown-5m-1773307500`` is derived from it by moving
its times and slug five minutes on, setting ``closed``/``outcomePrices`` to an Up win, and
changing the last digit of its two token ids (so the two windows' books are told apart).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from engine.adapters.corpus import CorpusLayout
from engine.adapters.corpus.booktop import BookTopWriter
from engine.adapters.corpus.errors import GAP_DAY
from engine.adapters.corpus.replay import STRIKE_SOURCE, ReplayFeed
from engine.core.types import UP
from engine.core.validation import ConfigError
from tests.fixtures.corpus.build import KLINE_TIME_COLUMNS, csv_text, rest_klines, write_dump

GAMMA = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "polymarket" / "gamma"
OPEN = "btc-updown-5m-1773307200"  # real: 09:20-09:25, closed false
WON = "btc-updown-5m-1773307500"  # derived: 09:25-09:30, Up won
T0 = 1773307200  # 2026-03-12T09:20:00Z
DAY = date(2026, 3, 12)


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def kline_rows(first_open_s: int, closes: list[float]) -> list[list[object]]:
    """1-second bars opening at ``first_open_s``, ``first_open_s + 1``...: the real REST rows
    in turn, re-timed, with ``closes`` as their close (high/low widened to hold it)."""
    real = rest_klines()
    rows = []
    for i, close in enumerate(closes):
        row = list(real[i % len(real)])
        open_ms = (first_open_s + i) * 1000
        row[0], row[6] = open_ms, open_ms + 999
        row[2] = f"{max(float(row[2]), close):.8f}"
        row[3] = f"{min(float(row[3]), close):.8f}"
        row[4] = f"{close:.8f}"
        rows.append(row)
    return rows


def write_klines(layout: CorpusLayout, day: date, rows: list[list[object]]) -> None:
    path = layout.kline_path("BTCUSDT", "1s", day)
    path.unlink(missing_ok=True)
    # Spot dumps from 2025-01-01 are in microseconds.
    write_dump(path, csv_text(rows, KLINE_TIME_COLUMNS, unit="us"))


def close_at(open_s: int) -> float:
    """The close the corpus gives the bar opening at ``open_s`` (distinct per second)."""
    return 70_000.0 + (open_s - T0)


def copy_market(layout: CorpusLayout, slug: str = OPEN, shift_s: int = 0, won: bool = False):
    obj = json.loads((GAMMA / "markets" / f"{OPEN}.json").read_text())
    if shift_s:
        for key in ("eventStartTime", "endDate", "startDate"):
            t = datetime.fromisoformat(obj[key]).timestamp() + shift_s
            obj[key] = datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        obj["slug"] = slug
        tokens = json.loads(obj["clobTokenIds"])
        obj["clobTokenIds"] = json.dumps([t[:-1] + str((int(t[-1]) + 1) % 10) for t in tokens])
    if won:
        obj.update(closed=True, outcomePrices='["1", "0"]')
    layout.gamma_markets_dir.mkdir(parents=True, exist_ok=True)
    layout.market_path(slug).write_text(json.dumps(obj))
    return obj


def tokens(obj: dict) -> list[str]:
    return json.loads(obj["clobTokenIds"])  # [Up, Down]


@pytest.fixture
def corpus(tmp_path) -> CorpusLayout:
    """Bars from 09:19:50 to 09:30:09, the open market, its resolved neighbour, and book tops."""
    layout = CorpusLayout(tmp_path / "corpus")
    first = T0 - 10
    write_klines(layout, DAY, kline_rows(first, [close_at(t) for t in range(first, T0 + 610)]))
    up, down = tokens(copy_market(layout))
    up2, _ = tokens(copy_market(layout, WON, shift_s=300, won=True))
    layout.booktop_dir.mkdir(parents=True)
    with BookTopWriter(layout.booktop_path("btc-updown-5m", DAY)) as w:
        w.write((T0 - 5) * 1000, up, 0.48, 0.52, 100, 50)
        w.write((T0 + 3) * 1000 + 400, up, 0.49, 0.51, 80, 40)
        w.write((T0 + 3) * 1000 + 900, down, None, 0.55, None, 25)  # no bids
        w.write((T0 + 301) * 1000, up2, 0.30, 0.33, 10, 20)
    return layout


def feed(layout: CorpusLayout, **kw) -> ReplayFeed:
    return ReplayFeed(corpus=str(layout.root), **kw)


def by_ts(f: ReplayFeed) -> dict[float, object]:
    return {t.ts: t for t in f.ticks()}


def test_the_default_span_is_the_corpus_and_ticks_come_one_per_second(corpus):
    f = feed(corpus)
    ticks = list(f.ticks())
    assert f.start_ts == T0 - 9  # the first bar (09:19:50) closes at 09:19:51
    assert ticks[-1].ts == T0 + 610
    assert np.all(np.diff([t.ts for t in ticks]) == 1.0)
    assert ticks[0].ts == f.start_ts


def test_spot_is_the_close_of_the_bar_closed_by_then(corpus):
    ticks = by_ts(feed(corpus))
    for s in (T0 - 9, T0, T0 + 1, T0 + 250):
        # The bar opening at s - 1 closes at s: its close is the spot from s on.
        assert ticks[s].spot == {"BTCUSDT": close_at(s - 1)}


def test_a_future_bar_changes_no_earlier_tick(corpus):
    before = [(t.ts, t.spot) for t in feed(corpus, end=T0 + 60).ticks()]
    moved = [close_at(t) for t in range(T0 - 10, T0 + 610)]
    moved[T0 + 30 - (T0 - 10)] = 99_999.0  # the bar opening at T0+30 (closing at T0+31)
    write_klines(corpus, DAY, kline_rows(T0 - 10, moved))
    after = [(t.ts, t.spot) for t in feed(corpus, end=T0 + 60).ticks()]
    changed = [ts for (ts, a), (_, b) in zip(before, after, strict=True) if a != b]
    assert changed == [T0 + 31]  # only the tick at which that bar has closed, never earlier
    assert dict(after)[T0 + 31] == {"BTCUSDT": 99_999.0}


def test_a_market_is_listed_at_its_strike_second_with_the_strike_known_then(corpus):
    ticks = by_ts(feed(corpus))
    listed = {s: t.listed for s, t in ticks.items() if t.listed}
    assert sorted(listed) == [T0, T0 + 300]
    (m,) = listed[T0]
    assert (m.market_id, m.symbol, m.window_s) == (OPEN, "BTCUSDT", 300)
    assert (m.start_ts, m.end_ts) == (T0, T0 + 300)
    assert m.strike == close_at(T0 - 1) == ticks[T0].spot["BTCUSDT"]  # the bar 09:19:59-09:20:00


def test_books_follow_the_book_top_rows(corpus):
    up, down = tokens(json.loads(corpus.market_path(OPEN).read_text()))
    up2, _ = tokens(json.loads(corpus.market_path(WON).read_text()))
    ticks = by_ts(feed(corpus))
    assert ticks[T0 - 1].books == {}  # the market is not live yet
    first = ticks[T0].books
    assert set(first) == {up}  # the down token has no row yet
    assert first[up].ts == T0 - 5 and (first[up].best_bid, first[up].best_ask) == (0.48, 0.52)
    np.testing.assert_array_equal(first[up].asks, [[0.52, 50]])
    at3 = ticks[T0 + 3].books  # the rows at T0+3.4 and T0+3.9 are not known yet at T0+3
    assert at3[up].best_bid == 0.48 and down not in at3
    at4 = ticks[T0 + 4].books
    assert (at4[up].best_bid, at4[up].ts) == (0.49, T0 + 3.4)
    assert at4[down].bids.shape == (0, 2) and at4[down].best_bid != at4[down].best_bid  # no bids
    assert (at4[down].best_ask, at4[down].ask_size) == (0.55, 25)
    assert at4[up].tick == 0.01
    later = ticks[T0 + 302].books  # the first window has expired: only the second's books
    assert set(later) == {up2} and later[up2].best_ask == 0.33


def test_resolution_at_expiry_with_the_gamma_outcome_and_an_open_market_is_not_resolved(corpus):
    f = feed(corpus)
    ticks = by_ts(f)
    resolved = {s: t.resolved for s, t in ticks.items() if t.resolved}
    assert list(resolved) == [T0 + 600]  # the open market's expiry (T0+300) resolves nothing
    (r,) = resolved[T0 + 600]
    assert (r.market_id, r.winner, r.ts) == (WON, UP, T0 + 600)
    assert r.start_price == close_at(T0 + 299) and r.end_price == close_at(T0 + 599)
    assert f.unresolved == [OPEN]
    assert f.skipped == []


def test_a_missing_day_is_a_reported_gap_with_the_spot_held(tmp_path):
    layout = CorpusLayout(tmp_path / "corpus")
    end12 = utc("2026-03-12T23:59:50")
    write_klines(layout, DAY, kline_rows(end12, [1.0 + i for i in range(10)]))  # to 00:00:00
    start14 = utc("2026-03-14T00:00:00")
    write_klines(layout, date(2026, 3, 14), kline_rows(start14, [50.0 + i for i in range(5)]))
    f = feed(layout, start=end12 + 5, end="2026-03-14T00:00:03Z")
    ticks = f.ticks()
    first = list(islice(ticks, 10))
    assert [t.spot["BTCUSDT"] for t in first[:5]] == [5.0, 6.0, 7.0, 8.0, 9.0]
    held = list(islice(ticks, 86_396))  # 2026-03-13 00:00:05 ... 2026-03-14 00:00:00
    assert {t.spot["BTCUSDT"] for t in first[5:] + held} == {10.0}  # never an invented price
    rest = list(ticks)
    assert [t.ts for t in rest] == [start14 + 1, start14 + 2, start14 + 3]
    assert [t.spot["BTCUSDT"] for t in rest] == [50.0, 51.0, 52.0]
    (day_gap,) = [g for g in f.gaps if g.kind == GAP_DAY and g.series.startswith("klines")]
    assert day_gap.missing == 1 and day_gap.start_us == utc("2026-03-13T00:00:00") * 1_000_000


def test_a_market_whose_strike_bar_is_missing_is_not_listed(corpus):
    closes = [close_at(t) for t in range(T0 - 10, T0 + 610)]
    rows = kline_rows(T0 - 10, closes)
    del rows[T0 + 299 - (T0 - 10)]  # the bar closing at 09:25:00, the second market's strike
    write_klines(corpus, DAY, rows)
    f = feed(corpus)
    ticks = by_ts(f)
    assert ticks[T0 + 300].spot == {"BTCUSDT": close_at(T0 + 298)}  # held over the gap
    assert all(not t.listed for s, t in ticks.items() if s != T0)
    assert f.skipped == [(WON, "no kline closing at its strike second (a gap)")]
    assert any(g.kind == "bars" and g.start_us == (T0 + 299) * 1_000_000 for g in f.gaps)


def test_identity_names_the_replay_and_fingerprints_its_files(corpus):
    f = feed(corpus, start="2026-03-12T09:20:00Z", end=T0 + 60)
    ident = f.identity()
    assert ident["kind"] == "replay" and ident["corpus"] == str(corpus.root)
    assert (ident["start"], ident["end"]) == ("2026-03-12T09:20:00Z", "2026-03-12T09:21:00Z")
    assert ident["strike_source"] == STRIKE_SOURCE == "binance_proxy"
    assert json.loads(json.dumps(ident)) == ident  # storable on the run row
    copy = corpus.root.parent / "copy"
    shutil.copytree(corpus.root, copy)
    assert (
        ReplayFeed(str(copy), start=T0, end=T0 + 60).identity()["fingerprint"]
        == (ident["fingerprint"])
    )
    closes = [close_at(t) + 1 for t in range(T0 - 10, T0 + 610)]
    write_klines(CorpusLayout(copy), DAY, kline_rows(T0 - 10, closes))
    assert (
        ReplayFeed(str(copy), start=T0, end=T0 + 60).identity()["fingerprint"]
        != (ident["fingerprint"])
    )


def test_bad_settings_name_the_field(corpus, tmp_path):
    with pytest.raises(ConfigError, match="corpus"):
        ReplayFeed(str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="start"):
        feed(corpus, start="12 March")
    with pytest.raises(ConfigError, match="end"):
        feed(corpus, start=T0, end=T0 - 1)
    with pytest.raises(ConfigError, match="symbols"):
        feed(corpus, symbols=["ETHUSDT"])


def test_the_engine_loop_runs_on_the_replay(corpus, sqlite_url):
    from hydra import compose, initialize_config_dir

    from engine.app import CONF_DIR, build_loop, open_run
    from engine.ledger import runs
    from engine.ledger.db import make_engine, make_sessionmaker

    overrides = ["feed=replay", f"feed.corpus={corpus.root}", f"db.url={sqlite_url}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, "run.speed=max"])
    engine = make_engine(sqlite_url)
    try:
        loop = build_loop(cfg, sessions=make_sessionmaker(engine))
        open_run(cfg, loop, 0)
        counters = loop.run()
        assert loop.finished and counters.ticks == 620 and counters.resolved == 1
        with loop.sessions() as session:
            run = runs.find_run(session=session, ref=loop.run_id)
            assert run.feed == "replay"
            assert run.feed_identity["kind"] == "replay"
            assert run.feed_identity["fingerprint"] == loop.feed.identity()["fingerprint"]
            sources = session.execute(text("SELECT DISTINCT source FROM markets")).scalars().all()
            assert sources == ["replay"]
        # The same configuration on files changed in place: a resume is refused.
        copy_market(corpus, "btc-updown-5m-1773307800", shift_s=600)
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            again = compose("config", overrides=[*overrides, "run.resume=last"])
        changed = build_loop(again, sessions=make_sessionmaker(engine))
        with pytest.raises(ConfigError, match="its files changed"):
            open_run(again, changed, 0)
    finally:
        engine.dispose()
