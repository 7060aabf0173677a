"""Polymarket's CLOB market channel over the network, kept in a :class:`BookRegistry`.

:class:`ClobMarketStream` connects to the market WebSocket, subscribes its tokens (the message
of ``clob_ws_subscribe_doc.json``: ``{"assets_ids": [...], "type": "market",
"custom_feature_enabled": true}``), applies every frame to its
:class:`~engine.adapters.polymarket.book.BookRegistry` and yields the events that changed
something, with their receive time:

- tokens are added and removed while connected (``{"assets_ids", "operation": "subscribe" |
  "unsubscribe"}``); a subscription does not survive a reconnect, so every new connection
  subscribes all of them again;
- text ``PING`` every ``ping_every_s``; no ``PONG`` for ``pong_timeout_s`` -> reconnect;
- a watchdog: a subscribed token of an unresolved market without any message for
  ``freeze_after_s`` triggers a ``GET /book`` of its market's tokens. If a book moved at the
  venue while we heard nothing, the feed is frozen (the server may freeze while it still
  answers pings): the REST books are applied and the connection is replaced. If nothing
  moved, the market is only quiet (counted ``quiet``) and the timers restart;
- a book voided by a tick-size change or a desync is fetched again with ``GET /book``;
- garbage is counted and skipped, exact duplicate frames within a connection are dropped;
  the registry counts stale, duplicate and void events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from engine.adapters.polymarket.book import BookRegistry, LocalBook
from engine.adapters.polymarket.parsing import (
    HEARTBEAT,
    BookSnapshot,
    MarketEvent,
    MarketResolved,
    PriceChange,
    parse_book_rest,
    parse_market_frame,
)
from engine.adapters.transport import (
    HttpClient,
    HttpError,
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
from engine.adapters.wire import WireError
from engine.core.validation import ConfigError, check_range

log = logging.getLogger("edgeloop.polymarket")

_CONNECT_ERRORS = (OSError, TimeoutError, WebSocketException)


@dataclass(frozen=True, slots=True)
class ClobStreamConfig:
    """Where the market channel and the CLOB REST API are, and the keepalive/watchdog times.

    ``freeze_after_s``: silence of a subscribed token before the watchdog checks ``GET /book``.
    ``resnapshot_concurrency``: ``GET /book`` requests in flight at once.
    """

    url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    rest_url: str = "https://clob.polymarket.com"
    ping_every_s: float = 10.0
    pong_timeout_s: float = 30.0
    freeze_after_s: float = 30.0
    custom_feature_enabled: bool = True
    resnapshot_concurrency: int = 8
    transport: TransportConfig = field(default_factory=TransportConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", check_url("url", self.url, ("wss", "ws")))
        object.__setattr__(
            self, "rest_url", check_url("rest_url", self.rest_url, ("https", "http"))
        )
        check_range("ping_every_s", self.ping_every_s, 0.0, 300.0, lo_open=True)
        check_range("pong_timeout_s", self.pong_timeout_s, self.ping_every_s, 3600.0, lo_open=True)
        check_range("freeze_after_s", self.freeze_after_s, 0.0, 3600.0, lo_open=True)
        if not isinstance(self.custom_feature_enabled, bool):
            raise ConfigError(
                "custom_feature_enabled", self.custom_feature_enabled, "must be a bool"
            )
        n = self.resnapshot_concurrency
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
            raise ConfigError("resnapshot_concurrency", n, "must be a whole number in [1, 64]")
        if not isinstance(self.transport, TransportConfig):
            raise ConfigError("transport", self.transport, "must be a TransportConfig")


class _Reconnect(Exception):
    """Replace the connection (after a backoff if ``backoff``)."""

    def __init__(self, reason: str, backoff: bool) -> None:
        super().__init__(reason)
        self.backoff = backoff


class ClobMarketStream:
    """The market channel of the subscribed tokens, applied to ``registry`` (module docstring).

    ``counters`` (a snapshot): ``frames``, ``garbage``, ``duplicates`` (repeated frames and the
    registry's duplicate snapshots and lifecycle events), ``reconnects``, ``resnapshots`` (REST
    books applied), ``freezes``, ``quiet``, ``pongs``, ``pong_timeouts``, ``drops``,
    ``connect_errors``, ``connections``, and the registry's ``stale``, ``void``, ``ignored``,
    ``desync``. ``latency``: receive time minus the venue's event time, per frame.
    """

    def __init__(
        self,
        config: ClobStreamConfig,
        registry: BookRegistry | None = None,
        *,
        tap: Tap | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.tap, self.clock = config, tap, clock
        self.registry = BookRegistry() if registry is None else registry
        self.subscribed: set[str] = set()
        self.latency = LatencyStats()
        self.errors: deque[WireError] = deque(maxlen=20)
        self.http = HttpClient(
            config.transport,
            source="polymarket clob",
            base_url=config.rest_url,
            tap=tap,
            clock=clock,
        )
        self._counts: Counter[str] = Counter()
        self._ws: ClientConnection | None = None
        self._ready = False  # the hello (first subscription) of _ws went out
        self._pinger: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()
        self._pending: deque[Received[MarketEvent]] = deque()
        self._recent = RecentFrames()  # per connection: duplicates come within one
        self._last_seen: dict[str, float] = {}  # token -> monotonic time of its last message
        self._market_of: dict[str, str] = {}  # token -> condition id
        self._resolved: set[str] = set()  # tokens of resolved markets: not watched
        self._gone: set[str] = set()  # tokens whose GET /book is 404: not watched
        self._last_pong = 0.0
        self._failures = 0
        self._rng = random.Random()

    @property
    def counters(self) -> Counter[str]:
        c = Counter(self._counts)
        reg = self.registry.counts
        c["duplicates"] = self._counts["duplicate_frames"] + reg["duplicate"]
        for key in ("stale", "void", "ignored", "desync"):
            c[key] = reg[key]
        return c

    async def __aenter__(self) -> ClobMarketStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- subscriptions ---------------------------------------------------------------------
    async def subscribe(self, asset_ids: Iterable[str]) -> None:
        """Add tokens; sent at once when connected, and on every new connection."""
        new = sorted({_token(t) for t in asset_ids} - self.subscribed)
        if not new:
            return
        self.subscribed.update(new)
        now = time.monotonic()
        for token in new:
            self._last_seen[token] = now
        self._wanted.set()
        await self._send({"assets_ids": new, "operation": "subscribe", **self._features()})

    async def unsubscribe(self, asset_ids: Iterable[str]) -> None:
        """Drop tokens and their books."""
        gone = sorted({_token(t) for t in asset_ids} & self.subscribed)
        if not gone:
            return
        self.subscribed.difference_update(gone)
        for token in gone:
            self._last_seen.pop(token, None)
            self.registry.books.pop(token, None)
        if not self.subscribed:
            self._wanted.clear()
        await self._send({"assets_ids": gone, "operation": "unsubscribe"})

    def _features(self) -> dict[str, bool]:
        return {"custom_feature_enabled": self.config.custom_feature_enabled}

    async def _send(self, message: dict[str, object]) -> None:
        if self._ws is None or not self._ready:
            return  # the next hello subscribes everything
        with contextlib.suppress(ConnectionClosed):  # the next connection resubscribes all
            await self._ws.send(json.dumps(message))

    # -- the stream ------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[Received[MarketEvent]]:
        """Events that changed a book, and the other market events, forever.

        Book events are yielded after the registry applied them: read the books from
        :attr:`registry`. REST snapshots come as :class:`BookSnapshot` events too.
        """
        try:
            while True:
                while self._pending:
                    yield self._pending.popleft()
                if self._ws is None:
                    await self._connect()
                    continue
                try:
                    frame = await self._recv(self._ws)
                    for item in await self._handle(frame):
                        yield item
                except _Reconnect as exc:
                    await self._drop(exc)
        finally:
            await self._disconnect()

    async def _connect(self) -> None:
        """Open a connection and subscribe everything, retrying with backoff."""
        await self._wanted.wait()
        while self._ws is None:
            try:
                self._ws = await connect(
                    self.config.url, **ws_connect_kwargs(self.config.transport)
                )
                sent = sorted(self.subscribed)
                hello = {"assets_ids": sent, "type": "market", **self._features()}
                await self._ws.send(json.dumps(hello))
            except _CONNECT_ERRORS as exc:
                if self._ws is not None:
                    await close_quietly(self._ws)
                    self._ws = None
                self._counts["connect_errors"] += 1
                delay = backoff_delay(self._failures, self.config.transport, self._rng)
                self._failures += 1
                log.warning("polymarket clob: connect failed (%s); retry in %.2fs", exc, delay)
                await asyncio.sleep(delay)
        self._ready = True
        # tokens added or removed while the hello was on its way
        added, removed = self.subscribed - set(sent), set(sent) - self.subscribed
        if added:
            await self._send(
                {"assets_ids": sorted(added), "operation": "subscribe", **self._features()}
            )
        if removed:
            await self._send({"assets_ids": sorted(removed), "operation": "unsubscribe"})
        self._counts["connections"] += 1
        now = time.monotonic()
        self._last_pong = now
        self._recent.clear()
        for token in self.subscribed:
            self._last_seen[token] = now
        self._pinger = asyncio.create_task(self._ping(self._ws))

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.config.ping_every_s)
            try:
                await ws.send("PING")
            except ConnectionClosed:
                return

    async def _disconnect(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            self._pinger = None
        self._ready = False
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await close_quietly(ws)

    async def _drop(self, exc: _Reconnect) -> None:
        await self._disconnect()
        self._counts["reconnects"] += 1
        if exc.backoff:
            delay = backoff_delay(self._failures, self.config.transport, self._rng)
            self._failures += 1
            log.warning("polymarket clob: %s; reconnecting in %.2fs", exc, delay)
            await asyncio.sleep(delay)
        else:
            log.warning("polymarket clob: %s; reconnecting", exc)

    async def _recv(self, ws: ClientConnection) -> str | bytes:
        """The next frame, running the watchdogs while waiting."""
        cfg = self.config
        while True:
            now = time.monotonic()
            silent = [t for t in self._watched() if now - self._last_seen[t] >= cfg.freeze_after_s]
            if silent:
                await self._check_silence(silent)
                continue
            if now - self._last_pong >= cfg.pong_timeout_s:
                self._counts["pong_timeouts"] += 1
                raise _Reconnect(f"no PONG for {cfg.pong_timeout_s:g}s", backoff=False)
            deadlines = [self._last_pong + cfg.pong_timeout_s]
            deadlines += [self._last_seen[t] + cfg.freeze_after_s for t in self._watched()]
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                async with asyncio.timeout(max(0.001, min(deadlines) - now)):
                    return await ws.recv()
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                self._counts["drops"] += 1
                raise _Reconnect(f"connection closed ({exc})", backoff=True) from None

    def _watched(self) -> list[str]:
        return [t for t in self.subscribed if t not in self._resolved and t not in self._gone]

    async def _check_silence(self, silent: list[str]) -> None:
        """Ask ``GET /book`` whether the silent tokens' books moved: frozen feed or quiet market."""
        markets = {self._market_of[t] for t in silent if t in self._market_of}
        tokens = sorted(
            {t for t in self.subscribed if self._market_of.get(t) in markets} | set(silent)
        )
        fetched = await self._fetch_books(tokens)
        now = time.monotonic()
        for token in tokens:
            self._last_seen[token] = now
        moved = [
            t
            for t in tokens
            if t not in self._gone
            and (fetched.get(t) is None or _moved(self.registry.books.get(t), fetched[t]))
        ]
        if not moved:
            self._counts["quiet"] += 1
            return
        self._counts["freezes"] += 1
        log.warning(
            "polymarket clob: no message for %d token(s) while their books moved: frozen feed",
            len(silent),
        )
        self._pending.extend(self._apply_snapshots([r for r in fetched.values() if r is not None]))
        raise _Reconnect("frozen feed", backoff=False)

    async def _fetch_books(self, tokens: Iterable[str]) -> dict[str, Received[BookSnapshot] | None]:
        """``GET /book`` of each token (None where it failed), a few at a time."""
        gate = asyncio.Semaphore(self.config.resnapshot_concurrency)

        async def one(token: str) -> Received[BookSnapshot] | None:
            async with gate:
                try:
                    reply = await self.http.get("/book", {"token_id": token})
                    return Received(reply.recv_ts, parse_book_rest(reply.text))
                except (HttpError, WireError) as exc:
                    if isinstance(exc, HttpError) and exc.status == 404:
                        self._gone.add(token)  # no book at the venue any more: stop watching
                    self._counts["resnapshot_errors"] += 1
                    log.warning("polymarket clob: GET /book %s failed: %s", token, exc)
                    return None

        tokens = list(tokens)
        return dict(zip(tokens, await asyncio.gather(*(one(t) for t in tokens)), strict=True))

    def _apply_snapshots(
        self, snaps: Iterable[Received[BookSnapshot]]
    ) -> list[Received[MarketEvent]]:
        out: list[Received[MarketEvent]] = []
        for snap in snaps:
            if snap.event.asset_id not in self.subscribed:
                continue
            self._market_of[snap.event.asset_id] = snap.event.market
            if snap.event.asset_id in self.registry.apply([snap.event]).changed:
                self._counts["resnapshots"] += 1
                out.append(snap)
        return out

    async def _handle(self, frame: str | bytes) -> list[Received[MarketEvent]]:
        """Parse and apply one frame; the events to yield (REST books of voided ones after)."""
        recv_ts = self.clock()
        self._counts["frames"] += 1
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        if self.tap is not None:
            self.tap("polymarket clob ws", recv_ts, text)
        if text.strip() == HEARTBEAT:
            self._counts["pongs"] += 1
            self._last_pong = time.monotonic()
            return []
        errors: list[WireError] = []
        try:
            events = parse_market_frame(frame, errors)
        except WireError as exc:
            errors, events = [exc], []
        self._counts["garbage"] += len(errors)
        self.errors.extend(errors)
        for exc in errors:
            log.debug("polymarket clob: skipped: %s", exc)
        if not events:
            return []
        if self._recent.repeated(frame):
            self._counts["duplicate_frames"] += 1
            return []
        self._failures = 0
        self._note(events, recv_ts)
        applied = self.registry.apply(events)
        others = {id(e) for e in applied.events}
        out: list[Received[MarketEvent]] = [
            Received(recv_ts, e)
            for e in events
            if id(e) in others
            or (isinstance(e, BookSnapshot | PriceChange) and _tokens(e) & applied.changed)
        ]
        void = sorted(t for t in applied.changed if not _valid(self.registry.books.get(t)))
        if void:
            out += self._apply_snapshots(
                r for r in (await self._fetch_books(void)).values() if r is not None
            )
        return out

    def _note(self, events: list[MarketEvent], recv_ts: float) -> None:
        """Watchdog timers, token -> market, resolved markets and the frame's latency."""
        now = time.monotonic()
        for e in events:
            if isinstance(e, MarketResolved):
                self._resolved.update(e.asset_ids)
            for token in _tokens(e):
                if token in self._last_seen:
                    self._last_seen[token] = now
                market = getattr(e, "market", None)
                if market:
                    self._market_of.setdefault(token, market)
        self.latency.add(recv_ts - max(e.ts for e in events))


def _tokens(event: MarketEvent) -> set[str]:
    if isinstance(event, PriceChange):
        return {c.asset_id for c in event.changes}
    if isinstance(event, MarketResolved):
        return set(event.asset_ids)
    asset = getattr(event, "asset_id", None)
    return {asset} if asset else set()


def _valid(book: LocalBook | None) -> bool:
    return book is not None and book.valid


def _moved(local: LocalBook | None, rest: Received[BookSnapshot]) -> bool:
    """Whether the venue's book differs from ours (or ours is missing or void)."""
    if local is None or not local.valid:
        return True
    snap = rest.event
    bids = {float(p): float(s) for p, s in snap.bids}
    asks = {float(p): float(s) for p, s in snap.asks}
    return bids != local.bids or asks != local.asks


def _token(value: object) -> str:
    token = str(value)
    if not token.isdigit():
        raise ConfigError("asset_ids", value, "must be decimal CLOB token ids")
    return token
