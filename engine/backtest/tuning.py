"""One tuning trial: a backtest scored walk-forward, whose objective the sweeper optimizes.

    edgeloop -m mode=backtest backtest.corpus=var/corpus hydra/sweeper=optuna \\
        hydra.sweeper.n_trials=20 'strategies.updown.gates.sigma.min_sigma=interval(1.0,3.0)'

In a multirun of backtests, ``engine.app.main`` returns :func:`objective` instead of exiting
with the run's code: the run replays the span once (up to the holdout), is written to
``db.url`` under a fresh ``run.name``, and its trades are scored by
:class:`engine.backtest.walk_forward.WalkForward` (``tune.*``). The returned float carries the
per-fold numbers (:class:`Objective`), which the sweeper keeps as the trial's user attrs;
``edgeloop-tune show`` prints them. docs/backtest.md, "Walk-forward tuning".
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from engine.backtest.walk_forward import Plan, Score, WalkForward, score
from engine.components import build
from engine.ledger.db import make_engine
from engine.ledger.models import FillRow, OrderRow, OutcomeRow, SignalRow
from engine.ledger.queries import signal_of_order
from engine.ledger.runs import find_run
from engine.timeutil import from_dt

log = logging.getLogger("edgeloop.tune")
Run = Callable[[DictConfig], int]  # engine.app.run: the exit code of one run


class TrialFailed(RuntimeError):
    """The trial's backtest did not finish (its own error is logged above)."""


class Objective(float):
    """The objective, with what the trial's row shows in ``attrs`` (JSON-able)."""

    attrs: dict[str, Any]

    def __new__(cls, value: float, attrs: Mapping[str, Any] | None = None) -> Objective:
        obj = super().__new__(cls, value)
        obj.attrs = dict(attrs or {})
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # a joblib or Ray worker sends it back pickled
        return (Objective, (float(self), self.attrs))


def is_trial(cfg: DictConfig) -> bool:
    """Whether this job is one of a multirun of backtests (``edgeloop -m mode=backtest``)."""
    return (
        cfg.mode.name == "backtest"
        and HydraConfig.initialized()
        and HydraConfig.get().mode == RunMode.MULTIRUN
    )


def plan_of(cfg: DictConfig) -> tuple[WalkForward, Plan]:
    """``tune.*`` and the folds of the span the backtest's feed replays."""
    walk = build(cfg.tune, "tune")
    feed = build(cfg.feed, "feed")
    return walk, walk.plan(feed.start_ts, feed.end_ts)


def objective(cfg: DictConfig, run: Run) -> Objective:
    """Replay the span before the holdout once; the walk-forward objective of its trades."""
    walk, plan = plan_of(cfg)
    end = int(plan.trial_end) if plan.holdout is not None else None
    run_id, trades = replay(cfg, run, end=end)
    result = walk.score(trades, plan.folds)
    log.info("trial run %d: objective %+.2f (%s)", run_id, result.objective, describe(result))
    attrs = {
        **result.as_attrs(),
        "run_id": run_id,
        "db": make_url(cfg.db.url).render_as_string(hide_password=True),
        "holdout": walk.holdout,
    }
    if HydraConfig.initialized():
        # What `edgeloop-tune propose` needs to replay these parameters over the holdout.
        attrs["overrides"] = list(HydraConfig.get().overrides.task)
    return Objective(result.objective, attrs)


def evaluate_holdout(cfg: DictConfig, run: Run) -> tuple[int, Score]:
    """Replay the whole span once; the P&L of the trades entered in the holdout only (every
    fold before it is training). Raises ValueError when ``tune.holdout`` is 0."""
    _, plan = plan_of(cfg)
    folds = plan.holdout_folds()
    run_id, trades = replay(cfg, run, end=None)
    return run_id, score(trades, folds)


def describe(result: Score) -> str:
    return ", ".join(
        f"{f.fold.name}{'' if f.fold.scored else ' (training)'}: {f.trades} trades {f.pnl:+.2f}"
        for f in result.folds
    ) + (f", penalty {result.penalty:.2f}" if result.penalty else "")


def replay(cfg: DictConfig, run: Run, *, end: int | None) -> tuple[int, list[tuple[float, float]]]:
    """Run the backtest ``cfg`` (to ``end`` when given) under a fresh run name; its id and its
    resolved trades as (entry time, P&L after fees)."""
    cfg = copy.deepcopy(cfg)
    name = f"{cfg.run.name or 'tune'}-{uuid.uuid4().hex[:12]}"
    with open_dict(cfg):
        cfg.run.name = name
        if end is not None:
            cfg.backtest.end = end
    code = run(cfg)
    if code:
        raise TrialFailed(f"the trial's backtest exited with code {code} (its error is above)")
    engine = make_engine(cfg.db.url)
    try:
        with Session(engine) as session:
            run_id = find_run(session=session, ref=name).id
            return run_id, entries(session=session, run_id=run_id)
    finally:
        engine.dispose()


def entries(*, session: Session, run_id: int) -> list[tuple[float, float]]:
    """The ledger's resolved trades of a run (:func:`engine.ledger.queries.resolved_trades`:
    one per filled order, one per multi-leg group once all its legs resolved), each as
    (its first order's time, P&L after fees)."""
    stmt = (
        select(
            OrderRow.ts,
            SignalRow.group_key,
            OrderRow.side,
            OutcomeRow.winner,
            func.sum(FillRow.shares),
            func.sum(FillRow.shares * FillRow.price + FillRow.fee),
            OrderRow.id,
        )
        .join(FillRow, (FillRow.order_id == OrderRow.id) & FillRow.reverted.is_(False))
        .join(SignalRow, signal_of_order())
        .outerjoin(OutcomeRow, OutcomeRow.market_id == OrderRow.market_id)
        .where(OrderRow.run_id == run_id)
        .group_by(OrderRow.id, OrderRow.ts, SignalRow.group_key, OrderRow.side, OutcomeRow.winner)
    )
    trades: dict[object, list[float]] = {}  # key -> [entry time, P&L, unresolved legs]
    for ts, group, side, winner, shares, spent, order_id in session.execute(stmt):
        key = ("group", group) if group is not None else ("order", order_id)
        trade = trades.setdefault(key, [float("inf"), 0.0, 0])
        trade[0] = min(trade[0], from_dt(ts))
        trade[1] += (float(shares) if side == winner else 0.0) - float(spent)
        trade[2] += winner is None
    return sorted((t, pnl) for t, pnl, unresolved in trades.values() if not unresolved)
