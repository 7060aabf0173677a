"""The recorder: what the live feeds received, kept twice.

1. **Raw**: every WebSocket frame and HTTP body with its receive time, one JSON line each, in
   ``<root>/record/<venue>/<YYYY-MM-DD>/<HH>.jsonl.gz`` (UTC; a new file each hour). A line is
   ``{"recv_ts": 1777853100.123, "kind": "ws" | "http", "source": "...", "payload": "<text>"}``:
   the payload exactly as received (text), so a parser bug can be replayed on the bytes later.
2. **Normalized**: the backtest corpus layout (``docs/corpus.md``) under ``<root>/corpus``:
   closed 1 s klines per symbol and day (a zip + ``.CHECKSUM`` per day, written when the day
   rolls over or the recorder closes), Gamma market objects as the API sent them (rewritten
   when a later answer, e.g. the resolved one, arrives), and the top of book per token
   whenever it changes, at least once a second while the market is live.

So a live session replays in ``mode=backtest backtest.corpus=<root>/corpus``. Nothing here
reads a clock: every call carries the instant it records.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

from engine.adapters.corpus.binance import write_checksum
from engine.adapters.corpus.booktop import BookTopWriter
from engine.adapters.corpus.layout import CorpusLayout, utc_day
from engine.core.types import Book

_US = 1_000_000


class RawRecorder:
    """Raw frames and bodies to hourly ``.jsonl.gz`` files per venue (see the module)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "record"
        self._open: dict[str, tuple[tuple[date, int], IO[bytes]]] = {}
        self.lines = 0

    def write(
        self, venue: str, recv_ts: float, source: str, payload: str | bytes, kind: str = "ws"
    ) -> None:
        """Append one received frame (``kind`` ``ws``) or HTTP body (``http``)."""
        if isinstance(payload, bytes | bytearray):
            payload = bytes(payload).decode("utf-8", errors="replace")
        moment = datetime.fromtimestamp(recv_ts, tz=UTC)
        hour = (moment.date(), moment.hour)
        current = self._open.get(venue)
        if current is None or current[0] != hour:
            if current is not None:
                current[1].close()
            path = self.root / venue / hour[0].isoformat() / f"{hour[1]:02d}.jsonl.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            # Append: a restart inside the hour adds a gzip member (readers see one stream).
            current = self._open[venue] = (hour, gzip.open(path, "ab"))  # noqa: SIM115
        line = {"recv_ts": recv_ts, "kind": kind, "source": source, "payload": payload}
        current[1].write((json.dumps(line, separators=(",", ":")) + "\n").encode())
        self.lines += 1

    def close(self) -> None:
        for _, f in self._open.values():
            f.close()
        self._open.clear()


@dataclass
class _KlineDay:
    day: date
    lines: list[str] = field(default_factory=list)
    last_open_us: int = -1


class CorpusRecorder:
    """The normalized corpus of a live session (see the module)."""

    def __init__(self, root: Path, *, heartbeat_s: float = 1.0) -> None:
        self.layout = CorpusLayout(Path(root) / "corpus")
        self.heartbeat_s = heartbeat_s
        self._klines: dict[str, _KlineDay] = {}
        self._books: dict[str, tuple[date, BookTopWriter]] = {}
        self._last_row: dict[str, tuple[float, tuple]] = {}  # token -> (ts, top)
        self.counts = {"klines": 0, "book_rows": 0, "markets": 0, "kline_days": 0}

    # -- spot ----------------------------------------------------------------------------------
    def kline(
        self,
        symbol: str,
        open_ts: float,
        o: float,
        h: float,
        lo: float,
        c: float,
        volume: float = 0.0,
    ) -> None:
        """One **closed** 1 s bar opening at ``open_ts`` (a repeat or an older bar is ignored)."""
        open_us = round(open_ts * _US)
        day = utc_day(open_ts)
        current = self._klines.get(symbol)
        if current is not None and current.day != day:
            self._flush_klines(symbol)
            current = None
        if current is None:
            current = self._klines[symbol] = _KlineDay(day)
        if open_us <= current.last_open_us:
            return
        current.lines.append(
            f"{open_us},{o!r},{h!r},{lo!r},{c!r},{volume!r},{open_us + _US - 1},0,0,0,0,0\n"
        )
        current.last_open_us = open_us
        self.counts["klines"] += 1

    def _flush_klines(self, symbol: str) -> None:
        current = self._klines.pop(symbol, None)
        if current is None or not current.lines:
            return
        path = self.layout.kline_path(symbol, "1s", current.day)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():  # a second session on the same day: keep both, in order
            with zipfile.ZipFile(path) as zf:
                earlier = zf.read(zf.namelist()[0]).decode("ascii")
            first_new = int(current.lines[0].split(",", 1)[0])
            kept = [
                ln
                for ln in earlier.splitlines(keepends=True)
                if int(ln.split(",", 1)[0]) < first_new
            ]
            current.lines = kept + current.lines
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.name.removesuffix(".zip") + ".csv", "".join(current.lines))
        write_checksum(path)
        self.counts["kline_days"] += 1

    # -- markets and books ---------------------------------------------------------------------
    def market(self, raw: dict) -> None:
        """A Gamma market object as the API sent it (the latest answer wins: the resolved one)."""
        slug = str(raw["slug"])
        path = self.layout.market_path(slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)  # never a half-written market file
        self.counts["markets"] += 1

    def book(self, series: str, token_id: str, book: Book, ts: float) -> bool:
        """The token's top at ``ts`` if it changed, or if ``heartbeat_s`` passed since its last
        row (the format's once a second while live); False when nothing was written."""
        top = (
            float(book.bids[0, 0]) if len(book.bids) else None,
            float(book.asks[0, 0]) if len(book.asks) else None,
            float(book.bids[0, 1]) if len(book.bids) else None,
            float(book.asks[0, 1]) if len(book.asks) else None,
        )
        last = self._last_row.get(token_id)
        if last is not None and last[1] == top and ts - last[0] < self.heartbeat_s:
            return False
        day = utc_day(ts)
        current = self._books.get(series)
        if current is None or current[0] != day:
            if current is not None:
                current[1].close()
            path = self.layout.booktop_path(series, day)
            path.parent.mkdir(parents=True, exist_ok=True)
            # A second session the same day appends its (later) rows to the day's file.
            current = self._books[series] = (day, BookTopWriter(path, dedupe=False, append=True))
        current[1].write(round(ts * 1000), token_id, *top)
        self._last_row[token_id] = (ts, top)
        self.counts["book_rows"] += 1
        return True

    def close(self) -> None:
        for symbol in list(self._klines):
            self._flush_klines(symbol)
        for _, writer in self._books.values():
            writer.close()
        self._books.clear()
