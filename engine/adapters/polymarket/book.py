"""Local CLOB order books rebuilt from the market channel's events.

:class:`LocalBook` holds one token's levels: a snapshot replaces them, a price change sets the
total at one price (0 removes it), a tick-size change voids the book until the next snapshot.
:class:`BookRegistry` applies parsed frames to the books of many tokens, drops what it must
(stale, duplicate, garbage, changes to a void book) and counts every drop in ``counts``:

========== ======================================================================
frames     text frames fed
garbage    frames (or array elements) that did not parse (``errors`` keeps the last)
duplicate  a snapshot equal to the book's state; a repeated new_market/market_resolved
stale      a snapshot or change older than the book's last update
void       a change to a book voided by a tick-size change or a desync, or never filled
ignored    an event of a token without a book (not tracked, or no snapshot seen yet)
desync     a change whose ``best_bid``/``best_ask`` disagree with the rebuilt book (voided)
========== ======================================================================
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from engine.adapters.polymarket.parsing import (
    BookSnapshot,
    LevelChange,
    MarketEvent,
    MarketResolved,
    NewMarket,
    PriceChange,
    TickSizeChange,
    parse_market_frame,
)
from engine.adapters.wire import WireError
from engine.core.types import BUY, Book

DEFAULT_TICK = 0.01
_TOP_TOL = 1e-9  # prices are multiples of 0.001: anything above float noise is a disagreement


class LocalBook:
    """One token's L2 book: ``bids``/``asks`` map price -> size (shares).

    ``valid`` is false before the first snapshot and after a tick-size change or a desync;
    then :meth:`to_engine_book` returns None and changes are refused until a snapshot.
    ``ts`` is the venue time of the last applied event, ``hash`` the venue's hash of the
    current state when known.
    """

    def __init__(self, token_id: str, tick: float = DEFAULT_TICK) -> None:
        self.token_id = token_id
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.tick = tick
        self.ts = -math.inf
        self.hash: str | None = None
        self.valid = False

    def apply_snapshot(self, snap: BookSnapshot) -> None:
        """Replace every level by the snapshot's; the book is valid again."""
        self.bids = {float(p): float(s) for p, s in snap.bids}
        self.asks = {float(p): float(s) for p, s in snap.asks}
        if snap.tick_size is not None:
            self.tick = snap.tick_size
        self.ts, self.hash, self.valid = snap.ts, snap.hash, True

    def apply_change(self, change: LevelChange, ts: float) -> bool:
        """Set the total at ``change.price`` (0 removes it); False (ignored) on a void book."""
        if not self.valid:
            return False
        side = self.bids if change.side == BUY else self.asks
        if change.size > 0:
            side[change.price] = change.size
        else:
            side.pop(change.price, None)
        self.ts, self.hash = max(self.ts, ts), change.hash
        return True

    def invalidate(self, new_tick: float | None = None) -> None:
        """Void the book until the next snapshot (a tick-size change passes its new tick)."""
        if new_tick is not None:
            self.tick = new_tick
        self.valid, self.hash = False, None

    @property
    def best_bid(self) -> float:
        """The highest bid price; NaN for an empty side."""
        return max(self.bids) if self.bids else math.nan

    @property
    def best_ask(self) -> float:
        """The lowest ask price; NaN for an empty side."""
        return min(self.asks) if self.asks else math.nan

    def top_agrees(self, best_bid: float | None, best_ask: float | None) -> bool:
        """Whether the venue's top (0 / 1 meaning an empty side) matches this book's."""
        ours = (0.0 if not self.bids else self.best_bid, 1.0 if not self.asks else self.best_ask)
        return all(
            theirs is None or abs(theirs - mine) <= _TOP_TOL
            for theirs, mine in zip((best_bid, best_ask), ours, strict=True)
        )

    def to_engine_book(self, ts: float | None = None) -> Book | None:
        """The engine's :class:`~engine.core.types.Book` (best first), None while void.

        ``ts`` defaults to the venue time of the last applied event.
        """
        if not self.valid:
            return None
        bids = np.array(sorted(self.bids.items(), reverse=True), dtype=float).reshape(-1, 2)
        asks = np.array(sorted(self.asks.items()), dtype=float).reshape(-1, 2)
        return Book(self.token_id, bids, asks, ts=self.ts if ts is None else ts, tick=self.tick)


@dataclass
class Applied:
    """What one frame did: ``changed`` tokens (new state or voided) and the other ``events``
    (trades, tops, tick changes, new and resolved markets, each lifecycle event once)."""

    changed: set[str] = field(default_factory=set)
    events: list[MarketEvent] = field(default_factory=list)


class BookRegistry:
    """The local books of many tokens, fed market-channel frames.

    ``tokens``: the tokens to track (events of others are ``ignored``); None tracks every token
    a snapshot or tick change names. ``seen_cap`` bounds the memory of lifecycle events kept
    for deduplication (oldest forgotten first).
    """

    def __init__(self, tokens: Iterable[str] | None = None, seen_cap: int = 100_000) -> None:
        self.books: dict[str, LocalBook] = {t: LocalBook(t) for t in tokens or ()}
        self._track_all = tokens is None
        self.counts: Counter[str] = Counter()
        self.errors: deque[WireError] = deque(maxlen=20)
        self._seen: dict[tuple[str, str], None] = {}
        self._seen_cap = seen_cap

    def book(self, token_id: str, ts: float | None = None) -> Book | None:
        """Token ``token_id``'s engine book, None if unknown or void."""
        local = self.books.get(token_id)
        return None if local is None else local.to_engine_book(ts)

    def feed(self, text: str | bytes) -> Applied:
        """Parse one frame and apply it; garbage is counted (and kept in ``errors``), not raised."""
        self.counts["frames"] += 1
        errors: list[WireError] = []
        try:
            events = parse_market_frame(text, errors)
        except WireError as exc:
            errors, events = [exc], []
        self.counts["garbage"] += len(errors)
        self.errors.extend(errors)
        return self.apply(events)

    def apply(self, events: Iterable[MarketEvent]) -> Applied:
        """Apply parsed events in order."""
        out = Applied()
        for event in events:
            if isinstance(event, BookSnapshot):
                self._snapshot(event, out)
            elif isinstance(event, PriceChange):
                self._price_change(event, out)
            elif isinstance(event, TickSizeChange):
                local = self._local(event.asset_id, create=True)
                if local is not None:
                    local.invalidate(event.new_tick)
                    out.changed.add(event.asset_id)
                out.events.append(event)
            elif isinstance(event, NewMarket | MarketResolved):
                if self._first_time(event):
                    out.events.append(event)
            else:
                out.events.append(event)
        return out

    # -- helpers ---------------------------------------------------------------------------
    def _local(self, token_id: str, *, create: bool) -> LocalBook | None:
        local = self.books.get(token_id)
        if local is None and create and self._track_all:
            local = self.books[token_id] = LocalBook(token_id)
        if local is None:
            self.counts["ignored"] += 1
        return local

    def _snapshot(self, snap: BookSnapshot, out: Applied) -> None:
        local = self._local(snap.asset_id, create=True)
        if local is None:
            return
        if snap.ts < local.ts:
            self.counts["stale"] += 1
        elif local.valid and snap.hash is not None and snap.hash == local.hash:
            self.counts["duplicate"] += 1
        else:
            local.apply_snapshot(snap)
            out.changed.add(snap.asset_id)

    def _price_change(self, event: PriceChange, out: Applied) -> None:
        last: dict[str, LevelChange] = {}  # the last change of each token: its top to check
        for change in event.changes:
            local = self._local(change.asset_id, create=False)
            if local is None:
                continue
            if event.ts < local.ts:
                self.counts["stale"] += 1
            elif local.apply_change(change, event.ts):
                out.changed.add(change.asset_id)
                last[change.asset_id] = change
            else:
                self.counts["void"] += 1
        for token_id, change in last.items():
            local = self.books[token_id]
            if not local.top_agrees(change.best_bid, change.best_ask):
                self.counts["desync"] += 1
                local.invalidate()

    def _first_time(self, event: NewMarket | MarketResolved) -> bool:
        key = (type(event).__name__, event.market)
        if key in self._seen:
            self.counts["duplicate"] += 1
            return False
        self._seen[key] = None
        if len(self._seen) > self._seen_cap:
            del self._seen[next(iter(self._seen))]
        return True
