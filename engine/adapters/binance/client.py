"""Binance spot over the network: the combined WebSocket stream and the REST klines backfill.

:class:`BinanceSpotStream` connects to ``{base_url}/stream?streams=<symbol>@<kind>/...``
and yields each parsed :class:`~engine.adapters.binance.parsing.SpotQuote`,
:class:`~engine.adapters.binance.parsing.SpotTrade` and
:class:`~engine.adapters.binance.parsing.SpotKline` with its receive time, forever:

- a dropped connection (close 1006, reset, refused) is reopened after an exponential backoff
  with jitter (:func:`~engine.adapters.transport.backoff_delay`), reset by the next frame;
- a connection silent for ``stale_after_s`` is dropped and reopened at once;
- a connection is renewed before ``max_connection_age_s`` (Binance closes them at 24 h), and
  on ``serverShutdown``: the new one is opened before the old one is closed;
- garbage, unsupported streams (``depth``...) and quotes/trades not newer than the last of
  their symbol are counted and skipped, never raised.

:meth:`BinanceSpotStream.backfill` reads ``GET /api/v3/klines`` (to warm realized vol).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from engine.adapters.binance.parsing import (
    ControlReply,
    ServerShutdown,
    SpotKline,
    SpotQuote,
    SpotTrade,
    StaleFilter,
    parse_frame,
    parse_klines_rest,
)
from engine.adapters.transport import (
    HttpClient,
    LatencyStats,
    Received,
    RecentFrames,
    Tap,
    TransportConfig,
    backoff_delay,
    check_url,
    close_quietly,
    ws_connect_kwargs,
)
from engine.adapters.wire import UnsupportedStream, WireError
from engine.core.validation import ConfigError, check_range

log = logging.getLogger("edgeloop.binance")

SpotEvent = SpotQuote | SpotTrade | SpotKline
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
_STREAM = re.compile(r"^(bookTicker|aggTrade|kline_\d+[smhdwM])$")
_MAX_AGE_S = 24 * 3600.0  # Binance closes a connection at 24 h
_CONNECT_ERRORS = (OSError, TimeoutError, WebSocketException)


@dataclass(frozen=True, slots=True)
class BinanceStreamConfig:
    """Which symbols and streams to read, where, and how to keep the connection healthy.

    ``symbols``: ``BTCUSDT``-style (upper case); ``streams``: ``bookTicker``, ``aggTrade``,
    ``kline_<interval>``. ``stale_after_s``: a connection without any frame for that long is
    reopened. ``max_connection_age_s``: renew before this age (< 24 h).
    """

    symbols: tuple[str, ...] = ("BTCUSDT",)
    streams: tuple[str, ...] = ("bookTicker", "aggTrade", "kline_1s")
    base_url: str = "wss://stream.binance.com:9443"
    rest_url: str = "https://api.binance.com"
    stale_after_s: float = 30.0
    max_connection_age_s: float = 23.5 * 3600
    transport: TransportConfig = field(default_factory=TransportConfig)

    def __post_init__(self) -> None:
        symbols = tuple(str(s).upper() for s in self.symbols)
        if not symbols or any(not _SYMBOL.match(s) for s in symbols):
            raise ConfigError("symbols", list(self.symbols), "must be symbols like BTCUSDT")
        streams = tuple(str(s) for s in self.streams)
        if not streams or any(not _STREAM.match(s) for s in streams):
            raise ConfigError(
                "streams", list(self.streams), "must be bookTicker, aggTrade or kline_<interval>"
            )
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "streams", streams)
        object.__setattr__(self, "base_url", check_url("base_url", self.base_url, ("wss", "ws")))
        object.__setattr__(
            self, "rest_url", check_url("rest_url", self.rest_url, ("https", "http"))
        )
        check_range("stale_after_s", self.stale_after_s, 0.0, 3600.0, lo_open=True)
        check_range(
            "max_connection_age_s", self.max_connection_age_s, 0.0, _MAX_AGE_S, lo_open=True
        )
        if not isinstance(self.transport, TransportConfig):
            raise ConfigError("transport", self.transport, "must be a TransportConfig")

    @property
    def url(self) -> str:
        """The combined-stream URL of every symbol x stream."""
        names = [f"{s.lower()}@{k}" for s in self.symbols for k in self.streams]
        return f"{self.base_url}/stream?streams={'/'.join(names)}"


class _Renew(Exception):
    """Open a new connection, then close the old one (age or serverShutdown)."""


class _Drop(Exception):
    """The connection is gone or useless: close it and reconnect (after a backoff if ``backoff``)."""

    def __init__(self, reason: str, backoff: bool) -> None:
        super().__init__(reason)
        self.backoff = backoff


class BinanceSpotStream:
    """The combined spot stream of ``config`` (see the module docstring) and REST backfill.

    ``counters``: ``frames`` (received), ``garbage``, ``unsupported``, ``duplicates`` (a frame
    repeated within a connection), ``stale`` (quotes and trades not newer than the last of
    their symbol), ``reconnects`` (connections replaced),
    and why: ``drops``, ``silent``, ``shutdowns``, ``renewals``, ``connect_errors``;
    ``connections`` opened. ``latency``: receive time minus trade time, per aggTrade.
    ``errors`` keeps the last parse errors. ``tap(source, recv_ts, text)`` sees every frame
    and HTTP body (the recorder). ``clock`` gives receive times (epoch s).
    """

    def __init__(
        self,
        config: BinanceStreamConfig,
        *,
        tap: Tap | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.tap, self.clock = config, tap, clock
        self.counters: Counter[str] = Counter()
        self.latency = LatencyStats()
        self.errors: deque[WireError] = deque(maxlen=20)
        self.fresh = StaleFilter()
        self.http = HttpClient(
            config.transport,
            source="binance",
            base_url=config.rest_url,
            weight_header="X-MBX-USED-WEIGHT-1M",
            tap=tap,
            clock=clock,
        )
        self._last_trade: dict[str, int] = {}
        self._recent = RecentFrames()  # per connection: duplicates come within one
        self._closing: set[asyncio.Task[None]] = set()  # old connections closing after renewal
        self._failures = 0  # consecutive failed connections: the backoff exponent
        self._opened = 0.0  # monotonic time the current connection opened
        self._last_frame = 0.0
        self._rng = random.Random()

    async def __aenter__(self) -> BinanceSpotStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def backfill(
        self, symbol: str, interval: str = "1m", limit: int = 500
    ) -> list[SpotKline]:
        """The last ``limit`` (1..1000) bars of ``symbol`` from ``GET /api/v3/klines``, oldest
        first; the bar still forming is the last, with ``closed`` false."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigError("limit", limit, "must be a whole number in [1, 1000]")
        symbol = symbol.upper()
        params = {"symbol": symbol, "interval": interval, "limit": limit}
        reply = await self.http.get("/api/v3/klines", params)
        return parse_klines_rest(reply.text, symbol, interval, reply.recv_ts)

    async def events(self) -> AsyncIterator[Received[SpotEvent]]:
        """Parsed events with their receive time, forever (close the generator to stop)."""
        ws: ClientConnection | None = None
        try:
            while True:
                if ws is None:
                    ws = await self._connect()
                try:
                    item = self._parse(await self._recv(ws))
                except _Renew as renew:
                    ws = await self._renew(ws, str(renew))
                    continue
                except _Drop as drop:
                    await close_quietly(ws)
                    ws = None
                    self.counters["reconnects"] += 1
                    if drop.backoff:
                        delay = backoff_delay(self._failures, self.config.transport, self._rng)
                        self._failures += 1
                        log.warning("binance: %s; reconnecting in %.2fs", drop, delay)
                        await asyncio.sleep(delay)
                    continue
                if item is not None:
                    yield item
        finally:
            if ws is not None:
                await close_quietly(ws)

    # -- connection ------------------------------------------------------------------------
    async def _connect(self) -> ClientConnection:
        """Open the stream, retrying with backoff until it opens."""
        while True:
            try:
                ws = await connect(self.config.url, **ws_connect_kwargs(self.config.transport))
            except _CONNECT_ERRORS as exc:
                self.counters["connect_errors"] += 1
                delay = backoff_delay(self._failures, self.config.transport, self._rng)
                self._failures += 1
                log.warning("binance: connect failed (%s); retry in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            self.counters["connections"] += 1
            self._opened = self._last_frame = time.monotonic()
            self._recent.clear()
            return ws

    async def _renew(self, old: ClientConnection, reason: str) -> ClientConnection:
        """Open a new connection, then close ``old`` (no gap in the stream)."""
        self.counters["renewals" if reason == "age" else "shutdowns"] += 1
        self.counters["reconnects"] += 1
        log.info("binance: renewing the connection (%s)", reason)
        try:
            new = await connect(self.config.url, **ws_connect_kwargs(self.config.transport))
        except _CONNECT_ERRORS as exc:
            self.counters["connect_errors"] += 1
            log.warning("binance: renewal failed (%s); reconnecting", exc)
            await close_quietly(old)
            return await self._connect()
        self.counters["connections"] += 1
        self._opened = self._last_frame = time.monotonic()
        self._recent.clear()
        closing = asyncio.create_task(close_quietly(old))  # meanwhile, the new one streams
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        return new

    async def _recv(self, ws: ClientConnection) -> str | bytes:
        """The next frame; raises :class:`_Renew` at the age limit, :class:`_Drop` when the
        connection closes or stays silent for ``stale_after_s``."""
        cfg = self.config
        while True:
            now = time.monotonic()
            age_left = self._opened + cfg.max_connection_age_s - now
            silent_left = self._last_frame + cfg.stale_after_s - now
            if age_left <= 0:
                raise _Renew("age")
            if silent_left <= 0:
                self.counters["silent"] += 1
                raise _Drop(f"no frame for {cfg.stale_after_s:g}s", backoff=False)
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                async with asyncio.timeout(min(age_left, silent_left)):
                    frame = await ws.recv()
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                self.counters["drops"] += 1
                raise _Drop(f"connection closed ({exc})", backoff=True) from None
            self._last_frame = time.monotonic()
            self._failures = 0
            return frame

    # -- frames ----------------------------------------------------------------------------
    def _parse(self, frame: str | bytes) -> Received[SpotEvent] | None:
        """The frame's event, or None when it is counted and skipped."""
        recv_ts = self.clock()
        self.counters["frames"] += 1
        if self.tap is not None:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            self.tap("binance ws", recv_ts, text)
        try:
            event = parse_frame(frame, recv_ts)
        except UnsupportedStream:
            self.counters["unsupported"] += 1
            return None
        except WireError as exc:
            self.counters["garbage"] += 1
            self.errors.append(exc)
            log.debug("binance: skipped a frame: %s", exc)
            return None
        if self._recent.repeated(frame):
            self.counters["duplicates"] += 1
            return None
        if isinstance(event, ServerShutdown):
            raise _Renew("serverShutdown")
        if isinstance(event, ControlReply):
            self.counters["control"] += 1
            return None
        if isinstance(event, SpotQuote) and not self.fresh.accept(event):
            self.counters["stale"] += 1
            return None
        if isinstance(event, SpotTrade):
            last = self._last_trade.get(event.symbol)
            if last is not None and event.agg_id <= last:
                self.counters["stale"] += 1
                return None
            self._last_trade[event.symbol] = event.agg_id
            self.latency.add(recv_ts - event.ts)
        return Received(recv_ts, event)
