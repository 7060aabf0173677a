"""GammaClient against a local Gamma serving the recorded 5-minute BTC Up/Down market."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Coroutine
from contextlib import aclosing
from typing import Any

import pytest

from engine.adapters.binance.client import BinanceSpotStream, BinanceStreamConfig
from engine.adapters.polymarket.client import ClobMarketStream, ClobStreamConfig
from engine.adapters.polymarket.gamma_client import GammaClient, GammaConfig, updown_slug
from engine.adapters.polymarket.parsing import CHAINLINK_GE_START
from engine.adapters.transport import TransportConfig
from engine.core.types import UP
from engine.core.validation import ConfigError
from tests.integration.live.servers import (
    BinanceServer,
    ClobServer,
    FaultPlan,
    GammaServer,
    HttpReply,
    binance_live_frames,
    clob_book,
    fixture_json,
    gamma_updown_market,
)

MARKET = fixture_json("gamma_market_btc_updown_5m.json")
SLUG = MARKET["slug"]  # btc-updown-5m-1773307200
START = 1773307200  # the window start, 2026-03-12T09:20:00Z
FAST = TransportConfig(backoff_base_s=0.02, backoff_max_s=0.05, jitter=0.0, max_retries=1)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 8.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Clock:
    """A settable epoch clock: the test decides when "now" is."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client(srv: GammaServer, clock: Clock, **kw: Any) -> GammaClient:
    cfg = GammaConfig(base_url=srv.http_url, transport=FAST, **{"windows": ("5m", "15m"), **kw})
    return GammaClient(cfg, clock=clock)


def test_slugs_are_the_window_starts_live_now_and_ahead():
    gamma = GammaClient(
        GammaConfig(symbols=("BTCUSDT", "ethusdt"), windows=("5m", "1h"), lookahead_s=600)
    )
    assert updown_slug("BTCUSDT", "5m", START) == SLUG
    assert gamma.slugs(START - 120) == [
        f"btc-updown-5m-{START - 300}",  # live now
        SLUG,
        f"btc-updown-5m-{START + 300}",
        f"btc-updown-1h-{START - 1200}",  # the live hour (09:00 UTC); 10:00 is beyond 600 s
        f"eth-updown-5m-{START - 300}",
        f"eth-updown-5m-{START}",
        f"eth-updown-5m-{START + 300}",
        f"eth-updown-1h-{START - 1200}",
    ]


def test_discovery_lists_the_recorded_market_ahead_of_its_start():
    async def main() -> None:
        async with GammaServer([MARKET]) as srv:
            clock = Clock(START - 120)
            gamma = client(srv, clock, lookahead_s=600)
            new = await gamma.refresh()
            assert (
                [g.market.slug for g in new] == [SLUG] == [g.market.slug for g in gamma.catalogue]
            )
            m = gamma.markets[SLUG].market
            assert (m.strike_ts, m.expiry_ts, m.symbol, m.window_s) == (
                START,
                START + 300,
                "BTCUSDT",
                300,
            )
            assert (
                m.up_token
                == "104239898038807136052399800151408521467737075933964991162589336683346093173875"
            )
            assert (m.tick, m.min_size) == (0.01, 5)
            assert gamma.markets[SLUG].rule.kind == CHAINLINK_GE_START
            asked = [r.query["slug"] for r in srv.requests_to("/markets")]
            assert sorted(asked) == sorted(gamma.slugs(clock.now))
            assert gamma.counters["listed"] == 1 and gamma.counters["missing"] == len(asked) - 1
            assert await gamma.refresh() == []  # known markets are not asked again
            again = [r.query["slug"] for r in srv.requests_to("/markets")][len(asked) :]
            assert SLUG not in again and len(again) == len(asked) - 1
            clock.now = START + 300  # the window ended
            await gamma.refresh()
            assert SLUG not in gamma.markets and gamma.counters["ended"] == 1
            await gamma.aclose()

    run(main())


def test_a_market_with_an_unsupported_rule_is_refused_counted_and_not_listed(caplog):
    twap = copy.deepcopy(MARKET)  # a copy in memory: the fixture file stays as recorded
    twap["description"] = twap["description"].replace(
        "the Bitcoin price at the end", "the 60-second TWAP of the Bitcoin price at the end"
    )

    async def main() -> None:
        async with GammaServer([twap]) as srv:
            gamma = client(srv, Clock(START - 120), windows=("5m",), lookahead_s=300)
            with caplog.at_level("WARNING", logger="edgeloop.gamma"):
                assert await gamma.refresh() == []
            assert gamma.catalogue == [] and gamma.counters["refused"] == 1
            assert "averaged price" in gamma.refused[SLUG]
            assert f"refused {SLUG}" in caplog.text
            await gamma.refresh()  # not asked again, not counted twice
            assert gamma.counters["refused"] == 1
            assert [r.query["slug"] for r in srv.requests_to("/markets")].count(SLUG) == 1
            await gamma.aclose()

    run(main())


def test_outcome_polls_until_gamma_reports_the_market_closed():
    resolved = {**MARKET, "closed": True, "outcomePrices": '["1", "0"]'}

    async def main() -> None:
        async with GammaServer([MARKET]) as srv:
            gamma = client(srv, Clock(START + 310))
            assert await gamma.resolution(SLUG) is None

            async def settle() -> None:
                await asyncio.sleep(0.3)
                srv.markets[SLUG] = resolved

            settling = asyncio.create_task(settle())
            assert await gamma.outcome(SLUG, poll_every_s=0.1, timeout_s=3) == UP
            await settling
            assert len(srv.requests_to("/markets")) >= 3
            assert await gamma.outcome("btc-updown-5m-1", poll_every_s=0.05, timeout_s=0.2) is None
            await gamma.aclose()

    run(main())


def test_http_failures_are_counted_and_the_next_refresh_finds_the_market():
    async def main() -> None:
        async with GammaServer([MARKET]) as srv:
            srv.fail("/markets", HttpReply(500), HttpReply(503))  # both tries of one GET
            gamma = client(srv, Clock(START + 10), windows=("5m",), lookahead_s=0)
            assert gamma.slugs(START + 10) == [SLUG]
            assert await gamma.refresh() == [] and gamma.counters["errors"] == 1
            assert [g.market.slug for g in await gamma.refresh()] == [SLUG]
            assert gamma.http.counters["http_5xx"] == 2 and gamma.http.counters["retries"] == 1
            await gamma.aclose()

    run(main())


def test_gamma_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="windows='7x' must be windows like 5m"):
        GammaConfig(windows=("7x",))
    with pytest.raises(ConfigError, match="base_url='gamma' must be a https:// or http:// URL"):
        GammaConfig(base_url="gamma")


def test_the_three_venues_together_discover_subscribe_and_stream():
    """The live_paper shape: Gamma lists the window, the CLOB books its tokens, Binance ticks."""

    async def main() -> None:
        now = time.time()
        start = int(now // 300 * 300)
        up, down, cid = "1" * 77, "2" * 77, "0x" + "ab" * 32
        market = gamma_updown_market("BTCUSDT", "5m", start, up, down, cid)
        books = [
            clob_book(up, cid, [("0.52", "100"), ("0.51", "40")], [("0.54", "80")]),
            clob_book(down, cid, [("0.46", "80")], [("0.48", "100"), ("0.49", "40")]),
        ]
        plan = FaultPlan(interval_s=0.005)
        async with (
            GammaServer([market]) as gsrv,
            ClobServer(books, changes=None, plans=[plan]) as csrv,
            BinanceServer(lambda i: binance_live_frames(n=None), plans=[plan]) as bsrv,
        ):
            gamma = GammaClient(GammaConfig(base_url=gsrv.http_url, windows=("5m",), lookahead_s=0))
            clob = ClobMarketStream(
                ClobStreamConfig(url=csrv.ws_url("/ws/market"), rest_url=csrv.http_url)
            )
            spot = BinanceSpotStream(
                BinanceStreamConfig(base_url=bsrv.ws_url(), rest_url=bsrv.http_url)
            )
            [listed] = await gamma.refresh()
            await clob.subscribe([listed.market.up_token, listed.market.down_token])
            clob_events = aclosing(clob.events())
            spot_events = aclosing(spot.events())
            async with clob_events as ce, spot_events as se:
                got = [await anext(ce) for _ in range(20)] + [await anext(se) for _ in range(20)]
            assert clob.registry.book(up) is not None and clob.registry.book(down) is not None
            assert any(r.event.__class__.__name__ == "SpotTrade" for r in got)
            assert spot.latency.summary().p50 < 1.0  # live stamps: receive - trade time
            for client in (gamma, clob, spot):
                await client.aclose()

    run(main())
