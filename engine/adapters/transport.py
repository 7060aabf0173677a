"""The network layer every venue client shares: settings, HTTP with retries, latency, backoff.

- :class:`TransportConfig`: direct, ``http://`` or ``socks5://`` proxy, timeouts, backoff and
  Binance's weight budget; validated when built (the error names the field, value and range).
- :func:`make_http_client` (an ``httpx.AsyncClient`` through the proxy) and
  :func:`ws_connect_kwargs` (the same for ``websockets.connect``).
- :class:`HttpClient`: GET with retries (tenacity): 5xx and connection errors back off
  exponentially with jitter, 429/418 wait their ``Retry-After``, other 4xx fail at once;
  Binance's ``X-MBX-USED-WEIGHT-1M`` slows requests down near the limit. Failures raise
  :class:`HttpError`.
- :class:`LatencyStats`: p50/p99/max over a rolling window (per request, per WS message).
- :class:`Received`: a parsed event with the time we received it.

A SOCKS5 proxy needs two packages beyond httpx and websockets: ``socksio`` (httpx) and
``python-socks`` (websockets); :class:`TransportConfig` says so when one is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import logging
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from websockets.exceptions import WebSocketException

from engine.core.validation import ConfigError, check_range

log = logging.getLogger("edgeloop.transport")

E = TypeVar("E")
Tap = Callable[[str, float, str], None]
"""``tap(source, recv_ts, text)``: called with every raw WS frame and HTTP body received (the
recorder's hook). ``source`` is ``"<venue> ws"`` or ``"<venue> GET <path>?<query>"``."""

_PROXY_SCHEMES = {"http": None, "socks5": ("socksio", "python_socks")}
_WS_MAX_SIZE = 16 * 2**20  # bytes: a CLOB frame with many books can be large


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """How one adapter reaches its venue.

    ``proxy``: None (direct), ``http://host:port`` or ``socks5://host:port``. Timeouts in
    seconds. A retry or reconnect after failure ``n`` (0-based) waits
    ``min(backoff_max_s, backoff_base_s * 2**n)`` times a random factor in
    ``[1 - jitter, 1 + jitter]``. ``max_retries``: retries of one GET after its first try.
    A ``Retry-After`` longer than ``retry_after_max_s`` is not slept through: the GET fails
    (a Binance 418 ban can last days). When Binance reports a used weight above
    ``weight_slow_fraction * weight_limit`` for the current minute, the next request waits
    for the minute to roll over, at most ``weight_wait_max_s``.
    """

    proxy: str | None = None
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: float = 0.2
    max_retries: int = 5
    retry_after_max_s: float = 120.0
    weight_limit: int = 6000
    weight_slow_fraction: float = 0.8
    weight_wait_max_s: float = 60.0

    def __post_init__(self) -> None:
        _check_proxy(self.proxy)
        check_range("connect_timeout_s", self.connect_timeout_s, 0.0, 300.0, lo_open=True)
        check_range("read_timeout_s", self.read_timeout_s, 0.0, 300.0, lo_open=True)
        check_range("backoff_base_s", self.backoff_base_s, 0.0, 60.0, lo_open=True)
        check_range("backoff_max_s", self.backoff_max_s, self.backoff_base_s, 3600.0)
        check_range("jitter", self.jitter, 0.0, 1.0)
        _check_int("max_retries", self.max_retries, 0, 50)
        check_range("retry_after_max_s", self.retry_after_max_s, 0.0, 86400.0)
        _check_int("weight_limit", self.weight_limit, 1, 10**6)
        check_range("weight_slow_fraction", self.weight_slow_fraction, 0.0, 1.0, lo_open=True)
        check_range("weight_wait_max_s", self.weight_wait_max_s, 0.0, 60.0)


def _check_int(field: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, value, f"must be a whole number in [{lo}, {hi}]")
    check_range(field, value, lo, hi)


def _check_proxy(proxy: object) -> None:
    rule = "must be null, http://host:port or socks5://host:port"
    if proxy is None:
        return
    if not isinstance(proxy, str):
        raise ConfigError("proxy", proxy, rule)
    parts = urlsplit(proxy)
    try:
        port = parts.port
    except ValueError:
        port = None
    if (
        parts.scheme not in _PROXY_SCHEMES
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.username
    ):
        raise ConfigError("proxy", proxy, rule)
    missing = [m for m in _PROXY_SCHEMES[parts.scheme] or () if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            "proxy",
            proxy,
            f"needs the package(s) {', '.join(missing)} (pip install socksio python-socks)",
        )


def backoff_delay(attempt: int, config: TransportConfig, rng: random.Random | None = None) -> float:
    """Seconds to wait after failure number ``attempt`` (0-based): exponential, capped, jittered."""
    base = min(config.backoff_max_s, config.backoff_base_s * 2.0 ** min(attempt, 60))
    u = (rng or random).random()
    return base * (1.0 + config.jitter * (2.0 * u - 1.0))


def make_http_client(
    config: TransportConfig, base_url: str, headers: Mapping[str, str] | None = None
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on ``base_url`` through ``config.proxy`` (none: direct; the
    environment's proxy variables are ignored, so the setting is the only source)."""
    timeout = httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s)
    return httpx.AsyncClient(
        base_url=base_url,
        proxy=config.proxy,
        timeout=timeout,
        headers=dict(headers or {}),
        trust_env=False,
        follow_redirects=False,
    )


def ws_connect_kwargs(config: TransportConfig) -> dict[str, Any]:
    """Keyword arguments of ``websockets.asyncio.client.connect`` for ``config``.

    ``proxy=None`` disables the environment's proxy; the library answers the server's pings.
    """
    return {
        "proxy": config.proxy,
        "open_timeout": config.connect_timeout_s,
        "ping_interval": 20.0,
        "ping_timeout": 20.0,
        "close_timeout": 2.0,
        "max_size": _WS_MAX_SIZE,
    }


async def close_quietly(ws: Any) -> None:
    """Close a websockets connection that may already be gone.

    Shielded: a cancellation (a consumer stopping) still lets the closing handshake finish.
    """
    with contextlib.suppress(OSError, WebSocketException):
        await asyncio.shield(ws.close())


class RecentFrames:
    """The digests of the last ``cap`` frames: :meth:`repeated` spots an exact duplicate."""

    def __init__(self, cap: int = 4096) -> None:
        self.cap = cap
        self._seen: dict[bytes, None] = {}

    def repeated(self, frame: str | bytes) -> bool:
        """True if ``frame`` was seen among the last ``cap``; remembers it either way."""
        data = frame.encode() if isinstance(frame, str) else frame
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest in self._seen:
            return True
        self._seen[digest] = None
        if len(self._seen) > self.cap:
            del self._seen[next(iter(self._seen))]
        return False

    def clear(self) -> None:
        self._seen.clear()


# -- latency -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Latency over the window, in seconds (NaN when empty); ``count``: samples ever seen."""

    count: int
    p50: float
    p99: float
    max: float

    def text(self) -> str:
        """``p50=12ms p99=80ms max=120ms`` (the status line's form)."""
        if self.count == 0:
            return "p50=- p99=- max=-"
        return " ".join(
            f"{k}={v * 1e3:.0f}ms"
            for k, v in (("p50", self.p50), ("p99", self.p99), ("max", self.max))
        )


class LatencyStats:
    """A rolling window of the last ``window`` latency samples (seconds).

    Per request: send to response. Per WS message: receive time minus the payload's event time
    (negative values are kept: they show clock skew).
    """

    def __init__(self, window: int = 1000) -> None:
        if window < 1:
            raise ConfigError("window", window, "must be >= 1")
        self._samples: deque[float] = deque(maxlen=window)
        self.count = 0

    def add(self, seconds: float) -> None:
        if math.isfinite(seconds):
            self._samples.append(seconds)
            self.count += 1

    def summary(self) -> LatencySummary:
        s = sorted(self._samples)
        if not s:
            return LatencySummary(self.count, math.nan, math.nan, math.nan)
        return LatencySummary(self.count, _rank(s, 0.50), _rank(s, 0.99), s[-1])


def _rank(ordered: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of a sorted, non-empty list."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


@dataclass(frozen=True, slots=True)
class Received(Generic[E]):
    """``event`` parsed from a frame (or HTTP body) we received at ``recv_ts`` (epoch s)."""

    recv_ts: float
    event: E


# -- HTTP ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reply:
    """A successful GET: ``status``, body ``text``, ``recv_ts`` (epoch s), ``url`` (path?query)."""

    status: int
    text: str
    recv_ts: float
    url: str


class HttpError(Exception):
    """A GET that failed for good: ``status`` (None: no response), ``retry_after`` (s, if sent)."""

    def __init__(
        self,
        source: str,
        url: str,
        status: int | None,
        detail: str,
        retry_after: float | None = None,
    ) -> None:
        self.source, self.url, self.status = source, url, status
        self.detail, self.retry_after = detail, retry_after
        code = "no response" if status is None else f"HTTP {status}"
        super().__init__(f"{source} GET {url}: {code}: {detail}")


class _Retryable(HttpError):
    """A 5xx, 429 or 418 answer: tried again (429/418 after ``retry_after``)."""


class HttpClient:
    """GET requests to one venue with retries, latency, counters and weight pacing.

    ``counters``: ``requests`` (attempts sent), ``retries``, ``http_429``, ``http_418``,
    ``http_5xx``, ``http_4xx``, ``conn_errors``, ``throttled`` (waits for the weight budget).
    ``latency``: per request. ``weight_header``: the response header holding the weight used
    this minute (Binance: ``X-MBX-USED-WEIGHT-1M``), None for venues without one. ``clock``
    gives epoch seconds (minute boundaries of the weight budget, ``tap`` times).
    """

    def __init__(
        self,
        config: TransportConfig,
        *,
        source: str,
        base_url: str,
        weight_header: str | None = None,
        tap: Tap | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config, self.source, self.base_url = config, source, base_url
        self.weight_header, self.tap, self.clock = weight_header, tap, clock
        self.counters: Counter[str] = Counter()
        self.latency = LatencyStats()
        self.used_weight: int | None = None
        self.waited_s = 0.0  # total time spent waiting for the weight budget
        self._weight_minute: int | None = None
        self._rng = rng or random.Random()
        self._client = make_http_client(config, base_url)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Reply:
        """``GET path?params``: the 2xx/3xx reply; raises :class:`HttpError` otherwise."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable | httpx.TransportError)),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(path, params)
        except _Retryable as exc:
            raise HttpError(exc.source, exc.url, exc.status, exc.detail, exc.retry_after) from None
        except httpx.TransportError as exc:
            raise HttpError(self.source, path, None, f"{type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, path: str, params: Mapping[str, Any] | None) -> Reply:
        await self._pace()
        started = time.monotonic()
        self.counters["requests"] += 1
        try:
            resp = await self._client.get(path, params=params)
        except httpx.TransportError:
            self.counters["conn_errors"] += 1
            raise
        self.latency.add(time.monotonic() - started)
        recv_ts = self.clock()
        self._note_weight(resp, recv_ts)
        url = resp.request.url.raw_path.decode("ascii", "replace")
        if self.tap is not None:
            self.tap(f"{self.source} GET {url}", recv_ts, resp.text)
        status = resp.status_code
        if status in (429, 418):
            self.counters[f"http_{status}"] += 1
            wait = _retry_after(resp.headers.get("Retry-After"), recv_ts)
            if wait is not None and wait > self.config.retry_after_max_s:
                raise HttpError(self.source, url, status, "Retry-After too long", wait)
            raise _Retryable(self.source, url, status, _excerpt(resp.text), wait)
        if status >= 500:
            self.counters["http_5xx"] += 1
            raise _Retryable(self.source, url, status, _excerpt(resp.text))
        if status >= 400:
            self.counters["http_4xx"] += 1
            raise HttpError(self.source, url, status, _excerpt(resp.text))
        return Reply(status, resp.text, recv_ts, url)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = backoff_delay(state.attempt_number - 1, self.config, self._rng)
        if isinstance(exc, _Retryable) and exc.status in (429, 418):
            return backoff if exc.retry_after is None else exc.retry_after
        return backoff

    def _before_sleep(self, state: RetryCallState) -> None:
        self.counters["retries"] += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s; retry %d in %.2fs", self.source, exc, state.attempt_number, wait)

    def _note_weight(self, resp: httpx.Response, recv_ts: float) -> None:
        if self.weight_header is None:
            return
        raw = resp.headers.get(self.weight_header)
        if raw is not None and raw.strip().isdigit():
            self.used_weight, self._weight_minute = int(raw), int(recv_ts // 60)

    async def _pace(self) -> None:
        """Wait for the next minute when the weight used this minute is near the limit."""
        cfg = self.config
        if (
            self.used_weight is None
            or self.used_weight <= cfg.weight_slow_fraction * cfg.weight_limit
        ):
            return
        now = self.clock()
        if int(now // 60) == self._weight_minute:
            wait = min(cfg.weight_wait_max_s, 60.0 - now % 60.0)
            self.counters["throttled"] += 1
            log.warning(
                "%s: weight %d of %d used this minute; waiting %.2fs",
                self.source,
                self.used_weight,
                cfg.weight_limit,
                wait,
            )
            self.waited_s += wait
            await asyncio.sleep(wait)
        self.used_weight = None


def _retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds (delta seconds or an HTTP date); None if absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _excerpt(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[:n] + "..."


def check_url(field: str, value: object, schemes: tuple[str, ...]) -> str:
    """``value`` if it is a URL with one of ``schemes`` and a host, else a :class:`ConfigError`."""
    rule = f"must be a {' or '.join(s + '://' for s in schemes)} URL with a host"
    if not isinstance(value, str):
        raise ConfigError(field, value, rule)
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(field, value, rule)
    return value.rstrip("/")
