"""Writers of the corpus layout's files from engine values (the exporter, the synthetic corpus).

- :class:`KlineDays`: 1-second Binance klines of one symbol from a spot per second, one zip
  (and its ``.CHECKSUM``) per UTC day;
- :class:`BookTopDays`: book-top rows per series, one ``.csv.gz`` per UTC day, every row kept
  (no dedupe: a replayed book's time is its row's, so a row per second keeps every book as
  fresh as the feed showed it);
- :func:`gamma_market`: the Gamma market object of an Up/Down market.

Numbers are written in their shortest round-trip form (``repr``), so a reader parses back
exactly the floats the engine held.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import date

from engine.adapters.corpus.binance import write_checksum
from engine.adapters.corpus.booktop import BookTopWriter
from engine.adapters.corpus.layout import CorpusLayout, iso_z, utc_day
from engine.core.types import DOWN, UP, Book

_US = 1_000_000


def decimal_token(name: str) -> str:
    """A 77-digit decimal token id (the CLOB's form) fixed by ``name``."""
    digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return str(10**76 + digest % (9 * 10**76))


class KlineDays:
    """One symbol's 1 s klines: :meth:`add` the spot seen at each second, in time order.

    The spot a tick shows at second ``s`` is the close of the bar opening at ``s - 1`` (the
    replay's rule: a bar's close is known when it closes); its open is the previous close (its
    own close for the first bar), high and low the larger and smaller of the two. Volumes and
    counts are 0: the simulator trades no volume.
    """

    def __init__(self, layout: CorpusLayout, symbol: str) -> None:
        self.layout, self.symbol = layout, symbol
        self._day: date | None = None
        self._lines: list[str] = []
        self._last = float("nan")
        self.days_written = 0

    def add(self, ts: float, spot: float) -> None:
        open_s = int(ts) - 1
        day = utc_day(open_s)
        if day != self._day:
            self.flush()
            self._day = day
        o = spot if self._last != self._last else self._last
        t = open_s * _US
        hi, lo = max(o, spot), min(o, spot)
        self._lines.append(f"{t},{o!r},{hi!r},{lo!r},{spot!r},0,{t + _US - 1},0,0,0,0,0\n")
        self._last = spot

    def flush(self) -> None:
        """Write the current day's zip and its ``.CHECKSUM`` (nothing when it holds no bar)."""
        if self._day is None or not self._lines:
            return
        path = self.layout.kline_path(self.symbol, "1s", self._day)
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.name.removesuffix(".zip") + ".csv", "".join(self._lines))
        write_checksum(path)
        self._lines = []
        self.days_written += 1


class BookTopDays:
    """Book-top rows of every series: :meth:`add` a token's book at a second, in time order."""

    def __init__(self, layout: CorpusLayout) -> None:
        self.layout = layout
        self._open: dict[str, tuple[date, BookTopWriter]] = {}
        self.rows_written = 0
        self.files_written = 0

    def add(self, series: str, ts: float, token: str, book: Book) -> None:
        day = utc_day(ts)
        current = self._open.get(series)
        if current is None or current[0] != day:
            if current is not None:
                current[1].close()
            path = self.layout.booktop_path(series, day)
            path.parent.mkdir(parents=True, exist_ok=True)
            current = self._open[series] = (day, BookTopWriter(path, dedupe=False))
            self.files_written += 1
        bid_size = float(book.bids[0, 1]) if len(book.bids) else None
        ask_size = float(book.asks[0, 1]) if len(book.asks) else None
        best_bid = float(book.bids[0, 0]) if len(book.bids) else None
        best_ask = float(book.asks[0, 0]) if len(book.asks) else None
        current[1].write(round(ts * 1000), token, best_bid, best_ask, bid_size, ask_size)
        self.rows_written += 1

    def close(self) -> None:
        for _, writer in self._open.values():
            writer.close()
        self._open.clear()


def gamma_market(
    *,
    slug: str,
    symbol: str,
    start_ts: float,
    end_ts: float,
    up_token: str,
    down_token: str,
    fee_rate: float | None,
    winner: str | None,
    source: str,
    tick: float = 0.01,
) -> dict:
    """The Gamma ``GET /markets`` object of an Up/Down market (``winner`` None: not resolved:
    ``closed`` false and no settled prices). ``fee_rate``: the ``feeSchedule.rate`` (0: fees
    off; None: no schedule, the crypto default applies)."""
    prices = {UP: ["1", "0"], DOWN: ["0", "1"]}.get(winner or "", ["0.5", "0.5"])
    obj = {
        "id": str(int(hashlib.sha256(slug.encode()).hexdigest()[:7], 16)),
        "question": f"{symbol.removesuffix('USDT')} Up or Down ({source})",
        "conditionId": "0x" + hashlib.sha256(("cond" + slug).encode()).hexdigest(),
        "slug": slug,
        "resolutionSource": source,
        "endDate": iso_z(end_ts),
        "startDate": iso_z(start_ts),
        "outcomes": json.dumps(["Up", "Down"]),
        "outcomePrices": json.dumps(prices),
        "active": winner is None,
        "closed": winner is not None,
        "clobTokenIds": json.dumps([up_token, down_token]),
        "orderPriceMinTickSize": tick,
        "orderMinSize": 5,
        "negRisk": False,
        "eventStartTime": iso_z(start_ts),
        "feesEnabled": fee_rate != 0.0,
        "feeType": "crypto_fees",
    }
    if fee_rate:
        obj["feeSchedule"] = {"exponent": 1, "rate": fee_rate, "takerOnly": True}
    return obj
