"""The paper driver: feeds the pure core from the simulator on a simulated clock.

Per simulated second: step the simulator, apply the tick to the MarketState,
settle resolved markets, run the decision step, execute accepted candidates on
the paper venue, and write everything the tick produced in ONE transaction.
Restarting on the same database resumes: the deterministic simulator is
fast-forwarded through the last tick that was written (no decisions, no
writes), the portfolio is re-read from the ledger, and idempotency keys make
sure no signal or order is ever written twice.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import defaultdict
from collections.abc import Callable, KeysView
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from engine.core.frame import SignalFrame
from engine.core.pipeline import decide
from engine.core.sizers import SizingContext
from engine.core.state import MarketState
from engine.core.strategies.base import Strategy
from engine.core.validation import ConfigError, check_range
from engine.drivers.closed_loop import ClosedLoop
from engine.execution.paper import ExecutionReport, PaperVenue
from engine.ledger import writes
from engine.timeutil import iso, parse_duration

log = logging.getLogger("edgeloop")


@dataclass(frozen=True)
class RunConfig:
    """``duration``: simulated span from the simulator's start (``2h``, ``30m``, ``1d``), or
    None to run until Ctrl-C. ``status_every``: simulated time between status lines."""

    duration: str | float | None = None
    status_every: str | float = "60s"
    bankroll: float = 1000.0
    progress: bool = False

    def __post_init__(self) -> None:
        if self.duration is not None:
            parse_duration("duration", self.duration)
        parse_duration("status_every", self.status_every)
        check_range("bankroll", self.bankroll, 0.0, 1e9, lo_open=True)

    @property
    def duration_s(self) -> float | None:
        return None if self.duration is None else parse_duration("duration", self.duration)

    @property
    def status_every_s(self) -> float:
        return parse_duration("status_every", self.status_every)


@dataclass(frozen=True)
class Components:
    """Everything a settings version can change, built together and swapped together."""

    strategies: list[Strategy]
    venue: PaperVenue
    run: RunConfig
    kill_switch: bool = False


@dataclass
class Counters:
    signals: int = 0
    accepted: int = 0
    orders: int = 0
    fills: int = 0
    resolved: int = 0
    ticks: int = 0
    skipped_known: int = 0
    partial_groups: int = 0


@dataclass
class Portfolio:
    """What the ledger says we hold; the core reads ``bankroll`` and ``held``."""

    initial: float
    realized: float = 0.0
    open_cost: dict[tuple[str, str, str], float] = field(default_factory=dict)

    @property
    def bankroll(self) -> float:
        return self.initial + self.realized - sum(self.open_cost.values())

    @property
    def held(self) -> KeysView[tuple[str, str, str]]:
        return self.open_cost.keys()  # a live view: no copy per tick

    @property
    def equity(self) -> float:
        """The initial bankroll plus realized P&L (open stakes not marked): what the
        breaker's drawdown is measured on."""
        return self.initial + self.realized

    def context(self, regime_factor: float = 1.0, delta_prior=None) -> SizingContext:  # noqa: ANN001
        by_market: dict[str, float] = defaultdict(float)
        by_strategy: dict[str, float] = defaultdict(float)
        for (strategy, market, _side), usd in self.open_cost.items():
            by_market[market] += usd
            by_strategy[strategy] += usd
        return SizingContext(
            bankroll=self.bankroll,
            exposure_by_market=by_market,
            exposure_by_strategy=by_strategy,
            regime_factor=regime_factor,
            delta_prior=delta_prior,
        )


def _speed(value: object) -> float | None:
    """Simulated seconds per wall second; None means as fast as possible."""
    if value in (None, "max"):
        return None
    try:
        speed = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError("sim.speed", value, "must be a positive number or 'max'") from None
    check_range("sim.speed", speed, 0.0, 1e9, lo_open=True)
    return speed


class PaperDriver:
    def __init__(
        self,
        *,
        sim,  # noqa: ANN001 - engine.sim.MarketSimulator
        state: MarketState,
        components: Components,
        sessions: sessionmaker[Session] | None,
        rebuild: Callable[[Any], Components] | None = None,
        loop: ClosedLoop | None = None,
    ) -> None:
        self.sim = sim
        self.state = state
        self.components = components
        self.sessions = sessions
        self.rebuild = rebuild
        self.loop = loop
        # What the core runs: the configured strategies with the closed loop's gates.
        self.strategies = loop.effective(components.strategies) if loop else components.strategies
        self.settings = None  # engine.settings_link.LiveSettings when the database layer is on
        self.settings_version = 0
        self.speed = _speed(getattr(sim, "speed", "max"))
        self.portfolio = Portfolio(initial=components.run.bankroll)
        self.counters = Counters()
        self.known_keys: set[str] = set()
        self._stop = False

    @property
    def venue(self) -> PaperVenue:
        return self.components.venue

    @property
    def run_config(self) -> RunConfig:
        return self.components.run

    def reconfigure(self, version: int, components: Components) -> None:
        """Swap in the components of settings ``version`` (between two ticks, all at once).

        Market state, realized vol and positions are the driver's and survive.
        """
        self.components = components
        self.strategies = (
            self.loop.effective(components.strategies) if self.loop else components.strategies
        )
        self.portfolio.initial = components.run.bankroll
        self.settings_version = version
        log.info(
            "settings v%d in force: %d strategies enabled, kill_switch=%s",
            version,
            sum(s.enabled for s in components.strategies),
            components.kill_switch,
        )

    def _apply_pending_settings(self) -> None:
        update = self.settings.pending() if self.settings is not None else None
        if update is None or self.rebuild is None:
            return
        version, cfg = update
        try:
            components = self.rebuild(cfg)
        except ConfigError as exc:  # validated on write; a composition it no longer fits lands here
            log.error(
                "settings v%d not applied, v%d stays in force: %s",
                version,
                self.settings_version,
                exc,
            )
            return
        self.reconfigure(version, components)

    # -- lifecycle ------------------------------------------------------------------
    def request_stop(self, *_args: object) -> None:
        if self._stop:  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        log.info("stop requested: finishing the current tick")
        self._stop = True

    def resume(self) -> float | None:
        """Fast-forward past what the ledger already holds; returns the resume instant."""
        with self.sessions() as session:
            last = writes.last_written_ts(session=session, market_prefix=self.sim.market_prefix)
            if last is None:
                return None
            while self.sim.now < last:
                self.state.apply(self.sim.step())
            self.portfolio.realized = writes.realized_pnl(session=session)
            for p in writes.open_positions(session=session):
                self.portfolio.open_cost[(p.strategy, p.market_id, p.side)] = p.cost + p.fees
            self.known_keys = writes.signal_keys_for(
                session=session, market_ids=self.state.live.market_id.tolist()
            )
            if self.loop is not None:
                self.loop.restore(session, self.sim.now, self.portfolio.equity)
                self.strategies = self.loop.effective(self.components.strategies)
        log.info("resumed at %s: the ledger already holds everything up to it", iso(last))
        return last

    def run(self) -> Counters:
        """Run until ``run.duration`` of simulated time has passed or a stop is requested."""
        # Ctrl-C and SIGTERM (docker stop, Kubernetes) both end the run between two ticks.
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._loop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return self.counters

    def _loop(self) -> None:
        self.resume()
        duration = self.run_config.duration_s
        end = None if duration is None else self.sim.start_ts + duration
        status_every = self.run_config.status_every_s
        next_status = (self.sim.now // status_every + 1) * status_every
        wall0, sim0 = time.perf_counter(), self.sim.now
        bar = None
        if self.run_config.progress and end is not None:
            bar = tqdm(total=int(end - self.sim.now), unit="s", desc="simulated", mininterval=1.0)
        while not self._stop and (end is None or self.sim.now < end):
            self.step()
            if bar is not None:
                bar.update(1)
            if self.sim.now >= next_status:
                self._status(wall0, sim0)
                next_status += status_every
            if self.speed is not None:
                lag = (self.sim.now - sim0) / self.speed - (time.perf_counter() - wall0)
                if lag > 0:
                    time.sleep(lag)
        if bar is not None:
            bar.close()

    # -- one simulated second -------------------------------------------------------
    def step(self) -> None:
        self._apply_pending_settings()
        tick = self.sim.step()
        self.state.apply(tick)
        self.counters.ticks += 1
        loop = self.loop
        frames = []
        # Kill switch or tripped breaker: no new entries; open positions still settle below.
        if not (self.components.kill_switch or (loop is not None and loop.blocked)):
            ctx = self.portfolio.context(
                regime_factor=loop.stake_factor if loop else 1.0,
                delta_prior=loop.delta_prior if loop else None,
            )
            frames = decide(self.state, self.strategies, ctx=ctx, held=self.portfolio.held)
        loop_due = loop is not None and loop.due(self.state.ts)
        if not (tick.listed or tick.resolved or frames or loop_due):
            return
        with self.sessions.begin() as session:
            writes.record_markets(session=session, markets=tick.listed, source="sim")
            settled = []
            for resolution in tick.resolved:
                for p in writes.record_resolution(session=session, resolution=resolution):
                    self.portfolio.open_cost.pop((p.strategy, p.market_id, p.side), None)
                    self.portfolio.realized += p.pnl or 0.0
                    settled.append(p)
                self.counters.resolved += 1
            for frame in frames:
                self._execute_and_record(session, frame)
            if loop is not None and loop.on_tick(
                session,
                self.state,
                settled=settled,
                equity=self.portfolio.equity,
                strategies=self.components.strategies,
            ):
                self.strategies = loop.effective(self.components.strategies)

    def _execute_and_record(self, session: Session, frame: SignalFrame) -> None:
        keys = frame.keys()
        new = [k not in self.known_keys for k in keys]
        self.counters.skipped_known += len(keys) - sum(new)
        if not all(new):
            frame = frame.take(new)
            keys = [k for k, n in zip(keys, new, strict=True) if n]
        reports: dict[str, ExecutionReport] = {}
        for i in frame.accepted.nonzero()[0]:
            report = self.venue.execute(
                book=self.state.books[frame.token_id[i]],
                price=float(frame.price[i]),
                stake=float(frame.stake[i]),
                fee_rate=float(frame.fee_rate[i]),
            )
            reports[keys[i]] = report
            self._log_signal(frame, i, report)
            if report.fills:
                held = (frame.strategy, frame.market_id[i], frame.side[i])
                if self.loop is not None:
                    self.loop.on_fill(
                        self.state.ts, held, frame.token_id[i], report.cost / report.shares
                    )
                self.portfolio.open_cost[held] = (
                    self.portfolio.open_cost.get(held, 0.0) + report.cost + report.fees
                )
                self.counters.fills += len(report.fills)
            self.counters.orders += 1
        self._check_groups(frame, keys, reports)
        writes.record_frame(
            session=session,
            frame=frame,
            keys=keys,
            reports=reports,
            settings_version=self.settings_version,
        )
        self.known_keys.update(keys)
        self.counters.signals += len(keys)
        self.counters.accepted += sum(r.status != "rejected" for r in reports.values())

    def _check_groups(
        self, frame: SignalFrame, keys: list[str], reports: dict[str, ExecutionReport]
    ) -> None:
        """Log multi-leg groups whose legs did not fill equal shares (an unhedged remainder)."""
        groups = frame.group_key
        for g in {g for g, a in zip(groups, frame.accepted, strict=True) if g is not None and a}:
            filled = [
                reports[keys[i]].shares for i in np.flatnonzero(groups == g) if keys[i] in reports
            ]
            if filled and max(filled) - min(filled) > 1e-9:
                self.counters.partial_groups += 1
                log.warning(
                    "arb-partial strat=%s group=%s legs=%d filled min=%.2f max=%.2f shares",
                    frame.strategy,
                    g,
                    len(filled),
                    min(filled),
                    max(filled),
                )

    # -- logs -----------------------------------------------------------------------
    def _log_signal(self, frame: SignalFrame, i: int, report: ExecutionReport) -> None:
        outcome = report.status if report.reason is None else f"{report.status}:{report.reason}"
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

    def _status(self, wall0: float, sim0: float) -> None:
        wall = time.perf_counter() - wall0
        rate = (self.sim.now - sim0) / wall if wall > 0 else float("inf")
        c = self.counters
        log.info(
            "status t=%s %s signals=%d accepted=%d fills=%d open=%d "
            "bankroll=%.2f realized=%+.2f speed=%.0fx",
            iso(self.sim.now),
            self.loop.status(len(self.state.live))
            if self.loop
            else f"regime=off markets={len(self.state.live)} breaker=off",
            c.signals,
            c.accepted,
            c.fills,
            len(self.portfolio.open_cost),
            self.portfolio.bankroll,
            self.portfolio.realized,
            rate,
        )
