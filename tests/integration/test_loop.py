"""The engine loop on a scripted Feed and a scripted Venue (no simulator), into a real ledger.

The loop only knows the two ports: these tests hand it hand-made ticks and a venue whose
reports are written out below, and check what it decided, what it sent, what came back
and what the ledger holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import select

from engine.core.sizers import FixedStake
from engine.core.state import MarketState, VolConfig
from engine.core.strategies.sample import SampleCheaperSide
from engine.core.types import (
    ACCEPTED,
    FILLED,
    REJECTED,
    UNFILLED,
    Book,
    ExecutionReport,
    Fill,
    Market,
    Order,
    Resolution,
    Tick,
)
from engine.drivers.loop import Components, EngineLoop, RunConfig
from engine.ledger import runs
from engine.ledger.db import make_engine, make_sessionmaker
from engine.ledger.models import FillRow, OrderRow, PositionRow, RunRow, SignalRow
from engine.ledger.queries import ledger
from engine.ports import Feed, Venue
from engine.timeutil import from_dt

T0 = 1_767_571_200.0  # 2026-01-05T00:00:00Z
MARKETS = [
    Market(f"m{i}", "BTCUSDT", 300, T0, T0 + 30, 100.0, f"m{i}-up", f"m{i}-down", 0.07)
    for i in range(3)
]


def _book(token: str, ask: float, ts: float) -> Book:
    return Book(token, np.array([[ask - 0.02, 50.0]]), np.array([[ask, 500.0]]), ts=ts)


class ScriptedFeed:
    """Three markets listed at T0 (UP is the cheaper side), resolved UP at T0 + 30."""

    start_ts = T0

    def identity(self) -> dict:
        return {"kind": "scripted", "seed": None}

    def ticks(self, after: float | None = None) -> Iterator[Tick]:
        for s in range(31):
            ts = T0 + s
            books = {}
            for m in MARKETS:
                books[m.up_token] = _book(m.up_token, 0.40, ts)
                books[m.down_token] = _book(m.down_token, 0.62, ts)
            yield Tick(
                ts,
                {"BTCUSDT": 100.0 + 0.01 * s},
                listed=MARKETS if s == 0 else [],
                books=books,
                resolved=[Resolution(m.market_id, "UP", 100.0, 100.3, ts) for m in MARKETS]
                if s == 30
                else [],
            )


class ScriptedVenue:
    """m0: accepted, filled 25 shares at 0.40 two seconds later. m1: accepted, then unfilled
    (``exec.moved``) a second later. m2: refused at submission (``exec.min_notional``)."""

    def __init__(self) -> None:
        self.submitted: list[Order] = []
        self.due: list[tuple[float, ExecutionReport]] = []
        self.polls: list[float] = []

    def submit(self, order: Order) -> ExecutionReport:
        self.submitted.append(order)
        if order.market_id == "m2":
            return ExecutionReport(
                order.key, order.ts, REJECTED, 0.41, "FAK", reason="exec.min_notional", done=True
            )
        if order.market_id == "m0":
            fill = Fill(0.40, 25.0, 0.42, order.ts + 2, 500.0)
            report = ExecutionReport(
                order.key, order.ts + 2, FILLED, 0.41, "FAK", (fill,), latency_s=2.0, done=True
            )
        else:
            report = ExecutionReport(
                order.key, order.ts + 1, UNFILLED, 0.41, "FAK", reason="exec.moved",
                latency_s=1.0, done=True,
            )  # fmt: skip
        self.due.append((report.ts, report))
        return ExecutionReport(order.key, order.ts, ACCEPTED, 0.41, "FAK")

    def cancel(self, key, ts, reason="exec.cancelled"):  # noqa: ANN001, ANN201
        return None

    def poll(self, tick: Tick) -> list[ExecutionReport]:
        self.polls.append(tick.ts)
        out = [r for ts, r in self.due if ts <= tick.ts]
        self.due = [(ts, r) for ts, r in self.due if ts > tick.ts]
        return out

    def working(self):  # noqa: ANN201
        return []

    def restore(self, ts, working, recent):  # noqa: ANN001, ANN201
        pass

    def adopt(self, previous):  # noqa: ANN001, ANN201
        pass


def _loop(sqlite_url: str, venue: ScriptedVenue) -> tuple[EngineLoop, int]:
    strategy = SampleCheaperSide(
        symbols=["BTCUSDT"], windows=[300], eval_every_s=100, max_elapsed_s=10,
        sizers={"stake": FixedStake(10.0)},
    )  # fmt: skip
    sessions = make_sessionmaker(make_engine(sqlite_url))
    loop = EngineLoop(
        feed=ScriptedFeed(),
        state=MarketState(VolConfig(half_life_s=60, warmup_s=10)),
        components=Components([strategy], venue, RunConfig(speed="max")),
        sessions=sessions,
    )
    with sessions.begin() as session:
        run = runs.start_run(
            session=session,
            name=None,
            mode="paper",
            feed_identity=loop.feed.identity(),
            fingerprint="test",
            config={},
            settings_version=0,
        )
        run_id = run.id
    loop.resume(run_id, None)
    return loop, run_id


def test_the_ports_are_what_the_scripts_implement():
    assert isinstance(ScriptedFeed(), Feed) and isinstance(ScriptedVenue(), Venue)


def test_decisions_orders_reports_and_ledger_rows(sqlite_url):
    venue = ScriptedVenue()
    loop, run_id = _loop(sqlite_url, venue)
    counters = loop.run()
    assert loop.finished

    # Decisions: one candidate per market (the cheaper side, UP), each sent once; markets
    # are evaluated at their own phase, so m0 at T0, m1 at T0 + 1, m2 at T0 + 2.
    assert [(o.market_id, o.side, o.stake, o.ts) for o in venue.submitted] == [
        (f"m{i}", "UP", 10.0, T0 + i) for i in range(3)
    ]
    assert all(o.expire_ts == T0 + 30 for o in venue.submitted)
    # The venue is polled once per tick, after the decisions of that tick.
    assert venue.polls == [T0 + s for s in range(31)]
    assert (counters.signals, counters.orders, counters.accepted) == (3, 3, 2)
    assert (counters.fills, counters.unfilled) == (1, 1)

    with loop.sessions() as s:
        signals = {r.market_id: (r.status, r.reason) for r in s.scalars(select(SignalRow))}
        assert signals == {
            "m0": ("accepted", None),
            "m1": ("rejected", "exec.moved"),  # nothing filled: a skip with the venue's reason
            "m2": ("rejected", "exec.min_notional"),
        }
        orders = {
            r.market_id: (r.status, r.reason, r.done, r.latency_ms, r.filled_shares)
            for r in s.scalars(select(OrderRow))
        }
        assert orders == {
            "m0": ("filled", None, True, 2000.0, 25.0),
            "m1": ("unfilled", "exec.moved", True, 1000.0, 0.0),
            "m2": ("rejected", "exec.min_notional", True, None, 0.0),
        }
        (fill,) = s.scalars(select(FillRow)).all()
        assert (fill.price, fill.shares, fill.fee, from_dt(fill.ts)) == (0.40, 25.0, 0.42, T0 + 2)
        (position,) = s.scalars(select(PositionRow)).all()
        assert (position.market_id, position.status, position.shares) == ("m0", "settled", 25.0)
        assert position.pnl == pytest.approx(25.0 - 10.0 - 0.42)
        assert {r.run_id for r in s.scalars(select(SignalRow))} == {run_id}
        run = s.get(RunRow, run_id)
        assert from_dt(run.first_ts) == T0 and from_dt(run.last_ts) == T0 + 30
        (total,) = [r for r in ledger(session=s, runs=[run_id]) if r.strategy == "total"]
        assert (total.trades, total.wins) == (1, 1)
        assert total.pnl == pytest.approx(14.58)
    assert loop.portfolio.realized == pytest.approx(14.58)
    assert loop.portfolio.reserved == {} and loop.portfolio.open_cost == {}


def test_a_working_order_holds_its_market_and_reserves_its_stake(sqlite_url):
    venue = ScriptedVenue()
    loop, _ = _loop(sqlite_url, venue)
    ticks = ScriptedFeed().ticks()
    loop.step(next(ticks))  # T0: m0 submitted, its fill due at T0 + 2
    loop.step(next(ticks))  # T0 + 1: m1 submitted, unfilled at T0 + 2
    assert set(loop.portfolio.held) == {("sample", "m0", "UP"), ("sample", "m1", "UP")}
    assert loop.portfolio.bankroll == pytest.approx(1000.0 - 20.0)
    assert loop.portfolio.context().exposure_by_market == {"m0": 10.0, "m1": 10.0}
    loop.step(next(ticks))  # T0 + 2: m0 filled, m1 unfilled and released, m2 refused
    assert set(loop.portfolio.held) == {("sample", "m0", "UP")}
    assert loop.portfolio.reserved == {}
    assert loop.portfolio.open_cost == {("sample", "m0", "UP"): pytest.approx(10.42)}
