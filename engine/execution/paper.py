"""Paper venue: orders reach the book after a latency and fill against it as it stands then.

An order is a buy of one token for ``stake`` USD, signalled at the ask ``price``; its
limit is that ask plus ``slippage_ticks`` ticks. Its life, reported from :meth:`poll`:

- ``submit`` answers ACCEPTED, or REJECTED at once by the venue's size rules
  (``exec.min_notional`` for marketable orders, ``exec.min_resting_shares`` for resting
  ones) or by a modelled venue failure (``exec.venue_reject`` near a window's end).
- It reaches the book ``latency`` after the decision: ``latency_ms`` plus an exponential
  tail of mean ``latency_tail_ms``, drawn per order, capped at ``latency_max_ms`` (never
  under ``latency_ms``). It is
  matched against the first book the feed publishes at or after that instant (on a feed
  that publishes every second, any latency up to 1 s means the next second's book: the
  decision's own book is never the one it fills on unless ``latency_ms=0``).
- It walks the asks best first up to its limit; each level taken is one fill paying the
  taker fee ``shares x rate x p (1 - p)`` rounded to 5 decimals. What it takes is gone for
  later orders (of the same tick too) until the feed refreshes that level (shows another
  size at that price) or ``refill_s`` has passed.
- Nothing at or under the limit: ``exec.moved`` (the ask ran away before the order
  arrived), ``exec.depleted`` (our own earlier orders took it) or ``exec.no_liquidity``
  (an empty book). FAK kills the rest (PARTIAL or UNFILLED); FOK fills all or nothing
  (``exec.fok_unfilled``); GTC and GTD keep working on later books until the market's end
  (``exec.market_closed``, GTC) or the window end (``exec.expired``, GTD).
- With ``revert_rate`` > 0 an order's fills are taken back at settlement, 10-50 s later
  (a REVERTED report, reason ``exec.reverted``), as a CLOB match that fails on chain.

Random draws (latency tail, failures) come from a generator seeded by ``seed`` and the
order's key, so a run, and a run resumed after a crash, draw exactly the same.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from engine.core.fees import floor_shares, taker_fee, tick_for
from engine.core.types import (
    ACCEPTED,
    FILLED,
    ORDER_TYPES,
    PARTIAL,
    REJECTED,
    REVERTED,
    UNFILLED,
    Book,
    ExecutionReport,
    Fill,
    Order,
    Tick,
    WorkingOrder,
)
from engine.core.validation import ConfigError, check_declared, tunable

STALE_BOOK_S = 3600.0  # a book not republished for this long belongs to a market that ended
REVERT_DELAY_S = (10.0, 50.0)  # a failed match is known this long after it (Polymarket: 10-50 s)


def walk_asks(
    book: Book,
    limit_price: float,
    stake: float,
    fee_rate: float,
    ts: float = float("nan"),
    taken: dict[float, tuple[float, float, float]] | None = None,
) -> tuple[Fill, ...]:
    """Buy up to ``stake`` USD of ``book``'s asks priced at or below ``limit_price``.

    ``taken`` maps a price to ``(shares taken, size shown then, when)``: while the book
    still shows that size at that price, those shares are not there any more.
    """
    fills = []
    budget = stake
    for price, size in book.asks:
        if price > limit_price + 1e-12 or budget <= 0:
            break
        price, size = float(price), float(size)
        available = size
        if taken:
            gone = taken.get(price)
            if gone is not None and gone[1] == size:
                available = size - gone[0]
        if available <= 1e-9:
            continue
        shares = floor_shares(min(available, budget / price))
        if shares <= 0:
            break
        fills.append(Fill(price, shares, taker_fee(shares, price, fee_rate), ts, size))
        budget -= shares * price
    return tuple(fills)


@dataclass
class _Live:
    """An order the venue works on."""

    order: Order
    limit: float
    order_type: str
    arrive_ts: float
    spent: float = 0.0
    shares: float = 0.0
    arrived: bool = False


@dataclass
class _State:
    working: dict[str, _Live] = field(default_factory=dict)
    books: dict[str, Book] = field(default_factory=dict)
    # token -> price -> (shares taken, level size when taken, ts)
    taken: dict[str, dict[float, tuple[float, float, float]]] = field(default_factory=dict)
    # (due ts, market, key, fills) of fills to take back
    reverts: list[tuple[float, str, str, tuple[Fill, ...]]] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class PaperVenue:
    """Paper execution: its fields are ``conf/venue/paper.yaml``'s keys (see the module doc).

    ``reject_near_end_s`` / ``reject_near_end_rate``: the share of orders decided in the last
    seconds of a window that the venue refuses. ``revert_rate``: the share of filled orders
    whose fills are reverted at settlement. ``seed``: the draws' seed (the run's seed).
    """

    order_type: str = "FAK"
    slippage_ticks: int = tunable(
        1,
        lo=0,
        hi=100,
        unit="ticks",
        writers="governor",
        description="limit price = ask + slippage_ticks ticks",
    )
    min_notional: float = tunable(
        1.0,
        lo=0.0,
        hi=1e6,
        unit="USD",
        writers="human",
        description="refuse marketable orders under this",
    )
    min_resting_shares: float = tunable(
        5.0,
        lo=0.0,
        hi=1e6,
        unit="shares",
        writers="human",
        description="refuse resting orders under this",
    )
    latency_ms: float = tunable(
        250.0,
        lo=0.0,
        hi=60000.0,
        unit="ms",
        writers="human",
        description="decision -> book latency, at least",
    )
    latency_tail_ms: float = tunable(
        100.0,
        lo=0.0,
        hi=60000.0,
        unit="ms",
        writers="human",
        description="mean of the exponential tail added to latency_ms",
    )
    latency_max_ms: float = tunable(
        5000.0,
        lo=0.0,
        hi=600000.0,
        unit="ms",
        writers="human",
        description="cap on the drawn latency (never under latency_ms)",
    )
    refill_s: float = tunable(
        5.0,
        lo=0.0,
        hi=3600.0,
        unit="s",
        writers="human",
        description="a level we emptied is back after this long",
    )
    reject_near_end_s: float = tunable(
        0.0,
        lo=0.0,
        hi=86400.0,
        unit="s",
        writers="human",
        description="orders decided in a window's last seconds may be refused",
    )
    reject_near_end_rate: float = tunable(
        0.0,
        lo=0.0,
        hi=1.0,
        unit="fraction",
        writers="human",
        description="how often those are refused",
    )
    revert_rate: float = tunable(
        0.0,
        lo=0.0,
        hi=1.0,
        unit="fraction",
        writers="human",
        description="share of filled orders reverted at settlement",
    )
    seed: int = 0
    _state: _State = field(init=False, repr=False, default_factory=_State)

    def __post_init__(self) -> None:
        check_declared(self)
        if self.order_type not in ORDER_TYPES:
            raise ConfigError("order_type", self.order_type, f"must be one of {list(ORDER_TYPES)}")

    # -- rules ------------------------------------------------------------------------
    def limit_for(self, price: float) -> float:
        tick = tick_for(price)
        return round(min(price + self.slippage_ticks * tick, 1.0 - tick), 3)

    def _draws(self, key: str) -> np.ndarray:
        """Four uniforms per order: latency tail, near-end reject, revert, revert delay."""
        return np.random.default_rng([self.seed, zlib.crc32(key.encode())]).random(4)

    def latency_s(self, key: str) -> float:
        u = self._draws(key)[0]
        ms = self.latency_ms + self.latency_tail_ms * -math.log1p(-u)
        return min(ms, max(self.latency_max_ms, self.latency_ms)) / 1000.0

    # -- the port -----------------------------------------------------------------------
    def submit(self, order: Order) -> ExecutionReport:
        limit = self.limit_for(order.price)
        resting = self.order_type in ("GTC", "GTD")

        def refuse(reason: str) -> ExecutionReport:
            return ExecutionReport(
                order.key, order.ts, REJECTED, limit, self.order_type, reason=reason, done=True
            )

        if resting and floor_shares(order.stake / limit) < self.min_resting_shares:
            return refuse("exec.min_resting_shares")
        if not resting and order.stake < self.min_notional:
            return refuse("exec.min_notional")
        draws = self._draws(order.key)
        if (
            order.expire_ts - order.ts < self.reject_near_end_s
            and draws[1] < self.reject_near_end_rate
        ):
            return refuse("exec.venue_reject")
        arrive = order.ts + self.latency_s(order.key)
        self._state.working[order.key] = _Live(order, limit, self.order_type, arrive)
        return ExecutionReport(order.key, order.ts, ACCEPTED, limit, self.order_type)

    def cancel(self, key: str, ts: float, reason: str = "exec.cancelled") -> ExecutionReport | None:
        live = self._state.working.pop(key, None)
        return None if live is None else self._end(live, ts, reason)

    def working(self) -> list[WorkingOrder]:
        return [
            WorkingOrder(w.order, w.limit, w.order_type, w.arrive_ts, w.spent, w.shares)
            for w in self._state.working.values()
        ]

    def poll(self, tick: Tick) -> list[ExecutionReport]:
        """Advance to ``tick.ts``: reverts due, market ends, arrivals and resting orders."""
        st, ts = self._state, tick.ts
        if tick.books:
            st.books.update(tick.books)
        if tick.resolved:  # markets end: forget books the feed stopped publishing long ago
            horizon = ts - STALE_BOOK_S
            for token in [t for t, b in st.books.items() if b.ts < horizon]:
                del st.books[token]
        if not (st.working or st.reverts):
            return []
        out: list[ExecutionReport] = []
        closed = {r.market_id for r in tick.resolved}
        if st.reverts:
            out.extend(self._reverts(ts, closed))
        for key in [
            k
            for k, w in st.working.items()
            if w.order.expire_ts <= ts or w.order.market_id in closed
        ]:
            live = st.working.pop(key)
            out.append(
                self._end(
                    live, ts, "exec.expired" if live.order_type == "GTD" else "exec.market_closed"
                )
            )
        if not st.working:
            return out
        self._expire_taken(ts)
        due = sorted(
            (w for w in st.working.values() if w.arrive_ts <= ts + 1e-9),
            key=lambda w: w.arrive_ts,
        )
        for live in due:
            report = self._match(live, ts)
            if report is not None:
                out.append(report)
        return out

    def restore(
        self, ts: float, working: list[WorkingOrder], recent: list[tuple[str, str, str, Fill]]
    ) -> None:
        st = self._state
        for w in working:
            arrive = w.arrive_ts
            if arrive != arrive:  # not reported yet: the same draw as at submission
                arrive = w.order.ts + self.latency_s(w.order.key)
            st.working[w.order.key] = _Live(
                w.order, w.limit_price, w.order_type, arrive, w.spent, w.shares,
                arrived=w.arrive_ts == w.arrive_ts,
            )  # fmt: skip
        by_key: dict[tuple[str, str], list[Fill]] = {}
        for key, market, token, fill in sorted(recent, key=lambda r: r[3].ts):
            self._take(token, fill)
            by_key.setdefault((key, market), []).append(fill)
        self._expire_taken(ts)
        for (key, market), fills in by_key.items():
            self._schedule_revert(key, market, tuple(fills), after=ts)

    def adopt(self, previous: PaperVenue) -> None:  # type: ignore[override]
        object.__setattr__(self, "_state", previous._state)

    # -- matching -----------------------------------------------------------------------
    def _match(self, live: _Live, ts: float) -> ExecutionReport | None:
        st, order = self._state, live.order
        first = not live.arrived
        live.arrived = True
        book = st.books.get(order.token_id)
        latency = (ts - order.ts) if first else None
        fills: tuple[Fill, ...] = ()
        reason = None
        if book is None or not len(book.asks):
            reason = "exec.no_liquidity"
        elif book.best_ask > live.limit + 1e-12:
            reason = "exec.moved"
        else:
            taken = st.taken.get(order.token_id)
            fills = walk_asks(book, live.limit, order.stake - live.spent, order.fee_rate, ts, taken)
            if not fills:
                reason = "exec.depleted"
            elif live.order_type == "FOK" and sum(
                f.shares * f.price for f in fills
            ) < order.stake - max(live.limit, 0.01):
                fills, reason = (), "exec.fok_unfilled"
        if fills:
            for f in fills:
                self._take(order.token_id, f)
            live.spent += sum(f.shares * f.price for f in fills)
            live.shares += sum(f.shares for f in fills)
            self._schedule_revert(order.key, order.market_id, fills, after=ts)
        complete = live.spent >= order.stake - max(live.limit, 0.01)
        resting = live.order_type in ("GTC", "GTD")
        if complete or not resting:
            st.working.pop(order.key, None)
            state = FILLED if complete else (PARTIAL if live.shares > 0 else UNFILLED)
            return ExecutionReport(
                order.key, ts, state, live.limit, live.order_type, fills,
                reason=None if complete else (reason or "exec.killed"), latency_s=latency, done=True,
            )  # fmt: skip
        if not fills and not first:
            return None  # a resting order that found nothing new: no news
        state = PARTIAL if live.shares > 0 else ACCEPTED
        return ExecutionReport(
            order.key,
            ts,
            state,
            live.limit,
            live.order_type,
            fills,
            reason=reason,
            latency_s=latency,
        )

    def _end(self, live: _Live, ts: float, reason: str) -> ExecutionReport:
        state = PARTIAL if live.shares > 0 else UNFILLED
        return ExecutionReport(
            live.order.key, ts, state, live.limit, live.order_type, reason=reason, done=True
        )

    def _take(self, token: str, fill: Fill) -> None:
        levels = self._state.taken.setdefault(token, {})
        gone = levels.get(fill.price)
        if gone is not None and gone[1] == fill.level_size:
            levels[fill.price] = (gone[0] + fill.shares, fill.level_size, fill.ts)
        else:
            levels[fill.price] = (fill.shares, fill.level_size, fill.ts)

    def _expire_taken(self, ts: float) -> None:
        horizon = ts - self.refill_s
        for token in list(self._state.taken):
            levels = self._state.taken[token]
            for price in [p for p, (_, _, t) in levels.items() if t <= horizon]:
                del levels[price]
            if not levels:
                del self._state.taken[token]

    def _schedule_revert(
        self, key: str, market: str, fills: tuple[Fill, ...], *, after: float
    ) -> None:
        if self.revert_rate <= 0.0 or not fills:
            return
        draws = self._draws(key)
        if draws[2] >= self.revert_rate:
            return
        lo, hi = REVERT_DELAY_S
        due = max(f.ts for f in fills) + lo + (hi - lo) * draws[3]
        if due > after:
            self._state.reverts.append((due, market, key, fills))

    def _reverts(self, ts: float, closed: set[str]) -> list[ExecutionReport]:
        due = [r for r in self._state.reverts if r[0] <= ts or r[1] in closed]
        if not due:
            return []
        self._state.reverts = [r for r in self._state.reverts if not (r[0] <= ts or r[1] in closed)]
        return [
            ExecutionReport(
                key, ts, REVERTED, float("nan"), self.order_type, fills, "exec.reverted", done=True
            )
            for _, _, key, fills in due
        ]
