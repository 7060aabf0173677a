"""Paper venue: fills orders against the real (simulated) book, never better.

An order is a buy of one token for ``stake`` USD at up to ``limit_price``.
FAK (fill-and-kill) walks the asks best first, takes what is there at or
below the limit, and cancels the rest; each level taken is one fill paying the
taker fee ``shares x rate x p (1 - p)`` rounded to 5 decimals. The venue's
size rules refuse, with a recorded reason, marketable orders under
``min_notional`` USD and resting orders under ``min_resting_shares``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.fees import floor_shares, taker_fee, tick_for
from engine.core.types import Book
from engine.core.validation import ConfigError, check_range

ORDER_TYPES = ("FAK", "FOK", "GTC")


@dataclass(frozen=True, slots=True)
class Fill:
    price: float
    shares: float
    fee: float


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """``status`` is ``filled``, ``partial`` or ``rejected`` (then ``reason`` says why)."""

    status: str
    limit_price: float
    order_type: str
    fills: tuple[Fill, ...] = field(default=())
    reason: str | None = None

    @property
    def shares(self) -> float:
        return sum(f.shares for f in self.fills)

    @property
    def cost(self) -> float:
        return sum(f.shares * f.price for f in self.fills)

    @property
    def fees(self) -> float:
        return round(sum(f.fee for f in self.fills), 5)


def walk_asks(book: Book, limit_price: float, stake: float, fee_rate: float) -> tuple[Fill, ...]:
    """Buy up to ``stake`` USD of shares from ``book``'s asks priced at or below ``limit_price``."""
    fills = []
    budget = stake
    for price, size in book.asks:
        if price > limit_price + 1e-12 or budget <= 0:
            break
        shares = floor_shares(min(size, budget / price))
        if shares <= 0:
            break
        fills.append(Fill(float(price), shares, taker_fee(shares, float(price), fee_rate)))
        budget -= shares * price
    return tuple(fills)


@dataclass(frozen=True)
class PaperVenue:
    """Paper execution settings.

    ``slippage_ticks``: the limit price is the signal's ask plus this many ticks.
    """

    order_type: str = "FAK"
    slippage_ticks: int = 1
    min_notional: float = 1.0
    min_resting_shares: float = 5.0

    def __post_init__(self) -> None:
        if self.order_type not in ORDER_TYPES:
            raise ConfigError("order_type", self.order_type, f"must be one of {list(ORDER_TYPES)}")
        check_range("slippage_ticks", self.slippage_ticks, 0, 100)
        check_range("min_notional", self.min_notional, 0.0, 1e6)
        check_range("min_resting_shares", self.min_resting_shares, 0.0, 1e6)

    def limit_for(self, price: float) -> float:
        tick = tick_for(price)
        return round(min(price + self.slippage_ticks * tick, 1.0 - tick), 3)

    def execute(
        self, *, book: Book, price: float, stake: float, fee_rate: float
    ) -> ExecutionReport:
        """Execute a buy of ``stake`` USD of ``book``'s token signalled at ``price``."""
        limit = self.limit_for(price)

        def refuse(reason: str) -> ExecutionReport:
            return ExecutionReport("rejected", limit, self.order_type, reason=reason)

        if self.order_type == "GTC":
            # A resting order: the simulator does not queue resting liquidity, so it
            # executes only the marketable part, like a GTC that crosses the book.
            if floor_shares(stake / limit) < self.min_resting_shares:
                return refuse("exec.min_resting_shares")
        elif stake < self.min_notional:
            return refuse("exec.min_notional")
        fills = walk_asks(book, limit, stake, fee_rate)
        if not fills:
            return refuse("exec.no_liquidity")
        filled = sum(f.shares * f.price for f in fills)
        if self.order_type == "FOK" and filled < stake - 0.01:
            return refuse("exec.fok_unfilled")
        if self.order_type != "GTC" and filled < self.min_notional:
            return refuse("exec.min_notional")
        status = "filled" if filled >= stake - max(limit, 0.01) else "partial"
        return ExecutionReport(status, limit, self.order_type, fills)
