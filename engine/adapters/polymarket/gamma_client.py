"""Discovery of Polymarket's crypto Up/Down markets on Gamma, ahead of their windows.

The slug of a window is computed, not searched: ``<coin>-updown-<window>-<epoch>``, the epoch
being the window start in UTC seconds (a multiple of the window). :meth:`GammaClient.refresh`
asks ``GET /markets?slug=`` (a JSON array) for the current and coming windows of every
configured symbol and window, reads each market with
:func:`~engine.adapters.polymarket.parsing.parse_gamma_market` (the corpus reader plus the
resolution rule) and keeps a rolling :attr:`GammaClient.catalogue` of live and upcoming
markets; ended ones are dropped. A market whose rule the pricer does not model (a TWAP, a
strict "greater than", no named source) is refused: counted, logged, never listed.
:meth:`GammaClient.outcome` polls a market after its end until Gamma reports it closed with
``outcomePrices`` 1/0.

Hourly markets: Polymarket has also listed hourly Up/Down markets under date slugs
(``bitcoin-up-or-down-march-12-5am-et``); only the epoch form is computed here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.adapters.polymarket.parsing import GammaMarket, parse_gamma_market
from engine.adapters.transport import HttpClient, HttpError, Tap, TransportConfig, check_url
from engine.adapters.wire import WireError, decode_json
from engine.core.validation import ConfigError, check_range

log = logging.getLogger("edgeloop.gamma")

_WINDOW = re.compile(r"^(?P<n>\d+)(?P<unit>[mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")


def window_seconds(window: str) -> int:
    """``"5m"`` -> 300, ``"15m"`` -> 900, ``"1h"`` -> 3600; a :class:`ConfigError` otherwise."""
    m = _WINDOW.match(str(window))
    if not m or int(m["n"]) == 0:
        raise ConfigError("windows", window, "must be windows like 5m, 15m, 1h")
    return int(m["n"]) * _UNIT_S[m["unit"]]


def updown_slug(symbol: str, window: str, start: int) -> str:
    """``btc-updown-5m-1773307200`` for ``("BTCUSDT", "5m", 1773307200)``."""
    coin = symbol.lower().removesuffix("usdt")
    return f"{coin}-updown-{window}-{start}"


@dataclass(frozen=True, slots=True)
class GammaConfig:
    """Which Up/Down markets to discover and how far ahead.

    ``symbols``: ``BTCUSDT``-style; ``windows``: ``5m``, ``15m``, ``1h``...; ``lookahead_s``:
    list windows starting within this many seconds (the current window is always listed).
    ``concurrency``: requests in flight at once.
    """

    base_url: str = "https://gamma-api.polymarket.com"
    symbols: tuple[str, ...] = ("BTCUSDT",)
    windows: tuple[str, ...] = ("5m", "15m", "1h")
    lookahead_s: float = 3600.0
    concurrency: int = 4
    transport: TransportConfig = field(default_factory=TransportConfig)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "base_url", check_url("base_url", self.base_url, ("https", "http"))
        )
        symbols = tuple(str(s).upper() for s in self.symbols)
        if not symbols or any(not _SYMBOL.match(s) for s in symbols):
            raise ConfigError("symbols", list(self.symbols), "must be symbols like BTCUSDT")
        windows = tuple(str(w) for w in self.windows)
        if not windows:
            raise ConfigError("windows", [], "must list at least one window like 5m")
        for w in windows:
            window_seconds(w)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "windows", windows)
        check_range("lookahead_s", self.lookahead_s, 0.0, 7 * 86400.0)
        n = self.concurrency
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 32:
            raise ConfigError("concurrency", n, "must be a whole number in [1, 32]")
        if not isinstance(self.transport, TransportConfig):
            raise ConfigError("transport", self.transport, "must be a TransportConfig")


class GammaClient:
    """The rolling catalogue of Up/Down markets of ``config`` (see the module docstring).

    ``markets``: slug -> :class:`~engine.adapters.polymarket.parsing.GammaMarket`, live and
    upcoming; ``refused``: slug -> the reason its rule is not traded. ``counters``:
    ``listed``, ``refused``, ``missing`` (slug not on Gamma yet), ``invalid`` (unreadable
    market), ``ended`` (dropped from the catalogue), ``errors`` (requests that failed).
    """

    def __init__(
        self,
        config: GammaConfig | None = None,
        *,
        tap: Tap | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = GammaConfig() if config is None else config
        self.clock = clock
        self.markets: dict[str, GammaMarket] = {}
        self.refused: dict[str, str] = {}
        self.counters: Counter[str] = Counter()
        self.http = HttpClient(
            self.config.transport,
            source="polymarket gamma",
            base_url=self.config.base_url,
            tap=tap,
            clock=clock,
        )
        self._refused_until: dict[str, float] = {}

    async def __aenter__(self) -> GammaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def catalogue(self) -> list[GammaMarket]:
        """Live and upcoming markets as of the last :meth:`refresh`, by window start."""
        return sorted(
            self.markets.values(), key=lambda g: (g.market.strike_ts or 0.0, g.market.slug)
        )

    def slugs(self, now: float) -> list[str]:
        """The slugs of the windows live at ``now`` or starting within ``lookahead_s``."""
        out = []
        for symbol in self.config.symbols:
            for window in self.config.windows:
                w = window_seconds(window)
                start = math.floor(now / w) * w
                while start <= now + self.config.lookahead_s:
                    out.append(updown_slug(symbol, window, start))
                    start += w
        return out

    async def refresh(self) -> list[GammaMarket]:
        """Drop ended markets, look up the windows not known yet; the newly listed markets."""
        now = self.clock()
        for slug in [s for s, g in self.markets.items() if g.market.expiry_ts <= now]:
            del self.markets[slug]
            self.counters["ended"] += 1
        for slug in [s for s, until in self._refused_until.items() if until <= now]:
            del self._refused_until[slug], self.refused[slug]
        wanted = [s for s in self.slugs(now) if s not in self.markets and s not in self.refused]
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(slug: str) -> GammaMarket | None:
            async with gate:
                return await self._lookup(slug)

        found = await asyncio.gather(*(one(s) for s in wanted))
        new = []
        for gm in found:
            if gm is None:
                continue
            if gm.market.expiry_ts <= now:
                continue
            if not gm.rule.supported:
                self.counters["refused"] += 1
                self.refused[gm.market.slug] = gm.rule.reason
                self._refused_until[gm.market.slug] = gm.market.expiry_ts
                log.warning("gamma: refused %s: %s", gm.market.slug, gm.rule.reason)
                continue
            self.markets[gm.market.slug] = gm
            self.counters["listed"] += 1
            new.append(gm)
        return new

    async def fetch(self, slug: str) -> GammaMarket | None:
        """The market of ``slug`` on Gamma now (None if not listed); raises on bad data."""
        reply = await self.http.get("/markets", {"slug": slug})
        payload = decode_json(reply.text, "gamma /markets")
        if not isinstance(payload, list):
            raise WireError("gamma /markets", "frame", payload, "a JSON array of markets")
        hits = [m for m in payload if isinstance(m, dict) and m.get("slug") == slug]
        return parse_gamma_market(hits[0], f"gamma {slug}") if hits else None

    async def _lookup(self, slug: str) -> GammaMarket | None:
        try:
            gm = await self.fetch(slug)
        except HttpError as exc:
            self.counters["errors"] += 1
            log.warning("gamma: %s", exc)
            return None
        except WireError as exc:
            self.counters["invalid"] += 1
            log.warning("gamma: unreadable market %s: %s", slug, exc)
            return None
        if gm is None:
            self.counters["missing"] += 1
        return gm

    async def resolution(self, slug: str) -> str | None:
        """``UP``/``DOWN`` once Gamma reports the market closed with 1/0 prices, else None."""
        gm = await self._lookup(slug)
        return None if gm is None else gm.market.outcome

    async def outcome(
        self, slug: str, *, poll_every_s: float = 30.0, timeout_s: float = 3600.0
    ) -> str | None:
        """Poll :meth:`resolution` until it answers or ``timeout_s`` passes (None then)."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = await self.resolution(slug)
            if result is not None or time.monotonic() + poll_every_s > deadline:
                return result
            await asyncio.sleep(poll_every_s)
