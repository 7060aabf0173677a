"""Polymarket wire models: CLOB market WebSocket events, CLOB REST, RTDS prices.

The models mirror the JSON as the venue sends it: prices, sizes and ms timestamps as strings on
the CLOB (JSON numbers on RTDS), token ids as 76-78 digit decimal strings (kept strings).
:mod:`engine.adapters.polymarket.parsing` turns them into the engine's events. Gamma market
objects are read by :mod:`engine.adapters.corpus.gamma` and have no model here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from engine.adapters.wire import (
    Size,
    TokenId,
    Wire,
    WireFloat,
    WireTime,
    wire_float,
)


def _id_text(value: object) -> str:
    """An id sent as a string or an integer, kept as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ValueError("a non-empty id string")
    return value


def _optional_float(value: object) -> float | None:
    """None for an absent or empty-string value (the venue sends ``""`` for unset fields)."""
    return None if value is None or value == "" else wire_float(value)


Prob = Annotated[float, BeforeValidator(wire_float), Field(ge=0.0, le=1.0)]
OptionalFloat = Annotated[float | None, BeforeValidator(_optional_float)]
IdText = Annotated[str, BeforeValidator(_id_text)]
Side = Literal["BUY", "SELL"]


class Level(Wire):
    """One book level: ``size`` shares resting at ``price``."""

    price: Prob
    size: Size


class BookMsg(Wire):
    """A full book of one token: WS ``book`` event or ``GET /book`` (levels worst to best).

    ``tick_size`` and ``min_order_size`` are absent on older captures.
    """

    event_type: Literal["book"] | None = None
    asset_id: TokenId
    market: str
    bids: list[Level]
    asks: list[Level]
    timestamp: WireTime
    hash: str | None = None
    tick_size: Prob | None = None
    min_order_size: Size | None = None


class PriceChangeEntry(Wire):
    """One level of one token set to ``size`` shares (the new total; ``0`` removes it).

    ``side`` BUY is the bid side, SELL the ask side. ``best_bid``/``best_ask``: the token's top
    of book after the change (``0``/``1`` for an empty side), when sent.
    """

    asset_id: TokenId
    price: Prob
    size: Size
    side: Side
    hash: str | None = None
    best_bid: Prob | None = None
    best_ask: Prob | None = None


class PriceChangeMsg(Wire):
    """WS ``price_change`` (schema of 2025-09-15 on): entries may cover both tokens."""

    event_type: Literal["price_change"]
    market: str
    price_changes: list[PriceChangeEntry] = Field(min_length=1)
    timestamp: WireTime


class TickSizeChangeMsg(Wire):
    """WS ``tick_size_change``: the book must be rebuilt from the next snapshot."""

    event_type: Literal["tick_size_change"]
    asset_id: TokenId
    market: str
    old_tick_size: Prob
    new_tick_size: Prob = Field(gt=0.0)
    timestamp: WireTime


class LastTradePriceMsg(Wire):
    """WS ``last_trade_price``: a match; ``side`` is the taker's.

    ``fee_rate_bps`` is ignored on purpose: it reads ``"0"`` even on fee markets.
    """

    event_type: Literal["last_trade_price"]
    asset_id: TokenId
    market: str
    price: Prob
    size: Size
    side: Side
    timestamp: WireTime
    transaction_hash: str | None = None


class BestBidAskMsg(Wire):
    """WS ``best_bid_ask`` (a custom-feature event)."""

    event_type: Literal["best_bid_ask"]
    asset_id: TokenId
    market: str
    best_bid: Prob
    best_ask: Prob
    timestamp: WireTime


class NewMarketMsg(Wire):
    """WS ``new_market`` (custom feature; global and repeated)."""

    event_type: Literal["new_market"]
    id: IdText
    market: str
    slug: str = ""
    question: str = ""
    description: str = ""
    assets_ids: list[TokenId]
    outcomes: list[str] = Field(default_factory=list)
    order_price_min_tick_size: OptionalFloat = None
    timestamp: WireTime


class MarketResolvedMsg(Wire):
    """WS ``market_resolved`` (custom feature; global and repeated)."""

    event_type: Literal["market_resolved"]
    id: IdText
    market: str
    assets_ids: list[TokenId]
    winning_asset_id: TokenId
    winning_outcome: str
    timestamp: WireTime


class ClobToken(Wire):
    """One entry of ``tokens`` in ``GET /markets/{condition_id}``."""

    token_id: TokenId
    outcome: str
    winner: bool = False


class ClobMarketMsg(Wire):
    """``GET /markets/{condition_id}``: after resolution one token has ``winner`` true."""

    condition_id: str
    closed: bool
    tokens: list[ClobToken]


class RtdsPoint(Wire):
    """One price of an RTDS crypto-prices stream (JSON numbers; ms time)."""

    timestamp: WireTime
    value: WireFloat


class RtdsMsg(Wire):
    """An RTDS message: ``update`` carries one point in ``payload``; ``subscribe`` a history."""

    topic: str
    type: str
    timestamp: WireTime | None = None
    payload: dict[str, Any]
