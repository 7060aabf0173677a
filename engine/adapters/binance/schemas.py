"""Binance spot wire models.

The models mirror the JSON exactly as Binance sends it (single-letter keys, numbers as strings,
times as integer ms or µs); :mod:`engine.adapters.binance.parsing` turns them into the engine's
events. The shared helpers live in :mod:`engine.adapters.wire`.
"""

from __future__ import annotations

from typing import Any

from engine.adapters.wire import (
    Price,
    Size,
    Wire,
    WireTime,
)


# -- Binance spot payloads -----------------------------------------------------------------
class BookTickerMsg(Wire):
    """``<symbol>@bookTicker``: best bid/ask. No event type and no timestamp on spot."""

    u: int  # order book update id, monotonic per symbol
    s: str
    b: Price
    B: Size
    a: Price
    A: Size


class AggTradeMsg(Wire):
    """``<symbol>@aggTrade``: trades of one taker order at one price."""

    e: str
    E: WireTime
    s: str
    a: int
    p: Price
    q: Size
    T: WireTime
    m: bool


class KlineBody(Wire):
    """The ``k`` object of a kline event; final only when ``x`` is true."""

    t: WireTime
    T: WireTime
    s: str
    i: str
    o: Price
    h: Price
    l: Price  # noqa: E741 (Binance's key)
    c: Price
    v: Size
    x: bool


class KlineMsg(Wire):
    """``<symbol>@kline_<interval>`` (``kline_1s`` has the same schema)."""

    e: str
    E: WireTime
    s: str
    k: KlineBody


class ServerShutdownMsg(Wire):
    """``serverShutdown``: the server goes away soon; reconnect."""

    e: str
    E: WireTime


class ControlReplyMsg(Wire):
    """The reply to a ``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS`` request."""

    id: int | str
    result: Any = None


class RestKlineRow(Wire):
    """One row of ``GET /api/v3/klines``, keyed by ``corpus.binance.KLINE_COLUMNS``."""

    open_time: WireTime
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Size
    close_time: WireTime
