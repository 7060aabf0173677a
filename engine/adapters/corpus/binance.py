"""Readers of Binance's public spot dumps (data.binance.vision): klines and aggTrades.

A dump is a zip holding one headerless CSV of one UTC day, published with a ``.CHECKSUM`` file
(``<sha256 hex>  <zip name>``). The readers:

- verify the checksum (sha256 of the zip's bytes) before reading, unless ``verify=False``;
- sniff a header row (some dumps have one: a first field that is not a number) and skip it;
- detect the time unit **per file**: the first row's time says milliseconds (13 digits; spot
  dumps before 2025-01-01) or microseconds (16 digits; spot dumps from 2025-01-01), and every
  time value of the file is then checked to be in that same unit (a file mixing units is an
  error). Output times are always epoch **microseconds** (``int64``), lossless for both units;
- check every row belongs to the file's day, is in time order and holds finite numbers, and
  raise :class:`~engine.adapters.corpus.errors.CorpusError` (file, line, column, value,
  expectation) when not;
- report holes, never fill them: missing bars inside a day (klines), skipped aggregate-trade
  ids (aggTrades) and missing days (the multi-day readers) are
  :class:`~engine.adapters.corpus.errors.Gap` records appended to the caller's ``gaps`` list,
  or issued as :class:`~engine.adapters.corpus.errors.CorpusGapWarning` when none is passed;
- stream: rows come in numpy chunks of at most ``chunk_rows`` rows, in time order, so a month
  of 1-second klines never sits in memory at once.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from engine.adapters.corpus.errors import (
    GAP_AGG_IDS,
    GAP_BARS,
    GAP_DAY,
    CorpusError,
    Gap,
    report_gap,
)
from engine.adapters.corpus.layout import (
    CorpusLayout,
    checksum_path,
    day_start_us,
    days_between,
    parse_aggtrades_name,
    parse_kline_name,
)

KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
    "ignore",
)
AGGTRADE_COLUMNS = (
    "agg_id",
    "price",
    "qty",
    "first_trade_id",
    "last_trade_id",
    "time",
    "is_buyer_maker",
    "is_best_match",
)
MS = "ms"
US = "us"
DAY_US = 86_400_000_000
DEFAULT_CHUNK_ROWS = 65_536
# Plausible epoch times (2000-01-01 to 2100-01-01) in each unit: a value outside both is
# neither (seconds, nanoseconds or garbage) and is refused rather than guessed.
_MS_RANGE = (946_684_800_000, 4_102_444_800_000)
_US_RANGE = (_MS_RANGE[0] * 1000, _MS_RANGE[1] * 1000)
_UNIT_SCALE = {MS: 1000, US: 1}
_INTERVAL = re.compile(r"^(\d+)([smhd])$")
_INTERVAL_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def time_unit(value: int) -> str | None:
    """``"ms"`` or ``"us"`` by the magnitude of epoch time ``value``; None if it is neither."""
    if _MS_RANGE[0] <= value < _MS_RANGE[1]:
        return MS
    if _US_RANGE[0] <= value < _US_RANGE[1]:
        return US
    return None


def interval_seconds(interval: str) -> int:
    """Seconds of a daily-dump kline interval (``"1s"``, ``"1m"``, ``"4h"``, ``"1d"``...).

    Only intervals that divide a day evenly have daily dumps; others raise ``ValueError``.
    """
    m = _INTERVAL.match(interval)
    seconds = int(m[1]) * _INTERVAL_UNIT_S[m[2]] if m else 0
    if seconds <= 0 or 86400 % seconds:
        raise ValueError(f"kline interval {interval!r}: expected one like 1s, 1m, 15m, 1h or 1d")
    return seconds


# -- checksums ---------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    """The sha256 hex digest of ``path``'s bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksum(path: Path) -> Path:
    """Write ``<path>.CHECKSUM`` as data.binance.vision does (``<sha256>  <name>``); its path."""
    path = Path(path)
    out = checksum_path(path)
    out.write_text(f"{file_sha256(path)}  {path.name}\n", encoding="ascii")
    return out


def verify_checksum(path: Path) -> str:
    """Check ``path`` against its ``.CHECKSUM`` file; the verified sha256 hex digest.

    Raises :class:`CorpusError` when the checksum file is missing or malformed, names another
    file, or holds a different digest than the zip's bytes have.
    """
    path = Path(path)
    cpath = checksum_path(path)
    if not cpath.is_file():
        raise CorpusError(
            cpath, "", "no such file", "the .CHECKSUM published with the zip (or verify=False)"
        )
    text = cpath.read_text(encoding="ascii", errors="replace").strip()
    parts = text.split()
    if len(parts) != 2 or not _SHA256.match(parts[0]):
        raise CorpusError(cpath, "line 1", text, "'<64 hex digits>  <zip file name>'")
    expected, name = parts[0].lower(), parts[1].lstrip("*")
    if name != path.name:
        raise CorpusError(cpath, "file name", name, path.name)
    actual = file_sha256(path)
    if actual != expected:
        raise CorpusError(path, "sha256", actual, f"{expected} (from {cpath.name})")
    return actual


# -- chunks --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class Klines:
    """A chunk of consecutive klines of one dump file, in open-time order.

    Times are epoch microseconds (``int64``) whatever the file's ``unit`` (``"ms"``/``"us"``,
    as found in the file). Prices and volumes are ``float64``; ``trades`` is ``int64``. The
    dump's last column (``ignore``) is dropped.
    """

    symbol: str
    interval: str
    path: Path
    unit: str
    open_time_us: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    close_time_us: np.ndarray
    quote_volume: np.ndarray
    trades: np.ndarray
    taker_buy_base: np.ndarray
    taker_buy_quote: np.ndarray

    def __len__(self) -> int:
        return len(self.open_time_us)

    @property
    def open_ts(self) -> np.ndarray:
        """Open times in epoch seconds (``float64``, the engine's clock)."""
        return self.open_time_us / 1e6


@dataclass(frozen=True, slots=True, eq=False)
class AggTrades:
    """A chunk of consecutive aggregate trades of one dump file, in trade-time order.

    ``time_us`` is epoch microseconds (``int64``) whatever the file's ``unit``. ``price`` and
    ``qty`` are ``float64``; ids are ``int64``; ``is_buyer_maker`` is True when the buyer was
    the resting order (the taker sold).
    """

    symbol: str
    path: Path
    unit: str
    agg_id: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    first_trade_id: np.ndarray
    last_trade_id: np.ndarray
    time_us: np.ndarray
    is_buyer_maker: np.ndarray
    is_best_match: np.ndarray

    def __len__(self) -> int:
        return len(self.agg_id)

    @property
    def ts(self) -> np.ndarray:
        """Trade times in epoch seconds (``float64``)."""
        return self.time_us / 1e6


# -- one file ------------------------------------------------------------------------------
_KLINE_SCHEMA = dict(zip(KLINE_COLUMNS, "ifffffififfs", strict=True))
_AGGTRADE_SCHEMA = dict(zip(AGGTRADE_COLUMNS, "iffiiibb", strict=True))


def read_kline_file(
    path: Path,
    *,
    verify: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    gaps: list[Gap] | None = None,
) -> Iterator[Klines]:
    """Stream one kline dump ``<SYM>-<interval>-<YYYY-MM-DD>.zip`` in chunks.

    Each open time must lie on the interval's grid inside the file's day and follow the
    previous one; bars missing from the day's grid (at its start, inside, or at its end) are
    reported as :data:`~engine.adapters.corpus.errors.GAP_BARS` gaps once the file is read.
    """
    path = Path(path)
    name = parse_kline_name(path)
    if name is None:
        raise CorpusError(path, "file name", path.name, "<SYM>-<interval>-<YYYY-MM-DD>.zip")
    try:
        step_us = interval_seconds(name.interval) * 1_000_000
    except ValueError as exc:
        raise CorpusError(path, "file name", name.interval, str(exc)) from None
    series = f"klines {name.symbol} {name.interval}"
    day0 = day_start_us(name.day)
    expect_next = day0  # the open time the next bar should have
    unit = None
    for t in _tables(path, _KLINE_SCHEMA, chunk_rows, verify):
        unit = unit or t.detect_unit("open_time")
        open_us = t.times("open_time", unit, day0)
        close_us = t.times("close_time", unit)
        off_grid = np.flatnonzero((open_us - day0) % step_us)
        if off_grid.size:
            raise t.error(off_grid[0], "open_time", f"an open time on the {name.interval} grid")
        prev = np.concatenate(([expect_next - step_us], open_us[:-1]))
        back = np.flatnonzero(open_us <= prev)
        if back.size:
            rule = "open times strictly increasing (rows in time order, no duplicates)"
            raise t.error(back[0], "open_time", rule)
        for i in np.flatnonzero(open_us - prev > step_us):
            start, stop = int(prev[i]) + step_us, int(open_us[i])
            report_gap(Gap(series, GAP_BARS, start, stop, (stop - start) // step_us, path), gaps)
        expect_next = int(open_us[-1]) + step_us
        num = {c: t.floats(c) for c, kind in _KLINE_SCHEMA.items() if kind == "f"}
        o, h, lo, c = num["open"], num["high"], num["low"], num["close"]
        bad = np.flatnonzero((h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (lo <= 0))
        if bad.size:
            i = bad[0]
            ohlc = ", ".join(f"{k}={t.raw(i, k)}" for k in ("open", "high", "low", "close"))
            raise CorpusError(
                path, _at(t.lines[i], "high/low"), ohlc, "0 < low <= open, close <= high"
            )
        yield Klines(
            symbol=name.symbol,
            interval=name.interval,
            path=path,
            unit=unit,
            open_time_us=open_us,
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=num["volume"],
            close_time_us=close_us,
            quote_volume=num["quote_volume"],
            trades=t.ints("trades"),
            taker_buy_base=num["taker_buy_base"],
            taker_buy_quote=num["taker_buy_quote"],
        )
    day_end = day0 + DAY_US
    if expect_next < day_end:
        missing = (day_end - expect_next) // step_us
        report_gap(Gap(series, GAP_BARS, expect_next, day_end, missing, path), gaps)


def read_aggtrades_file(
    path: Path,
    *,
    verify: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    gaps: list[Gap] | None = None,
) -> Iterator[AggTrades]:
    """Stream one aggTrades dump ``<SYM>-aggTrades-<YYYY-MM-DD>.zip`` in chunks.

    Aggregate-trade ids are consecutive on Binance, so an id that jumps by more than one is
    reported as a :data:`~engine.adapters.corpus.errors.GAP_AGG_IDS` gap between the two
    trades' times. Times must lie inside the file's day and never go back.
    """
    path = Path(path)
    name = parse_aggtrades_name(path)
    if name is None:
        raise CorpusError(path, "file name", path.name, "<SYM>-aggTrades-<YYYY-MM-DD>.zip")
    series = f"aggTrades {name.symbol}"
    day0 = day_start_us(name.day)
    unit = None
    last: tuple[int, int] | None = None  # (agg id, time) of the previous chunk's last trade
    for t in _tables(path, _AGGTRADE_SCHEMA, chunk_rows, verify):
        unit = unit or t.detect_unit("time")
        agg, first, last_id = (t.ints(c) for c in ("agg_id", "first_trade_id", "last_trade_id"))
        t_us = t.times("time", unit, day0)
        prev_id = np.concatenate(([last[0] if last else agg[0] - 1], agg[:-1]))
        prev_t = np.concatenate(([last[1] if last else t_us[0]], t_us[:-1]))
        for bad, col, rule in (
            (agg <= prev_id, "agg_id", "aggregate-trade ids strictly increasing"),
            (t_us < prev_t, "time", "trade times never going back"),
            (last_id < first, "last_trade_id", "last_trade_id >= first_trade_id"),
        ):
            if bad.any():
                raise t.error(np.flatnonzero(bad)[0], col, rule)
        for i in np.flatnonzero(agg - prev_id > 1):
            missing = int(agg[i] - prev_id[i] - 1)
            gap = Gap(series, GAP_AGG_IDS, int(prev_t[i]), int(t_us[i]), missing, path)
            report_gap(gap, gaps)
        last = (int(agg[-1]), int(t_us[-1]))
        yield AggTrades(
            symbol=name.symbol,
            path=path,
            unit=unit,
            agg_id=agg,
            price=t.floats("price", positive=True),
            qty=t.floats("qty", positive=True),
            first_trade_id=first,
            last_trade_id=last_id,
            time_us=t_us,
            is_buyer_maker=t.bools("is_buyer_maker"),
            is_best_match=t.bools("is_best_match"),
        )


def kline_gaps(path: Path, *, verify: bool = True) -> list[Gap]:
    """Read a kline dump through (checking it) and return its missing bars."""
    gaps: list[Gap] = []
    for _ in read_kline_file(path, verify=verify, gaps=gaps):
        pass
    return gaps


# -- days of a corpus ---------------------------------------------------------------------
def iter_klines(
    corpus: CorpusLayout | Path,
    symbol: str,
    interval: str,
    start: date,
    end: date,
    *,
    verify: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    gaps: list[Gap] | None = None,
) -> Iterator[Klines]:
    """Klines of ``symbol`` from day ``start`` to day ``end`` (both included), in time order.

    A day without its file is a :data:`~engine.adapters.corpus.errors.GAP_DAY` gap (one per
    run of consecutive missing days); bars missing inside a day are reported by
    :func:`read_kline_file`.
    """
    layout = corpus if isinstance(corpus, CorpusLayout) else CorpusLayout(Path(corpus))
    missing = _MissingDays(f"klines {symbol} {interval}", gaps)
    for day in days_between(start, end):
        path = layout.kline_path(symbol, interval, day)
        if not path.is_file():
            missing.add(day, path)
            continue
        missing.flush()
        yield from read_kline_file(path, verify=verify, chunk_rows=chunk_rows, gaps=gaps)
    missing.flush()


def iter_aggtrades(
    corpus: CorpusLayout | Path,
    symbol: str,
    start: date,
    end: date,
    *,
    verify: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    gaps: list[Gap] | None = None,
) -> Iterator[AggTrades]:
    """Aggregate trades of ``symbol`` from day ``start`` to ``end`` (both included), in order.

    Missing days are :data:`~engine.adapters.corpus.errors.GAP_DAY` gaps; between two present
    consecutive days the aggregate-trade ids must continue (a jump is a
    :data:`~engine.adapters.corpus.errors.GAP_AGG_IDS` gap, ids or times going back an error).
    """
    layout = corpus if isinstance(corpus, CorpusLayout) else CorpusLayout(Path(corpus))
    series = f"aggTrades {symbol}"
    missing = _MissingDays(series, gaps)
    last: tuple[int, int] | None = None  # (agg id, time) of the previous present day's end
    for day in days_between(start, end):
        path = layout.aggtrades_path(symbol, day)
        if not path.is_file():
            missing.add(day, path)
            last = None
            continue
        missing.flush()
        for chunk in read_aggtrades_file(path, verify=verify, chunk_rows=chunk_rows, gaps=gaps):
            if last is not None and len(chunk):
                a0, t0 = int(chunk.agg_id[0]), int(chunk.time_us[0])
                if a0 <= last[0] or t0 < last[1]:
                    raise CorpusError(
                        path,
                        "first row, column agg_id",
                        a0,
                        f"ids continuing after agg_id {last[0]}",
                    )
                if a0 - last[0] > 1:
                    gap = Gap(series, GAP_AGG_IDS, last[1], t0, a0 - last[0] - 1, path)
                    report_gap(gap, gaps)
            if len(chunk):
                last = (int(chunk.agg_id[-1]), int(chunk.time_us[-1]))
            yield chunk
    missing.flush()


class _MissingDays:
    """Collects a run of consecutive missing days into one day gap."""

    def __init__(self, series: str, gaps: list[Gap] | None) -> None:
        self.series, self.gaps = series, gaps
        self.first: tuple[date, Path] | None = None
        self.count = 0

    def add(self, day: date, path: Path) -> None:
        if self.first is None:
            self.first = (day, path)
        self.count += 1

    def flush(self) -> None:
        if self.first is None:
            return
        start = day_start_us(self.first[0])
        gap = Gap(
            self.series, GAP_DAY, start, start + self.count * DAY_US, self.count, self.first[1]
        )
        report_gap(gap, self.gaps)
        self.first, self.count = None, 0


# -- CSV plumbing --------------------------------------------------------------------------
def _lines(
    path: Path, ncols: int, chunk_rows: int, verify: bool
) -> Iterator[tuple[list[int], list[str]]]:
    """(line numbers, lines) per chunk of the zip's one CSV, a header row skipped."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows={chunk_rows!r} must be >= 1")
    if verify:
        verify_checksum(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) != 1 or not members[0].filename.endswith(".csv"):
                names = [m.filename for m in members]
                raise CorpusError(path, "zip members", names, "exactly one .csv file")
            with zf.open(members[0]) as raw:
                text = io.TextIOWrapper(raw, encoding="ascii", newline="")
                numbers: list[int] = []
                lines: list[str] = []
                for n, line in enumerate(text, start=1):
                    line = line.strip()
                    if not line:
                        continue
                    if n == 1 and not line.split(",", 1)[0].strip().isdigit():
                        # A header row: the first column of data is always a number.
                        if line.count(",") != ncols - 1:
                            raise CorpusError(path, "line 1", line, f"a header of {ncols} columns")
                        continue
                    numbers.append(n)
                    lines.append(line)
                    if len(lines) == chunk_rows:
                        yield numbers, lines
                        numbers, lines = [], []
                if lines:
                    yield numbers, lines
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as exc:
        raise CorpusError(path, "", f"{type(exc).__name__}: {exc}", "a readable zip") from None


def _tables(path: Path, schema: dict[str, str], chunk_rows: int, verify: bool) -> Iterator[_Table]:
    for numbers, lines in _lines(path, len(schema), chunk_rows, verify):
        yield _Table(path, numbers, lines, schema)


_DTYPES = {"i": "i8", "f": "f8", "b": "U8", "s": "U32"}


class _Table:
    """One chunk of dump lines as typed columns, and errors that name line, column and value.

    ``schema`` maps each column to ``i`` (int64), ``f`` (float64), ``b`` (True/False) or ``s``
    (ignored text). The fast path is one ``np.loadtxt`` over the chunk; if it refuses anything,
    the slow path parses column by column to name the first bad value (or accepts what only
    numpy's parser refused).
    """

    def __init__(
        self, path: Path, lines: list[int], texts: list[str], schema: dict[str, str]
    ) -> None:
        self.path, self.lines, self.texts = path, lines, texts
        self.index = {c: j for j, c in enumerate(schema)}
        dtype = [(c, _DTYPES[k]) for c, k in schema.items()]
        try:
            table = np.loadtxt(texts, delimiter=",", dtype=dtype, ndmin=1, comments=None)
            self.cols = {c: table[c] for c in schema}
        except ValueError:
            self.cols = self._slow(schema)

    def _slow(self, schema: dict[str, str]) -> dict[str, np.ndarray]:
        rows = []
        for n, text in zip(self.lines, self.texts, strict=True):
            fields = text.split(",")
            if len(fields) != len(schema):
                raise CorpusError(
                    self.path, f"line {n}", text, f"{len(schema)} comma-separated columns"
                )
            rows.append([f.strip() for f in fields])
        table = np.array(rows, dtype=str)
        cols = {}
        for j, (c, kind) in enumerate(schema.items()):
            values = table[:, j]
            if kind == "i":
                cols[c] = self._convert(values, c, np.int64, _int64, "a whole number (64-bit)")
            elif kind == "f":
                cols[c] = self._convert(values, c, np.float64, float, "a decimal number")
            else:
                cols[c] = values
        return cols

    def _convert(
        self, values: np.ndarray, col: str, dtype: type, parse: Callable[[str], object], rule: str
    ) -> np.ndarray:
        try:
            return values.astype(dtype)
        except (ValueError, OverflowError):
            for i, v in enumerate(values):
                try:
                    parse(v)
                except ValueError:
                    raise self.error(i, col, rule) from None
            raise CorpusError(self.path, f"column {col}", "", rule) from None

    def raw(self, i: int, col: str) -> str:
        """Row ``i``'s text in column ``col``, as the file has it."""
        return self.texts[i].split(",")[self.index[col]].strip()

    def error(self, i: int, col: str, rule: str) -> CorpusError:
        return CorpusError(self.path, _at(self.lines[i], col), self.raw(i, col), rule)

    def ints(self, col: str) -> np.ndarray:
        return self.cols[col]

    def floats(self, col: str, *, positive: bool = False) -> np.ndarray:
        out = self.cols[col]
        bad = np.flatnonzero(~np.isfinite(out) | ((out <= 0) if positive else (out < 0)))
        if bad.size:
            raise self.error(
                bad[0], col, "a finite number > 0" if positive else "a finite number >= 0"
            )
        return out

    def bools(self, col: str) -> np.ndarray:
        low = np.char.lower(np.char.strip(self.cols[col]))
        out = low == "true"
        bad = np.flatnonzero(~(out | (low == "false")))
        if bad.size:
            raise self.error(bad[0], col, "True or False")
        return out

    def detect_unit(self, col: str) -> str:
        """The file's time unit, from the magnitude of this (first) chunk's first time."""
        unit = time_unit(int(self.cols[col][0]))
        if unit is None:
            raise self.error(0, col, "epoch milliseconds (13 digits) or microseconds (16)")
        return unit

    def times(self, col: str, unit: str, day0: int | None = None) -> np.ndarray:
        """Column ``col`` in epoch microseconds, every value checked to be in ``unit`` (and,
        given ``day0``, inside the UTC day starting then)."""
        t = self.cols[col]
        lo, hi = _MS_RANGE if unit == MS else _US_RANGE
        bad = np.flatnonzero((t < lo) | (t >= hi))
        if bad.size:
            what = "milliseconds (13 digits)" if unit == MS else "microseconds (16 digits)"
            raise self.error(bad[0], col, f"epoch {what} like the file's first row")
        t_us = t * _UNIT_SCALE[unit]
        if day0 is not None:
            bad = np.flatnonzero((t_us < day0) | (t_us >= day0 + DAY_US))
            if bad.size:
                raise self.error(bad[0], col, "a time inside the file's UTC day")
        return t_us


def _at(line: int, column: str) -> str:
    return f"line {line}, column {column}"


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(text)
    return value
