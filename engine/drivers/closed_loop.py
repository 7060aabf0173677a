"""The closed loop around the core: flips, regime, circuit breaker and calibrations, stored.

The pure parts live in ``engine.core.adaptive``; this class feeds them from
the driver's tick (fills, settlements, books), writes what they decide
(``calibrations``, ``regime_changes``, ``breaker_events``, flips on
``positions``) inside the tick's transaction, reads its state back after a
restart, and turns the strategies the configuration built (the floors) into
the strategies the core runs: calibrated gates, tightened further while CHOPPY.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.adaptive.breaker import BreakerConfig, CircuitBreaker
from engine.core.adaptive.calibrator import (
    BAND_HIGH,
    BAND_LOW,
    GAMMA_CAP,
    SIGMA,
    CalibratorConfig,
    DeltaPrior,
    calibrate,
    tighten,
)
from engine.core.adaptive.regime import CHOPPY, RegimeConfig, RegimeDetector
from engine.core.frame import SignalFrame
from engine.core.gates import GammaLeashGate, MinEdgeGate, SigmaGate, VolBandGate
from engine.core.state import MarketState
from engine.core.strategies.base import Strategy
from engine.ledger.models import (
    BreakerEventRow,
    BreakerStateRow,
    CalibrationRow,
    PositionRow,
    RegimeChangeRow,
)
from engine.ledger.queries import resolved_entries
from engine.timeutil import from_dt, iso, to_dt

log = logging.getLogger("edgeloop")

# gate class -> (its field, the calibrator's key) for the adaptive parameters
ADAPTIVE = {
    SigmaGate: (("min_sigma", SIGMA),),
    VolBandGate: (("low", BAND_LOW), ("high", BAND_HIGH)),
    GammaLeashGate: (("cap", GAMMA_CAP),),
}


@dataclass
class PendingMark:
    due: float
    key: tuple[str, str, str]  # strategy, market, side
    token: str
    entry: float


@dataclass
class ClosedLoop:
    calibrator: CalibratorConfig
    regime_config: RegimeConfig
    breaker_config: BreakerConfig
    calibrated: dict[str, dict[str, float]] = field(default_factory=dict)
    priors: dict[str, DeltaPrior] = field(default_factory=dict)
    marks: list[PendingMark] = field(default_factory=list)
    # The run whose rows it writes and reads (set by the engine loop when the run starts).
    run_id: int = 0

    def __post_init__(self) -> None:
        self.regime = RegimeDetector(self.regime_config)
        self.breaker = CircuitBreaker(self.breaker_config)
        self._next_calibration = float("nan")
        self._last_human_event = 0
        self._saved_breaker: dict[str, object] = {}

    # -- what the core runs ----------------------------------------------------------
    @staticmethod
    def floors(strategy: Strategy) -> dict[str, float]:
        """The strategy's adaptive parameters as configured: the floors."""
        out = {}
        for gate in strategy.gates.values():
            for attr, key in ADAPTIVE.get(type(gate), ()):
                out[key] = float(getattr(gate, attr))
        return out

    def effective(self, strategies: list[Strategy]) -> list[Strategy]:
        """Calibrated gates (never looser than the floors), tightened again while CHOPPY."""
        choppy = self.regime.regime == CHOPPY
        out = []
        for strategy in strategies:
            values = tighten(self.floors(strategy), self.calibrated.get(strategy.name, {}))
            gates = {}
            for name, gate in strategy.gates.items():
                changes = {
                    attr: values[key] for attr, key in ADAPTIVE.get(type(gate), ()) if key in values
                }
                if choppy and isinstance(gate, SigmaGate):
                    changes["min_sigma"] = min(
                        changes.get("min_sigma", gate.min_sigma) * self.regime_config.sigma_factor,
                        10.0,
                    )
                if choppy and isinstance(gate, MinEdgeGate):
                    changes["min_edge"] = min(gate.min_edge + self.regime_config.edge_add, 1.0)
                gates[name] = dataclasses.replace(gate, **changes) if changes else gate
            out.append(dataclasses.replace(strategy, gates=gates))  # type: ignore[type-var]
        return out

    def _set_prior(self, strategy: str, prior: DeltaPrior | None) -> None:
        """The latest applied calibration's prior; none (multipliers 1) when it found no
        evidence, or its row is of the old, win-rate version."""
        if prior is None:
            self.priors.pop(strategy, None)
        else:
            self.priors[strategy] = prior

    def delta_prior(self, frame: SignalFrame) -> np.ndarray:
        prior = self.priors.get(frame.strategy)
        return np.ones(len(frame)) if prior is None else prior.multiplier(frame.delta_1pct)

    @property
    def stake_factor(self) -> float:
        return self.regime.stake_factor

    @property
    def blocked(self) -> bool:
        return self.breaker_config.enabled and self.breaker.tripped

    def status(self, markets: int | None = None) -> str:
        """``regime=CALM flip_rate=0.21 [markets=N] breaker=inactive``."""
        rate = self.regime.flip_rate
        rate_txt = "n/a" if rate != rate else f"{rate:.2f}"
        breaker = f"tripped({self.breaker.cause})" if self.breaker.tripped else "inactive"
        live = "" if markets is None else f" markets={markets}"
        return f"regime={self.regime.regime} flip_rate={rate_txt}{live} breaker={breaker}"

    # -- one tick ---------------------------------------------------------------------
    def due(self, now: float) -> bool:
        """Whether this tick needs the ledger: a flip mark, a calibration, the minutely breaker check."""
        return (
            any(m.due <= now for m in self.marks)
            or (self.calibrator.enabled and not now < self._next_calibration)
            or now % 60 == 0
        )

    def on_fill(self, now: float, key: tuple[str, str, str], token: str, entry: float) -> None:
        """Schedule the flip mark of a new position (of a strategy that measures the regime)."""
        measured = self.regime_config.strategies
        if measured and key[0] not in measured:
            return
        self.marks.append(PendingMark(now + self.regime_config.mark_after_s, key, token, entry))

    def on_tick(
        self,
        session: Session,
        state: MarketState,
        *,
        settled: list[PositionRow],
        equity: float,
        strategies: list[Strategy],
    ) -> bool:
        """Feed one tick; returns True when the strategies the core runs must be rebuilt."""
        now = state.ts
        changed = self._marks(session, state)
        # One batch, in the order the trades were entered: a streak is a run of trades.
        ordered = sorted(settled, key=lambda p: (p.opened_at, p.id))
        self.breaker.on_settled_batch(now, [p.pnl or 0.0 for p in ordered])
        change = self.regime.update(now)
        if change is not None:
            session.add(
                RegimeChangeRow(
                    run_id=self.run_id,
                    ts=to_dt(now),
                    regime=change.regime,
                    flip_rate=change.flip_rate,
                    sample=change.sample,
                )
            )
            log.warning(
                "regime %s flip_rate=%.2f over %d marks",
                change.regime,
                change.flip_rate,
                change.sample,
            )
            changed = True
        if self.breaker_config.enabled:
            self._breaker(session, state, equity)
        if self.calibrator.enabled and not now < self._next_calibration:  # NaN: never ran
            self._calibrate(session, now, strategies)
            changed = True
        return changed

    def _marks(self, session: Session, state: MarketState) -> bool:
        due = [m for m in self.marks if m.due <= state.ts]
        if not due:
            return False
        self.marks = [m for m in self.marks if m.due > state.ts]
        for m in due:
            book = state.books.get(m.token)
            if book is None:  # the market ended before its mark: no evidence either way
                continue
            flipped = book.mid < m.entry - self.regime_config.tolerance
            self.regime.observe(state.ts, flipped)
            strategy, market, side = m.key
            session.execute(
                update(PositionRow)
                .where(
                    PositionRow.run_id == self.run_id,
                    PositionRow.strategy == strategy,
                    PositionRow.market_id == market,
                    PositionRow.side == side,
                )
                .values(mark_60s=book.mid, flipped=flipped)
            )
        return False

    def _breaker(self, session: Session, state: MarketState, equity: float) -> None:
        if state.ts % 60 == 0:
            self._human_resets(session, state.ts)
        ages = state.ts - state.spot_ts_arr
        feed_age = float(np.min(ages)) if len(ages) else 0.0
        for e in self.breaker.check(state.ts, equity=equity, feed_age_s=feed_age):
            session.add(
                BreakerEventRow(
                    run_id=self.run_id,
                    ts=to_dt(e.ts),
                    event=e.event,
                    cause=e.cause,
                    value=e.value,
                    detail=e.detail,
                )
            )
            log.warning("breaker %s cause=%s value=%.4g %s", e.event, e.cause, e.value, e.detail)
        self._save_breaker(session, state.ts)

    def _save_breaker(self, session: Session, now: float) -> None:
        """The breaker's counters, in the transaction of the settlements that moved them (a
        restart after kill -9 resumes the same peak, streak and trip)."""
        current = self.breaker.state()
        if current == self._saved_breaker:
            return
        values = {**current, "peak": None if math.isnan(current["peak"]) else current["peak"]}
        row = session.get(BreakerStateRow, self.run_id)
        if row is None:
            session.add(BreakerStateRow(run_id=self.run_id, updated_ts=to_dt(now), **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_ts = to_dt(now)
        self._saved_breaker = current

    def _human_resets(self, session: Session, now: float) -> None:
        rows = session.scalars(
            select(BreakerEventRow)
            .where(
                BreakerEventRow.run_id == self.run_id,
                BreakerEventRow.id > self._last_human_event,
                BreakerEventRow.cause == "human",
            )
            .order_by(BreakerEventRow.id)
        ).all()
        for row in rows:
            self._last_human_event = row.id
            if row.event == "reset" and self.breaker.tripped:
                self.breaker.human_reset(now, row.detail)
                log.warning("breaker reset by %s: %s", row.author, row.detail)

    def _calibrate(self, session: Session, now: float, strategies: list[Strategy]) -> None:
        self._next_calibration = now + self.calibrator.every_s
        since = now - self.calibrator.window_days * 86_400
        adaptive = [(s, self.floors(s)) for s in strategies]
        adaptive = [(s, floors) for s, floors in adaptive if floors]
        # One family: every candidate cut of every calibrated strategy shares alpha.
        family = sum(self.calibrator.candidates(floors) for _, floors in adaptive)
        for strategy, floors in adaptive:
            outcomes = resolved_entries(
                session=session,
                strategy=strategy.name,
                since=to_dt(since),
                until=to_dt(now),
                runs=[self.run_id],
            )
            cal = calibrate(outcomes, floors, self.calibrator, family=family)
            if cal.applied:
                self.calibrated[strategy.name] = cal.after
                self._set_prior(strategy.name, cal.delta_prior)
            prior = cal.delta_prior.to_dict() if cal.delta_prior is not None else {}
            session.add(
                CalibrationRow(
                    run_id=self.run_id,
                    ts=to_dt(now),
                    strategy=strategy.name,
                    n_wins=cal.n_wins,
                    n_losses=cal.n_losses,
                    **cal.centroids,
                    applied=cal.applied,
                    before=cal.before,
                    after={**cal.after, **prior},
                )  # fmt: skip
            )
            moved = {
                k: (cal.before[k], v)
                for k, v in cal.after.items()
                if abs(v - cal.before[k]) > 1e-12
            }
            if moved:
                log.info(
                    "calibration strat=%s n=%d %s",
                    strategy.name,
                    cal.n_wins + cal.n_losses,
                    " ".join(
                        f"{k.removeprefix('gates.')}={a:.3g}->{b:.3g}"
                        for k, (a, b) in moved.items()
                    ),
                )

    # -- restart ------------------------------------------------------------------------
    def restore(self, session: Session, now: float, equity: float) -> None:
        """Read calibrations, regime, breaker and pending marks back from the ledger."""
        run = self.run_id
        for row in session.scalars(
            select(CalibrationRow)
            .where(CalibrationRow.run_id == run, CalibrationRow.applied)
            .order_by(CalibrationRow.id)
        ):
            self.calibrated[row.strategy] = {
                k: v for k, v in row.after.items() if k.startswith("gates.")
            }
            self._set_prior(row.strategy, DeltaPrior.from_dict(row.after))
        last_cal = session.scalar(
            select(CalibrationRow.ts)
            .where(CalibrationRow.run_id == run)
            .order_by(CalibrationRow.id.desc())
            .limit(1)
        )
        if last_cal is not None:
            self._next_calibration = from_dt(last_cal) + self.calibrator.every_s
        last_regime = session.scalar(
            select(RegimeChangeRow)
            .where(RegimeChangeRow.run_id == run)
            .order_by(RegimeChangeRow.id.desc())
            .limit(1)
        )
        if last_regime is not None:
            self.regime.regime = last_regime.regime
        self._restore_breaker(session, now, equity)
        since = to_dt(now - self.regime_config.window_s)
        measured = self.regime_config.strategies
        for p in session.scalars(
            select(PositionRow).where(PositionRow.run_id == run, PositionRow.opened_at >= since)
        ):
            if measured and p.strategy not in measured:
                continue
            if p.flipped is not None:
                self.regime.observe(
                    from_dt(p.opened_at) + self.regime_config.mark_after_s, p.flipped
                )
            elif p.status == "open" and p.shares > 0:
                self.on_fill(
                    from_dt(p.opened_at),
                    (p.strategy, p.market_id, p.side),
                    p.token_id,
                    p.cost / p.shares,
                )
        # A person's reset written after the engine's last event (while it was stopped, or
        # just before a kill) is still to be seen; older ones were, or a trip came after them.
        self._last_human_event = (
            session.scalar(
                select(BreakerEventRow.id)
                .where(BreakerEventRow.run_id == run, BreakerEventRow.cause != "human")
                .order_by(BreakerEventRow.id.desc())
                .limit(1)
            )
            or 0
        )
        log.info(
            "closed loop restored: %s, calibrated %s",
            self.status(),
            sorted(self.calibrated) or "none",
        )

    def _restore_breaker(self, session: Session, now: float, equity: float) -> None:
        saved = session.get(BreakerStateRow, self.run_id)
        if saved is not None:
            self.breaker.restore(
                tripped=saved.tripped,
                cause=saved.cause,
                day=saved.day,
                day_pnl=saved.day_pnl,
                streak=saved.streak,
                peak=float("nan") if saved.peak is None else saved.peak,
            )
            self._saved_breaker = self.breaker.state()
            if saved.tripped:
                log.warning("breaker still tripped (%s)", saved.cause)
            return
        self._rebuild_breaker(session, now, equity)

    def _rebuild_breaker(self, session: Session, now: float, equity: float) -> None:
        """A run written before the breaker's state was stored: counters rebuilt from its
        settled positions and events (the equity peak can only restart at ``equity``)."""
        last = session.scalar(
            select(BreakerEventRow)
            .where(BreakerEventRow.run_id == self.run_id)
            .order_by(BreakerEventRow.id.desc())
            .limit(1)
        )
        tripped = last is not None and last.event == "trip"
        day = int(now // 86_400)
        day_start = to_dt(day * 86_400.0)
        settled = session.scalars(
            select(PositionRow)
            .where(PositionRow.run_id == self.run_id, PositionRow.status == "settled")
            .order_by(PositionRow.closed_at.desc(), PositionRow.id.desc())
        ).all()
        day_pnl = sum(
            (p.pnl or 0.0)
            for p in settled
            if p.closed_at is not None and from_dt(p.closed_at) >= from_dt(day_start)
        )
        streak = 0
        for p in settled:
            if from_dt(p.closed_at) < from_dt(day_start) or (p.pnl or 0.0) >= 0:
                break
            streak += 1
        self.breaker.restore(
            tripped=tripped,
            cause=last.cause if tripped else "",
            day=day,
            day_pnl=day_pnl,
            streak=streak,
            peak=equity,
        )
        if tripped:
            log.warning("breaker still tripped (%s since %s)", last.cause, iso(from_dt(last.ts)))
