"""ClobMarketStream against a local Polymarket CLOB: real sockets, recorded books, faults.

The server starts from the recorded books (``clob_ws_book.json``, ``clob_book_rest.json``),
generates valid ``price_change`` frames against its own plain-dict books
(:class:`~tests.integration.live.servers.RefBook`) and serves those on ``GET /book``: the
client's books must end equal to them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

from engine.adapters.polymarket.client import ClobMarketStream, ClobStreamConfig
from engine.adapters.polymarket.parsing import BookSnapshot
from engine.adapters.transport import TransportConfig
from tests.integration.live.servers import (
    ClobServer,
    FaultPlan,
    consuming,
    fixture_json,
    fixture_text,
    tick_change_frame,
    wait_until,
)

BOOK_WS = fixture_json("clob_ws_book.json")
BOOK_REST = fixture_json("clob_book_rest.json")
A, B = BOOK_WS["asset_id"], BOOK_REST["asset_id"]
FAST = TransportConfig(backoff_base_s=0.05, backoff_max_s=0.2, jitter=0.0, connect_timeout_s=2.0)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 9.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def config(srv: ClobServer, **kw: Any) -> ClobStreamConfig:
    return ClobStreamConfig(
        url=srv.ws_url("/ws/market"), rest_url=srv.http_url, transport=FAST, **kw
    )


def books_match(stream: ClobMarketStream, srv: ClobServer) -> bool:
    """Whether every book the client holds equals the venue's (levels and tick)."""
    for token, ref in srv.books.items():
        if token not in stream.subscribed:
            continue
        book = stream.registry.book(token)
        if book is None:
            return False
        bids, asks = ref.levels()
        if [tuple(r) for r in book.bids.tolist()] != bids:
            return False
        if [tuple(r) for r in book.asks.tolist()] != asks or book.tick != ref.tick:
            return False
    return True


def hello(tokens: list[str]) -> dict[str, Any]:
    """The subscribe message of ``clob_ws_subscribe_doc.json`` for ``tokens``."""
    return {"assets_ids": sorted(tokens), "type": "market", "custom_feature_enabled": True}


def test_books_equal_the_venue_after_garbage_duplicates_and_a_tick_change():
    async def main() -> None:
        new_market = fixture_text("clob_ws_new_market.json")
        others = [  # recorded events of other markets: passed through or ignored, never fatal
            fixture_text(f"clob_ws_{name}.json")
            for name in ("last_trade_price", "best_bid_ask", "price_change", "market_resolved")
        ]
        plan = FaultPlan(seed=11, garbage=0.05, truncate=0.05, duplicate=0.1, latency_s=0.002)
        srv = ClobServer([BOOK_WS, BOOK_REST], changes=150, plans=[plan])
        srv.extras = {20: [new_market, new_market], 40: others, 60: []}
        async with srv:
            srv.extras[60] = [tick_change_frame(srv.books[A], 0.01, srv._now_ms())]
            stream = ClobMarketStream(config(srv))
            await stream.subscribe([A, B])
            async with consuming(stream) as got:
                assert await wait_until(lambda: srv.connections and srv.connections[0].finished, 6)
                sent = srv.connections[0].sent
                assert await wait_until(lambda: stream.counters["frames"] == len(sent), 3)
                assert await wait_until(lambda: books_match(stream, srv), 2)
            assert srv.books[A].tick == 0.01 and srv.connections[0].messages == [hello([A, B])]
            c = stream.counters
            assert c["garbage"] == sum(1 for s in sent if s.fault in ("garbage", "truncated")) > 5
            assert c["duplicate_frames"] == sum(1 for s in sent if s.fault == "duplicate") + 1
            assert c["resnapshots"] >= 1 and srv.requests_to("/book")[0].query == {"token_id": A}
            assert c["reconnects"] == c["desync"] == 0 and c["ignored"] > 0
            kinds = [type(r.event).__name__ for r in got]
            assert kinds.count("NewMarket") == 1 and kinds.count("MarketResolved") == 1
            assert {"LastTradePrice", "BestBidAsk", "TickSizeChange"} <= set(kinds)
            assert stream.latency.summary().p50 >= 0.002  # the injected delay

    run(main())


def test_reconnects_and_resubscribes_everything_after_a_1006_drop():
    async def main() -> None:
        plans = [FaultPlan(drop_after=40, interval_s=0.005), FaultPlan(interval_s=0.005)]
        async with ClobServer([BOOK_WS, BOOK_REST], changes=60, plans=plans) as srv:
            stream = ClobMarketStream(config(srv))
            await stream.subscribe([A])
            async with consuming(stream):
                assert await wait_until(
                    lambda: srv.connections and len(srv.connections[0].sent) >= 5, 3
                )
                await stream.subscribe([B])  # while connected: an operation message
                assert await wait_until(lambda: len(srv.connections) == 2, 3)
                first, second = srv.connections
                assert first.dropped and second.opened - first.closed < 0.05 + 0.5
                assert first.messages == [
                    hello([A]),
                    {"assets_ids": [B], "operation": "subscribe", "custom_feature_enabled": True},
                ]
                assert await wait_until(lambda: len(second.messages) == 1, 2)
                assert second.messages == [hello([A, B])]
                assert await wait_until(lambda: second.finished, 3)
                assert await wait_until(lambda: books_match(stream, srv), 2)
                await stream.unsubscribe([B])
                assert await wait_until(lambda: len(second.messages) == 2, 2)
            assert second.messages[1] == {"assets_ids": [B], "operation": "unsubscribe"}
            assert stream.registry.book(B) is None and stream.subscribed == {A}
            assert stream.counters["drops"] == stream.counters["reconnects"] == 1

    run(main())


def test_a_silent_freeze_with_pings_answered_is_caught_and_resnapshot_over_rest():
    async def main() -> None:
        plans = [FaultPlan(freeze_after=20, interval_s=0.01), FaultPlan(interval_s=0.01)]
        async with ClobServer([BOOK_WS, BOOK_REST], changes=100, plans=plans) as srv:
            stream = ClobMarketStream(
                config(srv, ping_every_s=0.1, pong_timeout_s=1.0, freeze_after_s=0.5)
            )
            await stream.subscribe([A, B])
            async with consuming(stream) as got:
                assert await wait_until(lambda: len(srv.connections) == 2, 4)
                frozen = srv.connections[0]
                assert frozen.lost > 0 and frozen.pings >= 3  # it kept answering pings
                assert await wait_until(lambda: srv.connections[1].finished, 4)
                assert await wait_until(lambda: books_match(stream, srv), 2)
            c = stream.counters
            assert c["freezes"] == c["reconnects"] == 1 and c["pong_timeouts"] == 0
            assert c["pongs"] >= 3 and c["resnapshots"] >= 1
            assert {r.query["token_id"] for r in srv.requests_to("/book")} <= {A, B}
            probe = srv.requests_to("/book")[0]
            last = max(s.at for s in frozen.sent if probe.query["token_id"] in s.text)
            assert 0.5 <= probe.at - last < 0.5 + 0.4  # freeze_after_s after its last message
            assert srv.connections[1].messages[0] == hello([A, B])
            assert any(isinstance(r.event, BookSnapshot) for r in got)

    run(main())


def test_a_quiet_market_is_not_taken_for_a_freeze():
    async def main() -> None:
        async with ClobServer([BOOK_WS], changes=0) as srv:
            stream = ClobMarketStream(
                config(srv, ping_every_s=0.1, pong_timeout_s=1.0, freeze_after_s=0.3)
            )
            await stream.subscribe([A])
            async with consuming(stream):
                assert await wait_until(lambda: stream.counters["quiet"] >= 2, 3)
            c = stream.counters
            assert c["freezes"] == c["reconnects"] == 0 and len(srv.connections) == 1
            assert books_match(stream, srv)

    run(main())


def test_missing_pongs_replace_the_connection():
    async def main() -> None:
        plans = [FaultPlan(answer_pings=False, interval_s=0.01), FaultPlan(interval_s=0.01)]
        async with ClobServer([BOOK_WS], changes=None, plans=plans) as srv:
            stream = ClobMarketStream(config(srv, ping_every_s=0.1, pong_timeout_s=0.4))
            await stream.subscribe([A])
            async with consuming(stream):
                assert await wait_until(lambda: len(srv.connections) == 2, 3)
            assert stream.counters["pong_timeouts"] == 1 and srv.connections[0].pings >= 2

    run(main())


def test_reordered_frames_are_counted_stale():
    async def main() -> None:
        plan = FaultPlan(seed=5, reorder=0.2)
        async with ClobServer([BOOK_WS], changes=120, plans=[plan]) as srv:
            stream = ClobMarketStream(config(srv))
            await stream.subscribe([A])
            async with consuming(stream):
                assert await wait_until(lambda: srv.connections and srv.connections[0].finished, 5)
                sent = srv.connections[0].sent
                assert await wait_until(lambda: stream.counters["frames"] == len(sent), 3)
            swapped = sum(1 for s in sent if s.fault == "reordered") // 2
            c = stream.counters
            assert swapped > 5 and c["stale"] >= swapped  # the older frame of each pair
            assert c["garbage"] == 0 and c["resnapshots"] >= c["desync"]
            json.dumps(dict(c))  # plain counts, ready for the status line

    run(main())
