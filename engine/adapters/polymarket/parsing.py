"""Polymarket frames -> the engine's events: CLOB market WebSocket, CLOB REST, RTDS, Gamma.

- :func:`parse_market_frame`: one text frame of the CLOB ``market`` channel (one object or an
  array of objects; the ``PONG`` heartbeat reply is no event) -> a list of
  :class:`BookSnapshot`, :class:`PriceChange`, :class:`TickSizeChange`,
  :class:`LastTradePrice`, :class:`BestBidAsk`, :class:`NewMarket`, :class:`MarketResolved`.
  Book levels arrive worst to best: snapshots are sorted best first here.
- :func:`parse_book_rest` (``GET /book``) and :func:`parse_clob_market`
  (``GET /markets/{condition_id}``, the winner after resolution).
- :func:`parse_rtds_frame`: RTDS ``crypto_prices`` (Binance) and ``crypto_prices_chainlink``
  (the settlement source) -> :class:`OraclePrice`.
- :func:`parse_gamma_market`: a Gamma market object via the corpus reader
  :func:`engine.adapters.corpus.gamma.parse_market`, plus its resolution text and the
  :func:`resolution_rule` it states (the pricer trades only :data:`CHAINLINK_GE_START`).

Bad bytes raise :class:`~engine.adapters.binance.schemas.WireError`, the adapters' one error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from engine.adapters.corpus.errors import CorpusError
from engine.adapters.corpus.gamma import CorpusMarket, parse_market
from engine.adapters.polymarket.schemas import (
    BestBidAskMsg,
    BookMsg,
    ClobMarketMsg,
    LastTradePriceMsg,
    Level,
    MarketResolvedMsg,
    NewMarketMsg,
    PriceChangeMsg,
    RtdsMsg,
    RtdsPoint,
    TickSizeChangeMsg,
)
from engine.adapters.wire import WireError, decode_json, validate

CLOB = "polymarket clob"
RTDS = "polymarket rtds"
HEARTBEAT = "PONG"  # the reply to our text "PING"


# -- events --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class BookSnapshot:
    """A full book of token ``asset_id``: ``bids``/``asks`` ``(n, 2)`` float arrays best first.

    ``ts`` epoch s. ``tick_size``/``min_order_size`` are None when the venue did not send them.
    """

    asset_id: str
    market: str
    bids: np.ndarray
    asks: np.ndarray
    ts: float
    hash: str | None = None
    tick_size: float | None = None
    min_order_size: float | None = None


@dataclass(frozen=True, slots=True)
class LevelChange:
    """Level ``price`` of token ``asset_id`` now holds ``size`` shares (0: gone).

    ``side`` BUY: bids, SELL: asks. ``best_bid``/``best_ask``: the venue's top after the change
    (0 / 1 for an empty side), None if not sent.
    """

    asset_id: str
    price: float
    side: str
    size: float
    best_bid: float | None = None
    best_ask: float | None = None
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class PriceChange:
    """One ``price_change`` frame of condition ``market``: changes of one or both tokens."""

    market: str
    ts: float
    changes: tuple[LevelChange, ...]


@dataclass(frozen=True, slots=True)
class TickSizeChange:
    """Token ``asset_id``'s tick went ``old_tick`` -> ``new_tick``: its book is void until the
    next snapshot."""

    asset_id: str
    market: str
    old_tick: float
    new_tick: float
    ts: float


@dataclass(frozen=True, slots=True)
class LastTradePrice:
    """A match: ``size`` shares at ``price``; ``side`` is the taker's. No fee: the wire's
    ``fee_rate_bps`` is "0" even on fee markets."""

    asset_id: str
    market: str
    price: float
    size: float
    side: str
    ts: float


@dataclass(frozen=True, slots=True)
class BestBidAsk:
    """The venue's top of book of token ``asset_id``."""

    asset_id: str
    market: str
    best_bid: float
    best_ask: float
    ts: float


@dataclass(frozen=True, slots=True)
class NewMarket:
    """A market was listed (condition id ``market``, Gamma id ``id``). Repeats: dedupe."""

    market: str
    id: str
    slug: str
    question: str
    description: str
    asset_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    tick: float | None
    ts: float


@dataclass(frozen=True, slots=True)
class MarketResolved:
    """Condition ``market`` resolved: token ``winning_asset_id`` (``winning_outcome``) pays $1."""

    market: str
    id: str
    asset_ids: tuple[str, ...]
    winning_asset_id: str
    winning_outcome: str
    ts: float


@dataclass(frozen=True, slots=True)
class OraclePrice:
    """``value`` of ``symbol`` (as RTDS names it: ``btcusdt``, ``btc/usd``) at ``ts`` (epoch s).

    ``source``: ``"binance"`` (topic ``crypto_prices``) or ``"chainlink"``
    (``crypto_prices_chainlink``, what 5m/15m Up/Down markets settle on).
    """

    symbol: str
    value: float
    ts: float
    source: str


MarketEvent = (
    BookSnapshot
    | PriceChange
    | TickSizeChange
    | LastTradePrice
    | BestBidAsk
    | NewMarket
    | MarketResolved
)


# -- CLOB market channel -------------------------------------------------------------------
def parse_market_frame(
    text: str | bytes, errors: list[WireError] | None = None
) -> list[MarketEvent]:
    """The events of one market-channel frame (an object or an array of objects).

    With ``errors`` given, a bad element of an array is appended there and skipped (the others
    still parse); without it the first bad element raises :class:`WireError`.
    """
    if isinstance(text, str | bytes) and text.strip() in (HEARTBEAT, HEARTBEAT.encode()):
        return []
    obj = decode_json(text, CLOB)
    items = obj if isinstance(obj, list) else [obj]
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_market_event(item, f"[{i}]" if isinstance(obj, list) else ""))
        except WireError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return out


def _market_event(obj: object, where: str) -> Any:
    """One market-channel event object -> its event, dispatched on ``event_type``."""
    if not isinstance(obj, Mapping):
        raise WireError(CLOB, where or "frame", obj, "a JSON object with an event_type")
    kind = obj.get("event_type")
    source = f"{CLOB} {kind}"
    parse = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parse is None:
        field = f"{where}.event_type" if where else "event_type"
        raise WireError(CLOB, field, kind, f"one of {', '.join(_PARSERS)}")
    model, convert = parse
    return convert(validate(model, obj, source, where))


def parse_book_rest(payload: str | bytes | Mapping) -> BookSnapshot:
    """``GET /book?token_id=`` (text or decoded) -> a :class:`BookSnapshot` sorted best first."""
    source = f"{CLOB} GET /book"
    obj = decode_json(payload, source) if isinstance(payload, str | bytes) else payload
    return _book(validate(BookMsg, obj, source))


def parse_clob_market(payload: str | bytes | Mapping, recv_ts: float) -> MarketResolved | None:
    """``GET /markets/{condition_id}`` -> its resolution (``ts`` = ``recv_ts``), or None while
    no token is the winner."""
    source = f"{CLOB} GET /markets"
    obj = decode_json(payload, source) if isinstance(payload, str | bytes) else payload
    m = validate(ClobMarketMsg, obj, source)
    winners = [t for t in m.tokens if t.winner]
    if len(winners) > 1:
        raise WireError(source, "tokens.winner", [t.token_id for t in winners], "one winner")
    if not m.closed or not winners:
        return None
    ids = tuple(t.token_id for t in m.tokens)
    w = winners[0]
    return MarketResolved(m.condition_id, "", ids, w.token_id, w.outcome, float(recv_ts))


def _levels(levels: list[Level], best_first_desc: bool) -> np.ndarray:
    """``(n, 2)`` price/size, best first; empty levels dropped, a repeated price: last wins."""
    book = {lv.price: lv.size for lv in levels}
    rows = sorted((p, s) for p, s in book.items() if s > 0)
    if best_first_desc:
        rows.reverse()
    return np.array(rows, dtype=float).reshape(-1, 2)


def _book(m: BookMsg) -> BookSnapshot:
    bids, asks = _levels(m.bids, True), _levels(m.asks, False)
    return BookSnapshot(
        m.asset_id, m.market, bids, asks, m.timestamp, m.hash, m.tick_size, m.min_order_size
    )


def _price_change(m: PriceChangeMsg) -> PriceChange:
    changes = tuple(
        LevelChange(c.asset_id, c.price, c.side, c.size, c.best_bid, c.best_ask, c.hash)
        for c in m.price_changes
    )
    return PriceChange(m.market, m.timestamp, changes)


_PARSERS: dict[str, tuple[type, Any]] = {
    "book": (BookMsg, _book),
    "price_change": (PriceChangeMsg, _price_change),
    "tick_size_change": (
        TickSizeChangeMsg,
        lambda m: TickSizeChange(
            m.asset_id, m.market, m.old_tick_size, m.new_tick_size, m.timestamp
        ),
    ),
    "last_trade_price": (
        LastTradePriceMsg,
        lambda m: LastTradePrice(m.asset_id, m.market, m.price, m.size, m.side, m.timestamp),
    ),
    "best_bid_ask": (
        BestBidAskMsg,
        lambda m: BestBidAsk(m.asset_id, m.market, m.best_bid, m.best_ask, m.timestamp),
    ),
    "new_market": (
        NewMarketMsg,
        lambda m: NewMarket(
            m.market,
            m.id,
            m.slug,
            m.question,
            m.description,
            tuple(m.assets_ids),
            tuple(m.outcomes),
            m.order_price_min_tick_size,
            m.timestamp,
        ),
    ),
    "market_resolved": (
        MarketResolvedMsg,
        lambda m: MarketResolved(
            m.market, m.id, tuple(m.assets_ids), m.winning_asset_id, m.winning_outcome, m.timestamp
        ),
    ),
}


# -- RTDS ----------------------------------------------------------------------------------
_RTDS_SOURCES = {"crypto_prices": "binance", "crypto_prices_chainlink": "chainlink"}


def parse_rtds_frame(text: str | bytes) -> list[OraclePrice]:
    """One RTDS frame -> its prices: one for an ``update``, the history of a ``subscribe``."""
    if isinstance(text, str | bytes) and text.strip() in ("", b"", HEARTBEAT, HEARTBEAT.encode()):
        return []
    m = validate(RtdsMsg, decode_json(text, RTDS), RTDS)
    source = _RTDS_SOURCES.get(m.topic)
    if source is None:
        raise WireError(RTDS, "topic", m.topic, f"one of {', '.join(_RTDS_SOURCES)}")
    where = f"{RTDS} {m.topic} {m.type}"
    symbol = m.payload.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise WireError(where, "payload.symbol", symbol, "a symbol string")
    if m.type == "update":
        points = [validate(RtdsPoint, m.payload, where, "payload")]
    elif m.type == "subscribe" and isinstance(m.payload.get("data"), list):
        points = [
            validate(RtdsPoint, p, where, f"payload.data.{i}")
            for i, p in enumerate(m.payload["data"])
        ]
    else:
        raise WireError(where, "type", m.type, "update, or subscribe with payload.data")
    return [OraclePrice(symbol, p.value, p.timestamp, source) for p in points]


# -- Gamma ---------------------------------------------------------------------------------
CHAINLINK_GE_START = "chainlink_ge_start"
UNSUPPORTED = "unsupported"
_AVERAGED = re.compile(r"\btwap\b|time[- ]weighted|\baverag\w*|\bvwap\b|\bmedian\b|\bmean\b")
_GE = re.compile(r"greater than or equal to|\bat or above\b|>=|≥")
_START = re.compile(r"\b(beginning|start|open)\b")


@dataclass(frozen=True, slots=True)
class Rule:
    """How a market resolves, as far as the pricer is concerned.

    ``kind`` :data:`CHAINLINK_GE_START`: Up if the point price at the window's end is >= the
    price at its start, read from ``source`` (``"chainlink"`` data stream or ``"binance"``).
    :data:`UNSUPPORTED`: anything else, ``reason`` says what (never trade it).
    """

    kind: str
    source: str = ""
    reason: str = ""

    @property
    def supported(self) -> bool:
        return self.kind == CHAINLINK_GE_START


@dataclass(frozen=True, slots=True)
class GammaMarket:
    """A Gamma market: the corpus reader's fields plus the resolution text and its rule."""

    market: CorpusMarket
    description: str
    resolution_source: str
    closed_ts: float | None
    rule: Rule


def resolution_text(obj: Mapping[str, Any]) -> tuple[str, str]:
    """``(description, resolutionSource)``; the event's description if the market has none."""
    description = obj.get("description") or ""
    if not description:
        events = obj.get("events")
        if isinstance(events, list) and events and isinstance(events[0], Mapping):
            description = events[0].get("description") or ""
    return str(description), str(obj.get("resolutionSource") or "")


def resolution_rule(obj: Mapping[str, Any]) -> Rule:
    """Classify the rule a Gamma market's ``description``/``resolutionSource`` states."""
    text = " ".join(resolution_text(obj)).lower()
    averaged = _AVERAGED.search(text)
    if averaged:
        return Rule(UNSUPPORTED, reason=f"an averaged price ({averaged[0]!r}), not a point price")
    if not _GE.search(text) and "greater than" in text and _START.search(text):
        return Rule(UNSUPPORTED, reason="strictly greater than: a tie would resolve Down")
    if not _GE.search(text) or not _START.search(text):
        return Rule(UNSUPPORTED, reason="no 'end price >= start price' rule")
    for source in ("chainlink", "binance"):
        if source in text:
            return Rule(CHAINLINK_GE_START, source=source)
    return Rule(UNSUPPORTED, reason="no Chainlink or Binance price source named")


def closed_time(obj: Mapping[str, Any], source: str = "gamma") -> float | None:
    """``closedTime`` in epoch s (sent as ``"2026-03-19 23:20:15+00"``, not ISO); None if absent."""
    value = obj.get("closedTime")
    if value in (None, ""):
        return None
    expected = "a UTC time like 2026-03-19 23:20:15+00"
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        raise WireError(source, "closedTime", value, expected) from None
    offset = dt.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise WireError(source, "closedTime", value, expected)
    return dt.timestamp()


def parse_gamma_market(payload: str | bytes | Mapping, source: str = "gamma") -> GammaMarket:
    """A Gamma market object (text or decoded) -> :class:`GammaMarket`; the fields are read by
    :func:`engine.adapters.corpus.gamma.parse_market` (its errors become :class:`WireError`)."""
    obj = decode_json(payload, source) if isinstance(payload, str | bytes) else payload
    try:
        market = parse_market(obj, source)
    except CorpusError as exc:
        raise WireError(source, exc.where.removeprefix("field "), exc.value, exc.expected) from None
    description, resolution_source = resolution_text(obj)
    rule = resolution_rule(obj)
    return GammaMarket(market, description, resolution_source, closed_time(obj, source), rule)
