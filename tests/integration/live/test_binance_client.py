"""BinanceSpotStream and the retrying HTTP client against a local Binance: real sockets, faults.

The server sends the recorded combined stream (``binance_combined_stream.jsonl``); the
reference is what those frames hold, parsed one by one with the wire parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Coroutine
from typing import Any

import pytest

from engine.adapters.binance.client import BinanceSpotStream, BinanceStreamConfig
from engine.adapters.binance.parsing import parse_frame, parse_klines_rest
from engine.adapters.transport import HttpError, LatencyStats, Received, TransportConfig
from engine.adapters.wire import UnsupportedStream
from engine.core.validation import ConfigError
from tests.integration.live.servers import (
    BinanceServer,
    FaultPlan,
    HttpReply,
    LocalProxy,
    binance_frames,
    consuming,
    fixture_text,
    wait_until,
)

FRAMES = binance_frames()
FAST = {"backoff_base_s": 0.05, "backoff_max_s": 0.2, "jitter": 0.0, "connect_timeout_s": 2.0}


def run(coro: Coroutine[Any, Any, Any], timeout: float = 8.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def config(server: BinanceServer, **kw: Any) -> BinanceStreamConfig:
    transport = TransportConfig(**{**FAST, **kw.pop("transport", {})})
    return BinanceStreamConfig(
        symbols=("FTMUSDT", "SXPBTC"),
        base_url=server.ws_url(),
        rest_url=server.http_url,
        transport=transport,
        **kw,
    )


def reference(frames: list[str]) -> list[object]:
    """The events of the clean recorded frames (the capture has no stale or repeated one)."""
    out = []
    for text in frames:
        with contextlib.suppress(UnsupportedStream):
            out.append(parse_frame(text, recv_ts=0.0))
    return out


def events_only(items: list[Received]) -> list[object]:
    """The events, the receive time (which only bookTicker carries) zeroed for comparison."""
    return [
        dataclasses.replace(i.event, recv_ts=0.0) if hasattr(i.event, "recv_ts") else i.event
        for i in items
    ]


def test_stream_yields_the_recorded_events_and_counts_every_bad_frame():
    async def main() -> None:
        plan = FaultPlan(seed=7, garbage=0.1, truncate=0.1, duplicate=0.1)
        async with BinanceServer(plans=[plan]) as srv:
            stream = BinanceSpotStream(config(srv))
            async with consuming(stream) as got:
                assert await wait_until(lambda: srv.connections and srv.connections[0].finished, 5)
                sent = srv.connections[0].sent
                assert await wait_until(lambda: stream.counters["frames"] == len(sent), 5)
            assert events_only(got) == reference(FRAMES)
            c = stream.counters
            bad = sum(1 for s in sent if s.fault in ("garbage", "truncated"))
            unsupported = sum(
                1 for s in sent if s.fault in ("", "duplicate") and "@depth" in s.text
            )
            assert bad > 5 and c["garbage"] == bad
            assert c["unsupported"] == unsupported >= 101
            assert (
                c["duplicates"]
                == sum(1 for s in sent if s.fault == "duplicate" and "@depth" not in s.text)
                > 0
            )
            assert c["reconnects"] == 0 and len(stream.errors) > 0
            assert srv.streams(0) == [
                f"{s}@{k}"
                for s in ("ftmusdt", "sxpbtc")
                for k in ("bookTicker", "aggTrade", "kline_1s")
            ]

    run(main())


def test_reconnects_after_an_abrupt_drop_within_the_backoff():
    async def main() -> None:
        halves = lambda i: FRAMES[:100] if i == 0 else FRAMES[100:]  # noqa: E731
        async with BinanceServer(halves, plans=[FaultPlan(drop_after=100), FaultPlan()]) as srv:
            stream = BinanceSpotStream(config(srv))
            async with consuming(stream) as got:
                assert await wait_until(
                    lambda: len(srv.connections) == 2 and srv.connections[1].finished, 5
                )
                assert await wait_until(lambda: stream.counters["frames"] == 200, 5)
            first, second = srv.connections
            assert first.dropped and second.path == first.path
            assert second.opened - first.closed < 0.05 + 0.5  # backoff_base_s, jitter 0
            assert stream.counters["drops"] == stream.counters["reconnects"] == 1
            assert events_only(got) == reference(FRAMES)

    run(main())


def test_silent_connection_is_reopened_after_stale_after_s():
    async def main() -> None:
        parts = lambda i: FRAMES[:60] if i == 0 else FRAMES[60:]  # noqa: E731
        plans = [FaultPlan(freeze_after=30), FaultPlan()]
        async with BinanceServer(parts, plans=plans) as srv:
            stream = BinanceSpotStream(config(srv, stale_after_s=0.3))
            async with consuming(stream):
                assert await wait_until(lambda: len(srv.connections) == 2, 3)
                silent_for = srv.connections[1].opened - srv.connections[0].opened
            assert 0.3 <= silent_for < 0.3 + 0.5
            assert srv.connections[0].lost == 30
            assert stream.counters["silent"] == stream.counters["reconnects"] == 1

    run(main())


def test_server_shutdown_opens_the_new_connection_before_closing_the_old():
    async def main() -> None:
        shutdown = json.dumps({"e": "serverShutdown", "E": 1770123456789})
        parts = lambda i: [*FRAMES[:50], shutdown] if i == 0 else FRAMES[50:]  # noqa: E731
        async with BinanceServer(parts) as srv:
            stream = BinanceSpotStream(config(srv))
            async with consuming(stream) as got:
                assert await wait_until(lambda: stream.counters["frames"] == 201, 5)
            first, second = srv.connections
            assert second.opened < first.closed
            assert stream.counters["shutdowns"] == stream.counters["reconnects"] == 1
            assert events_only(got) == reference(FRAMES)

    run(main())


def test_connection_is_renewed_at_max_age_without_losing_frames():
    async def main() -> None:
        chunk = lambda i: FRAMES[40 * i : 40 * (i + 1)]  # noqa: E731
        async with BinanceServer(chunk, plans=[FaultPlan(interval_s=0.01)]) as srv:
            stream = BinanceSpotStream(config(srv, max_connection_age_s=0.25))
            async with consuming(stream):
                assert await wait_until(lambda: len(srv.connections) >= 4, 5)
            assert await wait_until(lambda: all(c.closed for c in srv.connections), 3)
            for old, new in zip(srv.connections, srv.connections[1:], strict=False):
                assert new.opened < old.closed  # make before break
                assert new.opened - old.opened == pytest.approx(0.25, abs=0.2)
            assert stream.counters["renewals"] >= 3 and stream.counters["drops"] == 0

    run(main())


def test_backfill_reads_the_klines_and_slows_down_near_the_weight_limit():
    async def main() -> None:
        async with BinanceServer(used_weight=4_000) as srv:
            slow = {"weight_limit": 6000, "weight_slow_fraction": 0.8, "weight_wait_max_s": 0.3}
            stream = BinanceSpotStream(config(srv, transport=slow))
            bars = await stream.backfill("btcusdt", "1m", limit=5)
            expected = parse_klines_rest(
                fixture_text("binance_klines_rest.json"), "BTCUSDT", "1m", time.time()
            )
            assert bars == expected[-5:] and all(b.closed for b in bars)
            assert srv.requests_to("/api/v3/klines")[0].query == {
                "symbol": "BTCUSDT",
                "interval": "1m",
                "limit": "5",
            }
            assert stream.http.counters["throttled"] == 0  # 4002 <= 0.8 * 6000
            srv.used_weight = 5_000
            await stream.backfill("BTCUSDT", limit=5)  # reports 5002 > 4800
            started = time.monotonic()
            await stream.backfill("BTCUSDT", limit=5)
            assert stream.http.counters["throttled"] == 1
            assert 0 < stream.http.waited_s <= 0.3
            assert time.monotonic() - started >= stream.http.waited_s
            assert stream.http.latency.summary().count == 3
            await stream.aclose()

    run(main())


def test_5xx_is_retried_with_exponential_backoff():
    async def main() -> None:
        async with BinanceServer() as srv:
            srv.fail("/api/v3/klines", HttpReply(503, "busy"), HttpReply(502, "bad gateway"))
            stream = BinanceSpotStream(config(srv, transport={"backoff_base_s": 0.1}))
            assert len(await stream.backfill("BTCUSDT", limit=3)) == 3
            at = [r.at for r in srv.requests_to("/api/v3/klines")]
            assert len(at) == 3
            assert at[1] - at[0] >= 0.1 and at[2] - at[1] >= 0.2  # base, then 2 x base
            assert stream.http.counters["http_5xx"] == stream.http.counters["retries"] == 2
            await stream.aclose()

    run(main())


@pytest.mark.parametrize("status", [429, 418])
def test_429_and_418_wait_at_least_retry_after(status):
    async def main() -> None:
        async with BinanceServer() as srv:
            busy = HttpReply.json(
                {"code": -1003, "msg": "Too many requests"}, status, Retry_After="1"
            )
            srv.fail("/api/v3/klines", busy)
            stream = BinanceSpotStream(config(srv))
            assert len(await stream.backfill("BTCUSDT", limit=2)) == 2
            first, second = srv.requests_to("/api/v3/klines")
            assert second.at - first.at >= 1.0  # Retry-After, not the 0.05 s backoff
            assert stream.http.counters[f"http_{status}"] == stream.http.counters["retries"] == 1
            await stream.aclose()

    run(main())


def test_a_ban_longer_than_retry_after_max_s_fails_at_once():
    async def main() -> None:
        async with BinanceServer() as srv:
            srv.fail("/api/v3/klines", HttpReply.json({"code": -1003}, 418, Retry_After="86400"))
            stream = BinanceSpotStream(config(srv))
            with pytest.raises(HttpError) as err:
                await stream.backfill("BTCUSDT")
            assert err.value.status == 418 and err.value.retry_after == 86400
            assert len(srv.requests_to("/api/v3/klines")) == 1
            await stream.aclose()

    run(main())


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_4xx_are_not_retried(status):
    async def main() -> None:
        async with BinanceServer() as srv:
            srv.fail(
                "/api/v3/klines", HttpReply.json({"code": -1121, "msg": "Invalid symbol."}, status)
            )
            stream = BinanceSpotStream(config(srv))
            with pytest.raises(HttpError, match=f"HTTP {status}.*Invalid symbol"):
                await stream.backfill("NOPEUSDT")
            assert len(srv.requests_to("/api/v3/klines")) == 1
            assert stream.http.counters["retries"] == 0
            await stream.aclose()

    run(main())


def test_connection_errors_are_retried_then_reported():
    async def main() -> None:
        async with BinanceServer() as srv:
            cfg = config(srv, transport={"max_retries": 2})
        stream = BinanceSpotStream(cfg)  # the server is gone: connection refused
        with pytest.raises(HttpError, match="no response"):
            await stream.backfill("BTCUSDT")
        assert stream.http.counters["conn_errors"] == 3 and stream.http.counters["retries"] == 2
        await stream.aclose()

    run(main())


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_stream_and_backfill_go_through_the_configured_proxy(kind):
    async def main() -> None:
        async with BinanceServer() as srv, LocalProxy() as proxy:
            url = proxy.http_url if kind == "http" else proxy.socks_url
            stream = BinanceSpotStream(config(srv, transport={"proxy": url}))
            assert len(await stream.backfill("BTCUSDT", limit=2)) == 2
            async with consuming(stream) as got:
                assert await wait_until(lambda: len(got) == len(reference(FRAMES)), 5)
            target = f"127.0.0.1:{srv.port}"
            if kind == "http":  # REST in absolute form, the WebSocket through a CONNECT tunnel
                assert proxy.seen == [
                    f"GET http://{target}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=2",
                    f"CONNECT {target}",
                ]
            else:
                assert proxy.seen == [f"SOCKS5 {target}", f"SOCKS5 {target}"]

    run(main())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"proxy": "ftp://127.0.0.1:1080"},
            "proxy='ftp://127.0.0.1:1080' must be null, http://host:port or socks5://host:port",
        ),
        ({"proxy": "socks5://127.0.0.1"}, "proxy='socks5://127.0.0.1' must be null"),
        ({"jitter": 1.5}, r"jitter=1.5 must be in \[0.0, 1.0\]"),
        (
            {"backoff_base_s": 2.0, "backoff_max_s": 1.0},
            r"backoff_max_s=1.0 must be in \[2.0, 3600.0\]",
        ),
        ({"max_retries": 2.5}, "max_retries=2.5 must be a whole number"),
    ],
)
def test_transport_config_names_the_field_the_value_and_the_range(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TransportConfig(**kwargs)


def test_transport_config_accepts_the_proxy_forms():
    assert TransportConfig(proxy="http://127.0.0.1:3128").proxy == "http://127.0.0.1:3128"
    assert TransportConfig(proxy="socks5://127.0.0.1:1080").proxy == "socks5://127.0.0.1:1080"
    with pytest.raises(ConfigError, match="max_connection_age_s=90000"):
        BinanceStreamConfig(max_connection_age_s=90_000)
    with pytest.raises(ConfigError, match="base_url='https://x' must be a wss:// or ws:// URL"):
        BinanceStreamConfig(base_url="https://x")
    assert BinanceStreamConfig(symbols=["btcusdt"]).url == (
        "wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/btcusdt@aggTrade/btcusdt@kline_1s"
    )


def test_latency_stats_keep_a_rolling_window():
    stats = LatencyStats(window=100)
    for ms in range(1, 201):
        stats.add(ms / 1000)
    s = stats.summary()
    assert (s.count, s.p50, s.p99, s.max) == (200, 0.150, 0.199, 0.200)
    assert s.text() == "p50=150ms p99=199ms max=200ms"
