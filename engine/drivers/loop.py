"""The engine loop: one for every mode, between a ``Feed`` and a ``Venue`` (``engine.ports``).

Per tick of the feed, in this order:

1. apply a pending settings version (between two ticks, whole or not at all);
2. apply the tick to the MarketState;
3. decide: every enabled strategy's candidates, gated and sized (none while the kill
   switch is on or the breaker is tripped);
4. submit each accepted candidate to the venue as an order (ACCEPTED or REJECTED at once);
5. poll the venue for what happened since: fills of orders that reached the book,
   partial fills, expiries, reverts; apply them to the portfolio;
6. record everything the tick produced in ONE transaction (markets, signals, orders,
   reports, fills, positions, resolutions, the run's progress);
7. feed the closed loop (flip marks, regime, breaker, calibrations) in that transaction.

Which feed and which venue it has is the configuration's business (``conf/feed``,
``conf/venue``): the loop never asks. A resumed run replays the feed's ticks up to the
run's last stored tick into the market state only (warm-up), reads its portfolio,
working orders and recent fills back from the ledger, and carries on: idempotency keys
make sure no signal or order is written twice.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from engine.core.frame import SignalFrame
from engine.core.pipeline import decide
from engine.core.sizers import SizingContext
from engine.core.state import MarketState
from engine.core.strategies.base import Strategy
from engine.core.types import REJECTED, REVERTED, UNFILLED, ExecutionReport, Order, Tick
from engine.core.validation import (
    ConfigError,
    check_declared,
    check_range,
    describe_error,
    tunable,
)
from engine.drivers.closed_loop import ClosedLoop
from engine.ledger import runs, writes
from engine.ports import Feed, Venue
from engine.timeutil import iso, parse_duration

log = logging.getLogger("edgeloop")
Held = tuple[str, str, str]  # strategy, market, side
PROGRESS_EVERY_S = 60.0  # feed time between updates of the run's last_ts


def _speed(value: object) -> float | None:
    """Feed seconds per wall second; None means as fast as possible."""
    if value in (None, "max"):
        return None
    if isinstance(value, bool):
        raise ConfigError("speed", value, "must be a positive number or 'max'")
    try:
        speed = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError("speed", value, "must be a positive number or 'max'") from None
    check_range("speed", speed, 0.0, 1e6, lo_open=True)
    return speed


@dataclass(frozen=True)
class RunConfig:
    """How a run is paced and bounded (``run.*``).

    ``duration``: feed time from the feed's start (``2h``, ``30m``, ``1d``), or None to
    run until Ctrl-C. ``speed``: feed seconds per wall second, or ``max`` (as fast as it
    goes). ``status_every``: feed time between status lines. ``bankroll``: USD the sizers
    size against. ``resume``: ``last``, a run id or a run name to continue that run
    (None: a new run). ``name``: a name for a new run (unique in its database).
    """

    duration: str | float | None = None
    status_every: str | float = "60s"
    bankroll: float = tunable(
        1000.0,
        lo=0.0,
        hi=1e9,
        lo_open=True,
        unit="USD",
        writers="human",
        description="paper bankroll the sizers size against",
    )
    progress: bool = False
    speed: float | str = 60.0
    resume: str | int | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        check_declared(self)
        if self.duration is not None:
            parse_duration("duration", self.duration)
        parse_duration("status_every", self.status_every)
        _speed(self.speed)
        if self.name is not None and not str(self.name).strip():
            raise ConfigError("name", self.name, "must be a non-empty string or null")

    @property
    def duration_s(self) -> float | None:
        return None if self.duration is None else parse_duration("duration", self.duration)

    @property
    def status_every_s(self) -> float:
        return parse_duration("status_every", self.status_every)

    @property
    def speed_x(self) -> float | None:
        return _speed(self.speed)


@dataclass(frozen=True)
class Components:
    """Everything a settings version can change, built together and swapped together."""

    strategies: list[Strategy]
    venue: Venue
    run: RunConfig
    kill_switch: bool = False
    entries_paused: bool = False

    @property
    def entries_allowed(self) -> bool:
        return not (self.kill_switch or self.entries_paused)


@dataclass
class Counters:
    signals: int = 0
    accepted: int = 0
    orders: int = 0
    fills: int = 0
    unfilled: int = 0
    reverted: int = 0
    resolved: int = 0
    ticks: int = 0
    skipped_known: int = 0
    partial_groups: int = 0


@dataclass
class Portfolio:
    """What the ledger says we hold, plus what working orders have reserved.

    ``open_cost``: cost + fees of filled shares per (strategy, market, side);
    ``reserved``: the unfilled stake of each working order (order key -> (held, USD)).
    The core reads ``bankroll`` and ``held``: a token with a working order is held.
    """

    initial: float
    realized: float = 0.0
    open_cost: dict[Held, float] = field(default_factory=dict)
    reserved: dict[str, tuple[Held, float]] = field(default_factory=dict)

    @property
    def bankroll(self) -> float:
        reserved = sum(usd for _, usd in self.reserved.values())
        return self.initial + self.realized - sum(self.open_cost.values()) - reserved

    @property
    def held(self):  # noqa: ANN201 - a set-like view
        if not self.reserved:
            return self.open_cost.keys()  # a live view: no copy per tick
        return self.open_cost.keys() | {h for h, _ in self.reserved.values()}

    @property
    def equity(self) -> float:
        """The initial bankroll plus realized P&L (open stakes not marked): what the
        breaker's drawdown is measured on."""
        return self.initial + self.realized

    def context(self, regime_factor: float = 1.0, delta_prior=None) -> SizingContext:  # noqa: ANN001
        by_market: dict[str, float] = defaultdict(float)
        by_strategy: dict[str, float] = defaultdict(float)
        exposures = [*self.open_cost.items(), *self.reserved.values()]
        for (strategy, market, _side), usd in exposures:
            by_market[market] += usd
            by_strategy[strategy] += usd
        return SizingContext(
            bankroll=self.bankroll,
            exposure_by_market=by_market,
            exposure_by_strategy=by_strategy,
            regime_factor=regime_factor,
            delta_prior=delta_prior,
        )

    def add(self, held: Held, usd: float) -> None:
        total = self.open_cost.get(held, 0.0) + usd
        if total > 1e-9:
            self.open_cost[held] = total
        else:
            self.open_cost.pop(held, None)


class EngineLoop:
    """Runs ``feed`` through the core into ``components.venue`` and the ledger (see the module)."""

    def __init__(
        self,
        *,
        feed: Feed,
        state: MarketState,
        components: Components,
        sessions: sessionmaker[Session] | None,
        rebuild: Callable[[Any], Components] | None = None,
        loop: ClosedLoop | None = None,
    ) -> None:
        self.feed = feed
        # Where the markets it lists come from, as stored on their rows (sim, replay, ...).
        self.market_source = str(feed.identity().get("kind", "?"))
        self.state = state
        self.components = components
        self.sessions = sessions
        self.rebuild = rebuild
        self.loop = loop
        self.strategies = loop.effective(components.strategies) if loop else components.strategies
        self.settings = None  # engine.settings_link.LiveSettings when the database layer is on
        self.settings_version = 0
        self.run_id = 0
        self.portfolio = Portfolio(initial=components.run.bankroll)
        self.counters = Counters()
        self.known_keys: set[str] = set()
        self.orders: dict[str, Order] = {}  # working orders by key
        # arb group -> order key -> (shares filled, done)
        self.groups: dict[str, dict[str, tuple[float, bool]]] = {}
        self.finished = False
        self._stop = False
        self._ticks: Iterator[Tick] | None = None
        self._last_ts = float("nan")
        self._written_ts = float("nan")
        self._progress_due = float("-inf")

    @property
    def venue(self) -> Venue:
        return self.components.venue

    @property
    def run_config(self) -> RunConfig:
        return self.components.run

    # -- settings ---------------------------------------------------------------------
    def reconfigure(self, version: int, components: Components) -> None:
        """Swap in the components of settings ``version`` (between two ticks, all at once).

        Market state, positions and the venue's working orders are the loop's and survive.
        """
        if components.venue is not self.components.venue:
            components.venue.adopt(self.components.venue)
        self.components = components
        self.strategies = (
            self.loop.effective(components.strategies) if self.loop else components.strategies
        )
        self.portfolio.initial = components.run.bankroll
        self.settings_version = version
        log.info(
            "settings v%d in force: %d strategies enabled, kill_switch=%s entries_paused=%s",
            version,
            sum(s.enabled for s in components.strategies),
            components.kill_switch,
            components.entries_paused,
        )

    def _apply_pending_settings(self) -> None:
        """The newest settings version, if one arrived: applied whole, or refused with only
        its protected switches applied (an emergency switch never waits on the rest)."""
        update = self.settings.pending() if self.settings is not None else None
        if update is None or self.rebuild is None:
            return
        version, document = update
        try:
            components = self.rebuild(self.settings.config_for(document))
        except Exception as exc:  # noqa: BLE001 - whatever fails to build refuses the version
            switches = self.settings.switches(document)
            self.components = replace(self.components, **switches)
            reason = describe_error(exc)
            log.error(
                "settings v%d refused: %s; v%d stays in force with v%d's protected switches "
                "kill_switch=%s entries_paused=%s",
                version,
                reason,
                self.settings_version,
                version,
                switches["kill_switch"],
                switches["entries_paused"],
            )
            self.settings.report(version, "refused", reason, switches)
            return
        self.reconfigure(version, components)
        self.settings.report(version, "applied")

    def _cancel_working(self, ts: float) -> list[ExecutionReport]:
        """Cancel every working order (the kill switch): their reports, for this tick."""
        reports = [self.venue.cancel(key, ts, "exec.kill_switch") for key in list(self.orders)]
        done = [r for r in reports if r is not None]
        if done:
            log.warning("kill switch: %d working orders cancelled", len(done))
        return done

    # -- lifecycle ----------------------------------------------------------------------
    def request_stop(self, *_args: object) -> None:
        if self._stop:  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        log.info("stop requested: finishing the current tick")
        self._stop = True

    @property
    def last_ts(self) -> float:
        """The feed instant of the last tick processed (NaN before the first)."""
        return self._last_ts

    def resume(self, run_id: int, after: float | None) -> None:
        """Continue run ``run_id`` from its last stored tick ``after`` (None: a new run)."""
        self.run_id = run_id
        if self.loop is not None:
            self.loop.run_id = run_id
        self._ticks = iter(self.feed.ticks(after))
        if after is None:
            return
        for tick in self._ticks:  # warm-up: the market state only
            self.state.apply(tick)
            if tick.ts >= after:
                break
        self._last_ts = self._written_ts = after
        with self.sessions() as session:
            self._restore(session, after)
        log.info(
            "resumed run %d at %s: the ledger already holds everything up to it", run_id, iso(after)
        )

    def _restore(self, session: Session, after: float) -> None:
        run_id = self.run_id
        self.portfolio.realized = writes.realized_pnl(session=session, run_id=run_id)
        for p in writes.open_positions(session=session, run_id=run_id):
            self.portfolio.open_cost[(p.strategy, p.market_id, p.side)] = p.cost + p.fees
        working = writes.working_orders(session=session, run_id=run_id)
        for w in working:
            self.orders[w.order.key] = w.order
            self.portfolio.reserved[w.order.key] = (w.order.held, max(w.order.stake - w.spent, 0.0))
        horizon = after - 3600.0  # reverts come within a minute; depletion within refill_s
        self.venue.restore(
            after, working, writes.recent_fills(session=session, run_id=run_id, since=horizon)
        )
        self.known_keys = writes.signal_keys_for(
            session=session, run_id=run_id, market_ids=self.state.live.market_id.tolist()
        )
        if self.loop is not None:
            self.loop.restore(session, after, self.portfolio.equity)
            self.strategies = self.loop.effective(self.components.strategies)

    def run(self) -> Counters:
        """Run until ``run.duration`` of feed time has passed, the feed ends, or a stop."""
        # Ctrl-C and SIGTERM (docker stop, Kubernetes) both end the run between two ticks.
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        failure: BaseException | None = None
        try:
            self._run()
        except BaseException as exc:
            failure = exc
            raise
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self._store_last_tick(failure)
        return self.counters

    def _store_last_tick(self, failure: BaseException | None) -> None:
        """The run's clock for readers, on the way out. Not after the database itself failed:
        a resume finds its point from the rows, and waiting here on a dead database would only
        delay the recovery (``engine.app``); a failure here never hides ``failure``."""
        if self._last_ts != self._last_ts or self.sessions is None:  # no tick ran
            return
        if isinstance(failure, SQLAlchemyError):
            return
        try:
            with self.sessions.begin() as session:
                runs.mark_progress(session=session, run_id=self.run_id, ts=self._last_ts)
        except SQLAlchemyError as exc:
            if failure is None:
                raise
            log.warning("could not store the run's last tick: %s", " ".join(str(exc).split()))

    def _run(self) -> None:
        if self._ticks is None:
            self._ticks = iter(self.feed.ticks(None))
        duration = self.run_config.duration_s
        end = None if duration is None else self.feed.start_ts + duration
        if end is not None and self._last_ts >= end:
            self.finished = True
            return
        status_every = self.run_config.status_every_s
        bar = None
        # The bar's length: run.duration, or a bounded feed's own end (a replay's last tick).
        bounds = [x for x in (end, getattr(self.feed, "end_ts", None)) if x is not None]
        bound = min(bounds) if bounds else None
        if self.run_config.progress and bound is not None:
            done = 0 if self._last_ts != self._last_ts else self._last_ts - self.feed.start_ts
            bar = tqdm(
                total=int(bound - self.feed.start_ts),
                initial=int(done),
                unit="s",
                desc="feed time",
                mininterval=1.0,
            )
        wall0 = time.perf_counter()
        feed0 = next_status = None
        try:
            for tick in self._ticks:
                if end is not None and tick.ts > end:
                    self.finished = True
                    break
                if feed0 is None:
                    feed0 = tick.ts
                    next_status = (tick.ts // status_every + 1) * status_every
                self.step(tick)
                if bar is not None:
                    bar.update(1)
                if tick.ts >= next_status:
                    self._status(wall0, feed0)
                    next_status += status_every
                if self._stop:
                    break
                if end is not None and tick.ts >= end:
                    self.finished = True
                    break
                speed = self.run_config.speed_x
                if speed is not None:
                    lag = (tick.ts - feed0) / speed - (time.perf_counter() - wall0)
                    if lag > 0:
                        time.sleep(lag)
            else:
                self.finished = True  # the feed ended
        finally:
            if bar is not None:
                bar.close()

    # -- one tick -------------------------------------------------------------------------
    def step(self, tick: Tick) -> None:
        killed = self.components.kill_switch
        self._apply_pending_settings()
        self.state.apply(tick)
        self.counters.ticks += 1
        loop = self.loop
        frames: list[SignalFrame] = []
        cancelled = self._cancel_working(tick.ts) if self.components.kill_switch > killed else []
        # Kill switch, paused entries or a tripped breaker: no new entries; open positions
        # still settle below.
        if self.components.entries_allowed and not (loop is not None and loop.blocked):
            ctx = self.portfolio.context(
                regime_factor=loop.stake_factor if loop else 1.0,
                delta_prior=loop.delta_prior if loop else None,
            )
            frames = decide(self.state, self.strategies, ctx=ctx, held=self.portfolio.held)
        decided = [self._submit(frame) for frame in frames]
        reports = cancelled + self.venue.poll(tick)
        if reports:
            self._apply(reports)
        first = self._written_ts != self._written_ts
        loop_due = loop is not None and loop.due(tick.ts)
        if not (tick.listed or tick.resolved or frames or reports or loop_due or first):
            self._last_ts = tick.ts
            return
        with self.sessions.begin() as session:
            writes.record_markets(session=session, markets=tick.listed, source=self.market_source)
            for frame, keys, submitted in decided:
                writes.record_decisions(
                    session=session,
                    run_id=self.run_id,
                    frame=frame,
                    keys=keys,
                    submitted=submitted,
                    settings_version=self.settings_version,
                )
            if reports:
                arrivals = {r.key: r.ts for r in reports if r.latency_s is not None}
                writes.apply_reports(
                    session=session, run_id=self.run_id, reports=reports, arrivals=arrivals
                )
            settled = self._settle(session, tick)
            if loop is not None and loop.on_tick(
                session,
                self.state,
                settled=settled,
                equity=self.portfolio.equity,
                strategies=self.components.strategies,
            ):
                self.strategies = loop.effective(self.components.strategies)
            if first or tick.ts >= self._progress_due:
                # The run's clock for readers (status, dashboard): once a minute of feed
                # time is enough; a resume finds its exact point from the rows themselves.
                runs.mark_progress(session=session, run_id=self.run_id, ts=tick.ts, first=first)
                self._progress_due = tick.ts + PROGRESS_EVERY_S
        self._last_ts = self._written_ts = tick.ts

    def _submit(self, frame: SignalFrame) -> tuple[SignalFrame, list[str], dict]:
        """Orders for the frame's accepted rows not seen before; the venue's first answers."""
        keys = frame.keys()
        new = [k not in self.known_keys for k in keys]
        self.counters.skipped_known += len(keys) - sum(new)
        if not all(new):
            frame = frame.take(new)
            keys = [k for k, n in zip(keys, new, strict=True) if n]
        submitted: dict[str, tuple[Order, ExecutionReport]] = {}
        rows = frame.accepted.nonzero()[0]
        ends = (
            dict(zip(self.state.live.market_id, self.state.live.end_ts, strict=True))
            if len(rows)
            else {}
        )
        for i in rows:
            order = Order(
                key=keys[i],
                ts=frame.ts,
                strategy=frame.strategy,
                market_id=frame.market_id[i],
                token_id=frame.token_id[i],
                side=frame.side[i],
                price=float(frame.price[i]),
                stake=float(frame.stake[i]),
                fee_rate=float(frame.fee_rate[i]),
                expire_ts=float(ends.get(frame.market_id[i], frame.ts + frame.t_remaining_s[i])),
            )
            report = self.venue.submit(order)
            submitted[order.key] = (order, report)
            self._log_signal(frame, i, report)
            self.counters.orders += 1
            if report.state == REJECTED:
                continue
            self.counters.accepted += 1
            self.orders[order.key] = order
            self.portfolio.reserved[order.key] = (order.held, order.stake)
            group = frame.group_key[i]
            if group is not None:
                self.groups.setdefault(group, {})[order.key] = (0.0, False)
        self.known_keys.update(keys)
        self.counters.signals += len(keys)
        return frame, keys, submitted

    def _apply(self, reports: list[ExecutionReport]) -> None:
        """The venue's reports into the portfolio, the flip marks and the arb groups."""
        for r in reports:
            order = self.orders.get(r.key)
            if order is None:
                continue
            if r.state == REVERTED:
                self.portfolio.add(order.held, -(r.cost + r.fees))
                self.counters.reverted += 1
                self._track_group(r, -r.shares)
                continue
            if r.fills:
                self.portfolio.add(order.held, r.cost + r.fees)
                self.counters.fills += len(r.fills)
                left = self.portfolio.reserved.get(r.key)
                if left is not None:
                    self.portfolio.reserved[r.key] = (left[0], max(left[1] - r.cost, 0.0))
                if self.loop is not None:
                    self.loop.on_fill(r.ts, order.held, order.token_id, r.cost / r.shares)
            self._track_group(r, r.shares)
            if r.done:
                self.portfolio.reserved.pop(r.key, None)
                if r.state == UNFILLED:
                    self.counters.unfilled += 1
                    del self.orders[r.key]  # nothing filled: no revert can follow
                # an order with fills stays known until its market ends: a revert may come

    def _track_group(self, r: ExecutionReport, shares: float) -> None:
        """Log an arb group whose legs, all done, filled unequal shares (an unhedged remainder)."""
        group = next((g for g, legs in self.groups.items() if r.key in legs), None)
        if group is None:
            return
        legs = self.groups[group]
        filled, done = legs[r.key]
        legs[r.key] = (filled + shares, done or r.done)
        if not all(d for _, d in legs.values()):
            return
        del self.groups[group]
        shares_by_leg = [f for f, _ in legs.values()]
        if max(shares_by_leg) - min(shares_by_leg) > 1e-9:
            self.counters.partial_groups += 1
            log.warning(
                "arb-partial group=%s legs=%d filled min=%.2f max=%.2f shares",
                group,
                len(shares_by_leg),
                min(shares_by_leg),
                max(shares_by_leg),
            )

    def _settle(self, session: Session, tick: Tick) -> list:
        settled = []
        for resolution in tick.resolved:
            for p in writes.record_resolution(
                session=session, run_id=self.run_id, resolution=resolution
            ):
                self.portfolio.open_cost.pop((p.strategy, p.market_id, p.side), None)
                self.portfolio.realized += p.pnl or 0.0
                settled.append(p)
            self.counters.resolved += 1
        if tick.resolved:
            gone = {r.market_id for r in tick.resolved}
            for key in [k for k, o in self.orders.items() if o.market_id in gone]:
                self.orders.pop(key, None)
            # Keys of ended markets can never come again: keep only the live markets' keys.
            self.known_keys = {k for k in self.known_keys if k.split("|", 2)[1] not in gone}
        return settled

    # -- logs -------------------------------------------------------------------------------
    def _log_signal(self, frame: SignalFrame, i: int, report: ExecutionReport) -> None:
        outcome = report.state if report.reason is None else f"{report.state}:{report.reason}"
        log.info(
            "signal sym=%s strat=%s side=%s P=%.3f fair=%.3f E=%+.3f z=%.1f stake=%.2f %s",
            frame.symbol[i],
            frame.strategy,
            frame.side[i],
            frame.price[i],
            frame.fair[i],
            frame.edge[i],
            frame.z[i],
            frame.stake[i],
            outcome,
        )
        log.info(
            "greeks-live sym=%s Δ=%+.4f Γ=%+.4f IV/RV=%.2f E=%+.3f",
            frame.symbol[i],
            frame.delta_1pct[i],
            frame.gamma_1pct[i],
            frame.iv_rv[i],
            frame.edge[i],
        )

    def _status(self, wall0: float, feed0: float) -> None:
        wall = time.perf_counter() - wall0
        rate = (self._last_ts - feed0) / wall if wall > 0 else float("inf")
        c = self.counters
        log.info(
            "status run=%d t=%s %s signals=%d accepted=%d fills=%d unfilled=%d open=%d "
            "working=%d bankroll=%.2f realized=%+.2f speed=%.0fx rss=%.0fMB",
            self.run_id,
            iso(self._last_ts),
            self.loop.status(len(self.state.live))
            if self.loop
            else f"regime=off markets={len(self.state.live)} breaker=off",
            c.signals,
            c.accepted,
            c.fills,
            c.unfilled,
            len(self.portfolio.open_cost),
            len(self.portfolio.reserved),
            self.portfolio.bankroll,
            self.portfolio.realized,
            rate,
            rss_mb(),
        )


def rss_mb() -> float:
    """The process's resident memory now (Linux ``/proc``; elsewhere its peak), in MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
