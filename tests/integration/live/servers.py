"""Local fake venues for the live-data tests: real sockets on 127.0.0.1, recorded payloads, faults.

One :class:`LocalServer` is a ``websockets`` server on a free port that also answers plain HTTP
GETs (its ``process_request`` hook replies to any request that is not a WebSocket upgrade), so
one object plays one venue's WebSocket and REST endpoints:

- :class:`BinanceServer`: the combined stream ``/stream?streams=a/b/c`` (frames of
  ``binance_combined_stream.jsonl`` by default) and ``GET /api/v3/klines`` (with
  ``X-MBX-USED-WEIGHT-1M``);
- :class:`ClobServer`: Polymarket's market channel ``/ws/market`` (subscribe message, text
  ``PING``/``PONG``, dynamic ``operation`` subscribe/unsubscribe) and ``GET /book``. It is a tiny
  market: from the recorded books it generates valid ``price_change`` frames against its own
  reference books (:class:`RefBook`, plain dicts), which ``GET /book`` serves, so a test can
  compare a client's books with what the venue holds;
- :class:`GammaServer`: ``GET /markets?slug=`` answering a JSON array.

Faults (:class:`FaultPlan`, one per connection, the last repeating): frames duplicated,
swapped with the next, a truncated copy or a junk frame inserted before a frame, a delay before
each frame, an abrupt drop (TCP abort: the client sees close code 1006) after N frames, a silent
freeze after N frames (nothing sent, pings still answered; a ``ClobServer`` keeps moving its
books meanwhile, like a venue whose feed stalls). HTTP faults are replies queued per path
(:meth:`LocalServer.fail`): 5xx, 429/418 with ``Retry-After``, delays. Every frame sent is
kept with its fault (:attr:`Connection.sent`) and every request (:attr:`LocalServer.requests`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import http
import json
import random
import time
from collections import defaultdict, deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
JUNK: tuple[str | bytes, ...] = (
    "<html><body>502 Bad Gateway</body></html>",
    "{}",
    "null",
    '{"event_type": "book"}',
    '[{"a": 1}, ',
    b"\xff\xfe\x00\x01binary",
)  # every item is exactly one parse error for both venues' parsers


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> Any:
    return json.loads(fixture_text(name))


def binance_frames() -> list[str]:
    """The 200 frames of the recorded Binance combined stream, in arrival order."""
    return [line for line in fixture_text("binance_combined_stream.jsonl").splitlines() if line]


async def wait_until(predicate: Callable[[], bool], timeout: float, every: float = 0.01) -> bool:
    """Poll ``predicate`` until true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


@contextlib.asynccontextmanager
async def consuming(client: Any) -> AsyncIterator[list[Any]]:
    """Iterate ``client.events()`` in a task, into the list yielded; on exit cancel the task
    (the client closes its socket) and ``await client.aclose()``."""
    got: list[Any] = []

    async def consume() -> None:
        async for item in client.events():
            got.append(item)

    task = asyncio.create_task(consume())
    try:
        yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()


# -- faults --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong on one connection. Probabilities are per frame, drawn from ``seed``.

    ``duplicate``: the frame is sent twice; ``reorder``: it swaps places with the next one;
    ``truncate``: a cut copy is sent before it; ``garbage``: a :data:`JUNK` frame is sent before
    it (neither loses the frame). ``interval_s``/``latency_s``: a pause before each frame.
    ``drop_after``: abort the TCP connection (1006) after that many frames. ``freeze_after``:
    send nothing more after that many frames (the source is still consumed, pings still
    answered if ``answer_pings``).
    """

    seed: int = 0
    duplicate: float = 0.0
    reorder: float = 0.0
    truncate: float = 0.0
    garbage: float = 0.0
    interval_s: float = 0.0
    latency_s: float = 0.0
    drop_after: int | None = None
    freeze_after: int | None = None
    answer_pings: bool = True


@dataclass(frozen=True)
class Sent:
    """One frame sent; ``fault``: "" (clean), duplicate, reordered, truncated or garbage;
    ``at``: when it went out (``time.monotonic()``)."""

    text: str | bytes
    fault: str = ""
    at: float = 0.0


def inject_faults(
    frames: Iterable[str | None], plan: FaultPlan, rng: random.Random
) -> Iterator[Sent | None]:
    """The frames as sent under ``plan``: lazily, one frame of look-ahead for reordering.

    A None frame (the source has nothing now) passes through as None.
    """
    it = iter(frames)
    for frame in it:
        if frame is None:
            yield None
            continue
        if plan.reorder and rng.random() < plan.reorder:
            nxt = next(it, None)
            if nxt is not None:
                yield from _emit(nxt, "reordered", plan, rng)
                yield from _emit(frame, "reordered", plan, rng)
                continue
        yield from _emit(frame, "", plan, rng)


def _emit(frame: str, fault: str, plan: FaultPlan, rng: random.Random) -> Iterator[Sent]:
    if plan.garbage and rng.random() < plan.garbage:
        yield Sent(rng.choice(JUNK), "garbage")
    if plan.truncate and rng.random() < plan.truncate:
        yield Sent(frame[: max(1, len(frame) // 2)], "truncated")
    yield Sent(frame, fault)
    if plan.duplicate and rng.random() < plan.duplicate:
        yield Sent(frame, "duplicate")


# -- the server ----------------------------------------------------------------------------
@dataclass
class HttpReply:
    """An HTTP answer: ``status``, ``body``, extra ``headers``, ``delay_s`` before it is sent."""

    status: int = 200
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    @classmethod
    def json(cls, obj: Any, status: int = 200, **headers: str) -> HttpReply:
        return cls(status, json.dumps(obj), {k.replace("_", "-"): v for k, v in headers.items()})


@dataclass(frozen=True)
class HttpRequest:
    """A GET received: ``path``, ``query`` (one value per key), monotonic time ``at``."""

    path: str
    query: Mapping[str, str]
    at: float


@dataclass
class Connection:
    """One WebSocket connection as the server saw it (times are ``time.monotonic()``)."""

    index: int
    path: str
    opened: float
    closed: float | None = None
    sent: list[Sent] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)  # JSON messages from the client
    assets: set[str] = field(default_factory=set)  # CLOB: the subscribed tokens
    pings: int = 0
    lost: int = 0  # frames consumed while frozen, never sent
    dropped: bool = False
    finished: bool = False  # every frame of the source went out (or was lost)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    ws: ServerConnection | None = None

    def count(self, fault: str) -> int:
        return sum(1 for s in self.sent if s.fault == fault)

    @property
    def frozen(self) -> bool:
        return self.lost > 0


Route = Callable[[Mapping[str, str]], "HttpReply | Awaitable[HttpReply]"]


class LocalServer:
    """A WebSocket endpoint and HTTP GET routes on ``127.0.0.1:<free port>``.

    Use ``async with Server(...) as srv``; ``srv.http_url`` / ``srv.ws_url(path)`` are the base
    URLs to give a client. ``plans[i]`` rules connection ``i`` (the last plan repeats).
    """

    def __init__(self, plans: Sequence[FaultPlan] = (FaultPlan(),)) -> None:
        self.plans = tuple(plans) or (FaultPlan(),)
        self.routes: dict[str, Route] = {}
        self.http_faults: dict[str, deque[HttpReply]] = defaultdict(deque)
        self.http_latency_s = 0.0
        self.requests: list[HttpRequest] = []
        self.connections: list[Connection] = []
        self._server: Server | None = None

    async def __aenter__(self) -> LocalServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request, compression=None
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first (async with)"
        return self._server.sockets[0].getsockname()[1]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def plan(self, index: int) -> FaultPlan:
        return self.plans[min(index, len(self.plans) - 1)]

    def fail(self, path: str, *replies: HttpReply) -> None:
        """Answer the next requests of ``path`` with ``replies`` (in order) before its route."""
        self.http_faults[path].extend(replies)

    def requests_to(self, path: str) -> list[HttpRequest]:
        return [r for r in self.requests if r.path == path]

    def drop_all(self) -> None:
        """Abort every open connection now (the clients see close code 1006)."""
        for conn in self.connections:
            if conn.closed is None and conn.ws is not None:
                conn.dropped = True
                conn.ws.transport.abort()

    # -- HTTP ------------------------------------------------------------------------------
    async def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        parts = urlsplit(request.path)
        query = dict(parse_qsl(parts.query))
        self.requests.append(HttpRequest(parts.path, query, time.monotonic()))
        if self.http_latency_s:
            await asyncio.sleep(self.http_latency_s)
        queued = self.http_faults.get(parts.path)
        if queued:
            reply = queued.popleft()
        elif parts.path in self.routes:
            got = self.routes[parts.path](query)
            reply = await got if isinstance(got, Awaitable) else got
        else:
            reply = HttpReply.json({"error": f"no route {parts.path}"}, 404)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        body = reply.body.encode()
        headers = Headers(
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
                *reply.headers.items(),
            ]
        )
        return Response(reply.status, http.HTTPStatus(reply.status).phrase, headers, body)

    # -- WebSocket -------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        conn = Connection(len(self.connections), path, time.monotonic(), ws=ws)
        self.connections.append(conn)
        try:
            await self.serve_ws(conn, ws)
        except ConnectionClosed:
            pass
        finally:
            conn.closed = time.monotonic()

    async def serve_ws(self, conn: Connection, ws: ServerConnection) -> None:
        raise NotImplementedError

    async def stream(
        self, conn: Connection, ws: ServerConnection, frames: Iterable[str | None]
    ) -> None:
        """Send ``frames`` with connection ``conn``'s faults; then hold it open until closed.

        A None frame means "nothing to send now": the stream idles a moment.
        """
        plan = self.plan(conn.index)
        rng = random.Random(plan.seed * 1_000_003 + conn.index)
        data = 0  # clean, duplicate and reordered frames sent: what freeze_after counts
        for sent in inject_faults(frames, plan, rng):
            if conn.closed is not None or ws.close_code is not None:
                return
            pause = plan.interval_s + plan.latency_s
            if sent is None:
                await asyncio.sleep(max(pause, 0.01))
                continue
            if plan.freeze_after is not None and data >= plan.freeze_after:
                conn.lost += 1
                await asyncio.sleep(max(pause, 0.001))
                continue
            if pause:
                await asyncio.sleep(pause)
            await ws.send(sent.text)
            conn.sent.append(dataclasses.replace(sent, at=time.monotonic()))
            data += sent.fault in ("", "duplicate", "reordered")
            if plan.drop_after is not None and len(conn.sent) >= plan.drop_after:
                conn.dropped = True
                ws.transport.abort()
                return
        conn.finished = True
        await ws.wait_closed()


# -- Binance -------------------------------------------------------------------------------
class BinanceServer(LocalServer):
    """Binance spot: ``/stream?streams=...`` and ``GET /api/v3/klines``.

    ``frames``: what each connection sends (a list for all, or ``frames(index)``); default the
    recorded combined stream. ``used_weight`` is reported in ``X-MBX-USED-WEIGHT-1M`` and grows
    by ``weight_per_request`` per klines request.
    """

    def __init__(
        self,
        frames: Sequence[str] | Callable[[int], Iterable[str]] | None = None,
        *,
        plans: Sequence[FaultPlan] = (FaultPlan(),),
        used_weight: int = 0,
        weight_per_request: int = 2,
    ) -> None:
        super().__init__(plans)
        self.frames = binance_frames() if frames is None else frames
        self.klines = fixture_json("binance_klines_rest.json")
        self.used_weight, self.weight_per_request = used_weight, weight_per_request
        self.routes["/api/v3/klines"] = self._klines

    def streams(self, index: int) -> list[str]:
        """The streams connection ``index`` asked for in its URL."""
        query = dict(parse_qsl(urlsplit(self.connections[index].path).query))
        return query.get("streams", "").split("/")

    async def serve_ws(self, conn: Connection, ws: ServerConnection) -> None:
        if urlsplit(conn.path).path != "/stream" or not self.streams(conn.index)[0]:
            await ws.close(1008, "expected /stream?streams=a/b/c")
            return
        frames = self.frames(conn.index) if callable(self.frames) else self.frames
        await self.stream(conn, ws, frames)

    def _klines(self, query: Mapping[str, str]) -> HttpReply:
        if "symbol" not in query or "interval" not in query:
            msg = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            return HttpReply.json({"code": -1102, "msg": msg}, 400)
        self.used_weight += self.weight_per_request
        rows = self.klines[-int(query.get("limit", 500)) :]
        return HttpReply.json(rows, **{"X-MBX-USED-WEIGHT-1M": str(self.used_weight)})


def binance_live_frames(
    symbol: str = "BTCUSDT", price: float = 100_000.0, *, seed: int = 0, n: int | None = None
) -> Iterator[str]:
    """Frames shaped like the recorded ones (``bookTicker``, ``aggTrade``, ``kline_1s``) for
    ``symbol``, stamped with the current time, the price a random walk from ``price``.

    ``n`` frames (None: forever); pace them with :attr:`FaultPlan.interval_s`.
    """
    rng = random.Random(seed)
    quote, trade = fixture_json("binance_bookticker.json"), fixture_json("binance_aggtrade.json")
    kline = fixture_json("binance_kline_1m_open.json")
    s, low = symbol.upper(), symbol.lower()
    update_id, agg_id, k = 1_000_000, 5_000_000, 0
    while n is None or k < n:
        price *= 1.0 + rng.gauss(0.0, 2e-5)
        now_ms = int(time.time() * 1000)
        kind = k % 3
        if kind == 0:
            update_id += 1
            data = {
                **quote["data"],
                "u": update_id,
                "s": s,
                "b": f"{price - 0.01:.2f}",
                "a": f"{price + 0.01:.2f}",
                "B": "1.5",
                "A": "2.0",
            }
            yield json.dumps({"stream": f"{low}@bookTicker", "data": data})
        elif kind == 1:
            agg_id += 1
            data = {
                **trade["data"],
                "E": now_ms,
                "T": now_ms,
                "s": s,
                "a": agg_id,
                "p": f"{price:.2f}",
                "q": "0.01",
                "f": agg_id,
                "l": agg_id,
            }
            yield json.dumps({"stream": f"{low}@aggTrade", "data": data})
        else:
            t0 = now_ms // 1000 * 1000
            bar = {
                **kline["data"]["k"],
                "t": t0,
                "T": t0 + 999,
                "s": s,
                "i": "1s",
                "o": f"{price:.2f}",
                "c": f"{price:.2f}",
                "h": f"{price:.2f}",
                "l": f"{price:.2f}",
                "x": False,
            }
            data = {**kline["data"], "E": now_ms, "s": s, "k": bar}
            yield json.dumps({"stream": f"{low}@kline_1s", "data": data})
        k += 1


# -- Polymarket CLOB -----------------------------------------------------------------------
def _key(price: str | float) -> float:
    return round(float(price), 6)


class RefBook:
    """The venue's book of one token, kept with plain dicts (the tests' reference).

    Built from a recorded ``book`` / ``GET /book`` object; :meth:`apply` takes a market-channel
    event object (``book`` replaces, ``price_change`` sets totals, ``tick_size_change`` sets the
    tick). ``ts_ms``: the venue time of the last event applied.
    """

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.asset_id, self.market = str(obj["asset_id"]), str(obj["market"])
        self.tick = float(obj.get("tick_size") or 0.01)
        self.extra = {k: obj[k] for k in ("min_order_size", "neg_risk") if k in obj}
        self.bids: dict[float, str] = {}
        self.asks: dict[float, str] = {}
        self.ts_ms = 0
        self.apply(obj)

    def apply(self, obj: Mapping[str, Any]) -> None:
        kind = obj.get("event_type", "book")
        mine = obj.get("asset_id") == self.asset_id
        if kind == "book" and mine:
            self.bids = {
                _key(lv["price"]): lv["size"] for lv in obj["bids"] if float(lv["size"]) > 0
            }
            self.asks = {
                _key(lv["price"]): lv["size"] for lv in obj["asks"] if float(lv["size"]) > 0
            }
            self.tick = float(obj.get("tick_size") or self.tick)
        elif kind == "tick_size_change" and mine:
            self.tick = float(obj["new_tick_size"])
        elif kind == "price_change":
            changes = [c for c in obj["price_changes"] if c["asset_id"] == self.asset_id]
            if not changes:
                return
            for c in changes:
                side = self.bids if c["side"] == "BUY" else self.asks
                if float(c["size"]) > 0:
                    side[_key(c["price"])] = c["size"]
                else:
                    side.pop(_key(c["price"]), None)
        else:
            return
        self.ts_ms = max(self.ts_ms, int(obj["timestamp"]))

    def levels(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """``(bids, asks)`` best first, as floats."""
        bids = sorted(((p, float(s)) for p, s in self.bids.items()), reverse=True)
        asks = sorted((p, float(s)) for p, s in self.asks.items())
        return bids, asks

    def best(self) -> tuple[str, str]:
        """The top as the venue writes it in a change (``"0"`` / ``"1"`` for an empty side)."""
        bid = self.fmt(max(self.bids)) if self.bids else "0"
        ask = self.fmt(min(self.asks)) if self.asks else "1"
        return bid, ask

    @staticmethod
    def fmt(price: float) -> str:
        """``0.004``, ``0.5``: the shortest decimal of a price (ticks are 0.01 or 0.001)."""
        return f"{price:.6f}".rstrip("0").rstrip(".")

    def to_json(self, event_type: str | None = "book") -> dict[str, Any]:
        """The book as the venue sends it: levels worst to best, numbers as strings."""
        bids = [{"price": self.fmt(p), "size": self.bids[p]} for p in sorted(self.bids)]
        asks = [
            {"price": self.fmt(p), "size": self.asks[p]} for p in sorted(self.asks, reverse=True)
        ]
        digest = hashlib.sha1(json.dumps([bids, asks, self.ts_ms]).encode()).hexdigest()
        obj: dict[str, Any] = {
            "market": self.market,
            "asset_id": self.asset_id,
            "timestamp": str(self.ts_ms),
            "hash": digest,
            "bids": bids,
            "asks": asks,
            "tick_size": repr(self.tick),
            **self.extra,
        }
        if event_type:
            obj["event_type"] = event_type
        return obj


class ClobServer(LocalServer):
    """Polymarket's CLOB: market channel ``/ws/market`` and ``GET /book?token_id=``.

    ``books``: recorded book objects (the tokens it knows). Each connection waits for the
    subscribe message, sends a ``book`` for every subscribed token it knows, then ``changes``
    generated ``price_change`` frames (None: forever) for its subscribed tokens, every one
    applied to :attr:`books` when generated (so frames lost in a freeze still move the venue).
    ``extras[k]``: frames the first connection sends before its ``k``-th change (applied too).
    """

    def __init__(
        self,
        books: Iterable[Mapping[str, Any]],
        *,
        changes: int | None = 100,
        extras: Mapping[int, Sequence[str]] | None = None,
        plans: Sequence[FaultPlan] = (FaultPlan(),),
        seed: int = 0,
    ) -> None:
        super().__init__(plans)
        self.books = {str(b["asset_id"]): RefBook(b) for b in books}
        self.changes, self.extras = changes, dict(extras or {})
        self._rng = random.Random(seed)
        self._last_ms = max((b.ts_ms for b in self.books.values()), default=0)
        self.routes["/book"] = self._rest_book

    async def serve_ws(self, conn: Connection, ws: ServerConnection) -> None:
        reader = asyncio.create_task(self._read(conn, ws))
        try:
            await conn.subscribed.wait()
            await self.stream(conn, ws, self._frames(conn))
        finally:
            reader.cancel()

    async def _read(self, conn: Connection, ws: ServerConnection) -> None:
        async for message in ws:
            if message == "PING":
                conn.pings += 1
                if self.plan(conn.index).answer_pings:
                    await ws.send("PONG")
                continue
            try:
                obj = json.loads(message)
            except (TypeError, ValueError):
                conn.messages.append(message)
                continue
            conn.messages.append(obj)
            ids = obj.get("assets_ids") if isinstance(obj, dict) else None
            if not isinstance(ids, list):
                continue
            if obj.get("operation") == "unsubscribe":
                conn.assets -= set(ids)
                continue
            if obj.get("type") != "market" and obj.get("operation") != "subscribe":
                continue
            new = [t for t in ids if t not in conn.assets]
            conn.assets |= set(ids)
            if not conn.frozen:
                for token in new:
                    if token in self.books:
                        text = json.dumps(self.books[token].to_json())
                        await ws.send(text)
                        conn.sent.append(Sent(text, at=time.monotonic()))
            conn.subscribed.set()

    def _frames(self, conn: Connection) -> Iterator[str | None]:
        k = 0
        while self.changes is None or k < self.changes:
            yield from self._extras(conn, k)
            yield self._change(conn)
            k += 1
        yield from self._extras(conn, k)

    def _extras(self, conn: Connection, k: int) -> Iterator[str]:
        for text in self.extras.get(k, ()) if conn.index == 0 else ():
            self.apply(text)
            yield text

    def apply(self, text: str) -> None:
        """Apply one frame (object or array) to the books it concerns."""
        obj = json.loads(text)
        for item in obj if isinstance(obj, list) else [obj]:
            for book in self.books.values():
                book.apply(item)

    def _now_ms(self) -> int:
        self._last_ms = max(self._last_ms + 1, int(time.time() * 1000))
        return self._last_ms

    def _change(self, conn: Connection) -> str | None:
        """A valid ``price_change`` frame for one subscribed market, applied to the books."""
        tokens = sorted(t for t in conn.assets if t in self.books)
        if not tokens:
            return None
        rng = self._rng
        market = self.books[rng.choice(tokens)].market
        ts = self._now_ms()
        changes = []
        for token in [t for t in tokens if self.books[t].market == market]:
            book = self.books[token]
            entry = _random_level(book, rng)
            if entry is None:
                continue
            book.apply({"event_type": "price_change", "price_changes": [entry], "timestamp": ts})
            bid, ask = book.best()
            digest = hashlib.sha1(f"{token}{ts}{entry}".encode()).hexdigest()
            changes.append({**entry, "hash": digest, "best_bid": bid, "best_ask": ask})
        if not changes:
            return None
        frame = {
            "market": market,
            "price_changes": changes,
            "timestamp": str(ts),
            "event_type": "price_change",
        }
        return json.dumps(frame)

    def _rest_book(self, query: Mapping[str, str]) -> HttpReply:
        book = self.books.get(query.get("token_id", ""))
        if book is None:
            return HttpReply.json({"error": "No orderbook exists for the requested token id"}, 404)
        return HttpReply.json(book.to_json(event_type=None))


def _random_level(book: RefBook, rng: random.Random) -> dict[str, str] | None:
    """One level change that keeps the book uncrossed: a new price, a resize or a removal."""
    side = rng.choice(("BUY", "SELL"))
    levels = book.bids if side == "BUY" else book.asks
    n_ticks = round(1 / book.tick)
    best_bid = round(max(book.bids) / book.tick) if book.bids else 0
    best_ask = round(min(book.asks) / book.tick) if book.asks else n_ticks
    if side == "BUY":
        lo, hi = 1, best_ask - 1
    else:
        lo, hi = best_bid + 1, n_ticks - 1
    if levels and (rng.random() < 0.4 or lo > hi):
        price = rng.choice(sorted(levels))
        size = "0" if rng.random() < 0.5 else f"{rng.randint(1, 50_000) / 10:.1f}"
    elif lo <= hi:
        price = rng.randint(lo, hi) * book.tick
        size = f"{rng.randint(1, 50_000) / 10:.1f}"
    else:
        return None
    return {"asset_id": book.asset_id, "price": book.fmt(price), "size": size, "side": side}


def tick_change_frame(book: RefBook, new_tick: float, ts_ms: int) -> str:
    """The recorded ``tick_size_change`` frame, re-addressed to ``book``'s token (a copy)."""
    obj = fixture_json("clob_ws_tick_size_change.json")
    obj.update(
        asset_id=book.asset_id,
        market=book.market,
        old_tick_size=repr(book.tick),
        new_tick_size=repr(new_tick),
        timestamp=str(ts_ms),
    )
    return json.dumps(obj)


def clob_book(
    token: str,
    market: str,
    bids: Sequence[tuple[str, str]],
    asks: Sequence[tuple[str, str]],
    *,
    tick: str = "0.01",
    ts_ms: int | None = None,
) -> dict[str, Any]:
    """A book in the recorded ``GET /book`` shape (``clob_book_rest.json``) for ``token``;
    levels as ``(price, size)`` strings, in any order."""
    obj = fixture_json("clob_book_rest.json")
    obj.update(
        market=market,
        asset_id=token,
        timestamp=str(int(time.time() * 1000) if ts_ms is None else ts_ms),
        bids=[{"price": p, "size": q} for p, q in bids],
        asks=[{"price": p, "size": q} for p, q in asks],
        tick_size=tick,
        neg_risk=False,
    )
    obj["hash"] = hashlib.sha1(json.dumps([obj["bids"], obj["asks"]]).encode()).hexdigest()
    return obj


# -- Polymarket Gamma ----------------------------------------------------------------------
class GammaServer(LocalServer):
    """Gamma: ``GET /markets?slug=`` answers ``[market]`` or ``[]`` from :attr:`markets`."""

    def __init__(self, markets: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__()
        self.markets: dict[str, Mapping[str, Any]] = {str(m["slug"]): m for m in markets}
        self.routes["/markets"] = self._markets

    def _markets(self, query: Mapping[str, str]) -> HttpReply:
        market = self.markets.get(query.get("slug", ""))
        return HttpReply.json([] if market is None else [market])


# -- a proxy -------------------------------------------------------------------------------
class LocalProxy:
    """An HTTP (``CONNECT`` and absolute-form GET) and SOCKS5 (no auth) proxy on 127.0.0.1.

    ``http_url`` / ``socks_url`` are the ``proxy`` settings to test; ``seen`` lists what went
    through it (``"CONNECT 127.0.0.1:port"``, ``"GET http://..."``, ``"SOCKS5 127.0.0.1:port"``).
    """

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> LocalProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    @property
    def port(self) -> int:
        assert self._server is not None, "start the proxy first (async with)"
        return self._server.sockets[0].getsockname()[1]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socks_url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readexactly(1)
            if first == b"\x05":
                host, port = await self._socks5(reader, writer)
                head = b""
            else:
                line = first + await reader.readline()
                method, target, version = line.decode("latin-1").split()
                headers = await reader.readuntil(b"\r\n\r\n")
                if method == "CONNECT":
                    host, _, p = target.rpartition(":")
                    port, head = int(p), b""
                    self.seen.append(f"CONNECT {target}")
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                else:  # absolute-form: forward in origin-form
                    parts = urlsplit(target)
                    host, port = parts.hostname or "", parts.port or 80
                    path = parts.path + (f"?{parts.query}" if parts.query else "")
                    self.seen.append(f"{method} {target}")
                    head = f"{method} {path or '/'} {version}\r\n".encode() + headers
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except (OSError, ValueError, asyncio.IncompleteReadError):
            writer.close()
            return
        up_writer.write(head)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(_pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _socks5(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int]:
        n_methods = (await reader.readexactly(1))[0]
        await reader.readexactly(n_methods)
        writer.write(b"\x05\x00")  # no authentication
        _ver, cmd, _rsv, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif atyp == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            raise ValueError("SOCKS5 address type not supported here")
        port = int.from_bytes(await reader.readexactly(2), "big")
        if cmd != 1:
            raise ValueError("SOCKS5: only CONNECT")
        self.seen.append(f"SOCKS5 {host}:{port}")
        writer.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        return host, port


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except OSError:
        pass
    finally:
        dst.close()


def gamma_updown_market(
    symbol: str, window: str, start: int, up_token: str, down_token: str, condition_id: str
) -> dict[str, Any]:
    """The recorded 5-minute BTC market re-addressed to another window (a copy in memory):
    slug, ``eventStartTime``, ``endDate``, tokens and condition id; the rule text is kept."""
    minutes = {"m": 1, "h": 60, "d": 1440}[window[-1]] * int(window[:-1])
    iso = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    obj = fixture_json("gamma_market_btc_updown_5m.json")
    coin = symbol.lower().removesuffix("usdt")
    obj.update(
        slug=f"{coin}-updown-{window}-{start}",
        eventStartTime=iso(start),
        endDate=iso(start + 60 * minutes),
        clobTokenIds=json.dumps([up_token, down_token]),
        conditionId=condition_id,
    )
    return obj
