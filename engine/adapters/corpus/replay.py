"""``ReplayFeed``: a recorded corpus behind the :class:`engine.ports.Feed` port.

The same engine loop and paper venue that run on the simulator run on recorded data
(``edgeloop feed=replay feed.corpus=DIR``): one tick per second from ``start`` to ``end``, each
holding only what was known at its second.

- **spot**: per symbol, the close of the latest Binance kline that has *closed* by the second.
  A bar opening at ``t`` closes at ``t + interval``: its close is known from that instant on,
  never earlier. Across a gap (a missing day, missing bars) the last known spot is held (its
  age grows, so the staleness gates refuse to trade on it); nothing is filled in.
- **listed**: a Gamma market at its strike second (``eventStartTime``), with the strike = the
  close of the bar that closes exactly at that second (Binance spot as a labelled proxy of the
  settlement source, ``strike_source="binance_proxy"`` in the identity). Without that bar (a
  gap) the market is not listed: it is counted in ``skipped``, never given a stale strike.
- **books**: per token of every live market, the latest book-top row at or before the second
  (one level each side; an empty side is no level). ``Book.ts`` is the row's time, so a book
  the recording stopped updating reads as stale.
- **resolved**: a listed market at its expiry second, with the Gamma outcome. A market whose
  Gamma file holds no outcome is not resolved (counted in ``unresolved``, never guessed); its
  books stop at expiry.

Streaming: the kline and book-top readers are generators of numpy chunks; a per-second cursor
per source advances through them (``np.searchsorted`` inside a chunk), so at most one chunk per
source is in memory. Only market metadata (one small object per Gamma file) is read up front.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from engine.adapters.corpus.binance import (
    DEFAULT_CHUNK_ROWS,
    Klines,
    file_sha256,
    interval_seconds,
    iter_klines,
    read_kline_file,
)
from engine.adapters.corpus.booktop import BookTopChunk, iter_booktop
from engine.adapters.corpus.errors import Gap
from engine.adapters.corpus.gamma import CorpusMarket, iter_markets
from engine.adapters.corpus.layout import (
    CorpusLayout,
    checksum_path,
    days_between,
    iso_z,
    parse_instant,
    utc_day,
)
from engine.core.types import Book, Market, Resolution, Tick
from engine.core.validation import ConfigError

STRIKE_SOURCE = "binance_proxy"  # the strike and end price: Binance kline closes, not Chainlink
_NO_LEVEL = np.empty((0, 2))
_NO_LEVEL.setflags(write=False)
_US = 1_000_000


@dataclass(frozen=True, eq=False)
class ReplayFeed:
    """One tick per second of a corpus (``docs/corpus.md``), from ``start`` to ``end``.

    ``corpus``: the corpus directory. ``start``/``end``: the first and last tick, as an ISO UTC
    time (``2026-03-12T09:20:00Z``), a day (``2026-03-12``: its midnight) or epoch seconds; None
    takes the corpus's span (the first and last kline close of ``symbols``). ``symbols``: the
    spot symbols (default: every kline symbol of the corpus); markets on other symbols are
    skipped. ``kline_interval``: the kline dumps to read (``1s``, ``1m``...). ``verify``: check
    each dump's ``.CHECKSUM``. ``chunk_rows``: rows per streamed chunk.

    What a replay saw is kept on the feed (refilled by each :meth:`ticks`): ``gaps`` (the
    readers' :class:`~engine.adapters.corpus.errors.Gap` records), ``unresolved`` (slugs of
    markets whose expiry passed without a Gamma outcome) and ``skipped`` (``(slug, why)`` of
    markets that could not be listed).

    The corpus is deterministic, so ``ticks(after)`` replays from ``start`` whatever ``after``
    is: the loop applies the ticks up to it as warm-up, as for the simulator.
    """

    corpus: str
    start: str | float | None = None
    end: str | float | None = None
    symbols: list[str] | None = None
    kline_interval: str = "1s"
    verify: bool = True
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    gaps: list[Gap] = field(default_factory=list, init=False, repr=False)
    unresolved: list[str] = field(default_factory=list, init=False, repr=False)
    skipped: list[tuple[str, str]] = field(default_factory=list, init=False, repr=False)
    layout: CorpusLayout = field(init=False, repr=False)
    step_s: int = field(init=False, repr=False)
    _identity: dict | None = field(default=None, init=False, repr=False, compare=False)
    start_s: int = field(init=False, repr=False)
    end_s: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        root = Path(self.corpus)
        if not root.is_dir():
            raise ConfigError("corpus", self.corpus, "must be a corpus directory")
        layout = CorpusLayout(root.resolve())
        put(self, "layout", layout)
        try:
            put(self, "step_s", interval_seconds(self.kline_interval))
        except ValueError as exc:
            raise ConfigError("kline_interval", self.kline_interval, str(exc)) from None
        symbols = list(self.symbols) if self.symbols else layout.kline_symbols()
        with_days = [s for s in symbols if layout.kline_days(s, self.kline_interval)]
        if not with_days or len(with_days) != len(symbols):
            missing = sorted(set(symbols) - set(with_days)) or symbols
            raise ConfigError(
                "symbols",
                self.symbols,
                f"no {self.kline_interval} klines in {layout.root} for {missing}",
            )
        put(self, "symbols", symbols)
        start = parse_instant("start", self.start)
        end = parse_instant("end", self.end)
        start_s = math.ceil(start) if start is not None else self._first_close()
        end_s = math.floor(end) if end is not None else self._last_close()
        if end_s < start_s:
            raise ConfigError("end", self.end, f"must not be before start ({iso_z(start_s)})")
        put(self, "start_s", int(start_s))
        put(self, "end_s", int(end_s))

    # -- the Feed port -------------------------------------------------------------------
    @property
    def start_ts(self) -> float:
        return float(self.start_s)

    @property
    def end_ts(self) -> float:
        """The last tick's instant (a replay is bounded: the loop's progress bar uses it)."""
        return float(self.end_s)

    def identity(self) -> Mapping[str, object]:
        """What is replayed; ``fingerprint`` hashes every file the span reads (name, size,
        checksum), stored on the run so a resume on another or a changed corpus can be refused.
        Hashed once per feed: the engine, the run row and the resume check all ask for it."""
        if self._identity is not None:
            return self._identity
        identity = {
            "kind": "replay",
            "corpus": str(self.layout.root),
            "start": iso_z(self.start_s),
            "end": iso_z(self.end_s),
            "symbols": list(self.symbols or ()),
            "kline_interval": self.kline_interval,
            "strike_source": STRIKE_SOURCE,
            "fingerprint": self.fingerprint(),
        }
        object.__setattr__(self, "_identity", identity)
        return identity

    def ticks(self, after: float | None = None) -> Iterator[Tick]:
        # `after` changes nothing: every tick from the start, the loop warms up to it.
        self.gaps.clear()
        self.unresolved.clear()
        self.skipped.clear()
        markets = self._markets()
        tick_sizes = {m.up_token: m.tick for m in markets} | {m.down_token: m.tick for m in markets}
        first_day, last_day = self._kline_days()
        spots = {
            s: _SpotCursor(
                iter_klines(
                    self.layout,
                    s,
                    self.kline_interval,
                    first_day,
                    last_day,
                    verify=self.verify,
                    chunk_rows=self.chunk_rows,
                    gaps=self.gaps,
                ),
                self.step_s * _US,
            )
            for s in self.symbols or ()
        }
        day0, day1 = utc_day(self.start_s), utc_day(self.end_s)
        series = sorted({_series(m.slug) for m in markets})
        books = [
            _BookCursor(
                iter_booktop(
                    self.layout, name, day0, day1, chunk_rows=self.chunk_rows, gaps=self.gaps
                ),
                tick_sizes,
            )
            for name in series
        ]
        latest: dict[str, Book] = {}
        pending = iter(markets)  # by strike time
        upcoming = next(pending, None)
        live: dict[str, tuple[CorpusMarket, Market]] = {}
        expiries: list[tuple[float, str]] = []
        for s in range(self.start_s, self.end_s + 1):
            t_us = s * _US
            for cursor in spots.values():
                cursor.advance(t_us)
            for cursor in books:
                cursor.advance(t_us, latest)
            spot = {sym: c.price for sym, c in spots.items() if c.price == c.price}
            resolved: list[Resolution] = []
            while expiries and expiries[0][0] <= s:
                _, slug = heapq.heappop(expiries)
                raw, market = live.pop(slug)
                if raw.outcome is None:
                    self.unresolved.append(slug)
                    continue
                end_price = spot[market.symbol]  # the spot known at expiry (held over a gap)
                resolved.append(Resolution(slug, raw.outcome, market.strike, end_price, float(s)))
            listed: list[Market] = []
            while upcoming is not None and upcoming.strike_ts <= s:
                m, upcoming = upcoming, next(pending, None)
                cursor = spots[m.symbol]
                if cursor.known_us != t_us:
                    self.skipped.append((m.slug, "no kline closing at its strike second (a gap)"))
                    continue
                market = m.to_market(cursor.price)
                live[m.slug] = (m, market)
                heapq.heappush(expiries, (m.expiry_ts, m.slug))
                listed.append(market)
            shown = {}
            for _, market in live.values():
                for token in (market.up_token, market.down_token):
                    book = latest.get(token)
                    if book is not None:
                        shown[token] = book
            yield Tick(float(s), spot, listed=listed, books=shown, resolved=resolved)

    # -- what the replay reads -----------------------------------------------------------
    def _markets(self) -> list[CorpusMarket]:
        """The Up/Down markets on ``symbols`` whose strike second lies in the span, by strike
        time (then slug); the others that overlap the span are reported in ``skipped``."""
        out = []
        symbols = set(self.symbols or ())
        for m in iter_markets(self.layout):
            if m.strike_ts is None or m.window_s is None or m.symbol is None:
                self.skipped.append((m.slug, "not an Up/Down market"))
            elif m.strike_ts > self.end_s or m.expiry_ts <= self.start_s:
                continue  # outside the span
            elif m.symbol not in symbols:
                self.skipped.append((m.slug, f"no {m.symbol} klines replayed"))
            elif m.strike_ts < self.start_s:
                self.skipped.append((m.slug, "its window starts before the replay's start"))
            else:
                out.append(m)
        out.sort(key=lambda m: (m.strike_ts, m.slug))
        return out

    def _kline_days(self) -> tuple[date, date]:
        # The bar that closes at the first tick opened one interval before it (maybe the day before).
        return utc_day(self.start_s - self.step_s), utc_day(self.end_s)

    def _first_close(self) -> int:
        """The first second at which some symbol's first bar has closed."""
        firsts = []
        for s in self.symbols or ():
            path = self.layout.kline_path(s, self.kline_interval, self.layout_days(s)[0])
            chunks = read_kline_file(path, verify=self.verify, chunk_rows=1, gaps=[])
            try:
                chunk = next(chunks)
            finally:
                chunks.close()
            firsts.append(int(chunk.open_time_us[0]) // _US + self.step_s)
        return min(firsts)

    def _last_close(self) -> int:
        """The last second at which some symbol's last bar closes."""
        lasts = []
        for s in self.symbols or ():
            path = self.layout.kline_path(s, self.kline_interval, self.layout_days(s)[-1])
            chunks = read_kline_file(path, verify=self.verify, chunk_rows=self.chunk_rows, gaps=[])
            last = deque(chunks, maxlen=1)  # the file's last chunk, read through
            if last and len(last[0]):
                lasts.append(int(last[0].open_time_us[-1]) // _US + self.step_s)
        if not lasts:
            raise ConfigError("end", self.end, f"no kline rows in {self.layout.root}")
        return max(lasts)

    def layout_days(self, symbol: str) -> list[date]:
        """The days of ``symbol``'s kline dumps in the corpus."""
        return self.layout.kline_days(symbol, self.kline_interval)

    def fingerprint(self) -> str:
        """sha256 (16 hex digits) of the name, size and checksum of every file the span reads:
        the kline dumps (their published ``.CHECKSUM`` digest, or the bytes' when there is
        none), the book-top days of the markets' series and the Gamma market files."""
        lines = []
        first_day, last_day = self._kline_days()
        for s in self.symbols or ():
            for day in days_between(first_day, last_day):
                path = self.layout.kline_path(s, self.kline_interval, day)
                if path.is_file():
                    check = checksum_path(path)
                    digest = (
                        check.read_text(encoding="ascii").split()[0]
                        if check.is_file()
                        else file_sha256(path)
                    )
                    lines.append(_entry(path, digest))
        slugs = self.layout.market_slugs()
        series = sorted({_series(slug) for slug in slugs})
        for name in series:
            for day in days_between(utc_day(self.start_s), utc_day(self.end_s)):
                path = self.layout.booktop_path(name, day)
                if path.is_file():
                    lines.append(_entry(path, file_sha256(path)))
        for slug in slugs:
            path = self.layout.market_path(slug)
            lines.append(_entry(path, file_sha256(path)))
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


class _SpotCursor:
    """A symbol's spot at a moving instant: the close of the latest bar closed by then.

    ``advance(t_us)`` consumes the bars whose close instant (open + interval) is at or before
    ``t_us``; ``price`` is the last one's close (NaN before any) and ``known_us`` its close
    instant. A later bar is read (its chunk is in memory) but never shown before it closes.
    """

    def __init__(self, chunks: Iterator[Klines], step_us: int) -> None:
        self._chunks = chunks
        self._step_us = step_us
        self._closes_at = np.empty(0, dtype=np.int64)
        self._close = np.empty(0)
        self._i = 0
        self.price = math.nan
        self.known_us = -1

    def advance(self, t_us: int) -> None:
        while True:
            if self._i >= len(self._closes_at):
                chunk = next(self._chunks, None)
                if chunk is None:
                    return
                self._closes_at = chunk.open_time_us + self._step_us
                self._close, self._i = chunk.close, 0
                continue
            j = int(np.searchsorted(self._closes_at, t_us, side="right"))
            if j > self._i:
                self.price = float(self._close[j - 1])
                self.known_us = int(self._closes_at[j - 1])
                self._i = j
            if j < len(self._closes_at):
                return


class _BookCursor:
    """One book-top series at a moving instant: ``advance(t_us, latest)`` puts into ``latest``
    the :class:`Book` of every row at or before ``t_us`` (a later row of a token replaces it)."""

    def __init__(self, chunks: Iterator[BookTopChunk], ticks: Mapping[str, float]) -> None:
        self._chunks = chunks
        self._ticks = ticks
        self._chunk: BookTopChunk | None = None
        self._i = 0

    def advance(self, t_us: int, latest: dict[str, Book]) -> None:
        limit_ms = t_us // 1000
        while True:
            chunk = self._chunk
            if chunk is None or self._i >= len(chunk):
                self._chunk, self._i = next(self._chunks, None), 0
                if self._chunk is None:
                    return
                continue
            j = int(np.searchsorted(chunk.ts_ms, limit_ms, side="right"))
            for k in range(self._i, j):
                token = chunk.token_id[k]
                latest[token] = _book(chunk, k, self._ticks.get(token, 0.01))
            self._i = max(self._i, j)
            if j < len(chunk):
                return


def _book(chunk: BookTopChunk, k: int, tick: float) -> Book:
    """Row ``k`` as a one-level :class:`Book` (an empty side: no level)."""
    bid, ask = float(chunk.best_bid[k]), float(chunk.best_ask[k])
    bid_size, ask_size = float(chunk.bid_size[k]), float(chunk.ask_size[k])
    bids = _NO_LEVEL if bid != bid else np.array([[bid, bid_size]])
    asks = _NO_LEVEL if ask != ask else np.array([[ask, ask_size]])
    # One level: its top is the row itself (given, so Book does not derive it from the arrays).
    return Book(
        str(chunk.token_id[k]),
        bids,
        asks,
        ts=int(chunk.ts_ms[k]) / 1000.0,
        tick=tick,
        best_bid=bid,
        best_ask=ask,
        ask_size=ask_size,
        depth_usd=ask * ask_size,
    )


def _series(slug: str) -> str:
    """The book-top series of a market: its slug without the window epoch (``btc-updown-5m``)."""
    return slug.rsplit("-", 1)[0]


def _entry(path: Path, digest: str) -> str:
    return f"{path.name} {path.stat().st_size} {digest}"
