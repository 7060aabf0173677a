"""A run's decisions read back from its ledger, and compared as of a cut time.

What the engine decided at a second depends only on what it knew then; what happened to an
order later (a fill, a kill, an expiry, a revert) depends on later data too, and the ledger
keeps only an order's latest state (``updated_at``: the feed time of its last report). So each
decision is compared *as it stood at the cut*:

- **signals** strictly before the cut: key, decision time, status, reason, stake. The status is
  the one decided, except that a signal whose order ended unfilled before the cut keeps the
  venue's ``rejected`` and reason (:func:`engine.ledger.writes.apply_reports` writes them when
  the order ends, and an order that ended unfilled never changes again). One whose order was
  still working at the cut, or filled, is ``accepted``: its later end is not a decision made
  before the cut.
- **orders** of those signals: key and what was known of it at the cut: ``rejected`` at
  submission (with the venue's reason), ``unfilled`` (and why) if it ended so before the cut,
  else ``accepted`` (working at the cut, or filled: what it filled before the cut is in the
  fills, and a filled order may still be reverted at settlement, after the cut).
- **fills** strictly before the cut: order key, time, price, shares, fee (whether a fill was
  reverted at settlement later is not compared).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.types import ACCEPTED, REJECTED, UNFILLED
from engine.ledger.models import FillRow, OrderRow, SignalRow
from engine.timeutil import from_dt


@dataclass(frozen=True)
class LedgerDecisions:
    """Every decision row of one run, with the times the comparison needs (epoch seconds).

    ``signals``: ``(key, ts, status, reason, stake)``;
    ``orders``: ``(key, ts, status, reason, updated_ts)``; ``fills``: ``(key, ts, price,
    shares, fee)``.
    """

    signals: list[tuple]
    orders: list[tuple]
    fills: list[tuple]


def read_decisions(*, session: Session, run_id: int) -> LedgerDecisions:
    """Run ``run_id``'s signals, orders and fills (one query each)."""
    orders = [
        (o.signal_key, from_dt(o.ts), o.status, o.reason, _ts(o.updated_at))
        for o in session.scalars(select(OrderRow).where(OrderRow.run_id == run_id))
    ]
    signals = [
        (s.key, from_dt(s.ts), s.status, s.reason, s.stake)
        for s in session.scalars(select(SignalRow).where(SignalRow.run_id == run_id))
    ]
    fills = [
        (key, from_dt(ts), price, shares, fee)
        for key, ts, price, shares, fee in session.execute(
            select(OrderRow.signal_key, FillRow.ts, FillRow.price, FillRow.shares, FillRow.fee)
            .join(OrderRow, OrderRow.id == FillRow.order_id)
            .where(FillRow.run_id == run_id)
            .order_by(FillRow.id)
        )
    ]
    return LedgerDecisions(signals, orders, fills)


def _ts(dt) -> float | None:  # noqa: ANN001 - a datetime or None
    return None if dt is None else from_dt(dt)


@dataclass(frozen=True)
class AsOfCut:
    """The decisions of one run before ``cut``, keyed by signal key (see the module)."""

    cut: float
    signals: dict[str, tuple]  # key -> (ts, status, reason, stake)
    orders: dict[str, tuple]  # key -> (status, reason)
    fills: dict[str, tuple]  # key -> ((ts, price, shares, fee), ...)


def as_of(decisions: LedgerDecisions, cut: float) -> AsOfCut:
    """``decisions`` strictly before ``cut``, each as it stood at the cut."""
    orders = {}
    for key, ts, status, reason, updated in decisions.orders:
        if ts >= cut:
            continue
        ended_unfilled = status == UNFILLED and updated is not None and updated < cut
        orders[key] = (status, reason) if status == REJECTED or ended_unfilled else (ACCEPTED, None)
    signals = {}
    for key, ts, status, reason, stake in decisions.signals:
        if ts >= cut:
            continue
        order = orders.get(key)
        if order is not None and order[0] != UNFILLED:
            status, reason = order  # as submitted (see the module)
        signals[key] = (ts, status, reason, stake)
    fills: dict[str, list[tuple]] = defaultdict(list)
    for key, ts, price, shares, fee in decisions.fills:
        if ts < cut:
            fills[key].append((ts, price, shares, fee))
    return AsOfCut(cut, signals, orders, {k: tuple(v) for k, v in fills.items()})


@dataclass(frozen=True)
class Change:
    """One decision before the cut that differs: ``what`` is ``signal``, ``order`` or
    ``fills``; ``ts`` the signal's decision time; ``full``/``truncated`` the values in each run
    (None: no such row)."""

    what: str
    key: str
    ts: float
    full: tuple | None
    truncated: tuple | None

    @property
    def strategy(self) -> str:
        return self.key.split("|", 1)[0]


_COUNTED = {"signal": "signals", "order": "orders", "fills": "fills"}


@dataclass
class Comparison:
    """The decisions of a full and a truncated run before one cut: per strategy, how many
    signals, orders and fills either run holds and how many differ; the changes in time order."""

    cut: float
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)

    @property
    def compared(self) -> int:
        """Signals compared (every strategy)."""
        return sum(c["signals"] for c in self.counts.values())


def compare(full: AsOfCut, truncated: AsOfCut) -> Comparison:
    """Every signal, order and fill list before the cut that is not the same in both runs."""
    out = Comparison(full.cut)
    decided = {k: v[0] for k, v in (*truncated.signals.items(), *full.signals.items())}
    for what, a, b in (
        ("signal", full.signals, truncated.signals),
        ("order", full.orders, truncated.orders),
        ("fills", full.fills, truncated.fills),
    ):
        for key in sorted(a.keys() | b.keys()):
            row_a, row_b = a.get(key), b.get(key)
            counts = out.counts.setdefault(
                key.split("|", 1)[0], {"signals": 0, "orders": 0, "fills": 0, "changed": 0}
            )
            counts[_COUNTED[what]] += len(row_a or row_b or ()) if what == "fills" else 1
            if row_a != row_b:
                counts["changed"] += 1
                out.changes.append(Change(what, key, decided.get(key, math.nan), row_a, row_b))
    out.changes.sort(key=lambda c: (c.ts, c.key, list(_COUNTED).index(c.what)))
    return out
