"""The simulator's headline lexicon.

Headlines read ``"<COIN>: <phrase>"`` (``"BTC: spot ETF inflows surge"``). An
information event's headline takes a phrase of its direction's sentiment with
probability ``news_accuracy`` and of the opposite one otherwise; noise headlines
take a neutral phrase. The phrase tuples are exported so a keyword classifier
can be tested against them; the engine's own classifier keeps its own lexicon.
"""

from __future__ import annotations

BULLISH_PHRASES: tuple[str, ...] = (
    "spot ETF inflows surge",
    "regulator approves spot ETF",
    "whale accumulation spotted on-chain",
    "institutional buyers step in",
    "short squeeze lifts futures",
    "treasury firm adds to holdings",
    "payments giant adds support",
    "network upgrade goes live smoothly",
)

BEARISH_PHRASES: tuple[str, ...] = (
    "exchange hack drains hot wallet",
    "outage halts withdrawals",
    "regulator sues major exchange",
    "spot ETF outflows accelerate",
    "whale dumps holdings on exchanges",
    "long liquidations cascade",
    "stablecoin depeg rattles traders",
    "network stalls after consensus bug",
)

NEUTRAL_PHRASES: tuple[str, ...] = (
    "market update",
    "analysts split on next move",
    "trading volume steady",
    "funding rates flat",
    "options expiry ahead",
    "traders await macro data",
)


def coin_name(symbol: str) -> str:
    """``"BTCUSDT"`` -> ``"BTC"``: the coin as headlines name it."""
    s = symbol.upper()
    return s[:-4] if s.endswith("USDT") and len(s) > 4 else s


def headline_text(symbol: str, phrases: tuple[str, ...], u: float) -> str:
    """The headline for ``symbol`` with the phrase that the uniform ``u`` in [0, 1) picks."""
    phrase = phrases[min(int(u * len(phrases)), len(phrases) - 1)]
    return f"{coin_name(symbol)}: {phrase}"
