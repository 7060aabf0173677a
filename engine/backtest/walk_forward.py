"""Walk-forward scoring of one backtest: K consecutive folds, out-of-sample P&L only.

A trial replays its span once, and the closed loop learns online as it goes (the calibrator,
the regime detector, the breaker): what it decides at second ``t`` was learned from before
``t`` only. The span is cut into ``folds`` consecutive folds of equal length; fold 1 is
training only, and each later fold is scored with what was learned on the folds before it.
So the objective is the P&L after fees of the trades *entered* in folds 2..K (a trade belongs
to the fold of its first order), minus ``penalty_per_missing_trade`` USD for each trade those
folds hold below ``min_trades``: a handful of lucky trades does not win a sweep.

``holdout`` keeps the last fraction of the span out of every trial: trials replay up to it,
and the proposal's parameters are evaluated on it once (``edgeloop-tune propose``). Choosing
the best of many trials on the same folds still selects on those folds; the holdout is the
one number no trial was chosen on.

Everything here is pure: times are epoch seconds, trades are ``(entry time, P&L)`` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from engine.core.validation import ConfigError, check_range
from engine.timeutil import iso


@dataclass(frozen=True)
class Fold:
    """Seconds ``[start, end)`` of the span; ``scored``: its P&L counts in the objective."""

    index: int  # 1-based; 0 for the holdout
    start: float
    end: float
    scored: bool

    @property
    def name(self) -> str:
        return "holdout" if self.index == 0 else f"fold {self.index}"

    def holds(self, ts: float) -> bool:
        return self.start <= ts < self.end


@dataclass(frozen=True)
class Plan:
    """The folds of a span and its holdout (None when ``holdout`` is 0)."""

    folds: tuple[Fold, ...]
    holdout: Fold | None

    @property
    def trial_end(self) -> float:
        """The last second a trial replays (the second before the holdout)."""
        return self.folds[-1].end - 1

    def holdout_folds(self) -> tuple[Fold, ...]:
        """The folds of the holdout evaluation: every fold as training, the holdout scored."""
        if self.holdout is None:
            raise ValueError("this plan has no holdout (tune.holdout is 0)")
        training = tuple(Fold(f.index, f.start, f.end, scored=False) for f in self.folds)
        return (*training, self.holdout)


@dataclass(frozen=True)
class FoldScore:
    fold: Fold
    trades: int
    pnl: float

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self.fold),
            "start": iso(self.fold.start),
            "end": iso(self.fold.end),
            "trades": self.trades,
            "pnl": self.pnl,
        }


@dataclass(frozen=True)
class Score:
    """The objective and what it is made of (``folds``: every fold, scored or not)."""

    objective: float
    folds: tuple[FoldScore, ...]
    scored_trades: int
    scored_pnl: float
    penalty: float

    def as_attrs(self) -> dict[str, object]:
        """The numbers a trial's row shows (JSON-able: Optuna keeps them as user attrs)."""
        return {
            "folds": [f.as_dict() for f in self.folds],
            "oos_trades": self.scored_trades,
            "oos_pnl": self.scored_pnl,
            "penalty": self.penalty,
        }


@dataclass(frozen=True)
class WalkForward:
    """How a trial is scored (``tune.*``, docs/backtest.md "Walk-forward tuning").

    ``folds``: consecutive folds of the span (fold 1 trains only, so at least 2).
    ``min_trades``: the out-of-sample trades below which the penalty applies.
    ``penalty_per_missing_trade``: USD taken off the objective per missing trade.
    ``holdout``: the last fraction of the span that no trial replays, in [0, 1).
    """

    folds: int = 3
    min_trades: int = 10
    penalty_per_missing_trade: float = 1.0
    holdout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2:
            raise ConfigError(
                "folds", self.folds, "must be a whole number >= 2 (fold 1 is training only)"
            )
        if (
            isinstance(self.min_trades, bool)
            or not isinstance(self.min_trades, int)
            or self.min_trades < 0
        ):
            raise ConfigError("min_trades", self.min_trades, "must be a whole number >= 0")
        check_range("penalty_per_missing_trade", self.penalty_per_missing_trade, 0)
        check_range("holdout", self.holdout, 0, 1, hi_open=True)

    def plan(self, start: float, end: float) -> Plan:
        """The folds of the span of seconds ``start..end`` (both replayed), on whole seconds."""
        seconds = int(end) - int(start) + 1
        held = round(self.holdout * seconds)
        tuned = seconds - held
        if tuned < self.folds or (self.holdout > 0 and held < 1):
            raise ConfigError(
                "folds",
                self.folds,
                f"cannot cut {seconds} s (holdout {self.holdout:g}) into {self.folds} folds "
                "and a holdout: replay a longer span",
            )
        first = int(start)
        edges = [first + round(i * tuned / self.folds) for i in range(self.folds + 1)]
        folds = tuple(
            Fold(i, edges[i - 1], edges[i], scored=i > 1) for i in range(1, self.folds + 1)
        )
        holdout = Fold(0, edges[-1], first + seconds, scored=True) if held else None
        return Plan(folds, holdout)

    def score(self, trades: Iterable[tuple[float, float]], folds: Sequence[Fold]) -> Score:
        """The objective of ``trades`` (entry time, P&L after fees) over ``folds``; trades in
        no fold (after the replayed span) count nowhere."""
        return score(
            trades,
            folds,
            min_trades=self.min_trades,
            penalty_per_missing_trade=self.penalty_per_missing_trade,
        )


def score(
    trades: Iterable[tuple[float, float]],
    folds: Sequence[Fold],
    *,
    min_trades: int = 0,
    penalty_per_missing_trade: float = 0.0,
) -> Score:
    """Sum of the scored folds' P&L, minus the penalty for missing trades (see the module)."""
    counts = [0] * len(folds)
    pnls = [0.0] * len(folds)
    for ts, pnl in trades:
        for i, fold in enumerate(folds):
            if fold.holds(ts):
                counts[i] += 1
                pnls[i] += pnl
                break
    per_fold = tuple(
        FoldScore(f, n, round(p, 6)) for f, n, p in zip(folds, counts, pnls, strict=True)
    )
    scored = [f for f in per_fold if f.fold.scored]
    n = sum(f.trades for f in scored)
    pnl = round(sum(f.pnl for f in scored), 6)
    penalty = round(penalty_per_missing_trade * max(0, min_trades - n), 6)
    return Score(round(pnl - penalty, 6), per_fold, n, pnl, penalty)
