"""Value types shared by the simulator, the drivers and the pure core.

Everything here is plain data: frozen dataclasses holding numpy arrays or
scalars. Times are UTC epoch seconds (float); prices are probabilities in
(0, 1); sizes are shares (one share pays $1 if its outcome happens).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UP = "UP"
DOWN = "DOWN"
# A wallet trade's side, as the venue and its data API write it: the leader bought or sold
# ``token_id`` (which of a market's tokens that is says whether it was UP or DOWN).
BUY = "BUY"
SELL = "SELL"


DEPTH_TICKS = 2  # Book.depth_usd counts asks up to this many ticks above the best


@dataclass(frozen=True, slots=True)
class Book:
    """One token's L2 order book, best level first on both sides.

    ``bids`` and ``asks`` are float arrays of shape ``(n, 2)``: column 0 the
    price, column 1 the size in shares. Bids are sorted by price descending,
    asks ascending, so ``asks[0]`` is the best ask. ``ts`` is when the book
    was published (epoch seconds). ``tick`` is the venue tick at that moment.

    The top of book is kept as plain floats (``best_bid``, ``best_ask``,
    ``ask_size``, ``depth_usd``: USD of asks within ``DEPTH_TICKS`` ticks of the
    best ask), so the decision step reads attributes instead of indexing arrays
    per candidate. A feed that already has them (the simulator computes them for
    all books at once) passes them in; otherwise they are computed here.
    """

    token_id: str
    bids: np.ndarray
    asks: np.ndarray
    ts: float
    tick: float = 0.01
    best_bid: float = float("nan")
    best_ask: float = float("nan")
    ask_size: float = float("nan")
    depth_usd: float = float("nan")

    def __post_init__(self) -> None:
        if self.best_ask == self.best_ask:  # given by the feed (not NaN)
            return
        bids, asks, put = self.bids, self.asks, object.__setattr__
        put(self, "best_bid", float(bids[0, 0]) if len(bids) else float("nan"))
        if len(asks):
            best = float(asks[0, 0])
            near = asks[asks[:, 0] <= best + DEPTH_TICKS * self.tick + 1e-12]
            put(self, "best_ask", best)
            put(self, "ask_size", float(asks[0, 1]))
            put(self, "depth_usd", float(np.dot(near[:, 0], near[:, 1])))

    @property
    def mid(self) -> float:
        return 0.5 * (self.best_bid + self.best_ask)


UPDOWN = "updown"
RANGE = "range"


@dataclass(frozen=True, slots=True)
class Market:
    """A binary market on a symbol's spot at ``end_ts``, with a Yes/UP and a No/DOWN token.

    ``kind == "updown"``: UP pays $1 if spot at ``end_ts`` >= ``strike``, the spot
    at ``start_ts`` (the window start).

    ``kind == "range"``: one outcome of a neg-risk event ``event_id`` (several
    range markets on the same symbol and window, exactly one of which resolves
    Yes). Its UP token is the outcome's Yes: it pays $1 if ``low <= spot_end <
    high``; ``strike`` is the spot at the window start. ``label`` names the
    outcome; an event whose outcomes include an unnamed catch-all ("Other", an
    augmented neg-risk event) marks every one of its markets ``augmented``.
    """

    market_id: str
    symbol: str
    window_s: int
    start_ts: float
    end_ts: float
    strike: float
    up_token: str
    down_token: str
    fee_rate: float
    kind: str = UPDOWN
    event_id: str | None = None
    low: float = float("nan")
    high: float = float("nan")
    label: str = ""
    augmented: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    """A market's outcome: ``winner`` is ``UP`` when end price >= start price (ties go Up)."""

    market_id: str
    winner: str
    start_price: float
    end_price: float
    ts: float


@dataclass(frozen=True, slots=True)
class WalletTrade:
    """A leader wallet's fill as a wallet-trades feed shows it.

    ``ts`` is when the leader traded; the feed delivers it in the tick at
    ``seen_ts`` (>= ``ts``): the follower can act no earlier than that.
    ``side`` is ``BUY`` or ``SELL`` of ``token_id`` (never UP/DOWN: the
    outcome is whichever of the market's tokens ``token_id`` is).
    """

    wallet: str
    ts: float
    seen_ts: float
    market_id: str
    token_id: str
    side: str
    price: float
    shares: float


@dataclass(frozen=True, slots=True)
class Headline:
    """A news headline about ``symbol`` published at ``ts`` (only its text is evidence)."""

    ts: float
    symbol: str
    text: str
    source: str = "sim"


@dataclass(frozen=True, slots=True)
class Tick:
    """What a live feed would have shown at ``ts`` (never anything later).

    ``spot``: last spot price per symbol. ``listed``: markets whose window
    started at ``ts``. ``books``: the current published book of every token of
    every live market. ``resolved``: markets whose window ended at ``ts``.
    ``wallet_trades``: leader fills the wallet feed delivers at ``ts``.
    ``news``: headlines published at ``ts``.
    """

    ts: float
    spot: dict[str, float]
    listed: list[Market] = field(default_factory=list)
    books: dict[str, Book] = field(default_factory=dict)
    resolved: list[Resolution] = field(default_factory=list)
    wallet_trades: list[WalletTrade] = field(default_factory=list)
    news: list[Headline] = field(default_factory=list)


# -- orders and what a venue reports back ------------------------------------------------
# An order's life: submitted -> ACCEPTED (or REJECTED at once, with a reason) -> it reaches
# the book after the venue's latency -> PARTIAL while some is filled and the rest still works
# -> FILLED, or UNFILLED (killed, expired or cancelled with nothing filled; the reason says
# which). A FAK/FOK order that filled part and was killed ends PARTIAL. A fill the venue takes
# back at settlement arrives later as a REVERTED report of that fill.
ACCEPTED = "accepted"
REJECTED = "rejected"
PARTIAL = "partial"
FILLED = "filled"
UNFILLED = "unfilled"
REVERTED = "reverted"
ORDER_STATES = (ACCEPTED, REJECTED, PARTIAL, FILLED, UNFILLED, REVERTED)

# Time in force: FAK (fill and kill), FOK (fill or kill), GTC (good till cancelled; the
# market's end cancels it), GTD (good till a date: the window end).
ORDER_TYPES = ("FAK", "FOK", "GTC", "GTD")


@dataclass(frozen=True, slots=True)
class Order:
    """A buy of ``token_id`` for up to ``stake`` USD, decided at ``ts`` when the ask was ``price``.

    ``key`` is the signal's idempotency key (strategy, market, side, trigger): one order
    per signal. The venue turns ``price`` into its limit (its slippage rule) and applies
    its time in force; ``expire_ts`` is the market's end, when any order on it stops
    working at the latest (a GTD order's expiry).
    """

    key: str
    ts: float
    strategy: str
    market_id: str
    token_id: str
    side: str
    price: float
    stake: float
    fee_rate: float
    expire_ts: float

    @property
    def held(self) -> tuple[str, str, str]:
        return (self.strategy, self.market_id, self.side)


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """An order a venue still works on, as the ledger stores it (for a resumed run).

    ``spent`` USD and ``shares`` are what it has filled so far.
    """

    order: Order
    limit_price: float
    order_type: str
    arrive_ts: float
    spent: float = 0.0
    shares: float = 0.0


@dataclass(frozen=True, slots=True)
class Fill:
    """One book level an order took: ``shares`` at ``price``, paying ``fee`` USD.

    ``level_size`` is the size the book showed at that price when it was taken (paper
    venues use it to tell a level the feed has refreshed from the one they emptied).
    """

    price: float
    shares: float
    fee: float
    ts: float = float("nan")
    level_size: float = float("nan")


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What a venue says about order ``key`` at ``ts``: its ``state`` and the new ``fills``.

    ``fills`` are the fills this report adds (a REVERTED report: the fills taken back).
    ``reason`` says why an order was rejected, killed or expired (``exec.moved``,
    ``exec.min_notional``, ``exec.expired``...); ``latency_s`` is the delay from the
    decision to the book that was applied (set on the first report after arrival).
    ``done``: the order can change no more (a REVERTED report of its fills may still come).
    """

    key: str
    ts: float
    state: str
    limit_price: float
    order_type: str
    fills: tuple[Fill, ...] = field(default=())
    reason: str | None = None
    latency_s: float | None = None
    done: bool = False

    @property
    def shares(self) -> float:
        return sum(f.shares for f in self.fills)

    @property
    def cost(self) -> float:
        return sum(f.shares * f.price for f in self.fills)

    @property
    def fees(self) -> float:
        return round(sum(f.fee for f in self.fills), 5)
