"""Binance spot frames (combined WebSocket stream, REST klines) -> the engine's spot events.

One text frame of ``wss://stream.binance.com:9443/stream?streams=...`` is
``{"stream": "<symbol>@<kind>", "data": {...}}``; :func:`parse_frame` routes it by the stream
name (spot ``bookTicker`` has no event type), validates the payload against
:mod:`engine.adapters.binance.schemas` and returns one event:

- :class:`SpotQuote` (``bookTicker``): stamped with the caller's receive time, since the payload
  has none; :class:`StaleFilter` drops quotes whose update id ``u`` is not newer;
- :class:`SpotTrade` (``aggTrade``) and :class:`SpotKline` (``kline_<interval>``): times in ms
  or µs (read from the magnitude), prices and sizes from strings; a kline is final only when
  ``closed`` (the wire's ``x``);
- :class:`ServerShutdown` (the server is about to go away) and :class:`ControlReply`.

Known streams the engine does not consume (``depth``, ``trade``, tickers) raise
:class:`~engine.adapters.binance.schemas.UnsupportedStream`; anything else that cannot be placed
raises :class:`~engine.adapters.binance.schemas.WireError`. Both are ``ValueError``: callers
count and skip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.adapters.binance.schemas import (
    AggTradeMsg,
    BookTickerMsg,
    ControlReplyMsg,
    KlineMsg,
    RestKlineRow,
    ServerShutdownMsg,
)
from engine.adapters.corpus.binance import KLINE_COLUMNS
from engine.adapters.wire import UnsupportedStream, WireError, decode_json, validate

SOURCE = "binance"
_KLINE = re.compile(r"^kline_(?P<interval>\d+[smhdwM])(@[+-]\d{2}:\d{2})?$")
# Stream kinds Binance serves that this adapter does not turn into events (counted, not garbage).
_UNSUPPORTED = re.compile(
    r"^(depth(5|10|20)?(@(100|1000)ms)?|trade|ticker|miniTicker|avgPrice|ticker_\w+)$"
)


@dataclass(frozen=True, slots=True)
class SpotQuote:
    """Best bid/ask of ``symbol`` (``"BTCUSDT"``); ``recv_ts``: when we received it (epoch s)."""

    symbol: str
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    update_id: int
    recv_ts: float


@dataclass(frozen=True, slots=True)
class SpotTrade:
    """One aggregate trade: ``qty`` at ``price`` at trade time ``ts`` (epoch s).

    ``buyer_maker`` true means the seller was the taker (a down-tick trade).
    """

    symbol: str
    price: float
    qty: float
    ts: float
    agg_id: int
    buyer_maker: bool


@dataclass(frozen=True, slots=True)
class SpotKline:
    """One candle ``[open_ts, close_ts]`` (epoch s; ``close_ts`` is the last ms of the bar).

    ``closed`` false: the bar is still forming and ``close`` is the latest price, not final.
    """

    symbol: str
    interval: str
    open_ts: float
    close_ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool


@dataclass(frozen=True, slots=True)
class ServerShutdown:
    """The server will close this connection soon (``ts``: its event time): reconnect now."""

    ts: float


@dataclass(frozen=True, slots=True)
class ControlReply:
    """The reply to request ``id`` (``result`` null on success, a list for LIST_SUBSCRIPTIONS)."""

    id: int | str
    result: Any


BinanceEvent = SpotQuote | SpotTrade | SpotKline | ServerShutdown | ControlReply


def parse_frame(text: str | bytes, recv_ts: float) -> BinanceEvent:
    """The event of one combined-stream text frame received at ``recv_ts`` (epoch s).

    Raises :class:`UnsupportedStream` for a known stream kind the engine does not consume and
    :class:`WireError` (field, value, expectation) for anything else it cannot place.
    """
    obj = decode_json(text, SOURCE)
    if not isinstance(obj, Mapping):
        raise WireError(SOURCE, "frame", obj, "a JSON object")
    shutdown = _shutdown(obj)
    if shutdown is not None:
        return shutdown
    if "stream" not in obj:
        if "id" in obj and "result" in obj:
            reply = validate(ControlReplyMsg, obj, SOURCE)
            return ControlReply(id=reply.id, result=reply.result)
        if "code" in obj:
            raise WireError(SOURCE, "code", obj.get("code"), f"no error (msg {obj.get('msg')!r})")
        raise WireError(SOURCE, "stream", None, 'a combined-stream frame {"stream", "data"}')
    stream, data = obj.get("stream"), obj.get("data")
    if not isinstance(stream, str) or stream.count("@") < 1:
        raise WireError(SOURCE, "stream", stream, "a stream name <symbol>@<kind>")
    stream_symbol, kind = stream.split("@", 1)
    source = f"{SOURCE} {stream}"
    if not isinstance(data, Mapping):
        raise WireError(source, "data", data, "a JSON object (the stream's payload)")
    if kind == "bookTicker":
        return _quote(validate(BookTickerMsg, data, source, "data"), stream_symbol, recv_ts)
    if kind == "aggTrade":
        t = validate(AggTradeMsg, data, source, "data")
        _check_symbol(source, stream_symbol, t.s)
        return SpotTrade(t.s, t.p, t.q, t.T, t.a, t.m)
    m = _KLINE.match(kind)
    if m:
        return _kline(validate(KlineMsg, data, source, "data"), stream_symbol, m["interval"])
    if _UNSUPPORTED.match(kind):
        raise UnsupportedStream(source, "stream", stream, "bookTicker, aggTrade or kline_<i>")
    raise WireError(source, "stream", stream, "a <symbol>@bookTicker, @aggTrade or @kline_<i>")


def parse_klines_rest(
    payload: str | bytes | list, symbol: str, interval: str, recv_ts: float
) -> list[SpotKline]:
    """``GET /api/v3/klines?symbol=&interval=`` rows (text or decoded) -> candles in time order.

    The rows carry neither symbol nor interval: the caller passes those of its request. The
    last row is usually the bar still forming: a bar is ``closed`` only if its close time is
    before ``recv_ts``, when the response arrived.
    """
    source = f"{SOURCE} klines {symbol} {interval}"
    rows = decode_json(payload, source) if isinstance(payload, str | bytes) else payload
    if not isinstance(rows, list):
        raise WireError(source, "frame", rows, "a JSON array of kline rows")
    out: list[SpotKline] = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(KLINE_COLUMNS):
            raise WireError(source, f"row {i}", row, f"an array of {len(KLINE_COLUMNS)} fields")
        r = validate(RestKlineRow, dict(zip(KLINE_COLUMNS, row, strict=True)), source, f"row {i}")
        if out and r.open_time <= out[-1].open_ts:
            raise WireError(source, f"row {i}.open_time", row[0], "open times strictly increasing")
        out.append(
            SpotKline(
                symbol=symbol,
                interval=interval,
                open_ts=r.open_time,
                close_ts=r.close_time,
                open=r.open,
                high=r.high,
                low=r.low,
                close=r.close,
                volume=r.volume,
                closed=r.close_time < recv_ts,
            )
        )
    return out


class StaleFilter:
    """Drops bookTicker quotes that are not newer than the last one kept for their symbol.

    Spot ``bookTicker`` has no timestamp; its update id ``u`` grows per symbol, so a quote whose
    ``u`` is lower than or equal to the last kept one is stale or a duplicate (a late frame, or a
    replay after a reconnect). ``dropped`` counts them.
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self.dropped = 0

    def accept(self, quote: SpotQuote) -> bool:
        """True (and remembered) if ``quote`` is newer than the last kept quote of its symbol."""
        last = self._last.get(quote.symbol)
        if last is not None and quote.update_id <= last:
            self.dropped += 1
            return False
        self._last[quote.symbol] = quote.update_id
        return True

    def last_update_id(self, symbol: str) -> int | None:
        return self._last.get(symbol)


# -- helpers -------------------------------------------------------------------------------
def _shutdown(obj: Mapping[str, Any]) -> ServerShutdown | None:
    """A serverShutdown event, bare, wrapped in ``event`` or in a combined-stream ``data``."""
    for inner in (obj, obj.get("event"), obj.get("data")):
        if isinstance(inner, Mapping) and inner.get("e") == "serverShutdown":
            return ServerShutdown(ts=validate(ServerShutdownMsg, inner, SOURCE).E)
    return None


def _check_symbol(source: str, stream_symbol: str, symbol: str) -> None:
    if symbol.lower() != stream_symbol.lower():
        raise WireError(source, "data.s", symbol, f"the stream's symbol {stream_symbol.upper()}")


def _quote(q: BookTickerMsg, stream_symbol: str, recv_ts: float) -> SpotQuote:
    _check_symbol(f"{SOURCE} {stream_symbol}@bookTicker", stream_symbol, q.s)
    return SpotQuote(q.s, q.b, q.B, q.a, q.A, q.u, float(recv_ts))


def _kline(msg: KlineMsg, stream_symbol: str, interval: str) -> SpotKline:
    source = f"{SOURCE} {stream_symbol}@kline_{interval}"
    k = msg.k
    _check_symbol(source, stream_symbol, k.s)
    if k.i != interval:
        raise WireError(source, "data.k.i", k.i, f"the stream's interval {interval}")
    if k.t > k.T:
        raise WireError(source, "data.k.T", k.T, f"a close time after the open time {k.t}")
    return SpotKline(k.s, k.i, k.t, k.T, k.o, k.h, k.l, k.c, k.v, k.x)
