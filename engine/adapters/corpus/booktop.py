"""Top-of-book recordings of the Polymarket CLOB: one ``<series>-<YYYY-MM-DD>.csv.gz`` per day.

The format is edgeloop's own (the live recorder writes it, the replay reads it), defined once
here by :class:`BookTopWriter` and :func:`read_booktop`::

    ts,token_id,best_bid,best_ask,bid_size,ask_size
    1786728432337,6369135796...,0.004,0.009,100,25

- ``ts``: epoch **milliseconds** when the top changed (rows in time order, never going back);
- ``token_id``: the CLOB token id (decimal string, kept as a string);
- ``best_bid``/``best_ask``: prices in (0, 1) on the market's tick at that moment (the tick can
  change inside a window, so the reader does not check it); ``bid_size``/``ask_size``: shares
  at those prices, > 0;
- an **empty** price and size is an empty side: NaN in the arrays, never 0. A price without a
  size (or a size without a price) is an error, and so is a crossed top (``bid >= ask``);
- one row per token each time its top changes (the writer drops a row equal to the token's
  previous one).

Rows stream in chunks (:class:`BookTopChunk`) of at most ``chunk_rows`` rows.
"""

from __future__ import annotations

import gzip
import io
import math
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from pathlib import Path

import numpy as np

from engine.adapters.corpus.errors import GAP_DAY, CorpusError, Gap, report_gap
from engine.adapters.corpus.layout import (
    CorpusLayout,
    SeriesName,
    day_start_us,
    days_between,
    parse_series_name,
)

HEADER = ("ts", "token_id", "best_bid", "best_ask", "bid_size", "ask_size")
HEADER_LINE = ",".join(HEADER)
DEFAULT_CHUNK_ROWS = 65_536
_DAY_MS = 86_400_000
_MS_RANGE = (946_684_800_000, 4_102_444_800_000)  # 2000-01-01 to 2100-01-01


@dataclass(frozen=True, slots=True)
class BookTop:
    """One token's top of book from ``ts_ms`` on (NaN price and size: that side is empty)."""

    ts_ms: int
    token_id: str
    best_bid: float
    best_ask: float
    bid_size: float
    ask_size: float

    @property
    def ts(self) -> float:
        """Epoch seconds (the engine's clock)."""
        return self.ts_ms / 1000.0


@dataclass(frozen=True, slots=True, eq=False)
class BookTopChunk:
    """Consecutive rows of one book-top file: ``ts_ms`` ``int64``, ``token_id`` an object array
    of strings, prices and sizes ``float64`` (NaN for an empty side)."""

    path: Path
    ts_ms: np.ndarray
    token_id: np.ndarray
    best_bid: np.ndarray
    best_ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ms)

    @property
    def ts(self) -> np.ndarray:
        return self.ts_ms / 1000.0

    def rows(self) -> Iterator[BookTop]:
        cols = (
            self.ts_ms,
            self.token_id,
            self.best_bid,
            self.best_ask,
            self.bid_size,
            self.ask_size,
        )
        for ts, token, bid, ask, bsz, asz in zip(*cols, strict=True):
            yield BookTop(int(ts), token, float(bid), float(ask), float(bsz), float(asz))


def check_row(row: BookTop) -> str | None:
    """What is wrong with ``row`` (``"field: expected ..."``), or None if it is valid."""
    if not (_MS_RANGE[0] <= row.ts_ms < _MS_RANGE[1]):
        return "ts: epoch milliseconds (13 digits)"
    if not (row.token_id.isascii() and row.token_id.isdigit()):
        return "token_id: a decimal token id"
    for side, price, size in (
        ("bid", row.best_bid, row.bid_size),
        ("ask", row.best_ask, row.ask_size),
    ):
        if math.isnan(price) != math.isnan(size):
            return f"best_{side}/{side}_size: a price and a size, or both empty (no {side})"
        if not math.isnan(price) and not 0.0 < price < 1.0:
            return f"best_{side}: a price in (0, 1) or empty"
        if not math.isnan(size) and not (0.0 < size < math.inf):
            return f"{side}_size: a size in shares > 0 or empty"
    if row.best_bid >= row.best_ask:  # False when either side is empty (NaN)
        return "best_bid/best_ask: best_bid < best_ask (a top of book is never crossed)"
    return None


def read_booktop(path: Path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[BookTopChunk]:
    """Stream a book-top ``.csv.gz`` in chunks, checking every row.

    When the file's name follows the layout (``<series>-<YYYY-MM-DD>.csv.gz``) every ``ts`` must
    fall inside that UTC day. Raises :class:`CorpusError` (file, line, field, value, rule) on
    the first bad row.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows={chunk_rows!r} must be >= 1")
    path = Path(path)
    name = parse_series_name(path)
    day = (
        (day_start_us(name.day) // 1000, day_start_us(name.day) // 1000 + _DAY_MS) if name else None
    )
    last_ts = -1
    try:
        with gzip.open(path, "rt", encoding="ascii", newline="") as text:
            header = text.readline().strip()
            if header != HEADER_LINE:
                raise CorpusError(path, "line 1", header, f"the header {HEADER_LINE}")
            n = 2  # the file's line number of the batch's first line
            while True:
                lines = list(islice(text, chunk_rows))
                if not lines:
                    break
                chunk = _fast_chunk(path, lines, last_ts, day)
                if chunk is None:  # some line is bad or unusual: the exact check says which
                    chunk = _checked_chunk(path, n, lines, last_ts, day, name)
                n += len(lines)
                if len(chunk):
                    last_ts = int(chunk.ts_ms[-1])
                    yield chunk
    except (gzip.BadGzipFile, zlib.error, EOFError, UnicodeDecodeError) as exc:
        raise CorpusError(
            path, "", f"{type(exc).__name__}: {exc}", "a readable gzip file"
        ) from None


def iter_booktop(
    corpus: CorpusLayout | Path,
    series: str,
    start: date,
    end: date,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    gaps: list[Gap] | None = None,
) -> Iterator[BookTopChunk]:
    """Book-top rows of ``series`` from day ``start`` to ``end`` (both included), in time order.

    A day without its file is a :data:`~engine.adapters.corpus.errors.GAP_DAY` gap, appended to
    ``gaps`` (or warned about when ``gaps`` is None); nothing is filled in.
    """
    layout = corpus if isinstance(corpus, CorpusLayout) else CorpusLayout(Path(corpus))
    for day in days_between(start, end):
        path = layout.booktop_path(series, day)
        if not path.is_file():
            t0 = day_start_us(day)
            report_gap(Gap(f"book-top {series}", GAP_DAY, t0, t0 + _DAY_MS * 1000, 1, path), gaps)
            continue
        yield from read_booktop(path, chunk_rows=chunk_rows)


class BookTopWriter:
    """Writes a book-top ``.csv.gz`` row by row (the recorder's side of the format).

    Refuses to overwrite an existing file (unless ``append``), to write a row :func:`check_row` rejects or one
    earlier than the previous row. With ``dedupe`` (the default) a row equal to its token's
    previous top is skipped: the format holds one row per change. The gzip header carries no
    timestamp or file name, so equal rows give equal bytes.
    """

    def __init__(self, path: Path, *, dedupe: bool = True, append: bool = False) -> None:
        self.path = Path(path)
        self.dedupe = dedupe
        # append: later rows of an existing file (a second recording session the same day),
        # as a new gzip member without a header (readers see one stream).
        header = not (append and self.path.is_file() and self.path.stat().st_size > 0)
        self._raw = open(self.path, "ab" if append else "xb")  # noqa: SIM115 (closed by close())
        self._gz = gzip.GzipFile(filename="", fileobj=self._raw, mode="wb", mtime=0)
        self._text = io.TextIOWrapper(self._gz, encoding="ascii", newline="\n")
        if header:
            self._text.write(HEADER_LINE + "\n")
        self._last_ts = -1
        self._last_top: dict[str, tuple[str, ...]] = {}
        self.rows_written = 0

    def write(
        self,
        ts_ms: int,
        token_id: str,
        best_bid: float | None,
        best_ask: float | None,
        bid_size: float | None,
        ask_size: float | None,
    ) -> bool:
        """Append one row (None or NaN: an empty side); False if skipped as unchanged."""
        row = BookTop(
            int(ts_ms), str(token_id), *(_nan(x) for x in (best_bid, best_ask, bid_size, ask_size))
        )
        problem = check_row(row)
        if problem:
            raise ValueError(f"{self.path}: row {row!r}: expected {problem}")
        if row.ts_ms < self._last_ts:
            raise ValueError(
                f"{self.path}: ts={row.ts_ms} is before the previous row's {self._last_ts}"
            )
        fields = tuple(_fmt(x) for x in (row.best_bid, row.best_ask, row.bid_size, row.ask_size))
        if self.dedupe and self._last_top.get(row.token_id) == fields:
            return False
        self._text.write(f"{row.ts_ms},{row.token_id},{','.join(fields)}\n")
        self._last_ts, self._last_top[row.token_id] = row.ts_ms, fields
        self.rows_written += 1
        return True

    def close(self) -> None:
        if not self._raw.closed:
            self._text.close()
            self._raw.close()

    def __enter__(self) -> BookTopWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_booktop(path: Path, rows: Iterable[BookTop], *, dedupe: bool = True) -> int:
    """Write ``rows`` to a new book-top file; the number of rows written."""
    with BookTopWriter(path, dedupe=dedupe) as w:
        for r in rows:
            w.write(r.ts_ms, r.token_id, r.best_bid, r.best_ask, r.bid_size, r.ask_size)
        return w.rows_written


def _fast_chunk(
    path: Path, lines: list[str], last_ts: int, day: tuple[int, int] | None
) -> BookTopChunk | None:
    """``lines`` parsed column-wise, or None when any of them needs the line-by-line check
    (a bad row, a blank line, rows out of order): that path names the line and the rule."""
    fields = [line.rstrip("\r\n").split(",") for line in lines]
    if any(len(f) != len(HEADER) for f in fields):
        return None
    # Column by column (the 77-digit token ids stay Python strings: a fixed-width numpy text
    # array of them would cost 300 bytes a cell).
    ts_text, tokens, *num_texts = zip(*fields, strict=True)
    if not all(t.isdigit() for t in tokens):
        return None
    try:
        ts_col = np.array(ts_text)
        if not np.char.isdigit(ts_col).all():
            return None
        ts = ts_col.astype(np.int64)
        nums = [
            np.where((c := np.array(col)) == "", "nan", c).astype(np.float64) for col in num_texts
        ]
    except ValueError:
        return None
    bid, ask, bid_size, ask_size = nums
    with np.errstate(invalid="ignore"):
        ok = (
            (ts >= _MS_RANGE[0])
            & (ts < _MS_RANGE[1])
            & (np.isnan(bid) == np.isnan(bid_size))
            & (np.isnan(ask) == np.isnan(ask_size))
            & (np.isnan(bid) | ((bid > 0.0) & (bid < 1.0)))
            & (np.isnan(ask) | ((ask > 0.0) & (ask < 1.0)))
            & (np.isnan(bid_size) | ((bid_size > 0.0) & np.isfinite(bid_size)))
            & (np.isnan(ask_size) | ((ask_size > 0.0) & np.isfinite(ask_size)))
            & ~(bid >= ask)
        )
    if not ok.all() or ts[0] < last_ts or (len(ts) > 1 and (np.diff(ts) < 0).any()):
        return None
    if day and not (day[0] <= ts[0] and ts[-1] < day[1]):
        return None
    token_ids = np.array([sys.intern(t) for t in tokens], dtype=object)
    return BookTopChunk(path, ts, token_ids, bid, ask, bid_size, ask_size)


def _checked_chunk(
    path: Path,
    first: int,
    lines: list[str],
    last_ts: int,
    day: tuple[int, int] | None,
    name: SeriesName | None,
) -> BookTopChunk:
    """``lines`` checked one by one: raises :class:`CorpusError` at the first bad one."""
    rows: list[BookTop] = []
    for n, line in enumerate(lines, start=first):
        line = line.strip()
        if not line:
            continue
        row = _parse_line(path, n, line)
        if row.ts_ms < last_ts:
            raise CorpusError(
                path, f"line {n}, field ts", row.ts_ms, f"ts >= {last_ts} (rows in time order)"
            )
        if day and not day[0] <= row.ts_ms < day[1]:
            raise CorpusError(
                path, f"line {n}, field ts", row.ts_ms, f"a time inside the file's day {name.day}"
            )
        last_ts = row.ts_ms
        rows.append(row)
    return _chunk(path, rows)


# -- helpers -------------------------------------------------------------------------------
def _parse_line(path: Path, n: int, line: str) -> BookTop:
    fields = line.split(",")
    if len(fields) != len(HEADER):
        raise CorpusError(path, f"line {n}", line, f"{len(HEADER)} fields ({HEADER_LINE})")
    ts_text, token, *nums = fields
    if not ts_text.isdigit():
        raise CorpusError(path, f"line {n}, field ts", ts_text, "epoch milliseconds (13 digits)")
    values = []
    for col, text in zip(HEADER[2:], nums, strict=True):
        if text == "":
            values.append(math.nan)
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise CorpusError(
                path, f"line {n}, field {col}", text, "a decimal number or empty"
            ) from None
    row = BookTop(int(ts_text), sys.intern(token), *values)
    problem = check_row(row)
    if problem:
        col, _, rule = problem.partition(": ")
        value = {c: f for c, f in zip(HEADER, fields, strict=True)}.get(col, line)
        raise CorpusError(path, f"line {n}, field {col}", value, rule)
    return row


def _chunk(path: Path, rows: list[BookTop]) -> BookTopChunk:
    return BookTopChunk(
        path=path,
        ts_ms=np.fromiter((r.ts_ms for r in rows), dtype=np.int64, count=len(rows)),
        token_id=np.array([r.token_id for r in rows], dtype=object),
        best_bid=np.fromiter((r.best_bid for r in rows), dtype=np.float64, count=len(rows)),
        best_ask=np.fromiter((r.best_ask for r in rows), dtype=np.float64, count=len(rows)),
        bid_size=np.fromiter((r.bid_size for r in rows), dtype=np.float64, count=len(rows)),
        ask_size=np.fromiter((r.ask_size for r in rows), dtype=np.float64, count=len(rows)),
    )


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _fmt(x: float) -> str:
    """A number as the file writes it: shortest round-trip form, no trailing ``.0``; NaN empty."""
    if math.isnan(x):
        return ""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text
